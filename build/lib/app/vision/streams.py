"""Several classification streams at once, sharing torch's CPU threads out among them.

On a CPU, two batches classified at once by two one-thread workers keep two cores busier
than one batch on two threads, whose threads wait for each other at every layer (here
efficientnet_lite0 at batch 16: 45 instead of 39 images/s, ``benchmarks/bench_sweep.py``).
The thread that owns the GL context renders the next frames meanwhile.  A GPU runs one
batch at a time, so it gets one stream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import torch


def default_streams(device: torch.device | str) -> int:
    """Two on a CPU with two or more torch threads, else one."""
    return 2 if torch.device(device).type == "cpu" and torch.get_num_threads() >= 2 else 1


class StreamPool:
    """``count`` worker threads; on the CPU each runs torch with ``threads // count`` threads.

    All workers start at once (``worker_init`` runs first on each), and then torch's
    default is set back, so threads started later still get every thread.
    """

    def __init__(self, count: int, device: torch.device | str, worker_init: Callable[[], None] | None = None):
        if count < 1:
            raise ValueError(f"streams must be >= 1, got {count}")
        threads = torch.get_num_threads()
        share = count > 1 and torch.device(device).type == "cpu"
        started = threading.Barrier(count)

        def start() -> None:
            if share:
                torch.set_num_threads(max(1, threads // count))
                # a thread takes torch's process-wide count at its first parallel op; asking
                # for it does that now, before the count is set back below (else each
                # worker ran with all of torch's threads: four threads on two cores)
                torch.get_num_threads()
            if worker_init is not None:
                try:
                    worker_init()
                except BaseException:
                    started.abort()  # the other workers stop waiting
                    raise

        self._pool = ThreadPoolExecutor(count, thread_name_prefix="classify-stream", initializer=start)
        try:  # each waits for the others, so every worker thread is made (and set up) now
            for f in [self._pool.submit(started.wait, 60) for _ in range(count)]:
                f.result()
        finally:
            if share:
                torch.set_num_threads(threads)

    def submit(self, fn: Callable, *args) -> Future:
        return self._pool.submit(fn, *args)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> StreamPool:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
