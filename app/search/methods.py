"""Searching the declared parameter space for poses that fool a classifier.

Every method works on the same :class:`SearchSpace` (a subset of the declared
parameters, mapped to the unit cube, circular angles wrapped, the rest clipped, so a
candidate is always a valid, in-view pose) and the same :class:`Goal` (untargeted: any
class but the true one wins; targeted: the chosen class wins).  Methods evaluate poses in
batches through an ``evaluate(poses) -> (N, 1000) probabilities`` function (normally
:meth:`app.pipeline.pipeline.Pipeline.probabilities`), report progress through a callback, honour a
stop event, and always return the best pose seen: stopping never leaves a half-updated pose.

Methods: ``grad`` follows the exact gradient of the re-shaded render
(:mod:`app.pipeline.gradient`); the study's baselines are random search, CMA-ES (population 18)
and finite differences.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from app.core.params import CIRCULAR, INDEX, Pose, largest_change, largest_first, params_in_groups, pose_change

if TYPE_CHECKING:
    from app.pipeline.gradient import GradientStep

Evaluate = Callable[[Sequence[Pose]], torch.Tensor]
Gradient = Callable[["SearchSpace", "Goal", np.ndarray], "GradientStep"]
METHODS = ("grad", "random", "cmaes", "fd")
EPS = 1e-12
GRADIENT_GL = 400  # the visibility pass reads texture levels with textureQueryLod (OpenGL 4.0)
TARGETED_STEPS = (0.5, 1.0, 2.0)  # grad's targeted line search: these times the last step, in one batch
UNTARGETED_FIRST_STEP = 0.5  # grad's first step in the unit cube: most poses that far from the start fool
TARGETED_FIRST_STEP = 0.2  # a first step of 0.4 reached targets no more often (README, grad)
NEAREST_SCAN = 8  # ``nearest``: the line from the start to the best pose at 0, 1/8, ..., 7/8, in one batch
NEAREST_HALVINGS = 4  # then the gap before its first success halved 4 times: to 1/128 of the line
NEAREST_SHRINK = 3  # then the 3 largest changes shrunk one at a time: dropped, or halved toward zero


class SearchError(ValueError):
    """A search that cannot run as asked (unknown method, empty space, bad budget)."""


@dataclass(frozen=True)
class Goal:
    """What counts as fooling: untargeted (``target`` None) or a chosen target class."""

    true_class: int | None
    target: int | None = None

    def __post_init__(self) -> None:
        if self.target is None and self.true_class is None:
            raise SearchError("an untargeted search needs the object's true class (or give a target class)")

    def scores(self, probs: torch.Tensor) -> np.ndarray:
        """Higher is better: log p(target), or -log p(true) for an untargeted search."""
        p = probs.detach().float().cpu().numpy()
        if self.target is not None:
            return np.log(p[:, self.target] + EPS)
        return -np.log(p[:, self.true_class] + EPS)

    def successes(self, probs: torch.Tensor) -> np.ndarray:
        top1 = probs.argmax(dim=1).cpu().numpy()
        return top1 == self.target if self.target is not None else top1 != self.true_class

    def outcome(self, success: bool) -> str:
        """How a search ended, in words: "fooled" / "not fooled", or for a targeted search
        "reached ashcan" / "did not reach ashcan" (reaching the object's own class is not fooling)."""
        if self.target is None:
            return "fooled" if success else "not fooled"
        from app.core.imagenet import class_names

        name = class_names()[self.target]
        return f"reached {name}" if success else f"did not reach {name}"


class SearchSpace:
    """The free parameters (by group) around a base pose, as points of the unit cube."""

    def __init__(self, base: Pose, groups: Sequence[str]):
        self.base = base
        self.params = params_in_groups(groups)
        if not self.params:
            raise SearchError("no parameters to search: choose at least one group")
        self.index = np.array([INDEX[p.name] for p in self.params])
        self.low = np.array([p.low for p in self.params])
        self.span = np.array([p.span for p in self.params])
        self.circular = CIRCULAR[self.index]

    @property
    def dim(self) -> int:
        return len(self.params)

    def to_unit(self, pose: Pose) -> np.ndarray:
        return (pose.vector[self.index] - self.low) / self.span

    def from_unit(self, u: np.ndarray) -> Pose:
        """Any vector -> a valid pose: non-finite entries take the base pose's value,
        circular parameters wrap, the others are clipped to their range."""
        u = np.asarray(u, dtype=np.float64)
        base_u = self.to_unit(self.base)
        u = np.where(np.isfinite(u), u, base_u)
        u = np.where(self.circular, np.mod(u, 1.0), np.clip(u, 0.0, 1.0))
        v = self.base.vector.copy()
        v[self.index] = self.low + u * self.span
        return Pose.from_vector(v, fit=True)


@dataclass
class Budget:
    iterations: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.iterations is None and self.seconds is None:
            raise SearchError("give a budget: iterations, seconds or both")
        if (self.iterations is not None and self.iterations < 1) or (
            self.seconds is not None and not 0 < self.seconds < math.inf
        ):
            raise SearchError("the budget must be positive and finite")  # NaN too: no clock check would end it


@dataclass
class Progress:
    """Sent after every iteration (a batch of evaluations); the last one may come twice,
    the second time with the render that settled the best pose (:meth:`_Tracker.close`)."""

    iteration: int
    evaluations: int
    elapsed: float
    current: Pose  # the method's current point (what an animation shows)
    best: Pose
    best_score: float
    best_true: float | None  # probability of the true class at the best pose
    best_target: float | None
    success: bool
    latest_true: float | None = None  # the same at the best pose of the latest iteration
    latest_target: float | None = None
    nearest: bool = False  # the last iteration again, ending on the pose a pull-back kept (``nearest``)


@dataclass
class SearchResult:
    method: str
    best: Pose
    best_score: float
    success: bool
    iterations: int
    evaluations: int
    elapsed: float
    time_to_success: float | None  # seconds to the first fooling pose
    stopped: bool  # by the stop event (not the budget)
    history: list[dict] = field(default_factory=list)  # one row per iteration
    first_success: Pose | None = None  # the first pose that met the goal (before any pull-back)

    @property
    def first_success_elsewhere(self) -> bool:
        """A success was found and the pose kept is another (a pull-back, or a better pose later; rounding aside)."""
        return self.first_success is not None and largest_change(self.first_success, self.best) > 1e-6

    @property
    def effort(self) -> str:
        """What the search spent, for messages: "1 iteration, 19 renders, 1.0 s"."""
        its, renders = self.iterations, self.evaluations
        return f"{its} iteration{'s' * (its != 1)}, {renders} render{'s' * (renders != 1)}, {self.elapsed:.1f} s"


class _Tracker:
    """Best-so-far bookkeeping shared by the methods."""

    def __init__(self, method: str, space: SearchSpace, goal: Goal, evaluate: Evaluate, budget: Budget, stop, report):
        self.method, self.space, self.goal, self.evaluate = method, space, goal, evaluate
        self.budget, self.stop, self.report = budget, stop or threading.Event(), report
        self.start = time.perf_counter()
        self.iteration = self.evaluations = self._reported = 0  # _reported: evaluations at the last report
        self.best, self.best_score, self.best_probs = space.base, -math.inf, None
        self.best_fools = False  # the best pose meets the goal (OpenGL render)
        self._best_reshaded = False  # the best's figures come from the gradient's image, not OpenGL
        self._best_rendered: tuple[bool, float, Pose, torch.Tensor] | None = None  # the best OpenGL render
        self.latest_probs: torch.Tensor | None = None
        self.success, self.time_to_success = False, None
        self.first_success: Pose | None = None
        self.history: list[dict] = []
        self._current = space.base  # the method's point at the last iteration
        self._nearest_report = False  # the report being made ends a pull-back

    def _book(self, poses: list[Pose], probs: torch.Tensor, fools: np.ndarray, rendered: bool = True) -> np.ndarray:
        """Count the evaluations and keep the best (and the latest batch's best) pose.  A
        pose that meets the goal beats one that does not, whatever their scores: the
        highest score (least true class) need not be a misclassified pose.  ``rendered``:
        the probabilities are the OpenGL render's (not the gradient's re-shaded image)."""
        scores = self.goal.scores(probs)
        scores = np.where(np.isfinite(scores), scores, -math.inf)
        self.evaluations += len(poses)
        i = int(np.lexsort((scores, fools))[-1])  # fooling first, then the score
        self.latest_probs = probs[i].float().cpu()
        key = (bool(fools[i]), float(scores[i]))
        if rendered and (self._best_rendered is None or key > self._best_rendered[:2]):
            self._best_rendered = (*key, poses[i], self.latest_probs)
        if key > (self.best_fools, self.best_score):
            self.best_fools, self.best_score, self.best, self.best_probs = *key, poses[i], self.latest_probs
            self._best_reshaded = not rendered
        return scores

    def score(self, poses: list[Pose]) -> np.ndarray:
        """Evaluate ``poses`` (OpenGL renders) and book them; their successes count."""
        probs = self.evaluate(poses)
        fools = self.goal.successes(probs)
        scores = self._book(poses, probs, fools)
        if fools.any() and not self.success:
            self.success, self.time_to_success = True, time.perf_counter() - self.start
            self.first_success = self._best_rendered[2]  # the best render yet: none fooled before this batch
        return scores

    def observe(self, pose: Pose, probs: torch.Tensor) -> float:
        """Book an evaluation made elsewhere (the gradient method's re-shaded image).  A
        success it claims counts only once the OpenGL render of the pose confirms it."""
        probs = probs.reshape(1, -1)
        score = float(self._book([pose], probs, np.zeros(1, dtype=bool), rendered=False)[0])
        if not self.success and self.goal.successes(probs)[0]:
            self.score([pose])
        return score

    def step_done(self, current: Pose) -> bool:
        """Record an iteration; True when the search must end (budget or stop)."""
        self.iteration += 1
        self._reported, self._current = self.evaluations, current
        elapsed = time.perf_counter() - self.start
        bt, bg = self._true_and_target(self.best_probs)
        lt, lg = self._true_and_target(self.latest_probs)
        self.history.append(
            {"iteration": self.iteration, "evaluations": self.evaluations, "elapsed": round(elapsed, 4),
             "best_score": self.best_score, "best_true": bt, "best_target": bg, "success": self.success,
             **{f"current_{k}": v for k, v in current.to_dict().items()}}
        )  # fmt: skip
        if self.report is not None:
            self.report(
                Progress(
                    self.iteration,
                    self.evaluations,
                    elapsed,
                    current,
                    self.best,
                    self.best_score,
                    bt,
                    bg,
                    self.success,
                    lt,
                    lg,
                    self._nearest_report,
                )  # fmt: skip
            )
        b = self.budget
        return (
            self.stop.is_set()
            or (b.iterations is not None and self.iteration >= b.iterations)
            or (b.seconds is not None and elapsed >= b.seconds)
        )

    def close(self, nearest: bool = False) -> None:
        """Settle the best pose on OpenGL renders (:meth:`_settle_best`), pull it back
        toward the start if ``nearest`` (:meth:`pull_back`), then report evaluations made
        after the last iteration's report (a gradient line search that fooled, a stop
        between iterations) as one last iteration, so the last report and the history end
        where the search did.  A settling render or a pull-back alone is part of the last
        iteration, which is then reported again, so an iteration budget is not exceeded.
        A report that ends on the pose a pull-back kept has ``nearest`` set (the window
        eases there instead of jumping)."""
        pending = self.evaluations > self._reported
        self._settle_best()
        pulled = nearest and self.pull_back()
        if pending or (self.evaluations > self._reported and self.history):
            if not pending:
                self.iteration -= 1
                self.history.pop()
            self._nearest_report = pulled
            self.step_done(self.best if pending or pulled else self._current)
            self._nearest_report = False

    def pull_back(self) -> bool:
        """Replace a best pose that meets the goal by a nearer one that still does: first
        the nearest on the line from the start to it (:meth:`_nearest_on_line`), then with
        each of its ``NEAREST_SHRINK`` largest changes shrunk on its own
        (:meth:`_shrink_each`).  Its renders count as the search's; the time to the first
        success does not change.  Nothing happens (False) after a stop, or when no pose met
        the goal; nothing is rendered when the best pose is the start itself."""
        if not self.best_fools or self.stop.is_set():
            return False
        start = self.space.base
        change, probs = pose_change(start, self.best), None
        if np.abs(change).max(initial=0.0) < 1e-9:  # the start itself (up to rounding): nothing nearer
            self.best = start
        else:
            change, probs = self._nearest_on_line(start, change)
            change, probs = self._shrink_each(start, change, probs)
        if probs is not None:
            probs = probs.float().cpu()
            score = float(self.goal.scores(probs.reshape(1, -1))[0])
            self.best = Pose.from_vector(start.vector + change, fit=True)
            self.best_score, self.best_probs = score, probs
            self._best_rendered = (True, score, self.best, probs)
        self.latest_probs = self.best_probs
        return True

    def _meets(self, start: Pose, changes: list[np.ndarray]) -> tuple[np.ndarray, torch.Tensor]:
        """Render and classify ``start + change`` for each change, in one batch: (whether
        each meets the goal, their probabilities)."""
        probs = self.evaluate([Pose.from_vector(start.vector + c, fit=True) for c in changes])
        self.evaluations += len(changes)
        return self.goal.successes(probs), probs

    def _halve(
        self, start: Pose, at: Callable[[float], np.ndarray], near: float, far: float, times: int
    ) -> tuple[float, torch.Tensor | None]:
        """Halve the gap between fractions ``near`` (short of the goal) and ``far`` (meeting
        it) ``times`` times, one render of ``start + at(fraction)`` each: (the far end then,
        its probabilities, or None if it did not move)."""
        probs = None
        for _ in range(times):
            middle = (near + far) / 2.0
            fools, trial_probs = self._meets(start, [at(middle)])
            if fools[0]:
                far, probs = middle, trial_probs[0]
            else:
                near = middle
        return far, probs

    def _nearest_on_line(self, start: Pose, change: np.ndarray) -> tuple[np.ndarray, torch.Tensor | None]:
        """The nearest change along ``change`` (which meets the goal) that still meets it:
        the line is rendered at 0, 1/8, ..., 7/8 of the way in one batch, then the gap
        before the first of those that meets the goal (or before the end) is halved
        ``NEAREST_HALVINGS`` times, one render each, keeping the far end on the goal's side.
        So the change kept meets the goal and 1/128 of the line less does not (the goal may
        change more than once along the line).  Probabilities None: the end itself."""
        fractions = np.arange(NEAREST_SCAN) / NEAREST_SCAN
        fools, probs = self._meets(start, [f * change for f in fractions])
        far, far_probs = 1.0, None
        if fools.any():
            k = int(np.argmax(fools))
            far, far_probs = float(fractions[k]), probs[k]
        times = NEAREST_HALVINGS if far > 0.0 else 0
        far, halved = self._halve(start, lambda f: f * change, far - 1.0 / NEAREST_SCAN, far, times)
        return far * change, far_probs if halved is None else halved

    def _shrink_each(
        self, start: Pose, change: np.ndarray, probs: torch.Tensor | None
    ) -> tuple[np.ndarray, torch.Tensor | None]:
        """Shrink the ``NEAREST_SHRINK`` largest parameter changes (by fraction of range)
        one at a time, largest first, keeping the goal met: a change the goal is met
        without is dropped (one render); otherwise it is halved toward zero
        ``NEAREST_HALVINGS - 1`` times (to 1/8 of itself).  Probabilities None: unchanged."""
        for i in largest_first(change)[:NEAREST_SHRINK]:
            if change[i] == 0.0:
                break

            def scaled(fraction: float, i: int = i, base: np.ndarray = change) -> np.ndarray:
                trial = base.copy()
                trial[i] *= fraction
                return trial

            fools, trial_probs = self._meets(start, [scaled(0.0)])
            if fools[0]:
                change, probs = scaled(0.0), trial_probs[0]
                continue
            fraction, halved = self._halve(start, scaled, 0.0, 1.0, NEAREST_HALVINGS - 1)
            if halved is not None:
                change, probs = scaled(fraction), halved
        return change, probs

    def _settle_best(self) -> None:
        """If the best pose's figures come from the gradient's re-shaded image (which
        matches OpenGL within 2/255, so its probabilities differ by a few percent), render
        it once with OpenGL, and keep it or the best OpenGL render so far, whichever is
        better: the result's best pose, score and probabilities are then what a capture of
        that pose shows."""
        if not self._best_reshaded:
            return
        self.score([self.best])  # books the render and counts a success, as every render does
        self.best_fools, self.best_score, self.best, self.best_probs = self._best_rendered
        self._best_reshaded = False

    def _true_and_target(self, probs: torch.Tensor | None) -> tuple[float | None, float | None]:
        g = self.goal
        true = None if g.true_class is None or probs is None else float(probs[g.true_class])
        target = None if g.target is None or probs is None else float(probs[g.target])
        return true, target

    def result(self) -> SearchResult:
        return SearchResult(
            self.method, self.best, self.best_score, self.success, self.iteration, self.evaluations,
            time.perf_counter() - self.start, self.time_to_success, self.stop.is_set(), self.history,
            self.first_success,
        )  # fmt: skip


def _random(t: _Tracker, rng: np.random.Generator, batch: int, stop_on_success: bool) -> None:
    t.score([t.space.base])
    while True:
        poses = [t.space.from_unit(rng.random(t.space.dim)) for _ in range(batch)]
        t.score(poses)
        if t.step_done(t.best) or (stop_on_success and t.success):
            return


def import_cma():
    """The ``cma`` package.  Its first import takes about 0.4 s here (it imports
    matplotlib's pyplot), so :func:`search` makes it before the clock starts, and the
    window beside the view before the first search (:meth:`app.background.station.SearchStation.prepare`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not import matplotlib": plotting is not used
        import cma
    return cma


def _cma_strategy(x0: np.ndarray, sigma: float, popsize: int, seed: int):
    """A CMA-ES (the ``cma`` package) at unit point ``x0``, seeded for repeatable runs."""
    opts = {"popsize": popsize, "seed": seed + 1, "verbose": -9, "bounds": [None, None]}  # cma: seed 0 = clock
    return import_cma().CMAEvolutionStrategy(x0, sigma, opts)


def _generation(t: _Tracker, es) -> bool:
    """Score one CMA-ES generation and tell it the scores; True when the search must end."""
    xs = es.ask()
    scores = t.score([t.space.from_unit(x) for x in xs])
    es.tell(xs, [-s if np.isfinite(s) else 1e9 for s in scores])  # cma minimises
    return t.step_done(t.space.from_unit(es.mean))


def _cmaes(t: _Tracker, seed: int, popsize: int, sigma: float, stop_on_success: bool) -> None:
    es = _cma_strategy(t.space.to_unit(t.space.base), sigma, popsize, seed)
    t.score([t.space.base])
    while not (_generation(t, es) or (stop_on_success and t.success)):
        pass


def _finite_differences(t: _Tracker, step: float, lr: float, stop_on_success: bool) -> None:
    """The study's baseline: central differences per parameter, gradient ascent.

    Angles are handled as (cos, sin) pairs by differentiating in the unit cube where a
    circular parameter wraps, which is the same local geometry.
    """
    x = t.space.to_unit(t.space.base)
    while True:
        probes = []
        for i in range(t.space.dim):
            for sign in (1.0, -1.0):
                y = x.copy()
                y[i] += sign * step
                probes.append(t.space.from_unit(y))
        scores = t.score(probes)
        with np.errstate(invalid="ignore"):  # -inf - -inf where the classifier gave no answer
            grad = (scores[0::2] - scores[1::2]) / (2 * step)
        grad = np.where(np.isfinite(grad), grad, 0.0)
        x = t.space.to_unit(t.space.from_unit(x + lr * grad))
        t.score([t.space.from_unit(x)])
        if t.step_done(t.space.from_unit(x)) or (stop_on_success and t.success):
            return


def _gradient(
    t: _Tracker, gradient: Gradient, seed: int, population: int, stop_on_success: bool, *,
    step: float, patience: int, sigma: float, margin: float,
) -> None:  # fmt: skip
    """Gradient ascent on the goal score with a line search on real renders, restarted
    by CMA-ES around the best pose (an iterated local search).

    Each iteration takes the exact gradient of the re-shaded render at the current point
    (the visibility is rasterised again, so silhouettes and occlusions follow) and walks
    along it on OpenGL renders, which judge what the gradient cannot see (a silhouette that
    changes, a step too long for the local slope).  Each climb's first step is ``step``.
    Untargeted, the render of a step of the current length is classified; a step that does
    not raise the score is halved (up to 3 times), and once one does, steps twice as long
    along the same direction are tried while the score goes on rising; a fooling step ends
    the search at once, so one render at a time.  Targeted, steps of half, the same and
    twice the current length are rendered and classified as one batch (2.2-2.5 single
    renders' time here), and the best one, if it raises the score, is taken with its length.
    An untargeted climb starts at the start pose; a targeted one (the target is usually far
    away) starts at the best of ``population`` random poses.  A climb ends when its best has
    not risen by 0.05 for ``patience`` iterations, or when no step along the gradient helps.
    Then CMA-ES (``population`` poses a generation, step ``sigma`` of the unit cube, started
    where the first climb started, each climb's best injected into it) explores until the
    best pose so far scores ``margin`` above the last climb's start, and the next climb
    starts there: the score is rugged at small scales, so a climb stops on a local peak, and
    the population finds the way to a higher hill, which the gradient then climbs."""

    def probe(x: np.ndarray) -> tuple[np.ndarray, float]:
        """Score the OpenGL render at unit point ``x``: (the point as a valid pose has it, its score)."""
        pose = t.space.from_unit(x)
        return t.space.to_unit(pose), float(t.score([pose])[0])

    def ended(pose: Pose | None = None) -> bool:
        return (pose is not None and t.step_done(pose)) or t.stop.is_set() or (stop_on_success and t.success)

    def climb(u: np.ndarray) -> float | None:
        """Climb from unit point ``u``; the score at ``u``, or None when the search must end."""
        length, climb_best, since, first = step, -math.inf, 0, None
        while since < patience:
            pose = t.space.from_unit(u)
            result = gradient(t.space, t.goal, u)
            score = t.observe(pose, result.probabilities)
            first = score if first is None else first
            if ended(pose):
                return None
            since += 1
            if score > climb_best + 0.05:
                climb_best, since = score, 0
            g = np.nan_to_num(result.gradient, nan=0.0, posinf=0.0, neginf=0.0)
            norm = float(np.linalg.norm(g))
            if norm == 0.0:
                break
            direction = g / norm
            if t.goal.target is not None:  # half, the same and twice the last length, in one batch
                lengths = np.clip(length * np.array(TARGETED_STEPS), 0.0125, 0.8)
                poses = [t.space.from_unit(u + s * direction) for s in lengths]
                scores = t.score(poses)
                if ended():
                    return None
                k = int(np.argmax(scores))
                if not scores[k] > score:
                    break
                u, length = t.space.to_unit(poses[k]), float(lengths[k])
                continue
            moved = False
            for _ in range(4):  # the first length that raises the score; halved when it does not
                trial, trial_score = probe(u + length * direction)
                if ended():
                    return None
                if trial_score > score:
                    moved = True
                    break
                length *= 0.5
            if not moved:
                break
            while length < 0.5:  # then further along the same direction while the score rises
                further, further_score = probe(u + 2.0 * length * direction)
                if ended():
                    return None
                if further_score <= trial_score:
                    break
                trial, trial_score, length = further, further_score, 2.0 * length
            u = trial
        return first

    u = t.space.to_unit(t.space.base)
    if t.goal.target is not None:
        rng = np.random.default_rng(seed)
        units = [u] + [rng.random(t.space.dim) for _ in range(population - 1)]
        poses = [t.space.from_unit(x) for x in units]
        u = t.space.to_unit(poses[int(np.argmax(t.score(poses)))])
    es = None
    climbed = climb(u)
    while climbed is not None:
        if es is None:  # made when first needed: 7 ms that an untargeted search seldom needs
            es = _cma_strategy(u, sigma, population, seed)  # around the first climb's start
        es.inject([t.space.to_unit(t.best)], force=True)
        while t.best_score <= climbed + margin:
            if _generation(t, es) or ended():
                return
        climbed = climb(t.space.to_unit(t.best))


def default_method(device: torch.device | str, gl_version: int) -> str:
    """The method that fooled fastest in ``benchmarks/bench_search.py`` on this kind of
    machine: ``grad`` on the CPU (one gradient costs a few renders there, and it reaches
    targets at least as often as CMA-ES), ``cmaes`` with CUDA (a batch of 18 renders and
    classifications takes about 20 ms, a gradient step several times that) or below
    OpenGL 4.0."""
    return "grad" if torch.device(device).type == "cpu" and gl_version >= GRADIENT_GL else "cmaes"


def search(
    method: str,
    evaluate: Evaluate,
    space: SearchSpace,
    goal: Goal,
    budget: Budget,
    seed: int = 0,
    stop: threading.Event | None = None,
    report: Callable[[Progress], None] | None = None,
    stop_on_success: bool = False,
    population: int = 18,
    fd_step: float = 0.001,
    fd_lr: float = 0.001,
    gradient: Gradient | None = None,
    grad_step: float | None = None,
    grad_patience: int = 3,
    grad_sigma: float = 0.25,
    grad_margin: float = 0.5,
    nearest: bool = False,
) -> SearchResult:
    """Run one search method; see the module docstring.  ``grad`` needs ``gradient``
    (an :class:`app.pipeline.gradient.PoseGradient`); ``evaluate`` then confirms its successes.
    ``grad_step``: grad's first step along the gradient (default ``UNTARGETED_FIRST_STEP``
    or ``TARGETED_FIRST_STEP``).  ``nearest``: once the search has met the goal, move its
    best pose back toward the start, to the nearest pose on the line between them that
    still meets it, then shrink its largest changes one at a time (:meth:`_Tracker.pull_back`,
    12-24 renders more)."""
    if method not in METHODS:
        raise SearchError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise SearchError(f"the seed must be a whole number >= 0, got {seed!r}")  # cma takes seed 0 as the clock
    if method == "grad" and gradient is None:
        raise SearchError("the grad method needs a differentiable renderer (gradient=PoseGradient(...))")
    if method in ("grad", "cmaes"):
        import_cma()  # not on the budget's clock (grad's restarts use CMA-ES too)
    t = _Tracker(method, space, goal, evaluate, budget, stop, report)
    if method == "grad":
        first = UNTARGETED_FIRST_STEP if goal.target is None else TARGETED_FIRST_STEP
        step = first if grad_step is None else grad_step
        _gradient(t, gradient, seed, population, stop_on_success,
                  step=step, patience=grad_patience, sigma=grad_sigma, margin=grad_margin)  # fmt: skip
    elif method == "random":
        _random(t, np.random.default_rng(seed), population, stop_on_success)
    elif method == "cmaes":
        _cmaes(t, seed, population, 0.2, stop_on_success)
    else:
        _finite_differences(t, fd_step, fd_lr, stop_on_success)
    t.close(nearest)
    return t.result()
