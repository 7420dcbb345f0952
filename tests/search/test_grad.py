"""The gradient method: its climbs, line searches, first steps and restarts, on landscapes with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from app.core.params import Pose
from app.search.run import search
from app.search.space import Budget, Goal, SearchError, SearchSpace
from tests.conftest import load_scene


class Landscape:
    """A synthetic targeted goal over rotation and translation: class 1's probability is
    ``exp(-width * |u - peak|^2)`` in the unit cube (angles the short way round); every
    batch of poses evaluated is kept, as unit points."""

    def __init__(self, width: float):
        self.space = SearchSpace(Pose(), ["rotation", "translation"])
        self.goal = Goal(true_class=0, target=1)
        self.peak = self.space.to_unit(Pose(yaw=120.0, pitch=-40.0, x=0.3))
        self.width = width
        self.batches: list[np.ndarray] = []

    def offset(self, u: np.ndarray) -> np.ndarray:
        d = u - self.peak
        return np.where(self.space.circular, (d + 0.5) % 1.0 - 0.5, d)

    def log_p(self, u: np.ndarray) -> np.ndarray:
        return -self.width * (self.offset(u) ** 2).sum(axis=-1)

    def probabilities(self, u: np.ndarray) -> torch.Tensor:  # (N, 1000) for unit points (N, dim)
        probs = torch.full((len(u), 1000), 1e-6, dtype=torch.float64)
        probs[:, 1] = torch.from_numpy(np.exp(self.log_p(u)))
        return probs

    def evaluate(self, poses) -> torch.Tensor:
        u = np.array([self.space.to_unit(p) for p in poses])
        self.batches.append(u)
        return self.probabilities(u)


def test_gradient_search_climbs_toward_a_far_target(batch_pipeline):
    """Targeted at a class far from the hen (ashcan): 12 iterations raise its probability
    tenfold, and the reported best is the OpenGL render's."""
    obj, space, _ = load_scene(batch_pipeline, "hen", ("rotation", "translation", "light"))
    goal = Goal(obj.imagenet_class, target=412)  # ashcan
    start = float(batch_pipeline.probabilities([obj.canonical_pose])[0, 412])
    g = search("grad", batch_pipeline.probabilities, space, goal, Budget(iterations=12), seed=0,
               gradient=batch_pipeline.gradient(), first_step=0.1)  # fmt: skip
    assert g.history[-1]["best_target"] > 10 * start
    # the reported best is what OpenGL renders (what a capture shows), not the re-shaded image's
    rendered = batch_pipeline.probabilities([g.best])[0]
    assert float(rendered[412]) == pytest.approx(g.history[-1]["best_target"], rel=1e-4)
    assert g.best_score == pytest.approx(math.log(float(rendered[412]) + 1e-12), abs=1e-4)


def test_gradient_method_needs_the_differentiable_renderer(batch_pipeline):
    _, space, goal = load_scene(batch_pipeline, "hen")
    with pytest.raises(SearchError, match="differentiable"):
        search("grad", batch_pipeline.probabilities, space, goal, Budget(iterations=1))


def test_gradient_restarts_climb_from_what_cmaes_finds_around_the_best_pose():
    """When a climb ends (here at once: a flat gradient), CMA-ES generations explore around
    where it started; once the best pose so far beats the climb's start by the margin, the
    next climb starts at that pose, not at a fresh random one."""
    land = Landscape(width=20.0)
    climbs: list[tuple[np.ndarray, float]] = []  # (point, score) where each gradient step starts

    def flat_gradient(space, goal, u):
        from app.pipeline.gradient import GradientStep

        climbs.append((u, math.log(math.exp(float(land.log_p(u))) + 1e-12)))  # as Goal.scores has it
        return GradientStep(land.probabilities(u[None])[0], 0.0, np.zeros(space.dim))

    r = search("grad", land.evaluate, land.space, land.goal, Budget(iterations=30), seed=3, gradient=flat_gradient,
               sigma=0.05)  # fmt: skip
    batches = land.batches
    assert len(batches[0]) == 18 and all(len(b) == 18 for b in batches[1:])  # random starts, then generations
    start = batches[0][int(np.argmax(land.log_p(batches[0])))]
    np.testing.assert_allclose(climbs[0][0], start)  # the first climb starts at the best random pose
    spread = [float(np.abs(b - np.median(b, axis=0)).max()) for b in batches[1:4]]
    assert max(spread) < 0.4  # generations around one centre, not all over the cube
    assert len(climbs) >= 2
    scores = [score for _, score in climbs]
    for score, before in zip(scores[1:], scores, strict=False):
        assert score > before + 0.5  # a new climb only from a pose the margin above the last start
    assert r.best_score > float(land.log_p(start)) + 0.5


