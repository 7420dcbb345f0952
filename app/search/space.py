"""What every search method shares: the space it moves in, the goal it aims at, its budget.

A :class:`SearchSpace` is a subset of the declared parameters around a base pose, mapped
to the unit cube (circular angles wrapped, the rest clipped), so every candidate a method
proposes is a valid, in-view pose.  A :class:`Goal` says what counts as fooling:
untargeted, any class but the true one wins; targeted, the chosen class wins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from app.core.imagenet import class_names
from app.core.params import CIRCULAR, INDEX, Pose, params_in_groups
from app.core.verdict import FOOLED, TARGET_HIT

EPS = 1e-12


class SearchError(ValueError):
    """A search that cannot run as asked (unknown method, empty space, bad budget)."""


@dataclass(frozen=True)
class Goal:
    """What counts as fooling: untargeted (``target`` None) or a chosen target class."""

    true_class: int | None
    target: int | None = None

    def __post_init__(self) -> None:
        if self.target is None and self.true_class is None:
            raise SearchError("an untargeted search needs the object's true class (or give a target class)")

    def scores(self, probs: torch.Tensor) -> np.ndarray:
        """Higher is better: log p(target), or -log p(true) for an untargeted search.
        ``probs``: (N, 1000), or (N, M, 1000) for M models judging each pose, scored by the
        model furthest from the goal (to fool them all, the one that holds out matters)."""
        p = probs.detach().float().cpu().numpy()
        if self.target is not None:
            s = np.log(p[..., self.target] + EPS)
        else:
            s = -np.log(p[..., self.true_class] + EPS)
        return s.min(axis=1) if s.ndim == 2 else s

    def successes(self, probs: torch.Tensor) -> np.ndarray:
        """Poses that meet the goal: with several models, in every one of them."""
        top1 = probs.argmax(dim=-1).cpu().numpy()
        met = top1 == self.target if self.target is not None else top1 != self.true_class
        return met.all(axis=1) if met.ndim == 2 else met

    def outcome(self, success: bool) -> str:
        """How a search ended, in the words of :mod:`app.core.verdict`: "FOOLED" / "not fooled",
        or for a targeted search "TARGET HIT (ashcan)" / "target missed (ashcan)" (hitting the
        object's own class is not fooling it)."""
        if self.target is None:
            return FOOLED if success else "not fooled"
        name = class_names()[self.target]
        return f"{TARGET_HIT} ({name})" if success else f"target missed ({name})"


class SearchSpace:
    """The free parameters (by group) around a base pose, as points of the unit cube."""

    def __init__(self, base: Pose, groups: Sequence[str]):
        self.base = base
        self.params = params_in_groups(groups)
        if not self.params:
            raise SearchError("no parameters to search: choose at least one group")
        self.index = np.array([INDEX[p.name] for p in self.params])
        self.low = np.array([p.low for p in self.params])
        self.span = np.array([p.span for p in self.params])
        self.circular = CIRCULAR[self.index]

    @property
    def dim(self) -> int:
        return len(self.params)

    def to_unit(self, pose: Pose) -> np.ndarray:
        return (pose.vector[self.index] - self.low) / self.span

    def from_unit(self, u: np.ndarray) -> Pose:
        """Any vector -> a valid pose: non-finite entries take the base pose's value,
        circular parameters wrap, the others are clipped to their range."""
        u = np.asarray(u, dtype=np.float64)
        base_u = self.to_unit(self.base)
        u = np.where(np.isfinite(u), u, base_u)
        u = np.where(self.circular, np.mod(u, 1.0), np.clip(u, 0.0, 1.0))
        v = self.base.vector.copy()
        v[self.index] = self.low + u * self.span
        return Pose.from_vector(v, fit=True)


@dataclass
class Budget:
    iterations: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.iterations is None and self.seconds is None:
            raise SearchError("give a budget: iterations, seconds or both")
        if (self.iterations is not None and self.iterations < 1) or (
            self.seconds is not None and not 0 < self.seconds < math.inf
        ):
            raise SearchError("the budget must be positive and finite")  # NaN too: no clock check would end it
