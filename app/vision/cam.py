"""Where the model looks: Grad-CAM class-activation maps, with captum.

captum (the PyTorch team's attribution library) computes the map: the gradient of one
class's score with respect to the last convolutional feature map, averaged per channel,
weighs those channels (Selvaraju et al., 2017).  It brings no dependency we lack;
``grad-cam`` would add Grad-CAM++ and Score-CAM but also OpenCV, scikit-learn and SciPy
(about 100 MB), so only Grad-CAM is offered.

The layer is found by running the model once: the last of its top-level parts whose
output is still a spatial map (timm's EfficientNet-Lite: ``bn2``, 7x7; Inception-v3:
``Mixed_7c``, 8x8; ResNets: ``layer4``).  A model without one (a vision transformer) has
no class-activation map.  The map is computed on a copy of the eager model, so the hooks
captum adds never meet a search running the classifier on another thread.
"""

from __future__ import annotations

import copy
import threading

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import LayerGradCam

from app.vision.classifiers import Classifier


def explained_class(choice: str, top1: int, true_class: int | None, target: int | None) -> int:
    """The class an overlay explains: ``choice`` is top1, true or target; the top-1 when the
    class chosen is not set (the window's overlay and captures, ``classify --cam``)."""
    chosen = {"true": true_class, "target": target}.get(choice)
    return top1 if chosen is None else chosen


class CamUnavailable(ValueError):
    """This model has no convolutional feature map to explain."""


def spatial_layer(model: torch.nn.Module, size: int) -> tuple[str, torch.nn.Module]:
    """(name, module): the last top-level part of ``model`` whose output is (N, C, H, W) with H, W > 1."""
    outputs: list[tuple[str, torch.nn.Module]] = []
    hooks = [
        child.register_forward_hook(
            lambda _m, _i, out, name=name, child=child: (
                outputs.append((name, child))
                if torch.is_tensor(out) and out.dim() == 4 and min(out.shape[-2:]) > 1
                else None
            )
        )
        for name, child in model.named_children()
    ]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, size, size, device=next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
    if not outputs:
        raise CamUnavailable("this model has no convolutional feature map, so no class-activation map")
    return outputs[-1]


class ActivationMaps:
    """Grad-CAM maps of one classifier's input images, at the input's size."""

    def __init__(self, classifier: Classifier):
        self.classifier = classifier
        self._model = copy.deepcopy(classifier.model).float()
        self.layer_name, layer = spatial_layer(self._model, classifier.input_size)
        self._cam = LayerGradCam(self._model, layer)
        self._lock = threading.Lock()  # captum's hooks are per call: one map at a time

    def __call__(self, image: np.ndarray | torch.Tensor, class_index: int) -> np.ndarray:
        """(S, S) float32 in [0, 1] (1: where the evidence for ``class_index`` is strongest)
        for one (S, S, 3|4) uint8 image; all zeros where the class has no positive evidence."""
        frame = torch.as_tensor(np.ascontiguousarray(image)) if isinstance(image, np.ndarray) else image
        x = self.classifier.preprocess(frame).contiguous()
        with self._lock, torch.enable_grad():
            attribution = self._cam.attribute(x, target=int(class_index), relu_attributions=True)
        size = self.classifier.input_size
        heat = F.interpolate(attribution.detach().float(), size=(size, size), mode="bilinear", align_corners=False)
        heat = heat[0, 0].cpu().numpy()
        top = float(heat.max())
        return (heat / top).astype(np.float32) if top > 0 else np.zeros_like(heat, dtype=np.float32)


def colorize(heat: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 4) uint8: transparent blue through yellow to red, as an
    overlay (the faint parts fade out, so the object shows through where the model does not look)."""
    h = np.clip(heat, 0.0, 1.0)[..., None]
    stops = np.array([[0, 0, 255], [0, 255, 255], [255, 255, 0], [255, 0, 0]], dtype=np.float32)
    position = h * (len(stops) - 1)
    low = np.clip(np.floor(position).astype(int), 0, len(stops) - 2)
    frac = position - low
    rgb = stops[low[..., 0]] * (1 - frac) + stops[low[..., 0] + 1] * frac
    a = np.clip(h * 1.5, 0, 1) * 255 * alpha
    return np.concatenate([rgb, a], axis=-1).astype(np.uint8)


def blend(image: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The overlay drawn on ``image`` ((H, W, 3) uint8) as one RGB picture (for files)."""
    over = colorize(heat).astype(np.float32)
    a = over[..., 3:] / 255.0
    return (image[..., :3].astype(np.float32) * (1 - a) + over[..., :3] * a).round().astype(np.uint8)