def test_targeted_line_search_renders_three_lengths_in_one_batch():
    """Targeted, each gradient is followed by one batch of renders: steps of half, the same
    and twice the current length along it (``first_step`` at first).  The best one that
    raises the score is taken, and its length is the next one's current length."""
    land = Landscape(width=2.0)
    steps: list[tuple[np.ndarray, np.ndarray]] = []  # (point, gradient) of each gradient step

    def gradient(space, goal, u):
        from app.pipeline.gradient import GradientStep

        g = -2.0 * land.width * land.offset(u)  # of log p(target)
        steps.append((u, g))
        return GradientStep(land.probabilities(u[None])[0], float(land.log_p(u)), g)

    search("grad", land.evaluate, land.space, land.goal, Budget(iterations=4), seed=0, gradient=gradient,
           first_step=0.04)  # fmt: skip
    space, batches = land.space, land.batches
    assert len(batches[0]) == 18 and len(steps) == 4
    length, chosen = 0.04, []
    for (u, g), batch, (after, _) in zip(steps[:-1], batches[1:], steps[1:], strict=True):
        direction = g / np.linalg.norm(g)
        want = [space.to_unit(space.from_unit(u + f * length * direction)) for f in (0.5, 1.0, 2.0)]
        np.testing.assert_allclose(batch, want, atol=1e-12)
        k = int(np.argmax(land.log_p(batch)))
        np.testing.assert_allclose(after, batch[k], atol=1e-12)  # the next gradient is taken there
        length *= (0.5, 1.0, 2.0)[k]
        chosen.append(k)
    assert len(set(chosen)) > 1, chosen  # the length adapts (a fixed step would not)


def test_grad_first_step_is_half_the_cube_untargeted_and_a_fifth_targeted():
    """Untargeted, most poses far from the start fool, so the first render along the
    gradient is 0.5 of the unit cube away; targeted, the first batch's middle length is 0.2."""
    from app.pipeline.gradient import GradientStep

    direction = np.array([0.6, 0.0, 0.8])

    def gradient(space, goal, u):
        return GradientStep(torch.full((1000,), 1e-3), 0.0, direction)

    space = SearchSpace(Pose(), ["rotation"])
    u0 = space.to_unit(Pose())
    seen: list[np.ndarray] = []

    def evaluate(poses) -> torch.Tensor:  # the true class always wins: nothing fools
        seen.extend(space.to_unit(p) for p in poses)
        probs = torch.full((len(poses), 1000), 1e-4)
        probs[:, 0] = 0.9
        return probs

    search("grad", evaluate, space, Goal(true_class=0), Budget(iterations=2), gradient=gradient)
    np.testing.assert_allclose(seen[0], space.to_unit(space.from_unit(u0 + 0.5 * direction)), atol=1e-12)
    land = Landscape(width=2.0)
    search("grad", land.evaluate, land.space, land.goal, Budget(iterations=2), seed=0,
           gradient=lambda space, goal, u: GradientStep(land.probabilities(u[None])[0], 0.0, np.eye(6)[0]))  # fmt: skip
    start = land.batches[0][int(np.argmax(land.log_p(land.batches[0])))]
    want = [land.space.to_unit(land.space.from_unit(start + f * np.eye(6)[0])) for f in (0.1, 0.2, 0.4)]
    np.testing.assert_allclose(land.batches[1], want, atol=1e-12)


def test_gradient_search_reports_the_best_pose_as_opengl_renders_it():
    """The re-shaded image's probabilities differ a little from the OpenGL render's; the
    result's best pose, score and probabilities are the render's, and no render scored better."""
    space = SearchSpace(Pose(), ["rotation"])
    goal = Goal(true_class=0, target=1)
    peak = space.to_unit(Pose(yaw=60.0, pitch=20.0))
    rendered: list[tuple[Pose, float]] = []

    def target_p(u: np.ndarray) -> float:  # at most 0.3: the true class (0.5) stays top-1
        d = np.abs(u - peak)
        return float(0.3 * np.exp(-20 * (np.minimum(d, 1 - d) ** 2).sum()))

    def probabilities(p: float) -> torch.Tensor:
        probs = torch.full((1000,), 1e-6, dtype=torch.float64)
        probs[0], probs[1] = 0.5, p
        return probs

    def evaluate(poses):
        out = torch.stack([probabilities(target_p(space.to_unit(p))) for p in poses])
        rendered.extend((p, float(q[1])) for p, q in zip(poses, out, strict=True))
        return out

    def reshaded_gradient(space, goal, u):  # towards the peak; the image says 1.5x the render's p
        from app.pipeline.gradient import GradientStep

        d = peak - u
        d = np.where(space.circular, (d + 0.5) % 1.0 - 0.5, d)
        return GradientStep(probabilities(1.5 * target_p(u)), 0.0, d)

    reports = []
    r = search("grad", evaluate, space, goal, Budget(iterations=4), gradient=reshaded_gradient, report=reports.append)
    best_rendered = max(p for _, p in rendered)
    assert r.history[-1]["best_target"] == pytest.approx(best_rendered)
    # the settling render belongs to the last iteration: the budget of 4 holds, and that
    # iteration is reported again with it (the panel shows the last report)
    assert r.iterations == len(r.history) == 4 and [p.iteration for p in reports] == [1, 2, 3, 4, 4]
    assert reports[-1].evaluations == r.evaluations == r.history[-1]["evaluations"]
    assert reports[-1].best_target == pytest.approx(best_rendered)
    assert r.best_score == pytest.approx(math.log(best_rendered), abs=1e-5)  # scores are float32
    assert target_p(space.to_unit(r.best)) == pytest.approx(best_rendered)
    assert not r.success
