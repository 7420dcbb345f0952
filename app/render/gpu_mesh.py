"""A mesh uploaded to the GPU: its parts' buffers, textures and materials, in drawing order.

Closed opaque pieces are drawn after the open triangles, with their hidden faces culled
(:mod:`app.scene.culling`); each triangle keeps its number in the file (its visibility id)
so the gradient's re-shading (:mod:`app.render.diffrender`) can find it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import moderngl
import numpy as np

from app.render.settings import RenderSettings
from app.scene.culling import INWARD, OPEN, OUTWARD, closed_pieces
from app.scene.mesh import Mesh, MeshPart

LAYOUT = ("3f 3f 2f", "in_position", "in_normal", "in_uv")  # interleaved vertices


@dataclass
class GpuPart:
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

    def release(self) -> None:
        self.vao.release()
        for vao in self.visibility_vaos.values():
            vao.release()
        for b in self.buffers:
            b.release()
        if self.texture is not None:
            self.texture.release()


def is_blended(part: MeshPart) -> bool:
    """Drawn in the blended pass: a see-through material or texture."""
    texture = part.material.texture if part.textured else None
    return part.material.alpha < 1.0 or (texture is not None and bool((texture[..., 3] < 255).any()))


class GpuMesh:
    """``mesh`` uploaded into ``ctx`` for ``program`` (``cull_closed``: closed pieces' hidden faces culled)."""

    def __init__(self, ctx: moderngl.Context, program: moderngl.Program, mesh: Mesh, cull_closed: bool = True):
        self.mesh = mesh
        self.parts: list[GpuPart] = []
        blended = [is_blended(part) for part in mesh.parts]
        pieces = self._pieces(mesh, blended, cull_closed)
        first = 0
        file_ids = [np.zeros(1, np.int64)]  # drawing-order id -> file-order id (both + 1; 0: none)
        for part, see_through in zip(mesh.parts, blended, strict=True):
            kind = pieces[first : first + len(part.triangles)]
            order = np.argsort(np.select([kind == OPEN, kind == OUTWARD], [0, 1], 2), kind="stable")
            self.parts.append(self._upload(ctx, program, part, kind, order, see_through, first))
            file_ids.append(first + order + 1)
            first += len(part.triangles)
        self.file_ids = np.concatenate(file_ids).astype(np.float32)
        points = np.concatenate([p.positions for p in mesh.parts]) if mesh.parts else np.zeros((1, 3))
        lo, hi = points.min(axis=0), points.max(axis=0)
        # the bounding cube a solid skin spans: (centre, 1 / side)
        self.skin_frame = (tuple(float(v) for v in (lo + hi) / 2), 1.0 / max(float((hi - lo).max()), 1e-6))

    @staticmethod
    def _pieces(mesh: Mesh, blended: list[bool], cull_closed: bool) -> np.ndarray:
        """Per triangle of the whole mesh: OPEN, or how a closed opaque piece is culled."""
        count = mesh.triangle_count
        if not cull_closed or not count:
            return np.full(count, OPEN, np.int8)
        offsets = np.cumsum([0, *(len(p.positions) for p in mesh.parts)])[:-1]
        triangles = np.concatenate([p.triangles.astype(np.int64) + o for p, o in zip(mesh.parts, offsets, strict=True)])
        eligible = np.repeat(np.logical_not(blended), [len(p.triangles) for p in mesh.parts])
        return closed_pieces(np.concatenate([p.positions for p in mesh.parts]), triangles, eligible)

    @staticmethod
    def _upload(ctx, program, part: MeshPart, kind: np.ndarray, order: np.ndarray, blended: bool,
                first: int) -> GpuPart:  # fmt: skip
        """One part's buffers (triangles in drawing order: open, then outward, then inward pieces) and texture."""
        uvs = part.uvs if part.uvs is not None else np.zeros((len(part.positions), 2), np.float32)
        vbo = ctx.buffer(np.hstack([part.positions, part.normals, uvs]).astype("f4").tobytes())
        triangles = np.ascontiguousarray(part.triangles, dtype="u4")
        ibo = ctx.buffer(triangles[order].tobytes())
        counts = [int((kind == k).sum()) * 3 for k in (OPEN, OUTWARD, INWARD)]
        starts = np.cumsum([0, *counts[:-1]])
        ranges = tuple((int(s), c, cull) for s, c, cull in zip(starts, counts, (None, "back", "front"), strict=True)
                       if c)  # fmt: skip
        vao = ctx.vertex_array(program, [(vbo, *LAYOUT)], index_buffer=ibo, index_element_size=4)
        texture, mat = None, part.material
        if part.textured:
            img = mat.texture
            texture = ctx.texture((img.shape[1], img.shape[0]), 4, img.tobytes())
            texture.build_mipmaps()
            texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
            texture.repeat_x = texture.repeat_y = True
        return GpuPart(vao, [vbo, ibo], texture, tuple(mat.diffuse), tuple(mat.specular), mat.shininess, mat.alpha,
                       blended=blended, first_triangle=first, ranges=ranges)  # fmt: skip

    def release(self) -> None:
        for p in self.parts:
            p.release()
        self.parts = []
