"""Recordings of search runs: which frames, how many, labelled."""

from __future__ import annotations

import numpy as np

from app.core.params import Pose, largest_change
from app.search.result import SearchResult
from app.search.space import Budget
from tests.conftest import load_scene


def test_a_recording_turns_between_poses_far_apart_and_stays_short():
    """In-between frames: about one per 18 degrees of the largest change, at most 8 between
    two poses and 120 in a recording; poses close together get none."""
    from app.search.recording import MAX_TURN_TOTAL, recording_plan

    def run(poses: list[Pose]) -> SearchResult:
        history = [{f"current_{k}": v for k, v in p.to_dict().items()} for p in poses]
        return SearchResult("grad", poses[-1], 1.0, True, len(poses), len(poses), 1.0, 1.0, False, history)

    start, far = Pose(), Pose(yaw=150.0, pitch=40.0)
    plan = recording_plan(start, run([start, far]))
    assert [c for _, c in plan] == ["start", "grad  iteration 1/2", *["grad  to iteration 2/2"] * 8,
                                    "grad  iteration 2/2", "grad  best pose"]  # fmt: skip
    yaws = [p.yaw for p, _ in plan[1:-1]]
    assert yaws == sorted(yaws) and plan[-2][0] == far
    near = [Pose(yaw=float(y)) for y in range(0, 20, 2)]
    assert len(recording_plan(start, run(near))) == 1 + len(near) + 1  # 2-degree steps: nothing in between
    to_and_fro = [Pose(yaw=150.0 * (i % 2)) for i in range(100)]
    plan = recording_plan(start, run(to_and_fro))
    assert sum("  to " in c for _, c in plan) <= MAX_TURN_TOTAL
    assert max(largest_change(a, b) for (a, _), (b, _) in zip(plan, plan[1:], strict=False)) < 150.0 / 360.0


def test_a_long_run_records_evenly_spaced_iterations_each_labelled(batch_pipeline, tmp_path):
    """At most ``limit`` iterations are shown, from the first to the last, so a long run's
    recording stays short; each frame is the render of its pose."""
    import imageio.v3 as iio

    from app.search.recording import (
        MAX_TURN_FRAMES,
        frame_count,
        history_poses,
        record_run,
        recording_plan,
        shown_iterations,
    )

    assert shown_iterations(3, 5) == [1, 2, 3]
    assert shown_iterations(9, 5) == [1, 3, 5, 7, 9] and shown_iterations(100, 4) == [1, 34, 67, 100]
    obj, space, goal = load_scene(batch_pipeline, "hen")
    r = batch_pipeline.search("random", space, goal, Budget(iterations=7), seed=0)
    assert r.iterations == 7
    gif = record_run(batch_pipeline, obj.canonical_pose, r, obj.imagenet_class, None, tmp_path / "run.gif", limit=4)
    frames = iio.imread(gif, index=None)[..., :3].astype(float)
    plan = recording_plan(obj.canonical_pose, r, 4)
    assert len(frames) == len(plan) == frame_count(obj.canonical_pose, r, 4)
    visited = history_poses(r.history)
    kept = [obj.canonical_pose, visited[0], visited[2], visited[4], visited[6], r.best]  # start, 1, 3, 5, 7, best
    assert [p for p, caption in plan if "  to " not in caption] == kept
    turns = [c for _, c in plan if "  to " in c]
    assert turns and all(turns.count(c) <= MAX_TURN_FRAMES for c in set(turns))  # random jumps far: it turns
    for frame, (pose, _) in zip(frames, plan, strict=True):
        halved = frame[36:].reshape(224, 2, 224, 2, 3).mean(axis=(1, 3))
        assert np.abs(halved - batch_pipeline.render(pose)).mean() < 4  # GIF colours; other poses differ by 10-40
    assert np.abs(frames[2] - frames[3]).mean() > 1  # a frame per pose, not one held
