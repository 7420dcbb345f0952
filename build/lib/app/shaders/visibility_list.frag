#version 430 core
// The blended layers of the visibility buffer (app/renderer.py, render_visibility) in one
// pass, OpenGL 4.3: every blended fragment that passes the depth test against the opaque
// parts appends (pixel x, pixel y, triangle number + 1, mipmap level) to a list; Python
// sorts each pixel's fragments by triangle number (drawing order) into layers.  The same
// fragments and levels as visibility.frag's peeling, which needs one pass per layer.
layout(early_fragment_tests) in;  // occluded fragments append nothing

uniform sampler2D u_texture;
uniform float u_first_id;
uniform uint u_capacity;

layout(std430, binding = 0) buffer Count { uint count; };
layout(std430, binding = 1) buffer Fragments { vec4 fragments[]; };

in vec3 v_position;
in vec3 v_normal;
in vec2 v_uv;

void main() {
    float id = u_first_id + float(gl_PrimitiveID) + 1.0;
    float level = textureQueryLod(u_texture, v_uv).x;
    uint n = atomicAdd(count, 1u);
    if (n < u_capacity) {
        fragments[n] = vec4(floor(gl_FragCoord.xy), id, level);
    }
}
