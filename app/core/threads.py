"""Threads that make way for the drawing thread."""

from __future__ import annotations

import os
import sys
import threading


def lower_priority(niceness: int = 10) -> None:
    """Make the calling thread yield the processor to the drawing thread (Linux; elsewhere a no-op).

    On a machine with few cores the classifier and the software rasteriser compete; the
    window's frame times matter more than a few milliseconds of prediction latency."""
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        except OSError:
            pass


SWITCH_INTERVAL = 0.001  # seconds; Python's default is 0.005


def share_the_gil_often() -> None:
    """Make a thread that holds the GIL hand it over after 1 ms instead of 5.

    Niceness shares the processor but not the GIL: the window's class-activation maps run
    eager torch (Python between layers) beside the drawing thread, which then waited up to
    5 ms each time it needed the GIL back.  With the overlay and two more models on, the
    teddy bear's frame p95 went from 40-44 to 37-38 ms here (docs/benchmarks.md)."""
    sys.setswitchinterval(SWITCH_INTERVAL)
