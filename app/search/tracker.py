"""Best-so-far bookkeeping shared by every search method.

A method proposes poses; the :class:`Tracker` has them rendered and classified, keeps the
best pose seen (a pose that meets the goal beats one that does not), counts the budget,
reports progress after each iteration and honours the stop event, so stopping never
leaves a half-updated pose.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from app.core.params import Pose
from app.search.result import Progress, SearchResult
from app.search.space import Budget, Goal, SearchSpace

Evaluate = Callable[[Sequence[Pose]], torch.Tensor]


class Tracker:
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
        probs = probs.unsqueeze(0)  # one pose: (1, 1000), or (1, M, 1000) with several models
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

    def close(self, pull_back: Callable[[Tracker], bool] | None = None) -> None:
        """Settle the best pose on OpenGL renders (:meth:`_settle_best`), pull it back
        toward the start with ``pull_back(tracker)`` if given (``nearest``: :func:`app.search.pullback.pull_back`),
        then report evaluations made
        after the last iteration's report (a gradient line search that fooled, a stop
        between iterations) as one last iteration, so the last report and the history end
        where the search did.  A settling render or a pull-back alone is part of the last
        iteration, which is then reported again, so an iteration budget is not exceeded.
        A report that ends on the pose a pull-back kept has ``nearest`` set (the window
        eases there instead of jumping)."""
        pending = self.evaluations > self._reported
        self._settle_best()
        pulled = pull_back is not None and pull_back(self)
        if pending or (self.evaluations > self._reported and self.history):
            if not pending:
                self.iteration -= 1
                self.history.pop()
            self._nearest_report = pulled
            self.step_done(self.best if pending or pulled else self._current)
            self._nearest_report = False

    def keep_rendered(self, pose: Pose, probs: torch.Tensor) -> None:
        """Make ``pose`` (rendered with OpenGL, meeting the goal) the best, whatever its score (a pull-back's pose)."""
        probs = probs.float().cpu()
        score = float(self.goal.scores(probs.unsqueeze(0))[0])
        self.best, self.best_score, self.best_probs = pose, score, probs
        self._best_rendered = (True, score, pose, probs)

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
        """p(true class) and p(target) at a pose; with several models (``probs`` (M, 1000)),
        of the model furthest from the goal (the highest p(true), the lowest p(target))."""
        g = self.goal
        true = None if g.true_class is None or probs is None else float(probs[..., g.true_class].max())
        target = None if g.target is None or probs is None else float(probs[..., g.target].min())
        return true, target

    def result(self) -> SearchResult:
        return SearchResult(
            self.method, self.best, self.best_score, self.success, self.iteration, self.evaluations,
            time.perf_counter() - self.start, self.time_to_success, self.stop.is_set(), self.history,
            self.first_success,
        )  # fmt: skip
