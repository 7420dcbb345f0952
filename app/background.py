"""Work beside the window: a daemon thread of its own that can be asked to stop."""

from __future__ import annotations

import threading
from collections.abc import Callable


class BackgroundRun:
    """Base of the window's background runs (pose search, atlas): start, stop, join, done."""

    def _start(self, target: Callable[..., None], args: tuple, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def stop(self) -> None:
        """Ask the run to end at its next step (what it found so far is kept)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return self.done
