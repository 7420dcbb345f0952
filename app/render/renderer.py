"""The moderngl renderer shared by the window, the CLI and the search methods.

One :class:`Renderer` draws a :class:`~app.scene.mesh.Mesh` in a :class:`~app.core.params.Pose`
into any framebuffer: an :class:`~app.render.targets.OffscreenTarget` (classifier input or
a display-size image, read back top-row-first without a copy) or a window's screen.  Its
visibility pass (:mod:`app.render.visibility`) draws the same picture as triangle ids.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import moderngl
import numpy as np

from app.core.params import Pose, light_direction, rotation_matrix, world_translation
from app.core.resources import shader_dir
from app.render.gpu_mesh import GpuMesh, GpuPart
from app.render.settings import QUALITY, RenderSettings, resolve_quality
from app.render.targets import OffscreenTarget, VisibilityTarget
from app.render.visibility import VisibilityPass
from app.scene.mesh import Mesh, load_texture

NEAR, FAR = 0.5, 40.0


def projection_matrix(fov_deg: float, width: int, height: int, flip_y: bool = False) -> np.ndarray:
    """Perspective projection whose largest centred square sees ``fov_deg``."""
    f = 1.0 / math.tan(math.radians(fov_deg) / 2.0)
    sx, sy = (f * height / width, f) if width >= height else (f, f * width / height)
    if flip_y:
        sy = -sy
    m = np.zeros((4, 4))
    m[0, 0], m[1, 1] = sx, sy
    m[2, 2] = (FAR + NEAR) / (NEAR - FAR)
    m[2, 3] = 2.0 * FAR * NEAR / (NEAR - FAR)
    m[3, 2] = -1.0
    return m


def model_view_matrix(pose: Pose) -> np.ndarray:
    """Object (normalised) -> camera space."""
    m = np.eye(4)
    m[:3, :3] = rotation_matrix(pose.yaw, pose.pitch, pose.roll)
    m[:3, 3] = world_translation(pose)
    return m


def _gl(m: np.ndarray) -> bytes:
    """A row-major numpy matrix as GL's column-major float32 bytes."""
    return np.ascontiguousarray(m.T, dtype="f4").tobytes()


