"""Pixel-space attacks on one model-input image: FGSM, PGD (L-infinity) and DeepFool (L2).

They change pixels, not the pose, so the window and ``run.py attack`` can show an
imperceptible perturbation next to a natural pose change that fools the same model.
Images are (H, W, 3|4) uint8 at the classifier's input size; the attacks work on floats in
[0, 1] through :meth:`Classifier.logits` (eager, differentiable), and the result is rounded
to 8 bits and classified again, so what is reported is what a saved PNG gives.
Budgets (``eps``, ``alpha``) are in 8-bit steps (eps=2 means 2/255).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from app.search.space import Goal
from app.vision.classifiers import Classifier, Prediction, classify_image
from app.vision.predictions import rank_of, top_k

METHODS = ("fgsm", "pgd", "deepfool")
DEFAULT_STEPS = {"fgsm": 1, "pgd": 10, "deepfool": 50}  # the window's, and run.py attack without --steps


class AttackError(ValueError):
    """An attack that cannot run as asked (unknown method, bad budget, wrong image)."""


@dataclass
class AttackResult:
    method: str
    label: int  # the class attacked (the true class, else the clean top-1)
    target: int | None
    original: np.ndarray  # (H, W, 3) uint8
    adversarial: np.ndarray  # (H, W, 3) uint8
    before: np.ndarray  # (1000,) probabilities of the original
    after: np.ndarray  # (1000,) probabilities of the adversarial image (as rounded to 8 bits)
    steps: int
    seconds: float
    stopped: bool = False  # ended early by ``stop`` (its image is the last step's)

    @property
    def delta(self) -> np.ndarray:
        """adversarial - original in 8-bit steps, (H, W, 3) int16."""
        return self.adversarial.astype(np.int16) - self.original.astype(np.int16)

    @property
    def linf(self) -> int:
        return int(np.abs(self.delta).max())

    @property
    def l2(self) -> float:
        """L2 norm of the change over all pixels and channels, in 8-bit steps."""
        return float(np.sqrt((self.delta.astype(np.float64) ** 2).sum()))

    @property
    def changed_pixels(self) -> float:
        """Share of pixels with any channel changed."""
        return float((self.delta != 0).any(axis=2).mean())

    @property
    def fooled(self) -> bool:
        top = int(np.argmax(self.after))
        return top == self.target if self.target is not None else top != self.label

    @property
    def outcome(self) -> str:
        """How the attack ended, in the words of a search: "FOOLED" / "not fooled", "TARGET HIT (CLASS)" / ..."""
        return Goal(self.label, self.target).outcome(self.fooled)

    def top(self, after: bool = True, k: int = 5) -> Prediction:
        return top_k(self.after if after else self.before, k)

    def rank_of_label(self, after: bool = True) -> int:
        return rank_of(self.after if after else self.before, self.label)

    def perturbation_image(self, gain: float | None = None) -> np.ndarray:
        """The change made visible: mid-grey is no change; ``gain`` defaults to filling the range."""
        d = self.delta.astype(np.float32)
        gain = gain if gain is not None else 127.0 / max(1.0, float(np.abs(d).max()))
        return np.clip(127.5 + gain * d, 0, 255).astype(np.uint8)

    def record(self) -> dict:
        from app.core.imagenet import class_names

        names = class_names()

        def top5(p: np.ndarray) -> list[dict]:
            t = top_k(p, 5)
            pairs = zip(t.indices, t.probabilities, strict=True)
            return [{"index": i, "label": names[i], "probability": round(q, 6)} for i, q in pairs]

        return {
            "method": self.method,
            "label": {"index": self.label, "name": names[self.label]},
            "target": None if self.target is None else {"index": self.target, "name": names[self.target]},
            "fooled": self.fooled,
            "linf_255": self.linf,
            "l2_255": round(self.l2, 3),
            "changed_pixels": round(self.changed_pixels, 4),
            "label_prob_before": round(float(self.before[self.label]), 6),
            "label_prob_after": round(float(self.after[self.label]), 6),
            "label_rank_after": self.rank_of_label(),
            "top5_before": top5(self.before),
            "top5_after": top5(self.after),
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
        } | ({"stopped": True} if self.stopped else {})


def _to_float(image: np.ndarray, clf: Classifier) -> torch.Tensor:
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise AttackError(f"expected an (H, W, 3|4) uint8 image, got {image.shape} {image.dtype}")
    if image.shape[:2] != (clf.input_size, clf.input_size):
        raise AttackError(f"the image is {image.shape[1]}x{image.shape[0]}; {clf.name} takes {clf.input_size} px")
    rgb = np.ascontiguousarray(image[..., :3])
    return torch.from_numpy(rgb).to(clf.device).permute(2, 0, 1)[None].float() / 255.0


def _logits(clf: Classifier, x: torch.Tensor) -> torch.Tensor:
    return clf.logits(x * 255.0)


def _loss_grad(clf: Classifier, x: torch.Tensor, label: int, target: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the loss to increase (untargeted: CE of the label; targeted: -CE of the target)."""
    x = x.detach().requires_grad_(True)
    logits = _logits(clf, x)
    if target is None:
        loss = F.cross_entropy(logits, torch.tensor([label], device=x.device))
    else:
        loss = -F.cross_entropy(logits, torch.tensor([target], device=x.device))
    (grad,) = torch.autograd.grad(loss, x)
    return grad, logits.detach()


