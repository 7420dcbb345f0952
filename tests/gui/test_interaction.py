"""Mouse interaction maths, without a window: arcball, drag-to-translate, zoom, light."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.core.params import PARAM_BY_NAME, Pose, rotation_matrix, world_translation
from app.gui import interaction
from app.gui.interaction import DragMode, drag_mode
from app.render.renderer import model_view_matrix, projection_matrix

VIEW = (0, 0, 800, 600)  # x, y, w, h; centre (400, 300); ball radius 300


def rot(p: Pose) -> np.ndarray:
    return rotation_matrix(p.yaw, p.pitch, p.roll)


def angle_between(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in degrees of the rotation a^T b."""
    c = (np.trace(a.T @ b) - 1) / 2
    return math.degrees(math.acos(np.clip(c, -1, 1)))


def test_horizontal_drag_turns_about_the_vertical_axis():
    p = interaction.arcball_drag(Pose(), (400, 300), (450, 300), VIEW)
    assert p.yaw > 5 and abs(p.pitch) < 1e-6 and abs(p.roll) < 1e-6  # front turns towards the mouse (+x)


def test_vertical_drag_turns_about_the_horizontal_axis():
    p = interaction.arcball_drag(Pose(), (400, 300), (400, 360), VIEW)  # y up: dragging up
    r = rot(p)
    assert r @ np.array([0, 0, 1]) @ np.array([0, 1, 0]) > 0.1  # the front turned up
    assert abs(r[0, 0] - 1) < 1e-9  # x axis unchanged


def test_drag_at_the_rim_rolls_about_the_view_axis():
    # outside the ball, a drag around the centre turns about the view (z) axis
    p = interaction.arcball_drag(Pose(), (800, 300), (790, 400), VIEW)
    r = rot(p)
    assert abs(r[2, 2]) > 0.99  # the view axis stays put
    assert angle_between(np.eye(3), r) > 5


@pytest.mark.parametrize("seed", range(6))
def test_arcball_is_the_same_screen_rotation_at_every_orientation(seed):
    """The drag applies the same camera-space rotation whatever the object's pose (no gimbal effects)."""
    rng = np.random.default_rng(seed)
    start = Pose(yaw=rng.uniform(-180, 180), pitch=rng.choice([89.9, -89.9, rng.uniform(-180, 180)]), roll=0.0)
    a, b = (300, 250), (380, 330)
    expected = interaction.rotation_between(interaction.arcball_point(*a, VIEW), interaction.arcball_point(*b, VIEW))
    moved = interaction.arcball_drag(start, a, b, VIEW)
    assert np.allclose(rot(moved), expected @ rot(start), atol=1e-6)


def test_drag_and_back_returns_to_the_start():
    start = Pose(yaw=30, pitch=-20, roll=10)
    there = interaction.arcball_drag(start, (350, 280), (470, 360), VIEW)
    back = interaction.arcball_drag(there, (470, 360), (350, 280), VIEW)
    assert angle_between(rot(start), rot(back)) < 1e-6
    assert angle_between(rot(start), rot(there)) > 10


def test_many_small_drags_equal_one_long_drag_along_a_line_through_the_centre():
    start = Pose(yaw=10)
    one = interaction.arcball_drag(start, (400, 300), (520, 300), VIEW)
    steps = start
    for x in range(400, 520, 4):
        steps = interaction.arcball_drag(steps, (x, 300), (x + 4, 300), VIEW)
    assert angle_between(rot(one), rot(steps)) < 1e-6


def test_arcball_results_stay_in_the_declared_ranges():
    p = Pose(yaw=179.9, pitch=179.9, roll=-179.9)
    for _ in range(20):
        p = interaction.arcball_drag(p, (390, 290), (440, 340), VIEW)
        for name in ("yaw", "pitch", "roll"):
            assert PARAM_BY_NAME[name].low <= p[name] <= PARAM_BY_NAME[name].high