class Renderer:
    """Draws one mesh with the shaders in ``shaders/``; owns its GPU resources.
    ``cull_closed``: cull the hidden faces of closed pieces (the same picture, faster)."""

    def __init__(self, ctx: moderngl.Context, shaders: Path | None = None, cull_closed: bool = True):
        self.ctx, self.shader_dir, self.cull_closed = ctx, shaders or shader_dir(), cull_closed
        self.gpu: GpuMesh | None = None
        self.program = self.load_program("mesh")
        self.bg_program = self.load_program("background")
        self._bg_vao = ctx.vertex_array(self.bg_program, [])
        self._white = ctx.texture((1, 1), 4, b"\xff\xff\xff\xff")
        self._bg_texture: moderngl.Texture | None = None
        self._bg_source: str | None = None
        self._skin: moderngl.Texture | None = None
        self.visibility = VisibilityPass(self)

    @property
    def mesh(self) -> Mesh | None:
        return None if self.gpu is None else self.gpu.mesh

    @property
    def parts(self) -> tuple[GpuPart, ...]:
        """The uploaded parts in drawing order (materials, textures, triangle numbering)."""
        return () if self.gpu is None else tuple(self.gpu.parts)

    def load_program(self, name: str, vertex: str | None = None) -> moderngl.Program:
        vert = (self.shader_dir / f"{vertex or name}.vert").read_text()
        frag = (self.shader_dir / f"{name}.frag").read_text()
        return self.ctx.program(vertex_shader=vert, fragment_shader=frag)

    # ------------------------------------------------------------ resources

    def set_mesh(self, mesh: Mesh) -> None:
        """Upload ``mesh`` (replacing the previous one)."""
        if self.gpu is not None:
            self.gpu.release()
            self.gpu = None
        self.gpu = GpuMesh(self.ctx, self.program, mesh, self.cull_closed)

    def set_skin(self, volume: np.ndarray | None) -> None:
        """Paint the whole object with a solid texture: (N, N, N, 3|4) uint8 indexed [z, y, x]
        over the mesh's bounding cube (None takes it off).  Materials keep their lighting terms."""
        if volume is None:
            if self._skin is not None:
                self._skin.release()
                self._skin = None
            return
        if volume.ndim != 4 or volume.shape[3] not in (3, 4) or volume.dtype != np.uint8:
            raise ValueError(f"a skin is an (N, N, N, 3|4) uint8 volume, got {volume.shape} {volume.dtype}")
        if volume.shape[3] == 3:
            volume = np.concatenate([volume, np.full((*volume.shape[:3], 1), 255, np.uint8)], axis=3)
        d, h, w = volume.shape[:3]
        if self._skin is not None and self._skin.size == (w, h, d):  # rewritten in place: an evolution skins a batch
            self._skin.write(np.ascontiguousarray(volume).tobytes())
            return
        if self._skin is not None:
            self._skin.release()
        self._skin = self.ctx.texture3d((w, h, d), 4, np.ascontiguousarray(volume).tobytes())
        self._skin.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self._skin.repeat_x = self._skin.repeat_y = self._skin.repeat_z = False

    @property
    def has_skin(self) -> bool:
        return self._skin is not None

    def _background_texture(self, source: str | None) -> moderngl.Texture | None:
        if source != self._bg_source:
            if self._bg_texture is not None:
                self._bg_texture.release()
            self._bg_texture = None
            if source is not None:
                img = load_texture(Path(source), "background image")
                self._bg_texture = self.ctx.texture((img.shape[1], img.shape[0]), 4, img.tobytes())
                self._bg_texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
            self._bg_source = source
        return self._bg_texture

    def release(self) -> None:
        if self.gpu is not None:
            self.gpu.release()
            self.gpu = None
        self.set_skin(None)
        self.visibility.release()
        for obj in (self._bg_texture, self._bg_vao, self._white, self.program, self.bg_program):
            if obj is not None:
                obj.release()

    # -------------------------------------------------------------- drawing

    def render(self, pose: Pose, target: OffscreenTarget | moderngl.Framebuffer, settings: RenderSettings | None = None,
               viewport: tuple[int, int, int, int] | None = None, mesh: bool = True) -> None:  # fmt: skip
        """Draw the current mesh in ``pose`` into ``target`` (clears it first); ``mesh=False``
        draws the background only."""
        settings = settings or RenderSettings()
        flip = isinstance(target, OffscreenTarget) and target.flip_y
        fbo = target.framebuffer if isinstance(target, OffscreenTarget) else target
        fbo.use()
        viewport = viewport or (0, 0, *fbo.size)
        fbo.viewport = viewport
        ctx = self.ctx
        fbo.clear(*settings.background, 1.0, depth=1.0, viewport=viewport)
        quality = target.quality if isinstance(target, OffscreenTarget) else resolve_quality(ctx, settings.quality)
        self._set_anisotropy(QUALITY[quality][1])
        bg = self._background_texture(settings.background_image)
        if bg is not None:
            self._draw_background(bg, viewport, flip)
        if self.gpu is None or not mesh:
            return
        self.begin_mesh_state(settings, flip)
        self.set_uniforms(pose, viewport[2], viewport[3], flip)
        for part in self.gpu.parts:
            if not part.blended:
                self._draw_part(part, settings)
        blended = [p for p in self.gpu.parts if p.blended]
        if blended:
            ctx.enable(moderngl.BLEND)
            ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA, moderngl.ZERO, moderngl.ONE
            fbo.depth_mask = False  # a framebuffer's own mask (moderngl has no context-wide one)
            for part in blended:
                self._draw_part(part, settings)
            fbo.depth_mask = True
            ctx.disable(moderngl.BLEND)
        self.end_mesh_state()

    def render_visibility(
        self, pose: Pose, target: VisibilityTarget, settings: RenderSettings | None = None, max_layers: int = 8,
        lists: bool | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:  # fmt: skip
        """What :meth:`render` draws into an :class:`OffscreenTarget` of the same size, as
        ids (:meth:`app.render.visibility.VisibilityPass.render`)."""
        return self.visibility.render(pose, target, settings or RenderSettings(), max_layers, lists)

    def begin_mesh_state(self, settings: RenderSettings, flip: bool) -> None:
        ctx = self.ctx
        ctx.enable(moderngl.DEPTH_TEST)
        if settings.cull_back_faces:
            ctx.enable(moderngl.CULL_FACE)
        else:
            ctx.disable(moderngl.CULL_FACE)
        # a y-flipped projection mirrors the winding, so front faces turn clockwise
        ctx.front_face = "cw" if flip else "ccw"
        ctx.disable(moderngl.BLEND)

    def end_mesh_state(self) -> None:
        self.ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        self.ctx.front_face = "ccw"
        self.ctx.cull_face = "back"  # closed pieces wound inwards cull front faces

    def _set_anisotropy(self, anisotropy: float) -> None:
        anisotropy = min(anisotropy, self.ctx.max_anisotropy)
        for part in self.gpu.parts if self.gpu is not None else ():
            if part.texture is not None and part.texture.anisotropy != anisotropy:
                part.texture.anisotropy = anisotropy

    def set_uniforms(
        self, pose: Pose, width: int, height: int, flip: bool, program: moderngl.Program | None = None
    ) -> None:
        mv = model_view_matrix(pose)
        prog = program or self.program
        prog["u_model_view"].write(_gl(mv))
        if "u_rotation" in prog:  # unused by the visibility pass
            prog["u_rotation"].write(np.ascontiguousarray(mv[:3, :3].T, dtype="f4").tobytes())
        prog["u_projection"].write(_gl(projection_matrix(pose.fov, width, height, flip)))
        if program is not None:
            return
        prog["u_light_dir"].value = tuple(light_direction(pose))
        prog["u_light_color"].value = (pose.light_r, pose.light_g, pose.light_b)
        prog["u_ambient"].value = pose.ambient
        prog["u_diffuse"].value = pose.diffuse
        prog["u_specular"].value = pose.specular
        prog["u_texture"].value = 0
        if "u_use_skin" not in prog:  # shaders from a --shader_dir without skins
            return
        prog["u_skin"].value = 1
        prog["u_use_skin"].value = self._skin is not None
        if self._skin is not None:
            self._skin.use(1)
            prog["u_skin_center"].value, prog["u_skin_scale"].value = self.gpu.skin_frame

    def bind_texture(self, part: GpuPart, settings: RenderSettings) -> bool:
        """Bind the part's texture (or plain white) to unit 0; True if it is the part's own."""
        used = part.uses_texture(settings)
        (part.texture if used else self._white).use(0)
        return used

    def _draw_part(self, part: GpuPart, settings: RenderSettings) -> None:
        prog = self.program
        prog["u_use_texture"].value = self.bind_texture(part, settings)
        prog["u_base_color"].value = part.base_color
        prog["u_specular_color"].value = part.specular_color
        prog["u_shininess"].value = part.shininess
        prog["u_alpha"].value = part.alpha
        for first, count in self.culled_draws(part, settings):
            part.vao.render(moderngl.TRIANGLES, vertices=count, first=first)

    def culled_draws(self, part: GpuPart, settings: RenderSettings) -> Iterator[tuple[int, int]]:
        """(first index, index count) of each draw of ``part``, with face culling set for it:
        all back faces culled (``settings.cull_back_faces``), or each closed piece's hidden
        faces (see app.scene.culling), or none."""
        ctx = self.ctx
        if settings.cull_back_faces or all(cull is None for _, _, cull in part.ranges):
            if settings.cull_back_faces:  # culling is all on or all off
                ctx.enable(moderngl.CULL_FACE)
                ctx.cull_face = "back"
            else:
                ctx.disable(moderngl.CULL_FACE)
            total = sum(count for _, count, _ in part.ranges)
            if total:
                yield 0, total
            return
        for first, count, cull in part.ranges:
            if cull is None:
                ctx.disable(moderngl.CULL_FACE)
            else:
                ctx.enable(moderngl.CULL_FACE)
                ctx.cull_face = cull
            yield first, count

    def _draw_background(self, texture: moderngl.Texture, viewport: tuple[int, int, int, int], flip: bool) -> None:
        """Draw the image so that it covers the viewport (centre crop, aspect kept)."""
        vw, vh = viewport[2], viewport[3]
        tw, th = texture.size
        view_aspect, img_aspect = vw / vh, tw / th
        if img_aspect > view_aspect:
            scale = (view_aspect / img_aspect, 1.0)
        else:
            scale = (1.0, img_aspect / view_aspect)
        # the full-screen triangle spans twice the viewport; uv runs 0..2 over it
        self.bg_program["u_uv_scale"].value = scale
        self.bg_program["u_uv_offset"].value = ((1 - scale[0]) / 2, (1 - scale[1]) / 2)
        self.bg_program["u_flip_y"].value = -1.0 if flip else 1.0
        self.bg_program["u_image"].value = 0
        texture.use(0)
        self.ctx.disable(moderngl.DEPTH_TEST | moderngl.BLEND)
        self._bg_vao.render(moderngl.TRIANGLES, vertices=3)
