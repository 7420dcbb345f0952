"""Frame intervals and prediction latencies of the recent past (the panel's figures, the window benchmark)."""

from __future__ import annotations

import statistics
from collections import deque

import numpy as np

from app.background.live import LiveResult


class FrameStats:
    """Frame intervals and prediction latencies of the recent past."""

    def __init__(self, keep: int | None = 240):
        self.keep = keep
        self.reset()

    def reset(self) -> None:
        self.frame_times: deque[float] = deque(maxlen=self.keep)
        self.latencies: deque[float] = deque(maxlen=self.keep)
        self.inferences: deque[float] = deque(maxlen=self.keep)
        self._last: float | None = None

    def summary(self) -> dict:
        """Percentiles in milliseconds (for the benchmark)."""

        def pct(values, q):
            return round(float(np.percentile(np.array(values) * 1000, q)), 2) if values else None

        out: dict = {"frames": len(self.frame_times) + 1, "predictions": len(self.latencies)}
        for name, values in (("frame", self.frame_times), ("latency", self.latencies), ("inference", self.inferences)):
            out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = pct(values, 50), pct(values, 95)
        return out

    def frame(self, now: float) -> None:
        if self._last is not None:
            self.frame_times.append(now - self._last)
        self._last = now

    def result(self, result: LiveResult) -> None:
        self.latencies.append(result.latency)
        self.inferences.append(result.inference)

    @property
    def fps(self) -> float:
        recent = list(self.frame_times)[-60:]
        return len(recent) / sum(recent) if recent and sum(recent) > 0 else 0.0

    @staticmethod
    def median_ms(values: deque[float]) -> float:
        return statistics.median(values) * 1000 if values else float("nan")
