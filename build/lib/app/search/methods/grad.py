"""The gradient method: exact pose gradients of the re-shaded render, checked on OpenGL renders.

Gradient ascent on the goal score with a line search on real renders, restarted by CMA-ES
around the best pose (an iterated local search).  Each iteration takes the exact
gradient of the re-shaded render at the current point (:mod:`app.pipeline.gradient`; the
visibility is rasterised again, so silhouettes and occlusions follow) and walks along it
on OpenGL renders, which judge what the gradient cannot see (a silhouette that changes, a
step too long for the local slope).

Untargeted, the render of a step of the current length is classified; a step that does
not raise the score is halved (up to 3 times), and once one does, steps twice as long
along the same direction are tried while the score goes on rising; a fooling step ends
the search at once, so one render at a time.  Targeted, steps of half, the same and twice
the current length are rendered and classified as one batch (2.2-2.5 single renders'
time), and the best one, if it raises the score, is taken with its length.

An untargeted climb starts at the start pose; a targeted one (the target is usually far
away) starts at the best of ``population`` random poses.  A climb ends when its best has
not risen by 0.05 for ``patience`` iterations, or when no step along the gradient helps.
Then CMA-ES (``population`` poses a generation, step ``sigma`` of the unit cube, started
where the first climb started, each climb's best injected into it) explores until the
best pose so far scores ``margin`` above the last climb's start, and the next climb starts
there: the score is rugged at small scales, so a climb stops on a local peak, and the
population finds the way to a higher hill, which the gradient then climbs.
"""

from __future__ import annotations

import math

import numpy as np

from app.core.params import Pose
from app.search.cma import cma_strategy, generation
from app.search.methods.random_search import POPULATION
from app.search.registry import Method, Option, register

TARGETED_STEPS = (0.5, 1.0, 2.0)  # the targeted line search: these times the last step, in one batch
UNTARGETED_FIRST_STEP = 0.5  # the first step in the unit cube: most poses that far from the start fool
TARGETED_FIRST_STEP = 0.2  # a first step of 0.4 reached targets no more often (docs/benchmarks-history.md)
RISE = 0.05  # a climb's best must rise this much within ``patience`` iterations


class _Ended(Exception):
    """The search must end (budget, stop, or the first success when asked to stop there)."""


class _Climber:
    """Climbs along the gradient from a unit point (see the module docstring)."""

    def __init__(self, t, gradient, stop_on_success: bool, first_step: float, patience: int):
        self.t, self.gradient, self.stop_on_success = t, gradient, stop_on_success
        self.first_step, self.patience = first_step, patience

    def ended(self, pose: Pose | None = None) -> bool:
        t = self.t
        return (pose is not None and t.step_done(pose)) or t.stop.is_set() or (self.stop_on_success and t.success)

    def _check(self) -> None:
        if self.ended():
            raise _Ended

    def _probe(self, x: np.ndarray) -> tuple[np.ndarray, float]:
        """Score the OpenGL render at unit point ``x``: (the point as a valid pose has it, its score)."""
        pose = self.t.space.from_unit(x)
        return self.t.space.to_unit(pose), float(self.t.score([pose])[0])

    def climb(self, u: np.ndarray) -> float | None:
        """Climb from unit point ``u``; the score at ``u``, or None when the search must end."""
        t = self.t
        length, climb_best, since, first = self.first_step, -math.inf, 0, None
        try:
            while since < self.patience:
                pose = t.space.from_unit(u)
                result = self.gradient(t.space, t.goal, u)
                score = t.observe(pose, result.probabilities)
                first = score if first is None else first
                if self.ended(pose):
                    return None
                since += 1
                if score > climb_best + RISE:
                    climb_best, since = score, 0
                g = np.nan_to_num(result.gradient, nan=0.0, posinf=0.0, neginf=0.0)
                norm = float(np.linalg.norm(g))
                if norm == 0.0:
                    break
                step = self._targeted if t.goal.target is not None else self._untargeted
                moved = step(u, g / norm, length, score)
                if moved is None:
                    break
                u, length = moved
        except _Ended:
            return None
        return first

    def _targeted(self, u: np.ndarray, direction: np.ndarray, length: float, score: float):
        """Half, the same and twice the last length, in one batch: the best, if it raises the score."""
        t = self.t
        lengths = np.clip(length * np.array(TARGETED_STEPS), 0.0125, 0.8)
        poses = [t.space.from_unit(u + s * direction) for s in lengths]
        scores = t.score(poses)
        self._check()
        k = int(np.argmax(scores))
        if not scores[k] > score:
            return None
        return t.space.to_unit(poses[k]), float(lengths[k])

    def _untargeted(self, u: np.ndarray, direction: np.ndarray, length: float, score: float):
        """The first length that raises the score (halved when it does not), then further
        along the same direction while the score rises."""
        for _ in range(4):
            trial, trial_score = self._probe(u + length * direction)
            self._check()
            if trial_score > score:
                break
            length *= 0.5
        else:
            return None
        while length < 0.5:
            further, further_score = self._probe(u + 2.0 * length * direction)
            self._check()
            if further_score <= trial_score:
                break
            trial, trial_score, length = further, further_score, 2.0 * length
        return trial, length


