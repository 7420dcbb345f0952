"""Pulling a success back toward the start (``nearest``)."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch

from app.core.params import Pose, largest_change, pose_change
from app.search.run import search
from app.search.space import Budget, Goal, SearchSpace
from tests.conftest import load_scene


@pytest.mark.parametrize("method", ["grad", "cmaes"])
def test_nearest_pulls_a_success_back_toward_the_start(batch_pipeline, method):
    """With ``nearest`` the best pose moves back toward the start and still fools; the
    search's first success and everything before the extra renders stay the same."""
    from app.search.pullback import NEAREST_HALVINGS, NEAREST_SCAN, NEAREST_SHRINK

    obj, space, goal = load_scene(batch_pipeline, "hen")
    reports = []
    far, near = (batch_pipeline.search(method, space, goal, Budget(iterations=20), seed=0, stop_on_success=True,
                                       nearest=n, report=reports.append if n else None)
                 for n in (False, True))  # fmt: skip
    assert far.success and near.success and near.iterations == far.iterations
    assert [p.nearest for p in reports] == [False] * (len(reports) - 1) + [True]  # the window eases into the last
    assert reports[-1].current == near.best and reports[-1].evaluations == near.evaluations
    line = NEAREST_SCAN + NEAREST_HALVINGS
    assert far.evaluations + line < near.evaluations <= far.evaluations + line + NEAREST_SHRINK * NEAREST_HALVINGS
    assert [r["best_score"] for r in near.history[:-1]] == [r["best_score"] for r in far.history[:-1]]
    start = space.base
    assert largest_change(start, near.best) < largest_change(start, far.best)
    assert np.abs(pose_change(start, near.best)).sum() < np.abs(pose_change(start, far.best)).sum()
    probs = batch_pipeline.probabilities([near.best])
    assert goal.successes(probs)[0]
    # the first success is kept beside the pose pulled back: the same as without the pull-back, and it fools
    assert near.first_success == far.first_success == far.best != near.best
    assert goal.successes(batch_pipeline.probabilities([near.first_success]))[0]
    assert near.history[-1]["best_true"] == pytest.approx(float(probs[0, obj.imagenet_class]), abs=1e-6)
    assert near.history[-1]["current_yaw"] == pytest.approx(near.best.yaw)  # the last report shows the pose kept


def test_nearest_walks_the_line_back_then_shrinks_each_change():
    """On a synthetic classifier that is fooled where |yaw| > 40 or |pitch| > 60 degrees,
    grad's first step (a fixed direction here) lands at yaw 144, pitch 108.  The line back
    is scanned (first success at 3/8: yaw 54) and halved 4 times to 0.28125 of the way
    (yaw 40.5, pitch 30.4; 0.2734 gives yaw 39.4, not fooled); then yaw cannot shrink (0,
    1/2, 3/4 and 7/8 of it fail) and pitch is dropped: yaw 40.5 alone."""
    from app.pipeline.gradient import GradientStep

    def evaluate(poses):
        probs = torch.full((len(poses), 1000), 1e-6, dtype=torch.float64)
        for row, p in zip(probs, poses, strict=True):
            fooled = abs(p.yaw) > 40.0 or abs(p.pitch) > 60.0
            row[0], row[2] = (0.1, 0.9) if fooled else (0.9, 0.1)
        return probs

    def gradient(space, goal, u):
        return GradientStep(evaluate([space.from_unit(u)])[0], -math.log(0.9), np.array([0.8, 0.6, 0.0]))

    space, goal = SearchSpace(Pose(), ["rotation"]), Goal(true_class=0)
    r = search("grad", evaluate, space, goal, Budget(iterations=5), gradient=gradient, stop_on_success=True,
               nearest=True)  # fmt: skip
    assert r.success and r.best.to_dict() == pytest.approx(Pose(yaw=40.5).to_dict())
    assert r.first_success.to_dict() == pytest.approx(Pose(yaw=144.0, pitch=108.0).to_dict())  # the step
    assert r.evaluations == 2 + (8 + 4) + (1 + 3) + 1  # the gradient's image, the step; the line; yaw; pitch
    # from a start that fools already, the start is kept and the pull-back renders nothing
    space = SearchSpace(Pose(yaw=50.0), ["rotation"])
    runs = [search("grad", evaluate, space, goal, Budget(iterations=5), gradient=gradient, stop_on_success=True,
                   nearest=n) for n in (False, True)]  # fmt: skip
    assert all(r.success for r in runs) and largest_change(space.base, runs[0].best) < 1e-9  # up to rounding
    assert runs[1].best == space.base
    assert runs[0].evaluations == runs[1].evaluations == 2  # the gradient's image, its confirming render


def test_nearest_does_nothing_after_a_stop(batch_pipeline):
    _, space, goal = load_scene(batch_pipeline, "teddy_bear")
    results = []
    for nearest in (False, True):
        stop = threading.Event()
        results.append(search("cmaes", batch_pipeline.probabilities, space, goal, Budget(iterations=50), stop=stop,
                              report=lambda p, stop=stop: stop.set(), nearest=nearest))  # fmt: skip
    assert all(r.stopped and r.success for r in results)  # the first generation fools the teddy bear
    assert results[0].evaluations == results[1].evaluations and results[0].best == results[1].best
