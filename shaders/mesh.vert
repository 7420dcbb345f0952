#version 330 core
// Object -> camera space -> clip space.  Normals use the rotation only (the model
// matrix has a uniform scale), so no inverse-transpose is needed.
uniform mat4 u_model_view;
uniform mat3 u_rotation;
uniform mat4 u_projection;

in vec3 in_position;
in vec3 in_normal;
in vec2 in_uv;

out vec3 v_position;  // camera space
out vec3 v_normal;    // camera space
out vec2 v_uv;

void main() {
    vec4 p = u_model_view * vec4(in_position, 1.0);
    v_position = p.xyz;
    v_normal = u_rotation * in_normal;
    v_uv = in_uv;
    gl_Position = u_projection * p;
}
