"""The moderngl renderer shared by the window, the CLI and the search methods.

One :class:`Renderer` draws a :class:`~app.scene.mesh.Mesh` in a :class:`~app.core.params.Pose`
into any framebuffer: an :class:`OffscreenTarget` (classifier input or a display-size
image, read back top-row-first without a copy) or a window's screen.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import moderngl
import numpy as np

from app.core.params import Pose, PoseError, light_direction, rotation_matrix, world_translation
from app.core.resources import shader_dir
from app.render.glcontext import GLUnavailable
from app.scene.culling import INWARD, OPEN, OUTWARD, closed_pieces
from app.scene.mesh import Mesh, MeshPart, load_texture

SHADER_DIR = shader_dir()
NEAR, FAR = 0.5, 40.0
SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software")
# quality -> (MSAA samples, texture anisotropy)
QUALITY = {"fast": (0, 1.0), "high": (4, 8.0)}
MAX_SIZE = 8192  # the widest or tallest offscreen render, in pixels
MAX_LISTED = 1 << 22  # transparent fragments one visibility pass lists at most (64 MiB)


def is_software(ctx: moderngl.Context) -> bool:
    """True on a software rasteriser (Mesa llvmpipe and friends)."""
    renderer = str(ctx.info.get("GL_RENDERER", "")).lower()
    return any(s in renderer for s in SOFTWARE_RENDERERS)


def check_quality(quality: object) -> None:
    """ValueError unless ``quality`` is auto, fast or high."""
    if quality not in ("auto", *QUALITY):
        raise ValueError(f"quality must be auto, fast or high, got {quality!r}")


def resolve_quality(ctx: moderngl.Context, quality: str) -> str:
    """``auto`` is ``high`` on a GPU and ``fast`` on a software rasteriser (llvmpipe)."""
    check_quality(quality)
    if quality == "auto":
        return "fast" if is_software(ctx) else "high"
    return quality


@dataclass
class RenderSettings:
    """Switches that are not part of the pose (they are not optimised or swept)."""

    textures: bool = True
    cull_back_faces: bool = False
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    background_image: str | None = None
    quality: str = "auto"  # fast: no MSAA, no anisotropic filtering; high: 4x MSAA, 8x anisotropy

    def to_dict(self) -> dict:
        return {
            "textures": self.textures,
            "cull_back_faces": self.cull_back_faces,
            "background": list(self.background),
            "background_image": self.background_image,
            "quality": self.quality,
        }

    @classmethod
    def from_dict(cls, data: dict) -> RenderSettings:
        """Settings from their JSON form (a pose file's "settings"); ValueError names what is wrong."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown render setting(s) {sorted(unknown)}; known: {sorted(known)}")
        for name in ("textures", "cull_back_faces"):
            if name in data and not isinstance(data[name], bool):
                raise ValueError(f"render setting {name} must be true or false, got {data[name]!r}")
        bg = data.get("background", cls.background)
        numbers = isinstance(bg, (list, tuple)) and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in bg
        )
        if not (numbers and len(bg) == 3 and all(0.0 <= c <= 1.0 for c in bg)):
            raise ValueError(f"background must be three numbers in [0, 1], got {bg!r}")
        image = data.get("background_image")
        if image is not None and not (isinstance(image, str) and image):
            raise ValueError(f"background_image must be a file path or null, got {image!r}")
        check_quality(data.get("quality", "auto"))
        return cls(**{**data, "background": tuple(float(c) for c in bg)})

    @classmethod
    def from_file_dict(cls, data: dict | None, path: str | Path) -> RenderSettings | None:
        """A pose file's settings (None when it has none); a bad one is a PoseError naming the file."""
        if not data:
            return None
        try:
            return cls.from_dict(data)
        except ValueError as e:
            raise PoseError(f"{path}: {e}") from None


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


def _is_blended(part: MeshPart) -> bool:
    """Drawn in the blended pass: a see-through material or texture."""
    texture = part.material.texture if part.textured else None
    return part.material.alpha < 1.0 or (texture is not None and bool((texture[..., 3] < 255).any()))


