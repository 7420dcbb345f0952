#version 400 core
// Visibility buffer for the differentiable re-shading (app/diffrender.py), drawn with
// mesh.vert so that coverage and depth are exactly those of the colour render.
// Writes (triangle number + 1, mipmap level the colour shader's texture() reads).
//   u_mode 0: opaque parts, depth-tested, plain write;
//   u_mode 1: peel the next blended layer: keep fragments drawn after u_layer's one
//             (MIN blending then picks the earliest of them, i.e. drawing order);
//   u_mode 2: resolve that layer: only its own fragment writes (with its mip level).
uniform sampler2D u_texture;
uniform sampler2D u_layer;
uniform float u_first_id;
uniform int u_mode;

in vec3 v_position;
in vec3 v_normal;
in vec2 v_uv;

out vec2 f_id;

void main() {
    float id = u_first_id + float(gl_PrimitiveID) + 1.0;
    float level = textureQueryLod(u_texture, v_uv).x;
    if (u_mode != 0) {
        float layer = texelFetch(u_layer, ivec2(gl_FragCoord.xy), 0).r;
        if ((u_mode == 1 && id <= layer) || (u_mode == 2 && id != layer)) discard;
    }
    f_id = vec2(id, level);
}