def _round8(x: torch.Tensor) -> torch.Tensor:
    """``x`` as an 8-bit image would hold it (still floats in [0, 1])."""
    return (x.detach().clamp(0, 1) * 255.0).round() / 255.0


def _quantise(x: torch.Tensor) -> np.ndarray:
    return (_round8(x)[0].permute(1, 2, 0) * 255.0).round().to(torch.uint8).cpu().numpy()


def fgsm(clf: Classifier, x: torch.Tensor, label: int, target: int | None, eps: float) -> tuple[torch.Tensor, int]:
    """One signed-gradient step of size ``eps`` (in [0, 1] units)."""
    if eps == 0:
        return x, 0
    grad, _ = _loss_grad(clf, x, label, target)
    return (x + eps * grad.sign()).clamp(0, 1), 1


def pgd(
    clf: Classifier,
    x: torch.Tensor,
    label: int,
    target: int | None,
    eps: float,
    alpha: float,
    steps: int,
    seed: int = 0,
    random_start: bool = True,
    stop: threading.Event | None = None,
) -> tuple[torch.Tensor, int]:
    """Projected gradient ascent in the L-infinity ball of radius ``eps`` (Madry et al.).
    Stops early once the 8-bit image fools the model, or when ``stop`` is set."""
    if eps == 0:
        return x, 0
    adv = x.clone()
    if random_start:
        gen = torch.Generator(device="cpu").manual_seed(seed)
        adv = (x + (torch.rand(x.shape, generator=gen) * 2 - 1).to(x.device) * eps).clamp(0, 1)
    done = 0
    while done < steps and not (stop is not None and stop.is_set()):
        done += 1
        grad, _ = _loss_grad(clf, adv, label, target)
        adv = torch.min(torch.max(adv + alpha * grad.sign(), x - eps), x + eps).clamp(0, 1)
        q = _round8(adv)
        with torch.no_grad():
            top = int(_logits(clf, q).argmax())
        if (top == target) if target is not None else (top != label):
            break
    return adv, done


