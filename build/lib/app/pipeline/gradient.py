"""The goal's gradient with respect to the pose: re-shaded image -> classifier -> backward.

One call rasterises the visibility buffer at the pose (OpenGL), re-shades it in torch
(:class:`app.render.diffrender.DiffRenderer`), runs the classifier forward and backward, and
returns the goal score with its gradient in the search space's unit cube.  The image is
rounded to 8 bits on the way forward (straight-through on the way back), so the
classifier sees what the OpenGL render gives it.  The backward pass runs torch's
deterministic kernels: on the CPU the backward of a gather by tensor indexing sums in
parallel in no fixed order, so the same point gave gradients up to 1e-5 apart, enough to
send a line search elsewhere (:mod:`app.vision.determinism`).  The re-shading now gathers with
``index_select``, whose backward sums in order; the edge gradients still index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from app.render.diffrender import DiffRenderer
from app.vision.classifiers import Classifier
from app.vision.determinism import deterministic_kernels


@dataclass
class GradientStep:
    probabilities: torch.Tensor  # (1000,) of the re-shaded image
    score: float  # the goal's score (higher is better)
    gradient: np.ndarray  # d score / d unit-cube coordinates


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
