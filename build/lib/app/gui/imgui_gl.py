"""Draws Dear ImGui (imgui-bundle) draw data with moderngl.

imgui-bundle's own pyglet backend draws through PyOpenGL and drives pyglet's clock from
its input handling; this renderer needs neither and also works on a headless context.
It honours ImGui 1.92's dynamic textures (font atlas creation, partial updates, destroy)
and lets the application show its own moderngl textures with :meth:`register`.
"""

from __future__ import annotations

import ctypes

import moderngl
import numpy as np
from imgui_bundle import imgui

VERTEX_SHADER = """
#version 330
uniform mat4 u_projection;
in vec2 in_pos;
in vec2 in_uv;
in vec4 in_color;
out vec2 v_uv;
out vec4 v_color;
void main() {
    v_uv = in_uv;
    v_color = in_color;
    gl_Position = u_projection * vec4(in_pos, 0.0, 1.0);
}
"""

FRAGMENT_SHADER = """
#version 330
uniform sampler2D u_texture;
in vec2 v_uv;
in vec4 v_color;
out vec4 f_color;
void main() {
    f_color = v_color * texture(u_texture, v_uv);
}
"""


class ImGuiRenderer:
    """Uploads ImGui's vertex/index lists and textures and draws them into a framebuffer."""

    def __init__(self, ctx: moderngl.Context):
        if imgui.get_current_context() is None:
            raise RuntimeError("create the ImGui context (imgui.create_context()) before its renderer")
        self.ctx = ctx
        self.program = ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
        self._vbo = ctx.buffer(reserve=1 << 16, dynamic=True)
        self._ibo = ctx.buffer(reserve=1 << 16, dynamic=True)
        self._vao = ctx.vertex_array(
            self.program,
            [(self._vbo, "2f 2f 4f1", "in_pos", "in_uv", "in_color")],
            index_buffer=self._ibo,
            index_element_size=imgui.INDEX_SIZE,
        )
        self._textures: dict[int, moderngl.Texture] = {}
        self._own: set[int] = set()  # textures this renderer created (ImGui's), released by it
        io = imgui.get_io()
        io.backend_flags |= imgui.BackendFlags_.renderer_has_textures
        platform = imgui.get_platform_io()
        platform.renderer_texture_max_width = platform.renderer_texture_max_height = ctx.info["GL_MAX_TEXTURE_SIZE"]

    # ----------------------------------------------------------------- textures

    def register(self, texture: moderngl.Texture) -> imgui.ImTextureRef:
        """Make an application texture drawable with ``imgui.image``."""
        self._textures[texture.glo] = texture
        return imgui.ImTextureRef(texture.glo)

    def unregister(self, texture: moderngl.Texture) -> None:
        self._textures.pop(texture.glo, None)

    def _update_textures(self) -> None:
        for tex in imgui.get_platform_io().textures:
            if tex.status == imgui.ImTextureStatus.want_create:
                pixels = tex.get_pixels_array()
                texture = self.ctx.texture((tex.width, tex.height), 4, pixels.tobytes())
                texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
                texture.repeat_x = texture.repeat_y = False
                self._textures[texture.glo] = texture
                self._own.add(texture.glo)
                tex.set_tex_id(texture.glo)
                tex.status = imgui.ImTextureStatus.ok
            elif tex.status == imgui.ImTextureStatus.want_updates:
                texture = self._textures[tex.tex_id]
                pixels = tex.get_pixels_array().reshape(tex.height, tex.width, 4)
                for r in tex.updates:
                    block = np.ascontiguousarray(pixels[r.y : r.y + r.h, r.x : r.x + r.w])
                    texture.write(block.tobytes(), viewport=(r.x, r.y, r.w, r.h))
                tex.status = imgui.ImTextureStatus.ok
            elif tex.status == imgui.ImTextureStatus.want_destroy and tex.unused_frames > 0:
                glo = tex.tex_id
                texture = self._textures.pop(glo, None)
                if texture is not None and glo in self._own:
                    texture.release()
                    self._own.discard(glo)
                tex.set_tex_id(0)
                tex.status = imgui.ImTextureStatus.destroyed

    # ------------------------------------------------------------------ drawing

    def render(
        self, draw_data: imgui.ImDrawData, framebuffer: moderngl.Framebuffer, size: tuple[int, int] | None = None
    ) -> None:
        """Draw ``draw_data`` over whatever ``framebuffer`` holds (y down, as on screen).

        ``size`` is the framebuffer's size in pixels (a window's screen framebuffer does not
        track resizes, so the window passes it)."""
        self._update_textures()
        fb_w, fb_h = size or framebuffer.size
        scale_x, scale_y = draw_data.framebuffer_scale.x, draw_data.framebuffer_scale.y
        if fb_w <= 0 or fb_h <= 0 or not draw_data.cmd_lists_count:
            return
        ctx = self.ctx
        framebuffer.use()
        framebuffer.viewport = (0, 0, fb_w, fb_h)
        left, top = draw_data.display_pos.x, draw_data.display_pos.y
        right, bottom = left + draw_data.display_size.x, top + draw_data.display_size.y
        projection = np.array(
            [
                [2.0 / (right - left), 0, 0, 0],
                [0, 2.0 / (top - bottom), 0, 0],
                [0, 0, -1.0, 0],
                [(right + left) / (left - right), (top + bottom) / (bottom - top), 0, 1.0],
            ],
            dtype="f4",
        )
        self.program["u_projection"].write(projection.tobytes())
        self.program["u_texture"].value = 0
        ctx.enable(moderngl.BLEND)
        ctx.blend_equation = moderngl.FUNC_ADD
        ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA, moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        lists = list(draw_data.cmd_lists)
        idx_base = self._upload_all(lists)
        try:
            for commands, base in zip(lists, idx_base, strict=True):
                for cmd in commands.cmd_buffer:
                    texture = self._textures.get(cmd.tex_ref.get_tex_id())
                    if texture is None or cmd.elem_count == 0:
                        continue
                    x0, y0, x1, y1 = cmd.clip_rect
                    x0, x1 = (x0 - left) * scale_x, (x1 - left) * scale_x
                    y0, y1 = (y0 - top) * scale_y, (y1 - top) * scale_y
                    if x1 <= x0 or y1 <= y0:
                        continue
                    ctx.scissor = (int(x0), int(fb_h - y1), int(x1 - x0), int(y1 - y0))
                    texture.use(0)
                    self._vao.render(moderngl.TRIANGLES, vertices=cmd.elem_count, first=base + cmd.idx_offset)
        finally:
            ctx.scissor = None
            ctx.disable(moderngl.BLEND)

    def _upload_all(self, lists: list) -> list[int]:
        """Upload every draw list into one vertex and one index buffer, in one write each.

        Writing a buffer that an earlier draw still reads makes the driver wait for that draw
        (on llvmpipe, for the whole frame so far); orphaning and writing once per frame does not.
        Indices are rebased onto the concatenated vertices.  Returns each list's first index.
        """
        itype = np.uint32 if imgui.INDEX_SIZE == 4 else np.uint16
        vertices, indices, firsts = [], [], []
        n_vertices = n_indices = 0
        for commands in lists:
            nv, ni = commands.vtx_buffer.size(), commands.idx_buffer.size()
            vertices.append(ctypes.string_at(commands.vtx_buffer.data_address(), nv * imgui.VERTEX_SIZE))
            idx = np.frombuffer(ctypes.string_at(commands.idx_buffer.data_address(), ni * imgui.INDEX_SIZE), itype)
            indices.append((idx.astype(np.uint32) + n_vertices).astype(itype) if n_vertices else idx)
            firsts.append(n_indices)
            n_vertices, n_indices = n_vertices + nv, n_indices + ni
        for buffer, data in ((self._vbo, b"".join(vertices)), (self._ibo, b"".join(i.tobytes() for i in indices))):
            buffer.orphan(max(len(data), buffer.size))
            buffer.write(data)
        return firsts

    def release(self) -> None:
        for glo in list(self._own):
            self._textures.pop(glo).release()
        self._own.clear()
        self._textures.clear()
        for obj in (self._vao, self._vbo, self._ibo, self.program):
            obj.release()


