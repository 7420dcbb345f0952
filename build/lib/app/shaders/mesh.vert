#version 330 core
// Object -> camera space -> clip space.  Normals use the rotation only (the model
// matrix has a uniform scale), so no inverse-transpose is needed.
uniform mat4 u_model_view;
uniform mat3 u_rotation;
uniform mat4 u_projection;
uniform vec3 u_skin_center;   // object space -> [0, 1]^3 for a solid skin texture
uniform float u_skin_scale;

in vec3 in_position;
in vec3 in_normal;
in vec2 in_uv;

out vec3 v_position;  // camera space
out vec3 v_normal;    // camera space
out vec2 v_uv;
out vec3 v_skin;     // where a solid skin texture is sampled

void main() {
    vec4 p = u_model_view * vec4(in_position, 1.0);
    v_position = p.xyz;
    v_normal = u_rotation * in_normal;
    v_uv = in_uv;
    v_skin = (in_position - u_skin_center) * u_skin_scale + 0.5;
    gl_Position = u_projection * p;
}
