"""The OpenGL render recomputed in torch, differentiable in the pose.

OpenGL rasterises a visibility buffer (:meth:`app.render.renderer.Renderer.render_visibility`:
which triangle covers each pixel, which mipmap level the texture lookup used, and the
transparent layers in drawing order).  :class:`DiffRenderer` then redoes everything
else in torch from a pose vector: vertices are transformed and projected, barycentrics
come perspective-correct from the projected triangle (Olano-Greer homogeneous edge
functions, so nothing divides by w), UVs, normals and positions are interpolated, the
mipmapped textures (read back from OpenGL, so the pyramid is identical) are sampled
trilinearly with repeat wrapping, the Blinn-Phong terms of ``shaders/mesh.frag`` are
applied, and the result is composited over the background and the transparent layers.

The image equals the OpenGL render (``fast`` quality: no MSAA, no anisotropy) to within
rounding, and its gradient with respect to rotation, translation, light and angle of
view is exact for a fixed visibility.  Silhouette and occlusion changes are handled by
rasterising again at every step (the visibility is piecewise constant); optionally the
outline's movement adds its derivative too (:meth:`DiffRenderer.silhouette_term`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import moderngl
import numpy as np
import torch

from app.core.params import INDEX, Pose
from app.render.renderer import Renderer
from app.render.settings import RenderSettings
from app.render.targets import OffscreenTarget, VisibilityTarget
from app.scene.mesh import Mesh


def pose_terms(v: torch.Tensor, aspect: float = 1.0) -> dict[str, torch.Tensor]:
    """The scene quantities of a pose vector (``PARAMS`` order), as torch functions of it:
    what :func:`app.core.params.rotation_matrix`, :func:`~app.core.params.world_translation`,
    :func:`~app.core.params.light_direction` and :func:`app.render.renderer.projection_matrix` compute."""

    def p(name: str) -> torch.Tensor:
        return v[INDEX[name]]

    rad = math.pi / 180.0
    a, b, c = p("yaw") * rad, p("pitch") * rad, p("roll") * rad
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    ry = torch.stack([torch.cos(a), zero, torch.sin(a), zero, one, zero, -torch.sin(a), zero, torch.cos(a)])
    rx = torch.stack([one, zero, zero, zero, torch.cos(b), -torch.sin(b), zero, torch.sin(b), torch.cos(b)])
    rz = torch.stack([torch.cos(c), -torch.sin(c), zero, torch.sin(c), torch.cos(c), zero, zero, zero, one])
    rotation = rz.view(3, 3) @ rx.view(3, 3) @ ry.view(3, 3)
    half = torch.tan(p("fov") * rad / 2.0)
    h = -p("z") * half
    translation = torch.stack([p("x") * h * aspect, p("y") * h, p("z")])
    az, el = p("light_azimuth") * rad, p("light_elevation") * rad
    light = torch.stack([torch.cos(el) * torch.sin(az), torch.sin(el), torch.cos(el) * torch.cos(az)])
    return {
        "rotation": rotation,
        "translation": translation,
        "focal": 1.0 / half,  # the projection's x and y scale (square view)
        "light_dir": light,
        "light_color": torch.stack([p("light_r"), p("light_g"), p("light_b")]),
        "ambient": p("ambient"),
        "diffuse": p("diffuse"),
        "specular": p("specular"),
    }


def _edge_functions(corners: torch.Tensor, terms: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The first corner in clip space (x, y, w) and the homogeneous edge functions (T, 3, 3)
    of triangles with object-space ``corners`` (T, 3, 8): edge ``k`` is the one opposite
    corner ``k``, and ``edges[:, k] . (x_ndc, y_ndc, 1)`` has one sign inside the triangle."""
    c = corners[..., :3] @ terms["clip_matrix"].T + terms["clip_offset"]
    c0, c1, c2 = c.unbind(1)
    return c0, torch.stack([torch.linalg.cross(c1, c2), torch.linalg.cross(c2, c0), torch.linalg.cross(c0, c1)], 1)