class ImageTextures:
    """numpy images drawable with ``imgui.image``, by name.  A texture is uploaded only when
    its name is given a different image object (it is rewritten in place when the size fits),
    so a panel can pass the same images every frame for free."""

    def __init__(self, ctx: moderngl.Context, renderer: ImGuiRenderer):
        self.ctx, self.renderer = ctx, renderer
        self._textures: dict[str, moderngl.Texture] = {}
        self._sources: dict[str, np.ndarray] = {}  # held, so an identity check cannot match a recycled id

    def ref(self, name: str, image: np.ndarray) -> imgui.ImTextureRef:
        """``image``: (H, W, 3|4) uint8."""
        tex = self._textures.get(name)
        size = (image.shape[1], image.shape[0])
        if tex is None or tex.size != size:
            if tex is not None:
                self.renderer.unregister(tex)
                tex.release()
            tex = self._textures[name] = self.ctx.texture(size, 4)
            tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self._sources.pop(name, None)
        if self._sources.get(name) is not image:
            rgba = image if image.shape[2] == 4 else np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
            tex.write(np.ascontiguousarray(rgba).tobytes())
            self._sources[name] = image
        return self.renderer.register(tex)

    def release(self) -> None:
        for tex in self._textures.values():
            self.renderer.unregister(tex)
            tex.release()
        self._textures.clear()
        self._sources.clear()