def _checked_size(width: int, height: int) -> tuple[int, int]:
    if not (1 <= int(width) <= MAX_SIZE and 1 <= int(height) <= MAX_SIZE):
        raise ValueError(f"render size {width}x{height} is out of range (1..{MAX_SIZE})")
    return int(width), int(height)


def _gl(m: np.ndarray) -> bytes:
    """A row-major numpy matrix as GL's column-major float32 bytes."""
    return np.ascontiguousarray(m.T, dtype="f4").tobytes()


@dataclass
class _GpuPart:
    vao: moderngl.VertexArray
    buffers: list[moderngl.Buffer]  # interleaved vertices, triangles in drawing order
    texture: moderngl.Texture | None
    base_color: tuple[float, float, float]
    specular_color: tuple[float, float, float]
    shininess: float
    alpha: float
    blended: bool
    first_triangle: int  # of the whole mesh, in part order (visibility ids)
    # (first index, index count, faces culled: None, "back" or "front") of the shaded draw;
    # closed pieces come after the open triangles (see app.scene.culling)
    ranges: tuple[tuple[int, int, str | None], ...] = ()
    visibility_vaos: dict[str, moderngl.VertexArray] = field(default_factory=dict)  # per visibility program

    def uses_texture(self, settings: RenderSettings) -> bool:
        return settings.textures and self.texture is not None


class OffscreenTarget:
    """An MSAA framebuffer resolved into a readable one, read back top row first.

    Rendering into it uses a y-flipped projection, so GL's bottom-up rows come out in
    image order and the read needs no flip and no copy.
    """

    flip_y = True

    def __init__(self, ctx: moderngl.Context, width: int, height: int, quality: str = "auto"):
        self.ctx, (self.width, self.height) = ctx, _checked_size(width, height)
        self.quality = resolve_quality(ctx, quality)
        samples = QUALITY[self.quality][0]
        self.samples = min(samples, ctx.max_samples) if samples > 1 else 0
        size = (self.width, self.height)
        self._resolved_color = ctx.texture(size, 4)
        self.resolved = ctx.framebuffer(color_attachments=[self._resolved_color])
        self._own = [self._resolved_color, self.resolved]
        if self.samples:
            color = ctx.renderbuffer(size, 4, samples=self.samples)
            depth = ctx.depth_renderbuffer(size, samples=self.samples)
            self.framebuffer = ctx.framebuffer(color_attachments=[color], depth_attachment=depth)
            self._own += [color, depth, self.framebuffer]
        else:
            depth = ctx.depth_renderbuffer(size)
            self.framebuffer = ctx.framebuffer(color_attachments=[self._resolved_color], depth_attachment=depth)
            self._own += [depth, self.framebuffer]

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def texture(self) -> moderngl.Texture:
        """The resolved colour texture (call :meth:`resolve` after rendering), top row first."""
        return self._resolved_color

    def resolve(self) -> None:
        if self.samples:
            self.ctx.copy_framebuffer(self.resolved, self.framebuffer)

    def read_into(self, buffer: np.ndarray) -> np.ndarray:
        """Resolve and read RGBA pixels into a preallocated (H, W, 4) uint8 array."""
        if buffer.shape != (self.height, self.width, 4) or buffer.dtype != np.uint8 or not buffer.flags.c_contiguous:
            raise ValueError(f"buffer must be contiguous uint8 ({self.height}, {self.width}, 4)")
        self.resolve()
        self.resolved.read_into(buffer, components=4, alignment=1)
        return buffer

    def read(self) -> np.ndarray:
        return self.read_into(np.empty((self.height, self.width, 4), dtype=np.uint8))

    def release(self) -> None:
        for obj in self._own:
            obj.release()
        self._own = []


