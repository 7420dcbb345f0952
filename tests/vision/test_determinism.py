"""Torch's deterministic kernels, shared safely between threads."""

from __future__ import annotations

import threading

import torch


def test_deterministic_kernels_stay_on_until_the_last_thread_leaves():
    """A search thread leaving its gradient step must not switch them off under another's."""
    from app.pipeline.gradient import deterministic_kernels

    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with deterministic_kernels():
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    assert entered.wait(10)
    with deterministic_kernels():
        leave.set()
        thread.join(10)  # the other thread has left its block; this one is still inside
        assert torch.are_deterministic_algorithms_enabled()
    assert not torch.are_deterministic_algorithms_enabled()


def test_deterministic_kernels_leave_new_tensors_unfilled_and_restore_the_fill():
    """Torch's deterministic mode fills every new uninitialised tensor with NaN (3.5-5 ms of
    a 45-60 ms gradient here); inside the block that fill is off, and afterwards it is as
    it was."""
    import torch.utils.deterministic

    from app.pipeline.gradient import deterministic_kernels

    before = torch.utils.deterministic.fill_uninitialized_memory
    try:
        for setting in (True, False):
            torch.utils.deterministic.fill_uninitialized_memory = setting
            with deterministic_kernels():
                assert torch.are_deterministic_algorithms_enabled()
                assert torch.utils.deterministic.fill_uninitialized_memory is False
            assert torch.utils.deterministic.fill_uninitialized_memory is setting
    finally:
        torch.utils.deterministic.fill_uninitialized_memory = before