def deepfool(
    clf: Classifier,
    x: torch.Tensor,
    label: int,
    overshoot: float = 0.02,
    steps: int = 50,
    candidates: int = 5,
    stop: threading.Event | None = None,
) -> tuple[torch.Tensor, int]:
    """DeepFool (Moosavi-Dezfooli et al.): the smallest L2 step to the nearest linearised
    decision boundary among the ``candidates`` most likely classes, repeated until the image
    crosses it.  Its perturbations are often finer than 8-bit rounding, so once the float
    image is across, the step is lengthened until the rounded image is too.
    Returns the image and the number of gradient steps."""
    with torch.no_grad():
        ranked = _logits(clf, x)[0].argsort(descending=True)[: candidates + 1].tolist()
    classes = [label, *(c for c in ranked if c != label)][: candidates + 1]
    index = torch.arange(len(classes))
    r_total = torch.zeros_like(x)
    grads_done = 0
    for _ in range(4 * steps):
        adv = (x + (1 + overshoot) * r_total).clamp(0, 1)
        q = _round8(adv)
        with torch.no_grad():
            if int(_logits(clf, q).argmax()) != label:
                return adv, grads_done
            across = grads_done > 0 and int(_logits(clf, adv).argmax()) != label
        if across:
            overshoot = 2 * overshoot + 0.05
            if overshoot > 20:
                break
            continue
        if grads_done == steps or (stop is not None and stop.is_set()):
            break
        # the gradients of all candidate logits in one batched forward + backward
        a = adv.detach().expand(len(classes), -1, -1, -1).clone().requires_grad_(True)
        picked = _logits(clf, a)[index, torch.tensor(classes)]
        (grads,) = torch.autograd.grad(picked.sum(), a)
        grads_done += 1
        f = (picked[1:] - picked[0]).detach()
        w = grads[1:] - grads[0]  # (K, 3, H, W)
        norms = w.flatten(1).norm(dim=1) + 1e-8
        k = int(torch.argmin(f.abs() / norms))
        r_total = r_total + (f[k].abs() + 1e-4) / norms[k] ** 2 * w[k][None]
    return (x + (1 + overshoot) * r_total).clamp(0, 1), grads_done


def attack(
    clf: Classifier,
    image: np.ndarray,
    method: str,
    label: int | None = None,
    target: int | None = None,
    eps: float = 2.0,
    alpha: float | None = None,
    steps: int = 10,
    seed: int = 0,
    stop: threading.Event | None = None,
) -> AttackResult:
    """Attack ``image`` (the model-input view).  ``label`` defaults to the clean top-1;
    ``eps``/``alpha`` are in 8-bit steps; DeepFool ignores them and ``target``.  Setting
    ``stop`` ends PGD or DeepFool after its current step, with the image reached so far."""
    if method not in METHODS:
        raise AttackError(f"unknown attack {method!r}; choose from {', '.join(METHODS)}")
    if not 0 <= eps <= 255:
        raise AttackError(f"eps is in 8-bit steps, 0..255; got {eps}")
    if steps < 1:
        raise AttackError("steps must be >= 1")
    if method == "deepfool" and target is not None:
        raise AttackError("DeepFool is untargeted; leave out the target")
    start = time.perf_counter()
    x = _to_float(image, clf)
    before = classify_image(clf, image)
    label = int(np.argmax(before)) if label is None else int(label)
    if method == "fgsm":
        adv, n = fgsm(clf, x, label, target, eps / 255)
    elif method == "pgd":
        step = (alpha if alpha is not None else max(eps / 4, 0.5)) / 255
        adv, n = pgd(clf, x, label, target, eps / 255, step, steps, seed, stop=stop)
    else:
        adv, n = deepfool(clf, x, label, steps=max(steps, 1), stop=stop)
    adversarial = _quantise(adv) if n else np.ascontiguousarray(image[..., :3]).copy()
    after = classify_image(clf, adversarial)
    result = AttackResult(method, label, target, np.ascontiguousarray(image[..., :3]).copy(), adversarial,
                          before, after, n, time.perf_counter() - start)  # fmt: skip
    result.stopped = stop is not None and stop.is_set() and n < steps and not result.fooled
    return result
