"""The view's glide between poses: pure functions of time, no window."""

import numpy as np
import pytest

from app.core.glide import MAX_SECONDS, MIN_SECONDS, Glide, glide_seconds
from app.core.params import HIGHS, LOWS, Pose, pose_change


def test_a_glide_starts_at_its_start_ends_exactly_at_its_end_and_moves_every_value_one_way():
    a = Pose(yaw=-40.0, pitch=10.0, x=0.3, z=-12.0, ambient=0.2)
    b = Pose(yaw=100.0, pitch=-70.0, x=-0.5, z=-6.0, ambient=0.9)
    g = Glide(a, b, now=10.0)
    assert g.pose(10.0) == a and g.pose(10.0 + g.seconds) is b and g.done(10.0 + g.seconds)
    shown = np.array([g.pose(10.0 + t).vector for t in np.linspace(0.0, g.seconds, 50)])
    steps = np.diff(shown, axis=0) * np.sign(b.vector - a.vector)
    assert (steps >= -1e-12).all()  # no value turns back
    assert np.abs(steps).max() < 0.1 * np.abs(b.vector - a.vector).max()  # and none jumps


def test_angles_glide_the_shorter_way_round():
    a, b = Pose(yaw=170.0, roll=-175.0), Pose(yaw=-170.0, roll=175.0)
    assert pose_change(a, b)[0] == pytest.approx(20.0) and pose_change(a, b)[2] == pytest.approx(-10.0)
    g = Glide(a, b, now=0.0)
    yaws = [g.pose(t).yaw for t in np.linspace(0.0, g.seconds, 40)]
    assert min(abs(y) for y in yaws) > 165.0  # across the seam at 180, never through 0
    assert all(LOWS[0] <= y <= HIGHS[0] for y in yaws)


def test_longer_changes_take_longer_within_bounds():
    a = Pose()
    times = [glide_seconds(a, a.replace(yaw=d)) for d in (0.0, 10.0, 90.0, 180.0)]
    assert times[0] == MIN_SECONDS and times == sorted(times) and times[-1] == MAX_SECONDS
    assert glide_seconds(a, a.replace(yaw=-170.0)) == glide_seconds(a, a.replace(yaw=170.0))
