"""The canonical pose of a new object: the natural view in which the current model sees it best.

"Natural" as the bundled objects' canonical poses are: upright, the camera a little above
or below, the object a comfortable size in the view, any side towards the camera.  The
grid is every 30 degrees of yaw, four camera heights and three distances (144 views,
rendered and classified in batches); the chosen view is the one with the highest
probability for the object's class among those where it is the top-1, or, if it never is,
the highest probability overall.  The share of top-1 views tells the user how
recognisable the object is to this model at all.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch

from app.core.params import Pose
from app.pipeline.pipeline import Pipeline

YAWS = tuple(float(y) for y in range(-180, 180, 30))
PITCHES = (-15.0, 0.0, 15.0, 30.0)
DEPTHS = (-6.0, -7.5, -9.0)
VIEWS = len(YAWS) * len(PITCHES) * len(DEPTHS)  # 144
BATCH = 16


@dataclass(frozen=True)
class CanonicalView:
    pose: Pose
    probability: float  # of the object's class, in ``pose``
    top1: int  # the model's top-1 class in ``pose``
    recognised: int  # views of the grid where the class is the top-1
    views: int

    @property
    def top1_rate(self) -> float:
        return self.recognised / self.views


def natural_views(base: Pose | None = None) -> list[Pose]:
    """The grid of natural views; lighting and camera from ``base`` (default: the defaults)."""
    base = base or Pose()
    return [base.replace(yaw=y, pitch=p, roll=0.0, x=0.0, y=0.0, z=z)
            for z, p, y in itertools.product(DEPTHS, PITCHES, YAWS)]  # fmt: skip


def find_canonical_view(
    pipe: Pipeline,
    true_class: int,
    report: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> CanonicalView | None:
    """The best natural view of the pipeline's object for ``true_class`` (see the module's
    note); ``report(done, total)`` after each batch; None when ``stop`` ends it first."""
    poses = natural_views()
    probs = []
    for start in range(0, len(poses), BATCH):
        if stop is not None and stop.is_set():
            return None
        probs.append(pipe.probabilities(poses[start : start + BATCH]).float().cpu())
        if report is not None:
            report(min(start + BATCH, len(poses)), len(poses))
    p = torch.cat(probs)
    top1 = p.argmax(dim=1)
    own = p[:, true_class]
    recognised = top1 == true_class
    score = own + recognised.float()  # any top-1 view beats every view where it is not
    best = int(score.argmax())
    return CanonicalView(pose=poses[best], probability=float(own[best]), top1=int(top1[best]),
                         recognised=int(recognised.sum()), views=len(poses))  # fmt: skip
