"""Work beside the window: on a kept daemon thread (or a station's), and it can be asked to stop."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.core.threads import lower_priority

if TYPE_CHECKING:
    from app.background.station import SearchStation


class _Workers:
    """Daemon threads kept for background runs, each taking the next run when it is idle.
    A thread per run grew the window's memory by about 10 MB a run, never given back:
    torch (its thread-local state) and glibc (an allocator arena per thread) keep what a
    thread used after it ends.  The pool grows only to the most runs at once (a few)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._work: queue.SimpleQueue[tuple[Callable[[], None], str]] = queue.SimpleQueue()
        self._idle = 0
        self.threads = 0

    def submit(self, work: Callable[[], None], name: str) -> None:
        with self._lock:
            if self._idle:
                self._idle -= 1
            else:
                self.threads += 1
                threading.Thread(target=self._serve, name="background-run", daemon=True).start()
        self._work.put((work, name))

    def _serve(self) -> None:
        me = threading.current_thread()
        while True:
            work, me.name = self._work.get()
            try:
                work()
            finally:
                me.name = "background-run"
                with self._lock:
                    self._idle += 1


WORKERS = _Workers()


class BackgroundRun:
    """Base of the window's background runs (pose search, atlas, lenses): start, stop, join,
    done.  The thread yields the processor to drawing; an exception it raises is kept in
    ``error`` for the window to report; ``elapsed`` counts seconds since the start.  With a
    ``station`` (:class:`app.background.station.SearchStation`) the run is a job on its thread."""

    error: Exception | None = None
    elapsed: float = 0.0
    announced = False  # the window has reported the run's end

    def _start(self, target: Callable[..., None], args: tuple, name: str, station: SearchStation | None = None) -> None:
        self._stop = threading.Event()
        self._finished = threading.Event()
        self.started = time.perf_counter()
        if station is not None:
            station.submit(lambda _station: self._guarded(target, args))
            return
        WORKERS.submit(lambda: self._guarded(target, args), name)

    def _guarded(self, target: Callable[..., None], args: tuple) -> None:
        lower_priority()
        try:
            target(*args)
        except Exception as e:  # reported by the window
            self.error = e
        finally:
            self.tick()
            self._finished.set()

    def tick(self) -> None:
        """Bring ``elapsed`` up to date (runs call it as they progress)."""
        self.elapsed = time.perf_counter() - self.started

    def newly_ended(self) -> bool:
        """True once: the first time it is asked after the run ended (the window reports it then)."""
        if self.announced or not self.done:
            return False
        self.announced = True
        return True

    @property
    def done(self) -> bool:
        return self._finished.is_set()

    def stop(self) -> None:
        """Ask the run to end at its next step (what it found so far is kept)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the run to end (at most ``timeout`` seconds); True if it has."""
        return self._finished.wait(timeout)
