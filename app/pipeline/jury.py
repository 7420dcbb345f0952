"""Several models judging the same poses: does a pose that fools one fool them all?

Each model sees the pose rendered at its own input size (EfficientNet-Lite0 224 px,
Lite1 240, Lite2 260, Inception-v3 299), as ``classify --model`` would show it, so a
verdict here equals that model's verdict alone.  Models of one size share the render.
A pose search over a jury (:meth:`Jury.search`) scores each pose by the model furthest
from the goal and counts a success only when every model meets it
(:class:`app.search.space.Goal`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from app.core.params import Pose
from app.pipeline.pipeline import Pipeline
from app.render.frames import FrameReader, render_batch
from app.render.targets import OffscreenTarget
from app.search.registry import get_method
from app.search.result import SearchResult
from app.search.run import search
from app.search.space import Budget, Goal, SearchError, SearchSpace
from app.vision.classifiers import Classifier

MAX_MODELS = 3


class Jury:
    """The pipeline's classifier and ``others``, on the pipeline's object and renderer."""

    def __init__(self, pipe: Pipeline, others: Sequence[Classifier]):
        self.pipe = pipe
        self.models = [pipe.classifier, *others]
        if len(self.models) > MAX_MODELS:
            raise SearchError(f"at most {MAX_MODELS} models judge together, got {len(self.models)}")
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise SearchError(f"a model is listed twice: {', '.join(names)}")
        self._readers: dict[int, FrameReader] = {pipe.classifier.input_size: pipe.reader}
        self._targets: list[OffscreenTarget] = []
        for m in others:
            if m.input_size not in self._readers:
                target = OffscreenTarget(pipe.ctx, m.input_size, m.input_size, pipe.settings.quality)
                self._targets.append(target)
                self._readers[m.input_size] = FrameReader(target, m.device, slots=pipe.reader.slots)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def probabilities(self, poses: Sequence[Pose]) -> torch.Tensor:
        """(N, M, 1000): each model's class probabilities for each pose."""
        out = []
        for start in range(0, len(poses), self.pipe.reader.slots):
            chunk = poses[start : start + self.pipe.reader.slots]
            frames = {size: render_batch(self.pipe.renderer, reader, chunk, self.pipe.settings)
                      for size, reader in self._readers.items()}  # fmt: skip
            out.append(torch.stack([m.probabilities(frames[m.input_size]).float().cpu() for m in self.models], 1))
        return torch.cat(out)

    def search(self, method: str, space: SearchSpace, goal: Goal, budget: Budget, **options) -> SearchResult:
        """A pose search for a pose that meets ``goal`` in every model (forward-only methods:
        the gradient method follows one model's gradient)."""
        if get_method(method).needs_gradient:
            raise SearchError(f"{method} follows one model's gradient; with several models use a method that "
                              "only classifies (cmaes, random or fd)")  # fmt: skip
        return search(method, self.probabilities, space, goal, budget, **options)

    def release(self) -> None:
        for t in self._targets:
            t.release()
        self._targets.clear()
