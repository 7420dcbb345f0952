"""The goal's gradient with respect to the pose: re-shaded image -> classifier -> backward.

One call rasterises the visibility buffer at the pose (OpenGL), re-shades it in torch
(:class:`app.diffrender.DiffRenderer`), runs the classifier forward and backward, and
returns the goal score with its gradient in the search space's unit cube.  The image is
rounded to 8 bits on the way forward (straight-through on the way back), so the
classifier sees what the OpenGL render gives it.  The backward pass runs torch's
deterministic kernels: on the CPU the backward of a gather by tensor indexing sums in
parallel in no fixed order, so the same point gave gradients up to 1e-5 apart, enough to
send a line search elsewhere.  The re-shading now gathers with ``index_select``, whose
backward sums in order; the edge gradients still index.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.utils.deterministic

from app.classifiers import Classifier
from app.diffrender import DiffRenderer


@dataclass
class GradientStep:
    probabilities: torch.Tensor  # (1000,) of the re-shaded image
    score: float  # the goal's score (higher is better)
    gradient: np.ndarray  # d score / d unit-cube coordinates


class _DeterministicKernels:
    """``with deterministic_kernels():`` torch's deterministic algorithms inside the block;
    the previous settings come back when the last thread inside such a block leaves it.
    The setting is process-wide: inference in other threads meanwhile has no kernel it
    changes on the CPU, and an op without a deterministic kernel only warns (with CUDA,
    torch warns once unless ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` is set).  Torch's
    deterministic mode also fills every new uninitialised tensor (``torch.empty``) with NaN,
    so that a kernel returning memory it never wrote cannot pass unnoticed.  That debugging
    aid cost 3.5-5 ms a gradient here (7-8%), in every thread, and is turned off inside the
    block (``torch.utils.deterministic.fill_uninitialized_memory``); the kernels stay
    deterministic either way."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._before = (False, False, True)

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
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
            with self._lock:
                self._inside -= 1
                if self._inside == 0:
                    enabled, warn_only, fill = self._before
                    torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
                    torch.utils.deterministic.fill_uninitialized_memory = fill


deterministic_kernels = _DeterministicKernels()


class PoseGradient:
    """``gradient(space, goal, u)``: score and gradient at unit-cube point ``u``; with
    ``edges`` the outline's movement counts too (:meth:`DiffRenderer.silhouette_term`)."""

    def __init__(self, classifier: Classifier, renderer: DiffRenderer, edges: bool = False):
        if renderer.size != classifier.input_size:
            raise ValueError(f"render size {renderer.size} differs from the model input {classifier.input_size}")
        classifier.prepare_gradients()
        self.classifier, self.renderer, self.edges = classifier, renderer, edges

    def __call__(self, space, goal, u: np.ndarray) -> GradientStep:
        pose = space.from_unit(u)
        vis = self.renderer.rasterize(pose)
        with deterministic_kernels():
            return self._step(space, goal, pose, vis)

    def _step(self, space, goal, pose, vis) -> GradientStep:
        unit = torch.tensor(space.to_unit(pose), dtype=torch.float64, requires_grad=True)
        low = torch.from_numpy(space.low)
        span = torch.from_numpy(space.span)
        vector = torch.from_numpy(pose.vector).index_put((torch.from_numpy(space.index),), low + unit * span)
        image = self.renderer.shade(vis, vector, edges=self.edges)
        image = image + ((image * 255.0).round() / 255.0 - image).detach()  # what an 8-bit framebuffer holds
        batch = image.permute(2, 0, 1).unsqueeze(0).to(self.classifier.device) * 255.0
        with torch.enable_grad():
            log_p = torch.log_softmax(self.classifier.logits(batch).float(), dim=1)[0]
        score = log_p[goal.target] if goal.target is not None else -log_p[goal.true_class]
        score.backward()
        grad = unit.grad.numpy() if unit.grad is not None else np.zeros(space.dim)
        return GradientStep(log_p.detach().exp().cpu(), float(score.detach()), np.nan_to_num(grad))
