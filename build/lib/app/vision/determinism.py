"""Torch's deterministic kernels for a block of code, shared safely between threads.

The setting is process-wide, and ``torch.jit.trace`` reads it: a convolution records
whether deterministic kernels were on as a constant of the graph.  A trace taken while a
gradient search turned the setting on and off in another thread saw two different
graphs and failed its sanity check, which left the live view's classifier unfrozen for
the rest of the session.  :meth:`_DeterministicKernels.settled` keeps the setting still
while a trace runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.utils.deterministic


class _DeterministicKernels:
    """``with deterministic_kernels():`` torch's deterministic algorithms inside the block;
    the previous settings come back when the last thread inside such a block leaves it.
    Inference in other threads meanwhile has no kernel it changes on the CPU, and an op
    without a deterministic kernel only warns (with CUDA, torch warns once unless
    ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` is set).  Torch's deterministic mode also fills
    every new uninitialised tensor (``torch.empty``) with NaN, so that a kernel returning
    memory it never wrote cannot pass unnoticed.  That debugging aid cost 3.5-5 ms a
    gradient here (7-8%), in every thread, and is turned off inside the block
    (``torch.utils.deterministic.fill_uninitialized_memory``); the kernels stay
    deterministic either way."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._inside = 0  # threads inside a deterministic block
        self._settled = 0  # threads inside a settled() block
        self._before = (False, False, True)

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._settled == 0)
            if self._inside == 0:
                self._before = (
                    torch.are_deterministic_algorithms_enabled(),
                    torch.is_deterministic_algorithms_warn_only_enabled(),
                    torch.utils.deterministic.fill_uninitialized_memory,
                )
                torch.use_deterministic_algorithms(True, warn_only=True)
                torch.utils.deterministic.fill_uninitialized_memory = False
            self._inside += 1
        try:
            yield
        finally:
            with self._cond:
                self._inside -= 1
                if self._inside == 0:
                    enabled, warn_only, fill = self._before
                    torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
                    torch.utils.deterministic.fill_uninitialized_memory = fill
                    self._cond.notify_all()

    @contextmanager
    def settled(self) -> Iterator[None]:
        """Inside: the setting is as it was before any deterministic block (those under way
        are waited for; new ones wait for the end of this block)."""
        with self._cond:
            self._settled += 1
            self._cond.wait_for(lambda: self._inside == 0)
        try:
            yield
        finally:
            with self._cond:
                self._settled -= 1
                self._cond.notify_all()


deterministic_kernels = _DeterministicKernels()
