"""The torch re-shading against the real OpenGL render, and its gradient."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from app.core.params import INDEX, Pose, light_direction, rotation_matrix, world_translation
from app.render.diffrender import DiffRenderer, _Trilinear, pose_terms
from app.render.renderer import Renderer, projection_matrix
from app.render.settings import RenderSettings
from app.render.targets import VisibilityTarget
from app.scene.library import list_objects, resolve_object
from app.scene.mesh import load_mesh
from tests.hostile_inputs import hidden_glass_obj

POSE = Pose(yaw=40, pitch=-25, roll=10, x=0.2, y=-0.1, z=-7, light_azimuth=60, light_elevation=-10, specular=0.6)


@pytest.fixture
def diff(ctx):
    """A fresh re-shader (each test uploads its own mesh)."""
    d = DiffRenderer(ctx, 224)
    yield d
    d.release()


def object_mask(vis) -> np.ndarray:
    mask = vis.opaque[..., 0] > 0
    for layer in vis.layers:
        mask |= layer[..., 0] > 0
    return mask


@pytest.mark.parametrize("name", [o.name for o in list_objects()])
def test_reshaded_image_equals_the_opengl_render(diff, name):
    """Within 2/255 on at least 99% of the object's pixels (the issue's bar), and here on
    every one: the visibility pass culls what the colour render culls (before it did, a
    hidden back face won 2 of the coffee cup's pixels, off by up to 85/255); the background
    is copied, so it is exact."""
    diff.set_mesh(resolve_object(name).load())
    for pose in (resolve_object(name).canonical_pose, POSE):
        gl = diff.render_gl(pose).astype(np.int16)
        vis = diff.rasterize(pose)
        ours = (diff.shade(vis, torch.tensor(pose.vector)).numpy() * 255).round().astype(np.int16)
        mask = object_mask(vis)
        err = np.abs(gl - ours).max(axis=2)
        assert mask.sum() > 1000  # the object is in view
        assert (err[mask] <= 2).mean() >= 0.99, f"{name}: {(err[mask] > 2).sum()} pixels differ by more than 2"
        assert err[mask].max() <= 2, f"{name}: {(err[mask] > 2).sum()} pixels differ by more than 2"
        assert err[~mask].max() == 0


def test_transparent_layers_are_composited_in_drawing_order(diff):
    """The wine bottle's glass is seen through twice (front and back); the layers matter."""
    diff.set_mesh(resolve_object("wine_bottle").load())
    vis = diff.rasterize(POSE)
    assert len(vis.layers) >= 2
    gl = diff.render_gl(POSE).astype(np.int16)
    full = (diff.shade(vis, torch.tensor(POSE.vector)).numpy() * 255).round()
    vis.layers = vis.layers[:1]
    one_layer = (diff.shade(vis, torch.tensor(POSE.vector)).numpy() * 255).round()
    assert np.abs(gl - full).max() <= 2 < np.abs(gl - one_layer).max()


@pytest.mark.parametrize("name", ["wine_bottle", "beer_bottle", "minivan", "sports_car"])
def test_listed_layers_equal_peeled_layers(ctx, name):
    """The one-pass fragment list (OpenGL 4.3) gives exactly the layers that depth
    peeling gives, ids and mip levels, also when ``max_layers`` cuts them short."""
    renderer, target = Renderer(ctx), VisibilityTarget(ctx, 224, 224)
    try:
        renderer.set_mesh(resolve_object(name).load())
        for pose in (resolve_object(name).canonical_pose, POSE):
            for max_layers in (8, 2):
                opaque, peeled = renderer.render_visibility(pose, target, max_layers=max_layers, lists=False)
                opaque2, listed = renderer.render_visibility(pose, target, max_layers=max_layers, lists=True)
                assert np.array_equal(opaque, opaque2)
                assert len(listed) == len(peeled) >= (2 if max_layers == 2 else 1)
                for a, b in zip(peeled, listed, strict=True):
                    assert np.array_equal(a, b)
    finally:
        target.release()
        renderer.release()


def test_a_fragment_list_that_overflows_falls_back_to_peeling(ctx):
    """At 16 x 16 with one layer the list holds 256 fragments; the wine bottle's glass
    gives more, so peeling takes over and the first layer is still exact."""
    renderer, target = Renderer(ctx), VisibilityTarget(ctx, 16, 16)
    try:
        renderer.set_mesh(resolve_object("wine_bottle").load())
        pose = resolve_object("wine_bottle").canonical_pose.replace(z=-3.0)
        _, every = renderer.render_visibility(pose, target, lists=False)
        assert sum(int((layer[..., 0] > 0).sum()) for layer in every) > 16 * 16  # more than the list holds
        _, peeled = renderer.render_visibility(pose, target, max_layers=1, lists=False)
        _, listed = renderer.render_visibility(pose, target, max_layers=1)
        assert len(listed) == 1 and np.array_equal(listed[0], peeled[0])
    finally:
        target.release()
        renderer.release()


def test_blended_parts_hidden_behind_opaque_ones_give_no_layers(ctx, tmp_path):
    """Glass inside an opaque cube: no blended fragment passes the depth test.  Before, the
    fragment list read zero bytes and moderngl's "cannot map the buffer" ended the search."""
    renderer, target = Renderer(ctx), VisibilityTarget(ctx, 64, 64)
    try:
        renderer.set_mesh(load_mesh(hidden_glass_obj(tmp_path)))
        assert any(p.blended for p in renderer.gpu.parts)
        pose = Pose(z=-6.0)
        for lists in (True, False):
            opaque, layers = renderer.render_visibility(pose, target, lists=lists)
            assert layers == [] and (opaque[..., 0] > 0).sum() > 100  # the cube is seen, the glass is not
    finally:
        target.release()
        renderer.release()


def test_untextured_settings_and_background_colour(ctx):
    settings = RenderSettings(textures=False, background=(0.2, 0.4, 0.6), cull_back_faces=True)
    d = DiffRenderer(ctx, 96, settings)
    try:
        d.set_mesh(resolve_object("hen").load())
        gl = d.render_gl(POSE).astype(np.int16)
        ours = (d.shade(d.rasterize(POSE), torch.tensor(POSE.vector)).numpy() * 255).round()
        assert np.abs(gl - ours).max() <= 2
        assert tuple(gl[0, 0]) == (51, 102, 153)
    finally:
        d.release()


def test_pose_terms_match_the_renderer():
    pose = POSE.replace(fov=30.0)
    t = pose_terms(torch.tensor(pose.vector))
    assert np.allclose(t["rotation"].numpy(), rotation_matrix(pose.yaw, pose.pitch, pose.roll))
    assert np.allclose(t["translation"].numpy(), world_translation(pose))
    assert np.allclose(t["light_dir"].numpy(), light_direction(pose))
    assert math.isclose(float(t["focal"]), projection_matrix(pose.fov, 10, 10)[0, 0])


@pytest.mark.parametrize("name", ["hen", "sports_car"])  # textured; transparent layers
def test_gradient_matches_finite_differences(ctx, name):
    """Autograd through the re-shading equals central differences of the same function
    (fixed visibility), for every parameter: rotation, translation, light, camera."""
    d = DiffRenderer(ctx, 64, dtype=torch.float64)
    try:
        d.set_mesh(resolve_object(name).load())
        vis = d.rasterize(POSE)
        weights = torch.rand(64, 64, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

        def f(v: torch.Tensor) -> torch.Tensor:
            return (d.shade(vis, v) * weights).sum()

        v = torch.tensor(POSE.vector, requires_grad=True)
        (grad,) = torch.autograd.grad(f(v), v)
        eps = 1e-6
        for i in range(len(v)):
            e = torch.zeros_like(v)
            e[i] = eps
            fd = float((f(v.detach() + e) - f(v.detach() - e)) / (2 * eps))
            assert float(grad[i]) == pytest.approx(fd, rel=1e-4, abs=1e-5), i
        for name in ("yaw", "pitch", "roll", "x", "y", "z", "light_azimuth", "diffuse"):
            assert abs(float(grad[INDEX[name]])) > 1e-3, f"{name} has no effect on the image"
    finally:
        d.release()


def test_texture_lookups_and_their_gradient_on_a_non_square_texture():
    """The trilinear lookup's values equal bilinear filtering on each mip level done by
    hand (repeat wrap), and its written-out backward equals numerical differences, on a
    5 x 3 texture (width and height differ, so a swapped axis shows) and its 2 x 1 level."""
    rng = np.random.default_rng(0)
    sizes = [(5, 3), (2, 1)]  # (width, height) per level
    texels8 = [rng.integers(0, 256, (h * w, 4), dtype=np.uint8) for w, h in sizes]  # as OpenGL holds them
    pyramid = [t / 255.0 for t in texels8]
    texels = torch.from_numpy(np.concatenate([np.full((1, 4), 255, np.uint8), *texels8]))
    levels = torch.tensor([[[1, 5, 3], [16, 2, 1]]])
    count = torch.tensor([2])
    n = 64
    uv = torch.from_numpy(rng.uniform(-1.5, 2.5, (n, 2))).requires_grad_(True)
    level = torch.from_numpy(rng.uniform(0.0, 1.8, n))
    part = torch.zeros(n, dtype=torch.long)

    def bilinear(k: int, u: float, v: float) -> np.ndarray:
        w, h = sizes[k]
        image = pyramid[k].reshape(h, w, 4)
        s, t = u * w - 0.5, v * h - 0.5
        x, y = math.floor(s), math.floor(t)
        fs, ft = s - x, t - y
        row = lambda j: (1 - fs) * image[j % h, x % w] + fs * image[j % h, (x + 1) % w]  # noqa: E731
        return (1 - ft) * row(y) + ft * row(y + 1)

    got = _Trilinear.apply(uv, level, part, texels, levels, count).detach().numpy()
    fixed = uv.detach()
    for i in range(n):
        u, v, lv = float(fixed[i, 0]), float(fixed[i, 1]), float(level[i])
        lower = min(math.floor(lv), 1)
        weight = min(max(lv - lower, 0.0), 1.0)
        want = (1 - weight) * bilinear(lower, u, v) + weight * bilinear(min(lower + 1, 1), u, v)
        np.testing.assert_allclose(got[i], want, atol=1e-12)
    assert torch.autograd.gradcheck(lambda x: _Trilinear.apply(x, level, part, texels, levels, count), (uv,))


def test_edge_gradients_leave_the_image_as_it_is(diff):
    diff.set_mesh(resolve_object("hen").load())
    vis = diff.rasterize(POSE)
    v = torch.tensor(POSE.vector)
    assert torch.equal(diff.shade(vis, v, edges=True), diff.shade(vis, v))


@pytest.mark.parametrize("name", ["hen", "cellphone", "sports_car"])
def test_edge_gradient_follows_the_outline_that_opengl_draws(diff, name):
    """How many pixels the object covers changes with distance, height and pitch only
    through its outline: the silhouette term's derivative of that count matches OpenGL's count at
    +-step within 30% (a pixel grid is coarse); counting each edge in both directions
    gives twice the change, a wrong sign the opposite."""
    diff.set_mesh(resolve_object(name).load())
    pose = POSE.replace(light_azimuth=0.0)
    vis = diff.rasterize(pose)
    covered = torch.from_numpy((vis.opaque[..., 0] > 0).reshape(-1, 1).astype(np.float32))
    v = torch.tensor(pose.vector, requires_grad=True)
    (grad,) = torch.autograd.grad(diff.silhouette_term(vis, covered, v).sum(), v)
    for param, step in (("z", 0.2), ("y", 0.03), ("pitch", 3.0)):
        counts = []
        for sign in (1, -1):
            vector = pose.vector.copy()
            vector[INDEX[param]] += sign * step
            counts.append(int((diff.rasterize(Pose.from_vector(vector)).opaque[..., 0] > 0).sum()))
        assert abs(counts[0] - counts[1]) >= 100, f"{param} barely moves the outline"
        opengl = (counts[0] - counts[1]) / (2 * step)
        assert float(grad[INDEX[param]]) == pytest.approx(opengl, rel=0.3), param
