"""What the window lends the work it starts beside the view, and what such a job offers.

A job (a pose search, the atlas, each lens) gets a :class:`Host`: the view's state to
read, the classifier's worker to run on, and a few callbacks (say something, render,
dress the object, capture).  It does not see the window or the rest of the app.  The
window drives every job alike through :class:`Job`: :meth:`Job.toggle` from its action
(key or button), :meth:`Job.follow` every frame on the drawing thread, and
:meth:`Job.wind_down` when the window closes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from app.background.live import LiveClassifier
from app.background.run import BackgroundRun
from app.gui.motion import Motion
from app.gui.state import ViewState
from app.vision.classifiers import Classifier

JOIN_SECONDS = 30.0  # closing waits this long for a job's thread


@dataclass
class Host:
    state: ViewState
    live: LiveClassifier  # the classifier's worker: jobs that need the classifier briefly run there
    motion: Motion  # to move the shown pose (a search's best)
    notify: Callable[..., None]  # notify(text, error=False)
    render_input: Callable[..., np.ndarray]  # render_input(pose=None): the model-input image, (S, S, 4)
    render_view: Callable[[], np.ndarray]  # the 3D view at the size it was last drawn, (H, W, 3)
    set_skin: Callable[[np.ndarray | None], None]  # dress the object in a solid texture (None: undress)
    capture: Callable[[], None]  # capture the window as the C key does
    captures_dir: Path
    gl_version: int  # the window's OpenGL version code (430: 4.3)
    others: Callable[[], list[Classifier]] = list  # the models judging beside the live one, loaded

    @property
    def classifier(self) -> Classifier:
        return self.live.classifier


class Job:
    """Base of the window's jobs; ``name`` is also the action that starts and stops it."""

    name: ClassVar[str]

    def __init__(self, host: Host):
        self.host = host

    @property
    def running(self) -> bool:
        """Work is under way beside the view (the window paces its frames for it)."""
        return False

    def toggle(self) -> None:
        """Start, or stop what is running (the job's key and button)."""

    def activity(self) -> str | None:
        """What it is doing now, in a few words (the window's title shows it), or None when idle."""
        return None

    def follow(self) -> None:
        """On the drawing thread, every frame: report an end, move the view."""

    def object_changed(self) -> None:
        """Another object is shown."""

    def model_changed(self, name: str) -> None:
        """Another model (``name``) classifies the view."""

    def announce_closing(self) -> bool:
        """Before :meth:`wind_down` waits: say why, if it may take long; True if a message was posted."""
        return False

    def stop(self) -> None:
        """Ask what runs to stop at its next step (the window is closing); do not wait."""

    def wind_down(self) -> None:
        """After :meth:`stop`: wait for the end (at most ``JOIN_SECONDS`` or so) and keep what was found."""

    def close(self, timeout: float) -> None:
        """Release threads and resources the job keeps for the whole session."""

    def notify(self, text: str, error: bool = False) -> None:
        self.host.notify(text, error=error)


class RunJob(Job):
    """A job whose work is one background run at a time (the atlas, a fragility map, an
    evolution): its action starts one, or stops the one running; its end is announced once."""

    what: ClassVar[str]  # how messages name it: "the atlas"

    def __init__(self, host: Host):
        super().__init__(host)
        self.run: BackgroundRun | None = None

    @property
    def running(self) -> bool:
        return self.run is not None and not self.run.done

    def toggle(self) -> None:
        if self.running:
            self.run.stop()
        else:
            self.begin()

    def begin(self) -> None:
        """Start a run with the view as it is now (set :attr:`run`, or say why not)."""
        raise NotImplementedError

    def follow(self) -> None:
        run = self.run
        if run is None or not run.newly_ended():
            return
        if run.error is not None:
            self.notify(f"{self.what} failed: {run.error}", error=True)
        else:
            self.ended(run)

    def ended(self, run) -> None:
        """Say how a run that did not fail ended (once, on the drawing thread)."""

    def stop(self) -> None:
        if self.run is not None:
            self.run.stop()

    def wind_down(self) -> None:
        if self.run is not None:
            self.run.join(JOIN_SECONDS)
