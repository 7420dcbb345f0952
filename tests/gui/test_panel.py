"""The panel: sliders and the pose agree both ways, messages never move widgets, everything fits."""

from __future__ import annotations

import numpy as np
import pytest
from imgui_bundle import imgui

from app.core.imagenet import class_names
from app.core.params import GROUPS, PARAM_BY_NAME
from app.gui.interaction import DragMode
from tests.gui.conftest import H, W


def test_messages_arriving_never_move_the_widgets_below_them(stage):
    """A search's end and its capture post messages just when a hand goes to Revert: the
    message box keeps its height and shows the newest messages that fit, the newest last."""
    stage.state.live_enabled = False
    stage.draw(3)  # the panel's scrollbar appears a frame after its content outgrows it
    before = dict(stage.panel.item_rects)
    long = "cannot load /a/long/path/to/a/mesh.obj: " + "a long reason, " * 30
    previous = None
    for i, text in enumerate(["first", "second", long, "third", "fourth"]):
        stage.ex.notify(text, error=i == 2)
        state = stage.screen.drawn_state()
        assert state != previous  # each message redraws, past the six kept
        previous = state
        stage.draw()
        assert stage.panel.item_rects == before
        assert stage.panel.shown_messages[-1] == text
        if text == long:
            assert stage.panel.shown_messages == [long]  # taller than the box: shown alone, cut
    assert stage.panel.shown_messages == ["third", "fourth"]  # the long one no longer fits above them
    for i in range(10):
        stage.ex.notify(f"message {i}")
    stage.draw()
    assert stage.panel.item_rects == before
    assert stage.panel.shown_messages == [f"message {i}" for i in range(4, 10)]  # the six kept, all fit


def test_slider_drag_sets_the_pose(stage):
    stage.state.live_enabled = False
    stage.draw()
    x0, y0, x1, y1 = stage.panel.item_rects["yaw"]
    io = imgui.get_io()
    yc = (y0 + y1) / 2
    io.add_mouse_pos_event(x0 + 3, yc)
    stage.draw()
    io.add_mouse_button_event(0, True)
    stage.draw()
    values = []
    for f in (0.0, 0.3, 0.6, 0.75):
        io.add_mouse_pos_event(x0 + f * (x1 - x0), yc)
        stage.draw()
        values.append(stage.state.pose.yaw)
    io.add_mouse_button_event(0, False)
    stage.draw()
    yaw = PARAM_BY_NAME["yaw"]
    assert values[0] == yaw.low
    assert values == sorted(values) and len(set(values)) == 4  # follows the mouse
    assert yaw.low + 0.6 * yaw.span < values[-1] < yaw.low + 0.95 * yaw.span
    assert stage.state.pose.pitch == stage.state.obj.canonical_pose.pitch  # only yaw moved


@pytest.mark.parametrize("ui_scale", [1.0, 1.5])
def test_the_panel_fits_its_width_and_the_optimize_controls_offer_every_parameter_group(stage_factory, ui_scale):
    """Before, the group checkboxes read "rotat", "trans", "light" (cut to fit), the window
    could not search the camera group that run.py optimize --params camera searches, and the
    hints of the Atlas, attack and fragility sections ran off the panel."""
    st = stage_factory("hen", ui_scale=ui_scale)
    st.state.live_enabled = False
    st.panel.open_all = True
    options = st.ex.jobs.optimize.options
    options.set("first_step", 0.5)  # grad's own line with its slider shown
    st.draw(3)
    width = W * ui_scale
    right = width - imgui.get_style().scrollbar_size
    assert st.panel.content_right <= right  # no line runs off the panel
    rects = {k.removeprefix("optimize: "): v for k, v in st.panel.item_rects.items() if k.startswith("optimize")}
    assert set(GROUPS) | {"edge gradients", "first step", "first step value"} <= set(rects)
    assert len({rects[g][1] for g in GROUPS}) == 1  # one row
    for name, (x0, _y0, x1, _y1) in rects.items():
        assert width - st.panel.width <= x0 and x1 <= right, (name, x1, right)
    assert options.groups == {"rotation": True, "translation": False, "light": False, "camera": False}


@pytest.mark.slow
def test_lines_with_long_names_wrap_inside_the_panel(stage):
    """Status lines hold object, model and class names of any length.  As plain text, the
    Atlas line of the reflex camera's fine map ran off the panel's right edge."""
    ex, right = stage.ex, W - imgui.get_style().scrollbar_size
    ex.load_object("reflex_camera")
    stage.until(lambda: stage.state.obj.name == "reflex_camera", "the reflex camera")
    atlas = ex.jobs.atlas
    atlas.resolution = "fine"
    ex.act("atlas")
    stage.until(lambda: atlas.run.done_cells >= 10, "the first cells of the map")
    ex.act("atlas")  # stop
    stage.until(lambda: not atlas.running, "the map to stop")
    stage.draw()
    assert stage.panel.content_right <= right
    longest = max(range(1000), key=lambda i: len(class_names()[i]))
    stage.state.target_class = longest
    o = ex.jobs.optimize.options
    o.method, o.iterations, o.seconds = "random", 3, 600.0  # three batches of random poses
    ex.act("optimize")
    stage.until(lambda: not ex.jobs.optimize.active, "the search")
    stage.until(stage.predicted, "a prediction")
    stage.panel.open_all = True
    stage.draw(3)
    assert stage.panel.optimize_status.startswith(f"target missed ({class_names()[longest]});")
    assert stage.panel.content_right <= right


def grab_position(img: np.ndarray, rect) -> float:
    """Relative x of the slider grab (the blue block) inside a slider rectangle."""
    x0, y0, x1, y1 = (int(round(v)) for v in rect)
    strip = img[(y0 + y1) // 2, x0:x1].astype(int)
    blue = (strip[:, 2] > 150) & (strip[:, 2] > strip[:, 0] + 60)
    assert blue.any(), "no slider grab found"
    return float(np.flatnonzero(blue).mean()) / (x1 - x0)


def test_sliders_follow_a_mouse_drag_in_the_view(stage):
    """After an arcball drag, the yaw slider's grab is drawn where the new yaw belongs."""
    s, ex = stage.state, stage.ex
    s.live_enabled = False

    def grab_at(yaw: float) -> float:
        s.pose = s.pose.replace(yaw=yaw)
        stage.draw()
        return grab_position(stage.image(), stage.panel.item_rects["yaw"])

    right = grab_at(150.0)
    left = grab_at(-150.0)
    view = stage.screen.view_rect(W, H)
    cx, cy = view[2] / 2, view[3] / 2
    ex.start_drag(DragMode.ROTATE, cx, cy)
    for dx in range(0, 200, 20):
        ex.drag_to(cx + dx, cy, view)
    ex.end_drag()
    stage.draw()
    after = grab_position(stage.image(), stage.panel.item_rects["yaw"])
    assert s.pose.yaw > -120  # the drag turned the object
    expected = left + (right - left) * (s.pose.yaw + 150) / 300
    assert after == pytest.approx(expected, abs=0.03)
    assert after > left + 0.05
