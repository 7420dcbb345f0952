"""The visibility pass of the gradient method: which triangle covers each pixel, and at which mip level.

What :meth:`app.render.renderer.Renderer.render` draws into an offscreen target, as ids:
the opaque buffer and the blended (see-through) layers in drawing order.  The re-shading
of :mod:`app.render.diffrender` then recomputes each pixel's colour differentiably from
them.  Needs OpenGL 4.0 (``textureQueryLod``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import moderngl
import numpy as np

from app.core.params import Pose
from app.render.glcontext import GLUnavailable
from app.render.gpu_mesh import LAYOUT, GpuMesh, GpuPart
from app.render.settings import RenderSettings
from app.render.targets import VisibilityTarget

MAX_LISTED = 1 << 22  # transparent fragments one pass lists at most (64 MiB)


class Drawing(Protocol):
    """What the pass uses of :class:`app.render.renderer.Renderer`: the same state, uniforms,
    textures and culling as its shaded draw, so the ids cover exactly the pixels it draws."""

    ctx: moderngl.Context
    gpu: GpuMesh | None

    def load_program(self, name: str, vertex: str | None = None) -> moderngl.Program: ...
    def begin_mesh_state(self, settings: RenderSettings, flip: bool) -> None: ...
    def end_mesh_state(self) -> None: ...
    def set_uniforms(self, pose: Pose, width: int, height: int, flip: bool,
                     program: moderngl.Program | None = None) -> None: ...  # fmt: skip
    def bind_texture(self, part: GpuPart, settings: RenderSettings) -> bool: ...
    def culled_draws(self, part: GpuPart, settings: RenderSettings) -> Iterator[tuple[int, int]]: ...


class VisibilityPass:
    """The id programs of a renderer (compiled on first use)."""

    def __init__(self, renderer: Drawing):
        self.r = renderer
        self._program: moderngl.Program | None = None
        self._list_program: moderngl.Program | None = None
        self._lists_tried = False  # the list program was compiled, or failed to

    def render(self, pose: Pose, target: VisibilityTarget, settings: RenderSettings, max_layers: int = 8,
               lists: bool | None = None) -> tuple[np.ndarray, list[np.ndarray]]:  # fmt: skip
        """The opaque ids and the blended layers.  The layers come from one pass that lists
        their fragments (:meth:`_listed_layers`, OpenGL 4.3) or, below 4.3, ``lists=False``
        or when the list overflows, from depth peeling, two passes per layer
        (:meth:`_peeled_layers`): the same layers either way."""
        r = self.r
        target.clear(VisibilityTarget.OPAQUE, 0.0)
        target.framebuffers[VisibilityTarget.OPAQUE].clear(depth=1.0)
        if r.gpu is None:
            return target.read(VisibilityTarget.OPAQUE), []
        r.begin_mesh_state(settings, flip=True)
        try:
            prog = self.program()
            r.set_uniforms(pose, target.width, target.height, flip=True, program=prog)
            prog["u_texture"].value, prog["u_layer"].value = 0, 1
            target.framebuffers[VisibilityTarget.OPAQUE].use()
            self._draw_ids([p for p in r.gpu.parts if not p.blended], settings, prog, "peel", mode=0)
            opaque = self._in_file_order(target.read(VisibilityTarget.OPAQUE))
            blended = [p for p in r.gpu.parts if p.blended]
            if not blended:
                return opaque, []
            layers, listing = None, self._lists() if lists is not False else None
            if listing is not None:
                layers = self._listed_layers(listing, pose, target, settings, blended, max_layers)
            elif lists:
                raise GLUnavailable("listing the blended fragments needs OpenGL 4.3 (shader storage buffers)")
            if layers is None:
                layers = self._peeled_layers(target, settings, blended, max_layers)
            return opaque, [self._in_file_order(layer) for layer in layers]
        finally:
            r.end_mesh_state()

    def _draw_ids(self, parts: list[GpuPart], settings: RenderSettings, prog: moderngl.Program, kind: str,
                  mode: int | None = None) -> None:  # fmt: skip
        """Draw ``parts`` with visibility program ``prog`` (``kind``: "peel" or "list"),
        culled as the renderer culls them; ids count triangles in drawing order."""
        if mode is not None:
            prog["u_mode"].value = mode
        for part in parts:
            self.r.bind_texture(part, settings)
            vao = self._vao(part, prog, kind)
            for first, count in self.r.culled_draws(part, settings):
                prog["u_first_id"].value = float(part.first_triangle + first // 3)
                vao.render(moderngl.TRIANGLES, vertices=count, first=first)

    def _in_file_order(self, ids: np.ndarray) -> np.ndarray:
        """Visibility ids (drawing order, as drawn with closed pieces' hidden faces culled)
        renumbered in file order, as :class:`app.render.diffrender.DiffRenderer` counts triangles."""
        ids[..., 0] = self.r.gpu.file_ids[ids[..., 0].astype(np.int64)]
        return ids

    def _peeled_layers(self, target: VisibilityTarget, settings: RenderSettings, blended: list[GpuPart],
                       max_layers: int) -> list[np.ndarray]:  # fmt: skip
        """Depth peeling in drawing order: each layer keeps, per pixel, the first fragment
        drawn after the last layer's (MIN blending), then a second pass writes its mip level."""
        ctx, prog = self.r.ctx, self.program()
        PEEL_A, PEEL_B, LAYER = VisibilityTarget.PEEL_A, VisibilityTarget.PEEL_B, VisibilityTarget.LAYER
        layers: list[np.ndarray] = []
        target.clear(PEEL_B, 0.0)  # the layer "before the first"
        for k in range(max_layers):
            peel, previous = (PEEL_A, PEEL_B) if k % 2 == 0 else (PEEL_B, PEEL_A)
            target.clear(peel, VisibilityTarget.EMPTY_PEEL)
            target.framebuffers[peel].use()
            target.textures[previous].use(1)
            ctx.enable(moderngl.BLEND)
            ctx.blend_equation = moderngl.MIN
            self._draw_ids(blended, settings, prog, "peel", mode=1)
            ctx.blend_equation = moderngl.FUNC_ADD
            ctx.disable(moderngl.BLEND)
            target.clear(LAYER, 0.0)
            target.framebuffers[LAYER].use()
            target.textures[peel].use(1)
            self._draw_ids(blended, settings, prog, "peel", mode=2)
            layer = target.read(LAYER)
            if not (layer[..., 0] > 0).any():
                break
            layers.append(layer)
        return layers

    def _listed_layers(self, prog: moderngl.Program, pose: Pose, target: VisibilityTarget, settings: RenderSettings,
                       blended: list[GpuPart], max_layers: int) -> list[np.ndarray] | None:  # fmt: skip
        """One pass appends every blended fragment that passes the depth test to a list
        (``shaders/visibility_list.frag``); each pixel's fragments sorted by triangle number
        are its layers.  None when more fragments came than the list holds (``max_layers``
        per pixel on average, at most ``MAX_LISTED`` in all): peeling then gives the first
        ``max_layers`` exactly.  The wine bottle's six layers: 7-9 ms instead of 44-47
        (llvmpipe draws each pass over its 6,624 glass triangles in about 3 ms).  ``prog``:
        the list program (:meth:`_lists`)."""
        self.r.set_uniforms(pose, target.width, target.height, flip=True, program=prog)
        capacity = min(target.width * target.height * max_layers, MAX_LISTED)
        count, fragments = target.fragment_list(capacity)
        count.write(b"\0\0\0\0")
        count.bind_to_storage_buffer(0)
        fragments.bind_to_storage_buffer(1)
        prog["u_texture"].value, prog["u_capacity"].value = 0, capacity
        fbo = target.framebuffers[VisibilityTarget.LAYER]  # the opaque depth, not written
        fbo.use()
        fbo.color_mask = False, False, False, False
        try:
            self._draw_ids(blended, settings, prog, "list")
        finally:
            fbo.color_mask = True, True, True, True
        self.r.ctx.memory_barrier()
        n = int(np.frombuffer(count.read(), np.uint32)[0])
        if n > capacity:
            return None
        if n == 0:  # no blended fragment passed the depth test (moderngl cannot read 0 bytes)
            return []
        rows = np.frombuffer(fragments.read(size=16 * n), np.float32).reshape(n, 4)
        pixel = rows[:, 1].astype(np.int64) * target.width + rows[:, 0].astype(np.int64)
        order = np.lexsort((rows[:, 2], pixel))  # by pixel, then drawing order
        pixel, rows = pixel[order], rows[order]
        first = np.flatnonzero(np.r_[True, pixel[1:] != pixel[:-1]])  # each pixel's first row
        rank = np.arange(n) - np.repeat(first, np.diff(np.r_[first, n]))
        layers = []
        for k in range(min(max_layers, int(rank.max(initial=-1)) + 1)):
            mine = rank == k
            layer = np.zeros((target.height * target.width, 2), np.float32)
            layer[pixel[mine]] = rows[mine, 2:]
            layers.append(layer.reshape(target.height, target.width, 2))
        return layers

    def program(self) -> moderngl.Program:
        if self._program is None:
            try:
                self._program = self.r.load_program("visibility", vertex="mesh")
            except moderngl.Error as e:
                raise GLUnavailable(
                    f"the gradient method's visibility pass needs OpenGL 4.0 (textureQueryLod): {e}"
                ) from None
        return self._program

    def _lists(self) -> moderngl.Program | None:
        """The fragment-list program, or None below OpenGL 4.3 (compiled once)."""
        if not self._lists_tried:
            self._lists_tried = True
            if self.r.ctx.version_code >= 430:
                try:
                    self._list_program = self.r.load_program("visibility_list", vertex="mesh")
                except moderngl.Error:
                    self._list_program = None
        return self._list_program

    def _vao(self, part: GpuPart, prog: moderngl.Program, kind: str) -> moderngl.VertexArray:
        if kind not in part.visibility_vaos:
            vbo, ibo = part.buffers
            part.visibility_vaos[kind] = self.r.ctx.vertex_array(
                prog, [(vbo, *LAYOUT)], index_buffer=ibo, index_element_size=4, skip_errors=True
            )
        return part.visibility_vaos[kind]

    def release(self) -> None:
        for prog in (self._program, self._list_program):
            if prog is not None:
                prog.release()
