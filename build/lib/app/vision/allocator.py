"""Keep freed memory in the process, so a forward pass does not page its activations in anew.

glibc's malloc serves blocks above its mmap threshold with fresh pages from the kernel and
returns them on free.  The threshold starts at 128 KiB and only rises when such a block is
freed, so a model that has only seen small batches keeps mapping, faulting in (zeroed) and
unmapping its activations on every call: efficientnet_lite0 classified batches of 3 at
14 ms per image here, and at 9 ms with the thresholds below (batch 1 and the gradient
do not change; ``benchmarks/bench_batch.py``).  Both thresholds must be set: setting one
turns off glibc's adjustment of both.  Other C libraries are left as they are.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest (64-bit): blocks up to 32 MiB come from the heap
TRIM_THRESHOLD = 64 << 20  # keep up to 64 MiB free at the heap's top instead of giving it back

_tuned: bool | None = None


def keep_freed_memory() -> bool:
    """Set glibc's malloc thresholds once per process; True if they are set (glibc only)."""
    global _tuned
    if _tuned is None:
        _tuned = False
        if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _tuned = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                    libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
                )
            except (OSError, AttributeError):
                _tuned = False
    return _tuned
