"""A worker thread that serves only the newest request.

The window's maps and its other models (:mod:`app.background.maps`,
:mod:`app.background.jury`) each take a view at a time while the view keeps changing: a
request not started yet is replaced by a newer one, so they never work down a queue of
views already gone.  The thread starts on first use (a session that never asks keeps none)
and :meth:`NewestOnly.close` ends it after the request it is running.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class NewestOnly(Generic[T]):
    def __init__(self, name: str):
        self._name = name
        self._cond = threading.Condition()
        self._pending: T | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None

    def _offer(self, request: T) -> None:
        """Work on ``request`` next, replacing one not started yet."""
        with self._cond:
            self._pending = request
            self._cond.notify()

    def _start(self) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def _may_start(self) -> bool:
        """Whether a waiting request may start (called with the lock held)."""
        return True

    def _take(self) -> T | None:
        """On the worker: the next request, once there is one and :meth:`_may_start` agrees;
        None when closing."""
        with self._cond:
            while not self._stopping and (self._pending is None or not self._may_start()):
                self._cond.wait()
            if self._stopping:
                return None
            request, self._pending = self._pending, None
            return request

    def _run(self) -> None:
        raise NotImplementedError

    def close(self, timeout: float = 10.0) -> bool:
        """Stop after the request running; True if the thread ended within ``timeout``."""
        with self._cond:
            self._stopping, self._pending = True, None
            self._cond.notify()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()
