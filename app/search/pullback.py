"""Pulling a search's success back toward its start (``nearest``).

Once a search has met its goal, the pose it kept is often far from the start (a gradient
step of half a turn).  :func:`pull_back` looks for the nearest pose that still meets the
goal: first on the line from the start to the success, then with each of the largest
changes shrunk on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from app.core.params import Pose, largest_first, pose_change

if TYPE_CHECKING:
    from app.search.tracker import Tracker

NEAREST_SCAN = 8  # the line from the start to the best pose at 0, 1/8, ..., 7/8, in one batch
NEAREST_HALVINGS = 4  # then the gap before its first success halved 4 times: to 1/128 of the line
NEAREST_SHRINK = 3  # then the 3 largest changes shrunk one at a time: dropped, or halved toward zero


def pull_back(t: Tracker) -> bool:
    """Replace a best pose that meets the goal by a nearer one that still does: first
    the nearest on the line from the start to it (:func:`_nearest_on_line`), then with
    each of its ``NEAREST_SHRINK`` largest changes shrunk on its own
    (:func:`_shrink_each`).  Its renders count as the search's; the time to the first
    success does not change.  Nothing happens (False) after a stop, or when no pose met
    the goal; nothing is rendered when the best pose is the start itself."""
    if not t.best_fools or t.stop.is_set():
        return False
    start = t.space.base
    change, probs = pose_change(start, t.best), None
    if np.abs(change).max(initial=0.0) < 1e-9:  # the start itself (up to rounding): nothing nearer
        t.best = start
    else:
        change, probs = _nearest_on_line(t, start, change)
        change, probs = _shrink_each(t, start, change, probs)
    if probs is not None:
        t.keep_rendered(Pose.from_vector(start.vector + change, fit=True), probs)
    t.latest_probs = t.best_probs
    return True


def _meets(t: Tracker, start: Pose, changes: list[np.ndarray]) -> tuple[np.ndarray, torch.Tensor]:
    """Render and classify ``start + change`` for each change, in one batch: (whether
    each meets the goal, their probabilities)."""
    probs = t.evaluate([Pose.from_vector(start.vector + c, fit=True) for c in changes])
    t.evaluations += len(changes)
    return t.goal.successes(probs), probs


def _halve(
    t: Tracker, start: Pose, at: Callable[[float], np.ndarray], near: float, far: float, times: int
) -> tuple[float, torch.Tensor | None]:
    """Halve the gap between fractions ``near`` (short of the goal) and ``far`` (meeting
    it) ``times`` times, one render of ``start + at(fraction)`` each: (the far end then,
    its probabilities, or None if it did not move)."""
    probs = None
    for _ in range(times):
        middle = (near + far) / 2.0
        fools, trial_probs = _meets(t, start, [at(middle)])
        if fools[0]:
            far, probs = middle, trial_probs[0]
        else:
            near = middle
    return far, probs


def _nearest_on_line(t: Tracker, start: Pose, change: np.ndarray) -> tuple[np.ndarray, torch.Tensor | None]:
    """The nearest change along ``change`` (which meets the goal) that still meets it:
    the line is rendered at 0, 1/8, ..., 7/8 of the way in one batch, then the gap
    before the first of those that meets the goal (or before the end) is halved
    ``NEAREST_HALVINGS`` times, one render each, keeping the far end on the goal's side.
    So the change kept meets the goal and 1/128 of the line less does not (the goal may
    change more than once along the line).  Probabilities None: the end itt."""
    fractions = np.arange(NEAREST_SCAN) / NEAREST_SCAN
    fools, probs = _meets(t, start, [f * change for f in fractions])
    far, far_probs = 1.0, None
    if fools.any():
        k = int(np.argmax(fools))
        far, far_probs = float(fractions[k]), probs[k]
    times = NEAREST_HALVINGS if far > 0.0 else 0
    far, halved = _halve(t, start, lambda f: f * change, far - 1.0 / NEAREST_SCAN, far, times)
    return far * change, far_probs if halved is None else halved


def _shrink_each(
    t: Tracker, start: Pose, change: np.ndarray, probs: torch.Tensor | None
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

        fools, trial_probs = _meets(t, start, [scaled(0.0)])
        if fools[0]:
            change, probs = scaled(0.0), trial_probs[0]
            continue
        fraction, halved = _halve(t, start, scaled, 0.0, 1.0, NEAREST_HALVINGS - 1)
        if halved is not None:
            change, probs = scaled(fraction), halved
    return change, probs
