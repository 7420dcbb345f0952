"""Threads that make way for the drawing thread."""

from __future__ import annotations

import os
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