class VisibilityTarget:
    """Float framebuffers for :meth:`Renderer.render_visibility` (no MSAA), rows top first.

    Each pixel gets (triangle number + 1, mipmap level), 0 where nothing was drawn: one
    buffer for the opaque parts and one per layer of blended (transparent) fragments.
    """

    EMPTY_PEEL = 3.0e38  # "no fragment yet" for the MIN-blended peel
    OPAQUE, PEEL_A, PEEL_B, LAYER = range(4)  # the framebuffers

    def __init__(self, ctx: moderngl.Context, width: int, height: int):
        self.ctx, (self.width, self.height) = ctx, _checked_size(width, height)
        size = (self.width, self.height)
        self.depth = ctx.depth_renderbuffer(size)
        self.textures = [ctx.texture(size, 2, dtype="f4") for _ in range(4)]  # opaque, peel a/b, layer
        for t in self.textures:
            t.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.framebuffers = [ctx.framebuffer(color_attachments=[t], depth_attachment=self.depth) for t in self.textures]
        for fbo in self.framebuffers[1:]:
            fbo.depth_mask = False  # moderngl applies a framebuffer's own mask on use(); layers test depth only
        # colour-only twins: clearing them leaves the shared depth buffer alone
        self.clearers = [ctx.framebuffer(color_attachments=[t]) for t in self.textures]
        self._list: tuple[moderngl.Buffer, moderngl.Buffer] | None = None

    def fragment_list(self, capacity: int) -> tuple[moderngl.Buffer, moderngl.Buffer]:
        """The blended-fragment list's buffers: a count (one uint) and ``capacity`` rows
        of 4 floats (made on first use: 6.4 MB at 224 x 224 and 8 per pixel)."""
        if self._list is None or self._list[1].size < 16 * capacity:
            if self._list is not None:
                for b in self._list:
                    b.release()
            self._list = self.ctx.buffer(reserve=4), self.ctx.buffer(reserve=16 * capacity)
        return self._list

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def clear(self, index: int, value: float) -> None:
        self.clearers[index].clear(value, 0.0, 0.0, 0.0)

    def read(self, index: int) -> np.ndarray:
        data = self.textures[index].read()
        return np.frombuffer(data, dtype=np.float32).reshape(self.height, self.width, 2).copy()  # writable

    def release(self) -> None:
        for obj in (*self.clearers, *self.framebuffers, *self.textures, self.depth, *(self._list or ())):
            obj.release()
        self.clearers = self.framebuffers = self.textures = []
        self._list = None


