"""What a search reports as it goes (:class:`Progress`) and what it returns (:class:`SearchResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.params import Pose, largest_change


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