def project_centre(pose: Pose, w: int, h: int) -> tuple[float, float]:
    """Pixel (x right, y up) of the object's centre."""
    clip = projection_matrix(pose.fov, w, h) @ model_view_matrix(pose) @ np.array([0, 0, 0, 1.0])
    ndc = clip[:3] / clip[3]
    return (ndc[0] + 1) / 2 * w, (ndc[1] + 1) / 2 * h


@pytest.mark.parametrize("z", [-4.0, -9.0, -25.0])
def test_translate_drag_keeps_the_object_under_the_mouse(z):
    pose = Pose(z=z, x=0.1, y=-0.2)
    x0, y0 = project_centre(pose, 800, 600)
    moved = interaction.translate_drag(pose, 37, -21, VIEW)
    x1, y1 = project_centre(moved, 800, 600)
    assert (x1 - x0, y1 - y0) == pytest.approx((37, -21), abs=1e-6)
    assert world_translation(moved)[2] == z


def test_translate_drag_is_clipped_to_the_view():
    moved = interaction.translate_drag(Pose(), 10_000, -10_000, VIEW)
    assert (moved.x, moved.y) == (1.0, -1.0)


def test_zoom_moves_nearer_and_stays_in_range():
    p = Pose(z=-9.0)
    assert interaction.zoom(p, 1).z > p.z  # nearer = less negative
    assert interaction.zoom(p, -1).z < p.z
    assert interaction.zoom(p, 100).z == PARAM_BY_NAME["z"].high
    assert interaction.zoom(p, -100).z == PARAM_BY_NAME["z"].low
    assert interaction.zoom(interaction.zoom(p, 3), -3).z == pytest.approx(p.z)


def test_light_drag_wraps_azimuth_and_clips_elevation():
    p = Pose(light_azimuth=170.0, light_elevation=80.0)
    moved = interaction.light_drag(p, 100, 100, VIEW)  # 100 px of 600 -> 30 degrees
    assert moved.light_azimuth == pytest.approx(-160.0)
    assert moved.light_elevation == 90.0
    assert moved.yaw == p.yaw and moved.x == p.x  # the object does not move


@pytest.mark.parametrize(
    "buttons, expected",
    [
        (dict(left=True), DragMode.ROTATE),
        (dict(right=True), DragMode.TRANSLATE),
        (dict(middle=True), DragMode.TRANSLATE),
        (dict(left=True, shift=True), DragMode.TRANSLATE),
        (dict(left=True, ctrl=True), DragMode.LIGHT),
        (dict(left=True, alt=True), DragMode.LIGHT),
        ({}, None),
    ],
)
def test_drag_modes(buttons, expected):
    args = dict(left=False, right=False, middle=False, shift=False, ctrl=False, alt=False) | buttons
    assert drag_mode(**args) is expected


def test_input_alone_redraws_the_window_slowly_while_a_pose_search_runs():
    """The window's frame pacing (app.gui.window.frame_due): full rate for a second after input,
    except while a search (or a map, a lens) runs, whose renders the frames would slow 3-4 times."""
    from app.gui.window import ACTIVE_AFTER_INPUT, COMPUTING_INPUT_INTERVAL, IDLE_INTERVAL, frame_due

    now = 100.0
    just_drawn = {"last_input": now - 0.1, "last_draw": now - 0.02}
    assert frame_due(now, changed=False, computing=False, **just_drawn)  # input: 60 Hz
    assert not frame_due(now, changed=False, computing=True, **just_drawn)  # unless a search runs
    assert frame_due(now, changed=False, computing=True, last_input=now - 0.1,
                     last_draw=now - COMPUTING_INPUT_INTERVAL - 0.01)  # fmt: skip
    assert frame_due(now, changed=True, computing=True, **just_drawn)  # what is shown changed: always
    quiet = {"last_input": now - ACTIVE_AFTER_INPUT - 0.1, "last_draw": now - 0.1}
    assert not frame_due(now, changed=False, computing=False, **quiet)
    assert frame_due(now, changed=False, computing=True, last_input=quiet["last_input"],
                     last_draw=now - IDLE_INTERVAL - 0.01)  # fmt: skip
