#version 330 core
// Blinn-Phong with one directional light fixed to the camera, plus ambient.
// Two-sided: back faces are lit with the flipped normal.
uniform sampler2D u_texture;
uniform bool u_use_texture;
uniform sampler3D u_skin;      // an evolved solid texture over the whole object (optional)
uniform bool u_use_skin;
uniform vec3 u_base_color;      // MTL Kd
uniform vec3 u_specular_color;  // MTL Ks
uniform float u_shininess;      // MTL Ns
uniform float u_alpha;          // MTL d

uniform vec3 u_light_dir;       // towards the light, camera space, unit length
uniform vec3 u_light_color;
uniform float u_ambient;
uniform float u_diffuse;
uniform float u_specular;

in vec3 v_position;
in vec3 v_normal;
in vec2 v_uv;
in vec3 v_skin;

out vec4 f_color;

void main() {
    vec4 tex = u_use_texture ? texture(u_texture, v_uv) : vec4(1.0);
    vec3 base = u_use_texture ? tex.rgb : u_base_color;
    if (u_use_skin) {
        base = texture(u_skin, v_skin).rgb;
        tex.a = 1.0;
    }
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    vec3 v = normalize(-v_position);
    vec3 h = normalize(u_light_dir + v);
    float lambert = max(dot(n, u_light_dir), 0.0);
    float spec = lambert > 0.0 ? pow(max(dot(n, h), 0.0), u_shininess) : 0.0;
    vec3 color = base * u_light_color * (u_ambient + u_diffuse * lambert)
               + u_specular * spec * u_specular_color * u_light_color;
    f_color = vec4(clamp(color, 0.0, 1.0), u_alpha * tex.a);
}