def _gather_texels(texels: torch.Tensor, index: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Rows ``index`` of the (N, 4) uint8 texel table, as ``dtype`` in [0, 1] (the values
    OpenGL samples).  The table keeps a quarter of the memory of float texels (a 4096 x 4096
    texture's pyramid: 90 instead of 360 MB), and each texel is gathered as one int32,
    faster than torch's copy of 2-D rows (a search's time did not change measurably)."""
    rows = texels.view(torch.int32).view(-1).index_select(0, index)
    return rows.view(torch.uint8).view(-1, 4).to(dtype) / 255.0


class _Trilinear(torch.autograd.Function):
    """Trilinear, repeat-wrapped texture lookups, as OpenGL's ``GL_LINEAR_MIPMAP_LINEAR``
    does them: ``apply(uv, level, part, texels, levels, level_count)`` -> (F, 4).  Each
    fragment reads the 2 x 4 texels around ``uv`` on the two mip levels around ``level``
    (a constant read from OpenGL) of its part's texture, in one gather, and weighs them
    in one batched product (8 weights by 8 texels).  The backward dots each texel with
    the incoming gradient once and writes out the weights' derivative in uv (autograd
    would keep a dozen (F, 4) intermediates; this form took the full-frame barrel's lookup
    forward and backward from 11.8 to 9.2 ms, timed alternately).  ``texels``: every
    level of every texture, one uint8 RGBA texel a row; ``levels``: (parts, depth, 3)
    rows of (first texel, width, height) per mip level."""

    @staticmethod
    def forward(ctx, uv, level, part, texels, levels, level_count):  # type: ignore[override]
        last = level_count.index_select(0, part) - 1
        lower = torch.minimum(level.floor().long(), last)
        pair = torch.stack([lower, torch.minimum(lower + 1, last)], 1)  # (F, 2): the levels around ``level``
        upper = (level - lower).clamp(0.0, 1.0).unsqueeze(1)  # (F, 1): the upper level's share
        rows = levels.view(-1, 3).index_select(0, (part.unsqueeze(1) * levels.shape[1] + pair).view(-1))
        offset, w, h = rows.view(-1, 2, 3).unbind(2)  # (F, 2) each: both levels
        s = uv[:, 0:1] * w - 0.5
        t = uv[:, 1:2] * h - 0.5
        s0, t0 = s.floor(), t.floor()
        fs, ft = s - s0, t - t0  # (F, 2): the fractions across each level's texel square
        x0, y0 = s0.long() % w, t0.long() % h
        x1 = torch.where(x0 + 1 == w, 0, x0 + 1)
        y1 = torch.where(y0 + 1 == h, 0, y0 + 1)
        r0, r1 = offset + y0 * w, offset + y1 * w
        corners = torch.stack([r0 + x0, r0 + x1, r1 + x0, r1 + x1], 2).view(-1)  # per level: a b / c d
        texel = _gather_texels(texels, corners, uv.dtype).view(-1, 8, 4)  # (F, 8, RGBA)
        share = torch.cat([1.0 - upper, upper], 1)  # (F, 2): each level's share
        gs, gt = 1.0 - fs, 1.0 - ft
        weights = torch.stack([gs * gt, fs * gt, gs * ft, fs * ft], 2) * share.unsqueeze(2)  # (F, 2, 4)
        ctx.save_for_backward(texel, fs, ft, share, w, h)
        return torch.bmm(weights.view(-1, 1, 8), texel).squeeze(1)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        texel, fs, ft, share, w, h = ctx.saved_tensors
        qa, qb, qc, qd = torch.bmm(texel, grad.unsqueeze(2)).view(-1, 2, 4).unbind(2)  # texel . grad: (F, 2) each
        d_s = share * ((1.0 - ft) * (qb - qa) + ft * (qd - qc)) * w  # d out / d u through each level
        d_t = share * ((1.0 - fs) * (qc - qa) + fs * (qd - qb)) * h
        d_uv = torch.stack([d_s[:, 0] + d_s[:, 1], d_t[:, 0] + d_t[:, 1]], 1)
        return d_uv, None, None, None, None, None


class _RowsAtPixels(torch.autograd.Function):
    """``apply(rows, inverse, p)`` -> (F, R): each fragment's triangle rows (``rows``,
    (T, R, 3), at ``inverse``) dotted with its pixel's (x, y, 1) ``p`` (F, 3).  Autograd
    would keep the (F, R, 3) gather and give each of its three slices a zero-filled
    copy in the backward; here the backward is one ``index_add`` of the products."""

    @staticmethod
    def forward(ctx, rows, inverse, p):  # type: ignore[override]
        q = rows.index_select(0, inverse)
        ctx.save_for_backward(inverse, p)
        ctx.triangles = rows.shape[0]
        return q[..., 0] * p[:, 0:1] + q[..., 1] * p[:, 1:2] + q[..., 2]

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        inverse, p = ctx.saved_tensors
        # (F, 3R): the grad times p's x, then y, then 1; flat rows add faster than (F, R, 3)
        # ones (the full-frame barrel's backward 2.7 -> 2.2 ms), and to the same sums
        per_fragment = torch.cat([grad * p[:, 0:1], grad * p[:, 1:2], grad], 1)
        rows = per_fragment.new_zeros((ctx.triangles, per_fragment.shape[1])).index_add_(0, inverse, per_fragment)
        return rows.view(ctx.triangles, 3, -1).transpose(1, 2), None, None


@dataclass
class Visibility:
    """One rasterisation: (H, W, 2) buffers of (triangle + 1, mip level), opaque first."""

    pose: Pose
    opaque: np.ndarray
    layers: list[np.ndarray]


class DiffRenderer:
    """Square images of one mesh at ``size`` pixels, re-shaded in torch (see the module)."""

    def __init__(
        self,
        ctx: moderngl.Context,
        size: int,
        settings: RenderSettings | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ):
        self.ctx, self.size, self.device, self.dtype = ctx, int(size), torch.device(device), dtype
        self.settings = settings or RenderSettings()
        self.renderer = Renderer(ctx)
        self.visibility_target = VisibilityTarget(ctx, self.size, self.size)
        self.color_target = OffscreenTarget(ctx, self.size, self.size, "fast")
        self.mesh: Mesh | None = None
        self._background: torch.Tensor | None = None
        centres = (torch.arange(self.size, dtype=torch.float64) + 0.5) / self.size * 2.0 - 1.0
        # (ndc x, ndc y, 1) of pixel (row, col) of the top-row-first image, row-major; the
        # y-flipped projection maps row r to ndc y = centres[r]
        x, y = centres.repeat(self.size), centres.repeat_interleave(self.size)
        self._pixel_ndc = torch.stack([x, y, torch.ones_like(x)], dim=1).to(self.device, dtype)

    # ------------------------------------------------------------ the mesh

    def set_mesh(self, mesh: Mesh) -> None:
        """Upload ``mesh`` to OpenGL and its vertices, materials and texture pyramids to torch."""
        self.renderer.set_mesh(mesh)
        self.mesh = mesh
        dev, dt = self.device, self.dtype
        corners, part_of = [], []
        for i, part in enumerate(mesh.parts):
            uvs = part.uvs if part.uvs is not None else np.zeros((len(part.positions), 2), np.float32)
            attributes = np.hstack([part.positions, part.normals, uvs])
            corners.append(attributes[part.triangles.astype(np.int64)])
            part_of.append(np.full(len(part.triangles), i))
        # per triangle, its three corners' object-space position, normal and uv: (T, 3, 8)
        self._corners = torch.from_numpy(np.concatenate(corners)).to(dev, dt)
        self._part_of = torch.from_numpy(np.concatenate(part_of)).to(dev)
        gpu_parts = self.renderer.parts
        # per part: base colour, specular colour, shininess, alpha, textured (1.0 or 0.0)
        self._materials = torch.tensor(
            [[*p.base_color, *p.specular_color, p.shininess, p.alpha, float(p.uses_texture(self.settings))]
             for p in gpu_parts], device=dev, dtype=dt,
        )  # fmt: skip
        self._read_pyramids(gpu_parts)
        self._background = None

    def _read_pyramids(self, gpu_parts) -> None:
        """Every mip level of every texture, as OpenGL holds them, in one flat texel table."""
        texels, tables = [np.full((1, 4), 255, np.uint8)], []
        offset = 1  # texel 0: the white texture of untextured parts
        for part in gpu_parts:
            rows = []
            if part.texture is not None:
                w, h = part.texture.size
                for level in range(int(math.floor(math.log2(max(w, h)))) + 1):
                    lw, lh = max(1, w >> level), max(1, h >> level)
                    data = np.frombuffer(part.texture.read(level=level), np.uint8).reshape(lh * lw, 4)
                    texels.append(data)
                    rows.append((offset, lw, lh))
                    offset += lw * lh
            tables.append(rows or [(0, 1, 1)])
        depth = max(len(t) for t in tables)
        table = np.array([t + [t[-1]] * (depth - len(t)) for t in tables], dtype=np.int64)  # (parts, levels, 3)
        self._texels = torch.from_numpy(np.concatenate(texels)).to(self.device)  # uint8, as OpenGL holds them
        self._levels = torch.from_numpy(table).to(self.device)
        self._level_count = torch.tensor([len(t) for t in tables], device=self.device)

    def background(self) -> torch.Tensor:
        """(H*W, 3) background colours (constant in the pose), rendered once by OpenGL."""
        if self._background is None:
            self.renderer.render(Pose(), self.color_target, self.settings, mesh=False)
            img = self.color_target.read()[..., :3].reshape(-1, 3)
            self._background = torch.from_numpy(img.astype(np.float32) / 255.0).to(self.device, self.dtype)
        return self._background

    # ------------------------------------------------------------- drawing

    def rasterize(self, pose: Pose) -> Visibility:
        """The OpenGL part: which triangle each pixel sees (opaque and transparent layers)."""
        if self.mesh is None:
            raise RuntimeError("no mesh: call set_mesh first")
        opaque, layers = self.renderer.render_visibility(pose, self.visibility_target, self.settings)
        return Visibility(pose, opaque, layers)

    def render_gl(self, pose: Pose) -> np.ndarray:
        """The colour image OpenGL draws for ``pose`` at the same size and quality, (H, W, 3) uint8."""
        self.renderer.render(pose, self.color_target, self.settings)
        return self.color_target.read()[..., :3].copy()

    def shade(self, vis: Visibility, vector: torch.Tensor, edges: bool = False) -> torch.Tensor:
        """The image for pose ``vector`` (15 values, ``PARAMS`` order, may require grad)
        seen through ``vis``: (H, W, 3) in [0, 1], differentiable in ``vector``.  With
        ``edges`` the outline's gradient is added (:meth:`silhouette_term`); the values
        stay the same."""
        terms = self._terms(vector)
        image = self._composite(vis, terms)
        if edges:
            image = image + self.silhouette_term(vis, image.detach(), vector)
        return image.view(self.size, self.size, 3)

    def _terms(self, vector: torch.Tensor) -> dict[str, torch.Tensor]:
        terms = pose_terms(vector.to(self.device, self.dtype))
        f = terms["focal"]
        # object space -> clip (x, y, w) of the y-flipped projection (w = -z_cam), an affine map
        flip = torch.stack([f, -f, -torch.ones_like(f)]).unsqueeze(1)
        terms["clip_matrix"] = terms["rotation"] * flip
        terms["clip_offset"] = terms["translation"] * flip.squeeze(1)
        return terms

    def silhouette_term(self, vis: Visibility, colours: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
        """Zero in value, with the gradient of the object's outline moving as pose ``vector``
        does (edge gradients by antialiasing, as nvdiffrast has them), for the image
        ``colours`` (H*W, C, constant) seen through ``vis``: (H*W, C).

        The visibility is fixed at each step, so the re-shaded image alone does not see
        the outline move.  For every pair of neighbouring pixels, one on the object and
        one on the background, the edge of the object pixel's triangle that the segment
        between their centres crosses is found, at a fraction ``t`` of the way (a function
        of the pose).  An antialiased image would blend the pair by how far the edge
        passes the midpoint: ``(t - 1/2)`` of the object colour into the background pixel,
        or ``(1/2 - t)`` of the background colour into the object pixel.  That blend is
        added and subtracted again (straight through), so the image keeps OpenGL's values
        and gains its derivative.  Edges between two triangles of the object (an occluding
        contour in front of the object itself) are left out."""
        terms = self._terms(vector)
        ids = torch.from_numpy(vis.opaque[..., 0]).to(self.device).long().view(self.size, self.size)
        flat = torch.arange(self.size * self.size, device=self.device).view(self.size, self.size)
        inside, outside, across = [], [], []
        for axis, (a, b) in enumerate(((flat[:, :-1], flat[:, 1:]), (flat[:-1, :], flat[1:, :]))):  # x, then y
            a, b = a.reshape(-1), b.reshape(-1)
            on_a, on_b = ids.view(-1)[a] > 0, ids.view(-1)[b] > 0
            inside += [a[on_a & ~on_b], b[on_b & ~on_a]]
            outside += [b[on_a & ~on_b], a[on_b & ~on_a]]
            across += [torch.full((int((on_a != on_b).sum()),), axis, device=self.device)]
        inside, outside, across = torch.cat(inside), torch.cat(outside), torch.cat(across)
        term = torch.zeros_like(colours)
        if len(inside) == 0:
            return term
        _, edges = _edge_functions(self._corners[ids.view(-1)[inside] - 1], terms)
        e_in = (edges * self._pixel_ndc[inside].unsqueeze(1)).sum(2)  # (P, 3): all one sign inside
        e_out = (edges * self._pixel_ndc[outside].unsqueeze(1)).sum(2)
        sign = torch.sign(e_in.detach().sum(1, keepdim=True))
        e_in, e_out = e_in * sign, e_out * sign
        crossed = (e_out.detach() < 0) & (e_in.detach() >= 0)
        ones = torch.ones_like(e_in)
        t, k = torch.where(crossed, e_in / torch.where(crossed, e_in - e_out, ones), ones).min(dim=1)  # first exit
        # each edge once: horizontal pairs take the steep edges, vertical pairs the flat ones
        normal = edges.detach()[torch.arange(len(k), device=self.device), k, :2].abs()  # (|d/dx|, |d/dy|) of e
        steep = normal[:, 0] >= normal[:, 1]
        keep = crossed.any(dim=1) & (steep == (across == 0))
        inside, outside, t = inside[keep], outside[keep], t[keep].clamp(0.0, 1.0)
        past = t - 0.5  # > 0: the object reaches into the background pixel, < 0: short of its own
        change = past.unsqueeze(1) * (colours[inside] - colours[outside])
        return term.index_add(0, torch.where(past > 0, outside, inside), change - change.detach())

    def _composite(self, vis: Visibility, terms) -> torch.Tensor:
        """The opaque buffer over the background, then each transparent layer blended over
        that in drawing order.  The fragments of every buffer are shaded in one call: a
        bottle has up to 7 buffers of a few thousand fragments, and torch's cost per op,
        not per element, dominated shading them one buffer at a time (forward and backward,
        timed alternately: wine bottle 45 -> 29 ms, beer bottle 39 -> 23, sports car 26 -> 17)."""
        pixels, tris, levels = [], [], []
        for buffer in [vis.opaque, *vis.layers]:
            ids = torch.from_numpy(buffer[..., 0].reshape(-1)).to(self.device)
            at = torch.nonzero(ids > 0).squeeze(1)
            pixels.append(at)
            tris.append(ids.index_select(0, at).long() - 1)
            levels.append(torch.from_numpy(buffer[..., 1].reshape(-1)).to(self.device, self.dtype).index_select(0, at))
        image = self.background()
        if sum(len(p) for p in pixels) == 0:
            return image
        color, alpha = self._shade_fragments(torch.cat(pixels), torch.cat(tris), torch.cat(levels), terms)
        start = 0
        for index, at in enumerate(pixels):
            c, a = color.narrow(0, start, len(at)), alpha.narrow(0, start, len(at)).unsqueeze(1)
            start += len(at)
            if len(at) == 0:
                continue
            if index == 0:
                image = image.index_copy(0, at, c)
            else:
                image = image.index_copy(0, at, a * c + (1.0 - a) * image.index_select(0, at))
        return image

    def render(self, vector: torch.Tensor) -> torch.Tensor:
        """Rasterise at ``vector`` (detached, fitted to the declared ranges) and shade."""
        pose = Pose.from_vector(vector.detach().cpu().double().numpy(), fit=True)
        return self.shade(self.rasterize(pose), vector)

    def _shade_fragments(self, pixels, tri, level, terms):
        """Colour and alpha of the fragments at ``pixels`` of triangles ``tri``.  Each
        visible triangle is projected once, into rows whose dot products with a pixel's
        (x, y, 1) give its camera-space position, normal and uv (:meth:`_interpolants`);
        per fragment that is one gather and a few multiply-adds.  Gathers use
        ``index_select``: several times faster than indexing on the CPU, and its backward
        sums in a fixed order."""
        mark = torch.zeros(len(self._corners), dtype=torch.long, device=self.device).index_fill_(0, tri, 1)
        seen = mark.nonzero().squeeze(1)  # the triangles in view: torch.unique without its sort
        inverse = (mark.cumsum(0) - 1).index_select(0, tri)  # each fragment's row in ``seen``
        rows, facing = self._interpolants(seen, terms)
        r = _RowsAtPixels.apply(rows, inverse, self._pixel_ndc.index_select(0, pixels))  # (F, 9)
        # split, not sliced: one cat in the backward instead of a zero-filled copy per slice
        num, den = r.split([8, 1], 1)
        position, normal, uv = (num / den).split([3, 3, 2], 1)  # perspective-correct
        part = self._part_of.index_select(0, tri)
        material = self._materials.index_select(0, part)  # (F, 9)
        base, alpha = self._surface(material, uv, level, part)

        n = normal * (facing.index_select(0, inverse) / normal.norm(dim=1)).unsqueeze(1)
        view = -position / position.norm(dim=1, keepdim=True)
        light = terms["light_dir"]
        half = light + view
        half = half / half.norm(dim=1, keepdim=True)
        lambert = (n @ light).clamp(min=0.0)
        n_dot_h = (n * half).sum(1).clamp(min=1e-12)
        spec = torch.where(lambert > 0, n_dot_h ** material[:, 6], torch.zeros_like(lambert))
        color = (
            base * terms["light_color"] * (terms["ambient"] + terms["diffuse"] * lambert).unsqueeze(1)
            + (terms["specular"] * spec).unsqueeze(1) * material[:, 3:6] * terms["light_color"]
        )
        return color.clamp(0.0, 1.0), alpha

    def _surface(self, material, uv, level, part) -> tuple[torch.Tensor, torch.Tensor]:
        """Base colour (F, 3) and alpha (F,) of fragments with ``material`` rows: a
        textured part's from its texture (alpha times the material's), the others' from
        the material.  Where at most 3/4 of the fragments are textured, only those are
        looked up: none for the coffee cup, the grand piano and the soccer ball, and 6% and
        13% of the sports car's and the wine bottle's fragments (their paint and glass are
        plain)."""
        textured = material[:, 8] > 0
        count = int(textured.sum())
        if count == 0:
            return material[:, :3], material[:, 7]
        if count > 0.75 * len(textured):  # look all up: cheaper than picking out the few plain ones
            rgb, tex_alpha = self._lookup(uv, level, part)
            alpha = torch.where(textured, tex_alpha, torch.ones_like(tex_alpha))
            return torch.where(textured.unsqueeze(1), rgb, material[:, :3]), material[:, 7] * alpha
        at = textured.nonzero().squeeze(1)
        rgb, tex_alpha = self._lookup(uv.index_select(0, at), level.index_select(0, at), part.index_select(0, at))
        alpha = torch.ones_like(material[:, 7]).index_copy(0, at, tex_alpha)
        return material[:, :3].index_copy(0, at, rgb), material[:, 7] * alpha

    def _lookup(self, uv, level, part) -> tuple[torch.Tensor, torch.Tensor]:
        """Trilinear texture colour (F, 3) and alpha (F,) at ``uv`` (:class:`_Trilinear`)."""
        rgb, alpha = _Trilinear.apply(uv, level, part, self._texels, self._levels, self._level_count).split([3, 1], 1)
        return rgb, alpha.squeeze(1)

    def _interpolants(self, seen: torch.Tensor, terms) -> tuple[torch.Tensor, torch.Tensor]:
        """(T, 9, 3) rows per triangle ``seen``, and +1/-1 for front/back faces.  A pixel's
        barycentrics are its edge functions ``e = E p`` over their sum, so an attribute
        ``a = C^T e / (1^T e)``: rows 0-2 are camera-space positions ``R C^T E + t 1^T E``,
        3-5 normals ``R C^T E``, 6-7 uvs and 8 the denominator ``1^T E``.  Barycentrics are
        affine-invariant, so ``C`` holds the corners' object-space attributes (constants:
        no gradient flows into a gather) and the rotation R and translation t move the
        interpolated values to camera space."""
        corners = self._corners.index_select(0, seen)  # (T, 3, 8), constant
        c0, edges = _edge_functions(corners, terms)
        # front faces turn counter-clockwise in the mesh, clockwise once the projection flips y
        facing = torch.where((c0 * edges[:, 0]).sum(1) < 0, 1.0, -1.0).to(edges.dtype)
        num = corners.transpose(1, 2) @ edges  # (T, 8, 3)
        den = edges.sum(1, keepdim=True)  # (T, 1, 3)
        rotation = terms["rotation"]
        num_position, num_normal, num_uv = num.split([3, 3, 2], 1)
        position = rotation @ num_position + terms["translation"].view(1, 3, 1) * den
        return torch.cat([position, rotation @ num_normal, num_uv, den], 1), facing

    def release(self) -> None:
        self.renderer.release()
        self.visibility_target.release()
        self.color_target.release()
