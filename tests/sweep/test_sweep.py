"""Sweep plans and the sweep runner: poses, grids, refused plans, streams."""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from app.core.params import INDEX, PARAM_BY_NAME, Pose
from app.scene.library import resolve_object
from app.sweep.sweep import (
    SweepError,
    SweepPlan,
    parse_grid,
    run_sweep,
)

BASE = Pose(z=-12.0, ambient=0.3)


def _scaled(u: np.ndarray, plan: SweepPlan) -> np.ndarray:
    params = [PARAM_BY_NAME[n] for n in plan.varied]
    return np.array([p.low for p in params]) + u * np.array([p.span for p in params])


def test_the_same_seed_gives_the_same_poses_uniform_over_the_declared_ranges():
    plan = SweepPlan(objects=("hen",), models=("m",), samples=4000, seed=7)
    v = plan.vectors(BASE, stream="hen")
    other = SweepPlan(objects=("x", "hen"), models=("n",), samples=4000, seed=7)
    assert np.array_equal(v, other.vectors(BASE, stream="hen"))
    assert not np.array_equal(v, plan.vectors(BASE, stream="teddy_bear"))  # objects do not share poses
    assert not np.array_equal(
        v, SweepPlan(objects=("hen",), models=("m",), samples=4000, seed=8).vectors(BASE, stream="hen")
    )
    # pose i does not depend on the length of the sweep or on which poses are asked for
    short = SweepPlan(objects=("hen",), models=("m",), samples=10, seed=7)
    assert np.array_equal(short.vectors(BASE, stream="hen"), v[:10])
    assert np.array_equal(plan.vectors(BASE, [3999, 5, 17], stream="hen"), v[[3999, 5, 17]])
    assert np.array_equal(plan.vectors(BASE, [2001, 2000], stream="hen"), v[[2001, 2000]])
    # the draws of the first sweeps (the whole prefix drawn for every batch), so old sweeps resume alike
    rng = np.random.default_rng([7, zlib.crc32(b"hen")])
    assert np.array_equal(v[:, [INDEX[n] for n in plan.varied]][3990:], _scaled(rng.random((4000, 6))[3990:], plan))
    assert plan.varied == ("yaw", "pitch", "roll", "x", "y", "z")
    for name in plan.varied:
        p, col = PARAM_BY_NAME[name], v[:, INDEX[name]]
        assert p.low <= col.min() < p.low + 0.02 * p.span and p.high - 0.02 * p.span < col.max() <= p.high
        counts = np.histogram(col, bins=8, range=(p.low, p.high))[0]
        assert counts.min() > 0.8 * 500 and counts.max() < 1.2 * 500, (name, counts)  # uniform
    for name in ("ambient", "light_azimuth", "fov"):
        assert np.all(v[:, INDEX[name]] == BASE[name])  # not sampled: the base pose's value


def test_grid_plans_are_regular_and_in_product_order():
    plan = SweepPlan(objects=("hen",), models=("m",), grid=parse_grid("yaw=4, pitch=3, z=3"))
    assert plan.samples == 36 and plan.mode == "grid" and plan.varied == ("yaw", "pitch", "z")
    v = plan.vectors(BASE)
    assert list(np.unique(v[:, INDEX["yaw"]])) == [-180.0, -90.0, 0.0, 90.0]  # full circle, no duplicate end
    assert list(np.unique(v[:, INDEX["z"]])) == [-28.0, -15.5, -3.0]  # end to end
    assert tuple(v[1, [INDEX["yaw"], INDEX["pitch"], INDEX["z"]]]) == (-180.0, -180.0, -15.5)  # last name fastest
    assert tuple(v[35, [INDEX["yaw"], INDEX["pitch"], INDEX["z"]]]) == (90.0, 60.0, -3.0)
    one = SweepPlan(objects=("hen",), models=("m",), grid=(("yaw", 2), ("roll", 1)))
    assert np.all(one.vectors(BASE)[:, INDEX["roll"]] == BASE.roll) and one.varied == ("yaw",)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"samples": 0}, "--samples >= 1"),
        ({"samples": 5, "groups": ("rotation", "colour")}, "unknown parameter group"),
        ({"grid": (("spin", 3),)}, "unknown grid parameter"),
        ({"grid": (("yaw", 0),)}, "whole number of steps"),
        ({"grid": (("yaw", 3), ("yaw", 4))}, "listed twice"),
        ({"samples": 5, "models": ("a", "a")}, "models listed twice"),
        ({"samples": 5, "objects": ()}, "at least one object"),
        ({"samples": 10_000_001}, "10,000,001 poses per object is more than a sweep holds"),
        ({"grid": (("yaw", 10**5), ("pitch", 10**5), ("roll", 10**5), ("z", 10**5))}, "split the grid"),
    ],
)
def test_bad_plans_are_refused_with_a_clear_error(kwargs, match):
    args = {"objects": ("hen",), "models": ("m",), **kwargs}
    with pytest.raises(SweepError, match=match):
        SweepPlan(**args)


def test_grid_text_errors():
    for text in ("yaw", "yaw=x", "yaw=-3", ""):
        with pytest.raises(SweepError):
            parse_grid(text)


def test_several_classification_streams_give_the_same_rows_in_pose_order(ctx, eager_classifier):
    """Batches classified by three one-thread workers at once come out as one worker makes
    them (same poses, order and top-5; probabilities to float rounding), and torch's
    thread count is given back afterwards."""
    plan = SweepPlan(objects=("hen", "barrel"), models=(eager_classifier.name,), samples=10, seed=4)
    objects = [resolve_object(n) for n in plan.objects]
    threads = torch.get_num_threads()
    runs = {}
    for streams in (1, 3):
        rows: list[dict] = []
        made = run_sweep(plan, objects, [eager_classifier], rows.extend, lambda _o, _m: range(10), ctx=ctx, batch=3,
                         streams=streams)  # fmt: skip
        assert made == len(rows) == 20
        with ThreadPoolExecutor(1) as later:  # a thread started afterwards has torch's full count
            assert later.submit(torch.get_num_threads).result() == threads
        runs[streams] = rows
    one, three = runs[1], runs[3]
    assert [(r["object"], r["index"]) for r in three] == [(o, i) for o in plan.objects for i in range(10)]
    assert [(r["object"], r["index"], r["top1"]) for r in one] == [(r["object"], r["index"], r["top1"]) for r in three]
    assert [float(r["true_prob"]) for r in one] == pytest.approx([float(r["true_prob"]) for r in three], abs=1e-4)
    with pytest.raises(SweepError, match="streams must be >= 1"):
        run_sweep(plan, objects, [eager_classifier], rows.extend, lambda _o, _m: range(10), ctx=ctx, streams=0)