@register
class GradientAscent(Method):
    name = "grad"
    label = "gradient"
    summary = "exact gradient of the re-shaded render (the default on the CPU)"
    order = 0
    needs_gradient = True
    uses_cma = True  # its restarts
    options = (
        Option("edges", "the outline's movement counts in the gradient too (by antialiasing)", bool, False,
               flag="--edge-gradients", label="edge gradients"),
        Option("first_step", "each climb's first step along the gradient, as a fraction of the unit cube "
               f"(default {UNTARGETED_FIRST_STEP} untargeted, {TARGETED_FIRST_STEP} targeted); shorter steps find "
               "fooling poses nearer the start, more slowly", float, None, flag="--first-step", label="first step",
               metavar="FRACTION", above=True, optional=True, panel_range=(0.02, 0.8),
               suggest=lambda targeted: TARGETED_FIRST_STEP if targeted else UNTARGETED_FIRST_STEP),
        POPULATION,
        Option("patience", "iterations a climb may go without its best rising by 0.05", int, 3, low=1, high=1000),
        Option("sigma", "the restarts' CMA-ES step, a fraction of the unit cube", float, 0.25, above=True),
        Option("margin", "how far above a climb's start CMA-ES must get before the next climb", float, 0.5,
               high=100.0),
    )  # fmt: skip

    def run(self, t, seed, stop_on_success, gradient, *, edges: bool, first_step: float | None, population: int,
            patience: int, sigma: float, margin: float) -> None:  # fmt: skip
        """``edges`` was used when ``gradient`` was made (:meth:`Pipeline.search`)."""
        targeted = t.goal.target is not None
        if first_step is None:
            first_step = TARGETED_FIRST_STEP if targeted else UNTARGETED_FIRST_STEP
        climber = _Climber(t, gradient, stop_on_success, first_step, patience)
        u = t.space.to_unit(t.space.base)
        if targeted:
            rng = np.random.default_rng(seed)
            units = [u] + [rng.random(t.space.dim) for _ in range(population - 1)]
            poses = [t.space.from_unit(x) for x in units]
            u = t.space.to_unit(poses[int(np.argmax(t.score(poses)))])
        es = None
        climbed = climber.climb(u)
        while climbed is not None:
            if es is None:  # made when first needed: 7 ms that an untargeted search seldom needs
                es = cma_strategy(u, sigma, population, seed)  # around the first climb's start
            es.inject([t.space.to_unit(t.best)], force=True)
            while t.best_score <= climbed + margin:
                if generation(t, es) or climber.ended():
                    return
            climbed = climber.climb(t.space.to_unit(t.best))
