"""Moving the shown pose on the program's behalf: at once, or gliding there.

A search's best pose, a revert to its start and the pull-back's end are shown by easing
the view there over a fraction of a second (:class:`app.core.glide.Glide`), so a long
step reads as a turn.  A hand on the pose (a slider, a drag) always wins: a glide whose
last pose is no longer the one shown gives way.
"""

from __future__ import annotations

import time

from app.core.glide import Glide
from app.core.params import Pose
from app.gui.state import ViewState


class Motion:
    def __init__(self, state: ViewState):
        self.state = state
        self.glides = True  # False: every move is at once
        self._glide: Glide | None = None
        self._shown: Pose | None = None  # the pose the glide last showed

    @property
    def gliding(self) -> bool:
        return self._glide is not None

    def glide_to(self, pose: Pose, at_once: bool = False) -> None:
        """Move the view to ``pose`` over a fraction of a second, or at once (``at_once``, or
        with :attr:`glides` off)."""
        if self._glide is not None and self._glide.end == pose and not at_once:
            return
        if at_once or not self.glides or pose == self.state.pose:
            self._glide, self.state.pose = None, pose
            return
        self._glide, self._shown = Glide(self.state.pose, pose, time.perf_counter()), self.state.pose

    def finish(self) -> None:
        """End a glide under way where it was going."""
        if self._glide is not None:
            self.glide_to(self._glide.end, at_once=True)

    def cancel(self) -> None:
        """Drop a glide under way where it is (another object is shown)."""
        self._glide = None

    def advance(self) -> None:
        """Show the glide's pose for now (each frame)."""
        g = self._glide
        if g is None:
            return
        if self.state.pose != self._shown:  # moved by hand: the hand wins
            self._glide = None
            return
        now = time.perf_counter()
        self.state.pose = self._shown = g.pose(now)
        if g.done(now):
            self._glide = None
