"""Easing the view from one pose to another, so that a search's long steps read as a turn.

A gradient search often fools the classifier with one step of half the unit cube (a
turn of 100-180 degrees); shown as it is, the object would jump.  :class:`Glide` moves
the shown pose there over a fraction of a second instead: every parameter eases in and
out together (smoothstep), circular ones (the angles) along the shorter arc, and the
glide takes longer the further it goes.  It ends exactly on the pose it was given.
"""

from __future__ import annotations

from app.core.params import Pose, largest_change, pose_change

MIN_SECONDS = 0.25  # the shortest glide (a small change)
MAX_SECONDS = 0.75  # the longest (half a turn or more about some axis, or half a range)
SECONDS_PER_HALF_TURN = 0.5  # time added for a change of half a turn (half a linear range)


def glide_seconds(a: Pose, b: Pose) -> float:
    """How long the glide from ``a`` to ``b`` takes: longer for a larger change."""
    return min(MAX_SECONDS, MIN_SECONDS + 2.0 * largest_change(a, b) * SECONDS_PER_HALF_TURN)


class Glide:
    """The pose at each moment from ``start`` (at time ``now``) to ``end``."""

    def __init__(self, start: Pose, end: Pose, now: float, seconds: float | None = None):
        self.start, self.end, self.began = start, end, now
        self.seconds = glide_seconds(start, end) if seconds is None else seconds
        self._change = pose_change(start, end)

    def done(self, now: float) -> bool:
        return now - self.began >= self.seconds

    def pose(self, now: float) -> Pose:
        """The shown pose at ``now``: ``end`` itself once the glide is over."""
        if self.seconds <= 0.0 or self.done(now):
            return self.end
        t = max(0.0, (now - self.began) / self.seconds)
        eased = t * t * (3.0 - 2.0 * t)
        return Pose.from_vector(self.start.vector + eased * self._change, fit=True)  # angles wrap across the seam
