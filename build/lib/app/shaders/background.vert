#version 330 core
// A full-screen triangle; u_uv_scale/u_uv_offset crop the image to cover the view.
uniform vec2 u_uv_scale;
uniform vec2 u_uv_offset;
uniform float u_flip_y;
out vec2 v_uv;

void main() {
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));  // (0,0) (2,0) (0,2)
    vec2 ndc = corner * 2.0 - 1.0;
    // image row 0 is the top of the picture
    v_uv = vec2(corner.x, 1.0 - corner.y) * u_uv_scale + u_uv_offset;
    gl_Position = vec4(ndc.x, ndc.y * u_flip_y, 1.0, 1.0);
}