@dataclass
class Renderer:
    """Draws one mesh with the shaders in ``shaders/``; owns its GPU resources."""

    ctx: moderngl.Context
    shader_dir: Path = SHADER_DIR
    cull_closed: bool = True  # cull the hidden faces of closed pieces (same picture, faster)
    _parts: list[_GpuPart] = field(default_factory=list, init=False)
    _bg_texture: moderngl.Texture | None = field(default=None, init=False)
    _bg_source: str | None = field(default=None, init=False)
    _visibility_program: moderngl.Program | None = field(default=None, init=False)
    _list_program: moderngl.Program | None = field(default=None, init=False)
    _lists_tried: bool = field(default=False, init=False)  # the list program was compiled, or failed to
    _file_ids: np.ndarray = field(default_factory=lambda: np.zeros(1, np.float32), init=False)
    mesh: Mesh | None = field(default=None, init=False)
    _skin: moderngl.Texture | None = field(default=None, init=False)
    _skin_frame: tuple[tuple[float, float, float], float] = field(default=((0.0, 0.0, 0.0), 1.0), init=False)

    def __post_init__(self) -> None:
        self.program = self._program("mesh")
        self.bg_program = self._program("background")
        self._bg_vao = self.ctx.vertex_array(self.bg_program, [])
        self._white = self.ctx.texture((1, 1), 4, b"\xff\xff\xff\xff")

    @property
    def parts(self) -> tuple[_GpuPart, ...]:
        """The uploaded parts in drawing order (materials, textures, triangle numbering)."""
        return tuple(self._parts)

    def _program(self, name: str, vertex: str | None = None) -> moderngl.Program:
        vert = (self.shader_dir / f"{vertex or name}.vert").read_text()
        frag = (self.shader_dir / f"{name}.frag").read_text()
        return self.ctx.program(vertex_shader=vert, fragment_shader=frag)

    # ------------------------------------------------------------ resources

    def set_mesh(self, mesh: Mesh) -> None:
        """Upload ``mesh`` (replacing the previous one)."""
        self._release_parts()
        blended = [_is_blended(part) for part in mesh.parts]
        pieces = self._closed_pieces(mesh, blended)
        first_triangle = 0
        file_ids = [np.zeros(1, np.int64)]  # drawing-order id -> file-order id (both + 1; 0: none)
        for part, is_blended in zip(mesh.parts, blended, strict=True):
            uvs = part.uvs if part.uvs is not None else np.zeros((len(part.positions), 2), np.float32)
            interleaved = np.hstack([part.positions, part.normals, uvs]).astype("f4")
            vbo = self.ctx.buffer(interleaved.tobytes())
            triangles = np.ascontiguousarray(part.triangles, dtype="u4")
            kind = pieces[first_triangle : first_triangle + len(triangles)]
            order = np.argsort(np.select([kind == OPEN, kind == OUTWARD], [0, 1], 2), kind="stable")
            counts = [int((kind == k).sum()) * 3 for k in (OPEN, OUTWARD, INWARD)]
            ibo = self.ctx.buffer(triangles[order].tobytes())  # in drawing order
            buffers = [vbo, ibo]
            file_ids.append(first_triangle + order + 1)
            starts = np.cumsum([0, *counts[:-1]])
            ranges = tuple(
                (int(start), count, cull)
                for start, count, cull in zip(starts, counts, (None, "back", "front"), strict=True)
                if count
            )
            vao = self.ctx.vertex_array(
                self.program,
                [(vbo, "3f 3f 2f", "in_position", "in_normal", "in_uv")],
                index_buffer=ibo,
                index_element_size=4,
            )
            texture = None
            mat = part.material
            if part.textured:
                img = mat.texture
                texture = self.ctx.texture((img.shape[1], img.shape[0]), 4, img.tobytes())
                texture.build_mipmaps()
                texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
                texture.repeat_x = texture.repeat_y = True
            self._parts.append(
                _GpuPart(
                    vao,
                    buffers,
                    texture,
                    tuple(mat.diffuse),
                    tuple(mat.specular),
                    mat.shininess,
                    mat.alpha,
                    blended=is_blended,
                    first_triangle=first_triangle,
                    ranges=ranges,
                )
            )
            first_triangle += len(triangles)
        self._file_ids = np.concatenate(file_ids).astype(np.float32)
        self.mesh = mesh
        points = np.concatenate([p.positions for p in mesh.parts]) if mesh.parts else np.zeros((1, 3))
        lo, hi = points.min(axis=0), points.max(axis=0)
        self._skin_frame = (tuple(float(v) for v in (lo + hi) / 2), 1.0 / max(float((hi - lo).max()), 1e-6))

    def _closed_pieces(self, mesh: Mesh, blended: list[bool]) -> np.ndarray:
        """Per triangle of the whole mesh: OPEN, or how a closed opaque piece is culled."""
        count = mesh.triangle_count
        if not self.cull_closed or not count:
            return np.full(count, OPEN, np.int8)
        offsets = np.cumsum([0, *(len(p.positions) for p in mesh.parts)])[:-1]
        triangles = np.concatenate([p.triangles.astype(np.int64) + o for p, o in zip(mesh.parts, offsets, strict=True)])
        eligible = np.repeat(np.logical_not(blended), [len(p.triangles) for p in mesh.parts])
        return closed_pieces(np.concatenate([p.positions for p in mesh.parts]), triangles, eligible)

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

    def _release_parts(self) -> None:
        for p in self._parts:
            p.vao.release()
            for vao in p.visibility_vaos.values():
                vao.release()
            for b in p.buffers:
                b.release()
            if p.texture is not None:
                p.texture.release()
        self._parts = []

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
        self._release_parts()
        self.set_skin(None)
        if self._bg_texture is not None:
            self._bg_texture.release()
        programs = (self.program, self.bg_program, self._visibility_program, self._list_program)
        for obj in (self._bg_vao, self._white, *programs):
            if obj is not None:
                obj.release()

    # -------------------------------------------------------------- drawing

    def render(
        self,
        pose: Pose,
        target: OffscreenTarget | moderngl.Framebuffer,
        settings: RenderSettings | None = None,
        viewport: tuple[int, int, int, int] | None = None,
        mesh: bool = True,
    ) -> None:
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
        if self.mesh is None or not mesh:
            return
        self._begin_mesh_state(settings, flip)
        self._set_uniforms(pose, viewport[2], viewport[3], flip)
        opaque = [p for p in self._parts if not p.blended]
        blended = [p for p in self._parts if p.blended]
        for part in opaque:
            self._draw_part(part, settings)
        if blended:
            ctx.enable(moderngl.BLEND)
            ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA, moderngl.ZERO, moderngl.ONE
            fbo.depth_mask = False  # a framebuffer's own mask (moderngl has no context-wide one)
            for part in blended:
                self._draw_part(part, settings)
            fbo.depth_mask = True
            ctx.disable(moderngl.BLEND)
        self._end_mesh_state()

    def _begin_mesh_state(self, settings: RenderSettings, flip: bool) -> None:
        ctx = self.ctx
        ctx.enable(moderngl.DEPTH_TEST)
        if settings.cull_back_faces:
            ctx.enable(moderngl.CULL_FACE)
        else:
            ctx.disable(moderngl.CULL_FACE)
        # a y-flipped projection mirrors the winding, so front faces turn clockwise
        ctx.front_face = "cw" if flip else "ccw"
        ctx.disable(moderngl.BLEND)

    def _end_mesh_state(self) -> None:
        self.ctx.disable(moderngl.DEPTH_TEST | moderngl.CULL_FACE)
        self.ctx.front_face = "ccw"
        self.ctx.cull_face = "back"  # closed pieces wound inwards cull front faces

    # --------------------------------------------------------- visibility

    def render_visibility(
        self,
        pose: Pose,
        target: VisibilityTarget,
        settings: RenderSettings | None = None,
        max_layers: int = 8,
        lists: bool | None = None,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """What :meth:`render` draws into an :class:`OffscreenTarget` of the same size, as
        ids: the opaque buffer and the blended layers in drawing order (see
        :class:`VisibilityTarget`).  Needs OpenGL 4.0 (``textureQueryLod``).  The blended
        layers come from one pass that lists their fragments (:meth:`_listed_layers`,
        OpenGL 4.3) or, below 4.3, ``lists=False`` or when the list overflows, from depth
        peeling, two passes per layer (:meth:`_peeled_layers`): the same layers either way."""
        settings = settings or RenderSettings()
        target.clear(VisibilityTarget.OPAQUE, 0.0)
        target.framebuffers[VisibilityTarget.OPAQUE].clear(depth=1.0)
        if self.mesh is None:
            return target.read(VisibilityTarget.OPAQUE), []
        self._begin_mesh_state(settings, flip=True)
        try:
            prog = self._visibility()
            self._set_uniforms(pose, target.width, target.height, flip=True, program=prog)
            prog["u_texture"].value, prog["u_layer"].value = 0, 1
            target.framebuffers[VisibilityTarget.OPAQUE].use()
            self._draw_ids([p for p in self._parts if not p.blended], settings, prog, "peel", mode=0)
            opaque = self._in_file_order(target.read(VisibilityTarget.OPAQUE))
            blended = [p for p in self._parts if p.blended]
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
            self._end_mesh_state()

    def _draw_ids(
        self,
        parts: list[_GpuPart],
        settings: RenderSettings,
        prog: moderngl.Program,
        kind: str,
        mode: int | None = None,
    ) -> None:
        """Draw ``parts`` with visibility program ``prog`` (``kind``: "peel" or "list"),
        culled as :meth:`render` culls them; ids count triangles in drawing order."""
        if mode is not None:
            prog["u_mode"].value = mode
        for part in parts:
            self._bind_texture(part, settings)
            vao = self._visibility_vao(part, prog, kind)
            for first, count in self._culled_draws(part, settings):
                prog["u_first_id"].value = float(part.first_triangle + first // 3)
                vao.render(moderngl.TRIANGLES, vertices=count, first=first)

    def _in_file_order(self, ids: np.ndarray) -> np.ndarray:
        """Visibility ids (drawing order, as drawn with closed pieces' hidden faces culled)
        renumbered in file order, as :class:`app.render.diffrender.DiffRenderer` counts triangles."""
        ids[..., 0] = self._file_ids[ids[..., 0].astype(np.int64)]
        return ids

    def _peeled_layers(
        self, target: VisibilityTarget, settings: RenderSettings, blended: list[_GpuPart], max_layers: int
    ) -> list[np.ndarray]:
        """Depth peeling in drawing order: each layer keeps, per pixel, the first fragment
        drawn after the last layer's (MIN blending), then a second pass writes its mip level."""
        ctx, prog = self.ctx, self._visibility()
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

    def _listed_layers(
        self,
        prog: moderngl.Program,
        pose: Pose,
        target: VisibilityTarget,
        settings: RenderSettings,
        blended: list[_GpuPart],
        max_layers: int,
    ) -> list[np.ndarray] | None:
        """One pass appends every blended fragment that passes the depth test to a list
        (``shaders/visibility_list.frag``); each pixel's fragments sorted by triangle number
        are its layers.  None when more fragments came than the list holds (``max_layers``
        per pixel on average, at most ``MAX_LISTED`` in all): peeling then gives the first
        ``max_layers`` exactly.  The wine bottle's six layers: 7-9 ms instead of 44-47 here
        (llvmpipe draws each pass over its 6,624 glass triangles in about 3 ms).  ``prog``:
        the list program (:meth:`_lists`)."""
        self._set_uniforms(pose, target.width, target.height, flip=True, program=prog)
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
        self.ctx.memory_barrier()
        n = int(np.frombuffer(count.read(), np.uint32)[0])
        if n > capacity:
            return None
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

    def _visibility(self) -> moderngl.Program:
        if self._visibility_program is None:
            try:
                self._visibility_program = self._program("visibility", vertex="mesh")
            except moderngl.Error as e:
                raise GLUnavailable(
                    f"the gradient method's visibility pass needs OpenGL 4.0 (textureQueryLod): {e}"
                ) from None
        return self._visibility_program

    def _lists(self) -> moderngl.Program | None:
        """The fragment-list program, or None below OpenGL 4.3 (compiled once)."""
        if not self._lists_tried:
            self._lists_tried = True
            if self.ctx.version_code >= 430:
                try:
                    self._list_program = self._program("visibility_list", vertex="mesh")
                except moderngl.Error:
                    self._list_program = None
        return self._list_program

    def _visibility_vao(self, part: _GpuPart, prog: moderngl.Program, kind: str) -> moderngl.VertexArray:
        if kind not in part.visibility_vaos:
            vbo, ibo = part.buffers
            part.visibility_vaos[kind] = self.ctx.vertex_array(
                prog,
                [(vbo, "3f 3f 2f", "in_position", "in_normal", "in_uv")],
                index_buffer=ibo,
                index_element_size=4,
                skip_errors=True,
            )
        return part.visibility_vaos[kind]

    def _set_anisotropy(self, anisotropy: float) -> None:
        anisotropy = min(anisotropy, self.ctx.max_anisotropy)
        for part in self._parts:
            if part.texture is not None and part.texture.anisotropy != anisotropy:
                part.texture.anisotropy = anisotropy

    def _set_uniforms(
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
            prog["u_skin_center"].value, prog["u_skin_scale"].value = self._skin_frame

    def _bind_texture(self, part: _GpuPart, settings: RenderSettings) -> bool:
        """Bind the part's texture (or plain white) to unit 0; True if it is the part's own."""
        used = part.uses_texture(settings)
        (part.texture if used else self._white).use(0)
        return used

    def _draw_part(self, part: _GpuPart, settings: RenderSettings) -> None:
        prog = self.program
        prog["u_use_texture"].value = self._bind_texture(part, settings)
        prog["u_base_color"].value = part.base_color
        prog["u_specular_color"].value = part.specular_color
        prog["u_shininess"].value = part.shininess
        prog["u_alpha"].value = part.alpha
        for first, count in self._culled_draws(part, settings):
            part.vao.render(moderngl.TRIANGLES, vertices=count, first=first)

    def _culled_draws(self, part: _GpuPart, settings: RenderSettings) -> Iterator[tuple[int, int]]:
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
