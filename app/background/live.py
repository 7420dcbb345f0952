"""Live classification off the drawing thread.

The window renders the model-input view on its own (GL) thread and hands the pixels to a
:class:`LiveClassifier`, which classifies only the newest frame: a frame submitted while
the worker is busy replaces the one waiting, so predictions never lag behind a queue.
Slow work that needs the classifier or must not block drawing (captures, loading a model
or a mesh) runs on the same worker as jobs, ahead of live frames; their results come back
to the drawing thread through :meth:`LiveClassifier.poll`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from app.core.params import Pose
from app.core.threads import lower_priority
from app.vision.classifiers import Classifier, classify_image
from app.vision.predictions import Prediction, rank_of, top_k


@dataclass
class Frame:
    """A model-input image and what it shows."""

    image: np.ndarray  # (H, W, 4) uint8, owned by the frame
    pose: Pose
    key: Hashable  # identifies the scene state the image was rendered from
    stamp: float  # time.perf_counter() when rendering started


@dataclass
class LiveResult:
    """The classifier's answer for one frame."""

    frame: Frame
    model: str
    probabilities: np.ndarray  # (1000,) float32
    latency: float  # seconds from the start of rendering to the answer
    inference: float  # seconds in the classifier alone
    precision: str = "f32"  # "bf16" when the fast preview answered: shown, never recorded

    def top(self, k: int = 5) -> Prediction:
        return top_k(self.probabilities, k)

    def rank_of(self, class_index: int) -> int:
        return rank_of(self.probabilities, class_index)


Job = Callable[[Classifier], Any]
Done = Callable[[Any], None]


class LiveClassifier:
    """A worker thread that owns a classifier: newest-frame classification plus jobs."""

    def __init__(self, classifier: Classifier, freeze: bool = True):
        """``freeze``: trace and freeze each classifier on the worker before using it
        (:meth:`Classifier.freeze`), which keeps the drawing thread free of the GIL."""
        self.classifier = classifier
        self.freeze = freeze
        self.preview = False  # live frames in bfloat16 (Classifier.use_preview); jobs stay at f32
        self._cond = threading.Condition()
        self._pending: Frame | None = None
        self._jobs: deque[tuple[Job, Done, bool]] = deque()
        self._finished: deque[tuple[Done, Any]] = deque()
        self._latest: LiveResult | None = None
        self._busy = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="live-classifier", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------- drawing thread

    @property
    def idle(self) -> bool:
        """True when nothing is running or waiting: a frame submitted now starts at once."""
        with self._cond:
            return not self._busy and self._pending is None and not self._jobs

    def submit(self, frame: Frame) -> None:
        """Classify ``frame`` next, replacing a frame that has not started yet."""
        with self._cond:
            self._pending = frame
            self._cond.notify()

    def run_job(self, job: Job, done: Done, *, finish_on_close: bool = False) -> None:
        """Run ``job(classifier)`` on the worker before any live frame; ``done(result)`` runs
        in :meth:`poll` (an exception raised by the job is passed to ``done`` as the result).
        ``finish_on_close``: :meth:`close` runs it before the worker stops (a job that writes
        the user's files); other jobs still waiting then are dropped."""
        with self._cond:
            self._jobs.append((job, done, finish_on_close))
            self._cond.notify()

    def latest(self) -> LiveResult | None:
        return self._latest

    @property
    def closing(self) -> bool:
        """:meth:`close` has been called."""
        return self._stopping

    def poll(self) -> int:
        """Call the ``done`` callbacks of finished jobs (on the calling thread); returns how many."""
        n = 0
        while True:
            with self._cond:
                if not self._finished:
                    return n
                done, result = self._finished.popleft()
            done(result)
            n += 1

    def close(self, timeout: float = 10.0) -> bool:
        """Stop the worker after the step it is running and the jobs waiting that write files;
        True if it ended within ``timeout``.  :meth:`poll` still delivers their results."""
        with self._cond:
            self._stopping = True
            self._pending = None
            self._jobs = deque(j for j in self._jobs if j[2])
            self._cond.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ----------------------------------------------------------------- worker

    def _run(self) -> None:
        lower_priority()
        while True:
            with self._cond:
                while not self._stopping and self._pending is None and not self._jobs:
                    self._cond.wait()
                if self._stopping and not self._jobs:
                    return
                self._busy = True
                if self._jobs:
                    job, frame = self._jobs.popleft()[:2], None
                else:
                    job, frame = None, self._pending
                    self._pending = None
            try:
                if job is not None:
                    self._do_job(*job)
                elif frame is not None:
                    self._classify(frame)
            finally:
                with self._cond:
                    self._busy = False

    def _do_job(self, job: Job, done: Done) -> None:
        try:
            result = job(self.classifier)
        except Exception as e:  # handed to the drawing thread, which reports it
            result = e
        with self._cond:
            self._finished.append((done, result))

    def _classify(self, frame: Frame) -> None:
        clf = self.classifier
        if frame.image.shape[0] != clf.input_size:  # rendered for a model that has been replaced
            return
        preview = self.preview and clf.use_preview()  # started here once, off the drawing thread
        start = time.perf_counter()
        if preview:  # bf16, or f32 where the two best classes lie close
            probs, rough = clf.preview_probabilities(torch.from_numpy(frame.image)[None])
            probs, precision = probs[0].float().numpy(), "bf16" if rough[0] else "f32"
        else:
            probs, precision = classify_image(clf, frame.image), "f32"
        end = time.perf_counter()
        self._latest = LiveResult(frame, clf.name, probs, latency=end - frame.stamp, inference=end - start,
                                  precision=precision)  # fmt: skip
        if self.freeze:  # after the first answer, so the window shows one at once
            clf.freeze()
