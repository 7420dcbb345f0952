"""Running one search: the one entry every front end calls (through :meth:`Pipeline.search`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from app.search.cma import import_cma
from app.search.pullback import pull_back
from app.search.registry import Gradient, get_method
from app.search.result import Progress, SearchResult
from app.search.space import Budget, Goal, SearchError, SearchSpace
from app.search.tracker import Evaluate, Tracker


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
    nearest: bool = False,
    gradient: Gradient | None = None,
    **options: Any,
) -> SearchResult:
    """Run the registered ``method`` (:mod:`app.search.registry`) over ``evaluate(poses)
    -> (N, 1000) probabilities`` until ``budget`` is spent, ``stop`` is set or, with
    ``stop_on_success``, the goal is first met; the best pose seen is always returned.
    ``report`` receives a :class:`Progress` after every iteration.  ``options``: the
    method's own (:attr:`Method.options`; unknown ones are refused).  A method that needs
    a ``gradient`` (an :class:`app.pipeline.gradient.PoseGradient`) has ``evaluate``
    confirm its successes.  ``nearest``: once the goal is met, move the best pose back
    toward the start, to the nearest pose that still meets it
    (:func:`app.search.pullback.pull_back`, 12-24 renders more)."""
    m = get_method(method)
    if not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise SearchError(f"the seed must be a whole number >= 0, got {seed!r}")  # cma takes seed 0 as the clock
    if m.needs_gradient and gradient is None:
        raise SearchError(f"the {method} method needs a differentiable renderer (gradient=PoseGradient(...))")
    resolved = m.resolve_options(options)
    if m.uses_cma:
        import_cma()  # not on the budget's clock
    t = Tracker(method, space, goal, evaluate, budget, stop, report)
    m().run(t, seed, stop_on_success, gradient, **resolved)
    t.close(pull_back if nearest else None)
    return t.result()
