"""The explorer without a window: real EGL, real ImGui, the real bundled classifier.

The window is a thin layer over :class:`Explorer`; here its frames go to an offscreen
framebuffer and ImGui gets synthetic mouse input, so slider <-> pose sync, live
predictions, captures and pose files are checked on every machine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from imgui_bundle import imgui
from PIL import Image

from app.background.live import Frame, LiveClassifier
from app.core.imagenet import class_names
from app.core.params import GROUPS, PARAM_BY_NAME, Pose, describe_change
from app.core.params import largest_change as moved
from app.gui.capture import SUFFIXES
from app.gui.explorer import SHORTCUTS, Explorer
from app.scene.library import resolve_object
from app.search.recording import frame_count
from tests.conftest import ARTIFACTS, ROOT

W, H = 1024, 768


@pytest.fixture
def screen(ctx):
    fbo = ctx.framebuffer(color_attachments=[ctx.texture((W, H), 4)], depth_attachment=ctx.depth_renderbuffer((W, H)))
    yield fbo
    fbo.release()


@pytest.fixture
def explorer(ctx, classifier, tmp_path):
    ex = Explorer(ctx, classifier, resolve_object("teddy_bear"), captures_dir=tmp_path / "captures")
    yield ex
    # the worker's one-off TorchScript freeze can take long on a busy machine
    assert ex.close(timeout=60), "the classifier worker did not stop"


def run_until(ex: Explorer, fbo, condition, timeout: float = 60.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        ex.draw(fbo, (W, H))
        time.sleep(0.01)


def image_of(fbo) -> np.ndarray:
    return np.frombuffer(fbo.read(components=3), np.uint8).reshape(H, W, 3)[::-1]


def fresh_result(ex: Explorer):
    return ex.result is not None and ex.result.frame.key == ex.scene_key


def test_frame_shows_the_object_the_panel_and_a_correct_live_prediction(explorer, screen):
    run_until(explorer, screen, lambda: fresh_result(explorer), what="the first prediction")
    explorer.draw(screen, (W, H))
    img = image_of(screen)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(ARTIFACTS / "explorer-frame.png")
    view_w = explorer.view_rect(W, H)[2]
    assert view_w == W - int(explorer.panel.width)
    view, panel = img[:, :view_w], img[:, view_w + 2 :]
    assert (view.astype(int).sum(axis=2) < 600).mean() > 0.1  # the teddy covers part of the white view
    assert panel.mean() < 90  # the dark panel
    top = explorer.result.top(5)
    assert top.indices[0] == 850  # teddy, the object's canonical pose is classified correctly
    assert explorer.result.rank_of(850) == 1
    assert explorer.result.frame.image.shape == (224, 224, 4)


def test_prediction_follows_the_newest_pose(explorer, screen):
    run_until(explorer, screen, lambda: fresh_result(explorer), what="the first prediction")
    first = explorer.result.probabilities[850]
    explorer.set_pose(explorer.pose.replace(pitch=-100.0, roll=40.0))
    run_until(explorer, screen, lambda: fresh_result(explorer), what="the prediction of the new pose")
    assert explorer.result.frame.pose == explorer.pose
    assert explorer.result.probabilities[850] < first - 0.2


def test_live_classifier_skips_stale_frames_and_keeps_the_newest(classifier):
    live = LiveClassifier(classifier)
    try:
        gate = threading.Event()
        live.run_job(lambda _clf: gate.wait(30), lambda _r: None)  # keep the worker busy
        images = [np.full((224, 224, 4), v, np.uint8) for v in (0, 60, 120, 180, 250)]
        for i, img in enumerate(images):
            live.submit(Frame(img, Pose(yaw=float(i)), key=i, stamp=time.perf_counter()))
        gate.set()
        end = time.monotonic() + 60
        while (live.latest() is None or not live.idle) and time.monotonic() < end:
            time.sleep(0.01)
        assert live.latest() is not None and live.latest().frame.key == 4  # only the newest was classified
    finally:
        assert live.close()


def test_closing_the_live_classifier_finishes_the_jobs_that_write_files_and_drops_the_rest(classifier):
    live = LiveClassifier(classifier)
    busy, gate, ran, delivered = threading.Event(), threading.Event(), [], []
    live.run_job(lambda _clf: busy.set() or gate.wait(30), lambda _r: None)  # keep the worker busy
    assert busy.wait(30)  # the worker runs that job: close() lets it end
    live.run_job(lambda _clf: ran.append("load a model"), delivered.append)
    live.run_job(lambda _clf: ran.append("capture") or "captured", delivered.append, finish_on_close=True)
    threading.Timer(0.3, gate.set).start()
    assert live.close()
    assert ran == ["capture"]
    assert live.poll() == 2 and delivered == ["captured"]  # the busy job's result and the capture's


def test_messages_arriving_never_move_the_widgets_below_them(explorer, screen):
    """A search's end and its capture post messages just when a hand goes to Revert: the
    message box keeps its height and shows the newest messages that fit, the newest last."""
    explorer.live_enabled = False
    for _ in range(3):  # the panel's scrollbar appears a frame after its content outgrows it
        explorer.draw(screen, (W, H))
    before = dict(explorer.panel.item_rects)
    long = "cannot load /a/long/path/to/a/mesh.obj: " + "a long reason, " * 30
    previous = None
    for i, text in enumerate(["first", "second", long, "third", "fourth"]):
        explorer.notify(text, error=i == 2)
        state = explorer.drawn_state()
        assert state != previous  # each message redraws, past the deque's 6
        previous = state
        explorer.draw(screen, (W, H))
        assert explorer.panel.item_rects == before
        assert explorer.panel.shown_messages[-1] == text
        if text == long:
            assert explorer.panel.shown_messages == [long]  # taller than the box: shown alone, cut
    assert explorer.panel.shown_messages == ["third", "fourth"]  # the long one no longer fits above them
    for i in range(10):
        explorer.notify(f"message {i}")
    explorer.draw(screen, (W, H))
    assert explorer.panel.item_rects == before
    assert explorer.panel.shown_messages == [f"message {i}" for i in range(4, 10)]  # the six kept, all fit


def test_slider_drag_sets_the_pose(explorer, screen):
    explorer.live_enabled = False
    explorer.draw(screen, (W, H))
    x0, y0, x1, y1 = explorer.panel.item_rects["yaw"]
    io = imgui.get_io()
    yc = (y0 + y1) / 2
    io.add_mouse_pos_event(x0 + 3, yc)
    explorer.draw(screen, (W, H))
    io.add_mouse_button_event(0, True)
    explorer.draw(screen, (W, H))
    values = []
    for f in (0.0, 0.3, 0.6, 0.75):
        io.add_mouse_pos_event(x0 + f * (x1 - x0), yc)
        explorer.draw(screen, (W, H))
        values.append(explorer.pose.yaw)
    io.add_mouse_button_event(0, False)
    explorer.draw(screen, (W, H))
    yaw = PARAM_BY_NAME["yaw"]
    assert values[0] == yaw.low
    assert values == sorted(values) and len(set(values)) == 4  # follows the mouse
    assert yaw.low + 0.6 * yaw.span < values[-1] < yaw.low + 0.95 * yaw.span
    assert explorer.pose.pitch == explorer.obj.canonical_pose.pitch  # only yaw moved


@pytest.mark.parametrize("ui_scale", [1.0, 1.5])
def test_the_panel_fits_its_width_and_the_optimize_controls_offer_every_parameter_group(
    ctx, classifier, tmp_path, ui_scale
):
    """Before, the group checkboxes read "rotat", "trans", "light" (cut to fit), the window
    could not search the camera group that run.py optimize --params camera searches, and the
    hints of the Atlas, attack and fragility sections ran off the panel."""
    ex = Explorer(ctx, classifier, resolve_object("hen"), captures_dir=tmp_path, ui_scale=ui_scale)
    try:
        ex.live_enabled = False
        width, height = W * ui_scale, H * ui_scale
        target = ctx.simple_framebuffer((int(width), int(height)))
        ex.panel.open_all = True
        ex.optimize_options.first_step = 0.5  # grad's own line with its slider shown
        for _ in range(3):
            ex.draw(target, (width, height))
        assert ex.panel.content_right <= width - imgui.get_style().scrollbar_size  # no line runs off the panel
        rects = {k.removeprefix("optimize: "): v for k, v in ex.panel.item_rects.items() if k.startswith("optimize")}
        assert set(GROUPS) | {"edges", "first step", "first step value"} <= set(rects)
        assert len({rects[g][1] for g in GROUPS}) == 1  # one row
        right = width - imgui.get_style().scrollbar_size
        for name, (x0, _y0, x1, _y1) in rects.items():
            assert width - ex.panel.width <= x0 and x1 <= right, (name, x1, right)
        assert ex.optimize_options.groups == {"rotation": True, "translation": False, "light": False, "camera": False}
        target.release()
    finally:
        ex.close()


def test_lines_with_long_names_wrap_inside_the_panel(explorer, screen):
    """Status lines hold object, model and class names of any length.  As plain text, the
    Atlas line of the reflex camera's fine map ran off the panel's right edge."""
    right = W - imgui.get_style().scrollbar_size
    explorer.load_object("reflex_camera")
    run_until(explorer, screen, lambda: explorer.obj.name == "reflex_camera", what="the reflex camera")
    explorer.atlas_resolution = "fine"
    explorer.act("atlas")
    run_until(explorer, screen, lambda: explorer.atlas.done_cells >= 10, what="the first cells of the map")
    explorer.act("atlas")  # stop
    run_until(explorer, screen, lambda: not explorer.mapping, what="the map to stop")
    explorer.draw(screen, (W, H))
    assert explorer.panel.content_right <= right
    longest = max(range(1000), key=lambda i: len(class_names()[i]))
    explorer.target_class = longest
    o = explorer.optimize_options
    o.method, o.seconds = "random", 1.0
    explorer.act("optimize")
    run_until(explorer, screen, lambda: not explorer.optimizing, timeout=60, what="the search")
    run_until(explorer, screen, lambda: fresh_result(explorer), what="a prediction")
    explorer.panel.open_all = True
    for _ in range(3):
        explorer.draw(screen, (W, H))
    assert explorer.panel.optimize_status.startswith(f"did not reach {class_names()[longest]};")
    assert explorer.panel.content_right <= right


def grab_position(img: np.ndarray, rect) -> float:
    """Relative x of the slider grab (the blue block) inside a slider rectangle."""
    x0, y0, x1, y1 = (int(round(v)) for v in rect)
    strip = img[(y0 + y1) // 2, x0:x1].astype(int)
    blue = (strip[:, 2] > 150) & (strip[:, 2] > strip[:, 0] + 60)
    assert blue.any(), "no slider grab found"
    return float(np.flatnonzero(blue).mean()) / (x1 - x0)


def test_sliders_follow_a_mouse_drag_in_the_view(explorer, screen):
    """After an arcball drag, the yaw slider's grab is drawn where the new yaw belongs."""
    explorer.live_enabled = False

    def grab_at(yaw: float) -> float:
        explorer.set_pose(explorer.pose.replace(yaw=yaw))
        explorer.draw(screen, (W, H))
        return grab_position(image_of(screen), explorer.panel.item_rects["yaw"])

    right = grab_at(150.0)
    left = grab_at(-150.0)
    view = explorer.view_rect(W, H)
    cx, cy = view[2] / 2, view[3] / 2
    explorer.start_drag(interaction_rotate(), cx, cy)
    for dx in range(0, 200, 20):
        explorer.drag_to(cx + dx, cy, view)
    explorer.end_drag()
    explorer.draw(screen, (W, H))
    after = grab_position(image_of(screen), explorer.panel.item_rects["yaw"])
    assert explorer.pose.yaw > -120  # the drag turned the object
    expected = left + (right - left) * (explorer.pose.yaw + 150) / 300
    assert after == pytest.approx(expected, abs=0.03)
    assert after > left + 0.05


def interaction_rotate():
    from app.gui.interaction import DragMode

    return DragMode.ROTATE


def test_capture_writes_three_files_never_overwrites_and_reproduces(explorer, screen, tmp_path):
    out = tmp_path / "captures"
    out.mkdir()
    squatter = out / "teddy_bear-001-window.png"
    squatter.write_bytes(b"not mine")
    explorer.act("capture")
    run_until(explorer, screen, lambda: len(explorer.captures) == 1, what="the first capture")
    explorer.set_pose(explorer.pose.replace(yaw=100.0))
    explorer.act("capture")
    run_until(explorer, screen, lambda: len(explorer.captures) == 2, what="the second capture")
    assert squatter.read_bytes() == b"not mine"
    first, second = explorer.captures
    assert (first.stem, second.stem) == ("teddy_bear-002", "teddy_bear-003")
    for c in (first, second):
        assert [p.name for p in c.paths] == [f"{c.stem}{s}" for s in SUFFIXES]
    doc = json.loads(first.paths[2].read_text())
    assert doc["object"] == "teddy_bear" and doc["model"] == "efficientnet_lite0"
    assert doc["pose"] == explorer.obj.canonical_pose.to_dict()
    assert doc["settings"]["quality"] in ("fast", "high")
    assert doc["prediction"]["top5"][0]["label"] == "teddy" and doc["prediction"]["true_class"]["rank"] == 1
    window = np.asarray(Image.open(first.paths[1]))
    assert window.shape == (H, W, 3)
    # the CLI re-renders the model-input image exactly from the JSON
    again = tmp_path / "again.png"
    cmd = [sys.executable, "run.py", "render", "--pose", str(first.paths[2]), "--out", str(again)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=120)
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(first.paths[0])))


def test_captured_poses_can_be_revisited_and_pose_files_round_trip(explorer, screen):
    explorer.live_enabled = False
    explorer.set_pose(explorer.pose.replace(yaw=42.0, light_azimuth=90.0))
    explorer.act("capture")
    run_until(explorer, screen, lambda: len(explorer.captures) == 1, what="a capture")
    saved = explorer.save_pose()
    again = explorer.save_pose()
    assert saved is not None and again is not None and saved != again  # never overwritten
    explorer.act("reset_pose")
    assert explorer.pose.yaw != 42.0
    explorer.return_to(explorer.captures[0])
    assert explorer.pose.yaw == 42.0 and explorer.pose.light_azimuth == 90.0
    explorer.act("reset_pose")
    explorer.load_pose(saved)
    assert explorer.pose.yaw == 42.0


def test_bad_input_becomes_a_message_not_a_crash(explorer, screen, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"pose": {"yaw": "north"}}')
    pose = explorer.pose
    explorer.load_pose(broken)
    explorer.load_object("no_such_object")
    bad_mesh = tmp_path / "bad.obj"
    bad_mesh.write_text("v 0 0 0\nf 1 2 3\n")
    explorer.load_object(str(bad_mesh))
    run_until(explorer, screen, lambda: explorer.busy is None, what="the failed load")
    errors = [m.text for m in explorer.messages if m.error]
    assert any("yaw" in e for e in errors)
    assert any("no_such_object" in e for e in errors)
    assert any("bad" in e for e in errors)
    assert explorer.pose == pose and explorer.obj.name == "teddy_bear"


def test_switching_object_on_the_worker(explorer, screen):
    explorer.load_object("hen")
    run_until(explorer, screen, lambda: explorer.obj.name == "hen", what="the hen")
    assert explorer.pose == explorer.obj.canonical_pose
    run_until(explorer, screen, lambda: fresh_result(explorer), what="a prediction of the hen")
    assert explorer.result.top(1).indices[0] == 8


def test_every_shortcut_is_an_action_bound_to_real_keys(explorer):
    import pyglet

    pyglet.options["shadow_window"] = False  # importing pyglet.window must not need a display
    try:
        from pyglet.window import key
    except (ImportError, AttributeError) as e:  # no X11 client libraries (a bare GPU box); CI has them
        pytest.skip(f"pyglet.window cannot be imported here: {e}")

    bound = [getattr(key, name) for s in SHORTCUTS for name, _ in s.bindings]
    assert len(bound) == len(set(bound))  # no key does two things
    for s in SHORTCUTS:
        assert s.bindings
        for _, amount in s.bindings:
            explorer.act(s.action, amount)  # none raises
    with pytest.raises(ValueError):
        explorer.act("explode")


def test_toggles(explorer):
    s = explorer.settings
    textures, culling, live = s.textures, s.cull_back_faces, explorer.live_enabled
    explorer.act("toggle_texture")
    explorer.act("toggle_culling")
    explorer.act("toggle_live")
    assert (s.textures, s.cull_back_faces, explorer.live_enabled) == (not textures, not culling, not live)
    backgrounds = set()
    for _ in range(3):
        explorer.act("cycle_background")
        backgrounds.add(s.background)
    assert len(backgrounds) == 3
    yaw = explorer.pose.yaw
    explorer.act("yaw", 1)
    assert explorer.pose.yaw == pytest.approx(yaw + 5)


def test_model_switch_without_weights_shows_the_fallback_notice(explorer, screen):
    explorer.load_model("inception_v3")  # no weights here and STRIKE_OFFLINE: falls back
    run_until(explorer, screen, lambda: explorer.busy is None, what="the model load")
    assert explorer.classifier.name == "efficientnet_lite0"
    assert explorer.model_notice and "inception_v3" in explorer.model_notice
    assert any(m.error and "using the bundled efficientnet_lite0" in m.text for m in explorer.messages)
    run_until(explorer, screen, lambda: fresh_result(explorer), what="a prediction by the new model")


def test_weights_given_at_start_are_used_when_the_model_is_chosen_again(explorer, screen, tmp_path):
    bad = tmp_path / "inception.pth"
    bad.write_bytes(b"not a checkpoint")
    explorer.weights["inception_v3"] = bad
    explorer.load_model("inception_v3")
    run_until(explorer, screen, lambda: explorer.busy is None, what="the model load")
    assert any(m.error and str(bad) in m.text for m in explorer.messages)  # that file, not the fallback
    assert explorer.classifier.name == "efficientnet_lite0"


def test_unknown_model_is_a_message(explorer, screen):
    explorer.load_model("no_such_net")
    run_until(explorer, screen, lambda: explorer.busy is None, what="the failed model load")
    assert any(m.error and "no_such_net" in m.text for m in explorer.messages)
    assert explorer.classifier.name == "efficientnet_lite0"


def test_hidpi_framebuffer_twice_the_window(ctx, explorer):
    """A HiDPI window: the framebuffer has 2x the pixels of the window's units."""
    w2, h2 = 2 * W, 2 * H
    fbo = ctx.framebuffer(
        color_attachments=[ctx.texture((w2, h2), 4)], depth_attachment=ctx.depth_renderbuffer((w2, h2))
    )
    try:
        explorer.live_enabled = False
        explorer.draw(fbo, (W, H))
        img = np.frombuffer(fbo.read(components=3), np.uint8).reshape(h2, w2, 3)[::-1]
        panel_px = 2 * int(explorer.panel.width)
        assert img[:, w2 - panel_px + 4 :].mean() < 90  # the panel, at twice the size
        view = img[:, : w2 - panel_px]
        dark = view.sum(axis=2) < 600
        ys, xs = np.nonzero(dark)
        # the object is centred in the 3D view, at full pixel density
        assert abs(xs.mean() - view.shape[1] / 2) < 0.1 * view.shape[1]
        assert abs(ys.mean() - h2 / 2) < 0.1 * h2
        assert dark.mean() > 0.1
    finally:
        fbo.release()


def test_optimize_pose_in_the_app_fools_animates_keeps_best_and_captures(explorer, screen):
    """The gradient method (the default on the CPU), with the run recorded as a GIF."""
    import imageio.v3 as iio

    start = explorer.pose
    assert explorer.optimize_options.method == "grad"
    explorer.optimize_options.seconds = 30
    explorer.optimize_options.record = "gif"
    explorer.act("optimize")
    assert explorer.optimizing
    shown = []  # the pose of every frame drawn
    run_until(explorer, screen, lambda: shown.append(explorer.pose) or not explorer.optimizing, timeout=120,
              what="the search")  # fmt: skip
    assert not explorer.captures  # the search ended, and its best pose was captured once the view was there
    run_until(explorer, screen, lambda: len(explorer.captures) == 1, what="the capture of the best pose")
    result = explorer.optimize_run.result
    assert result is not None and result.success
    assert explorer.pose == result.best != start
    # the view turned into the fooling pose (the search got there in one long step): no frame
    # moved it by more than half the way
    assert result.iterations <= 2 and shown[-1] == result.best
    frame_steps = [moved(p, q) for p, q in zip(shown, shown[1:], strict=False)]
    assert 0.0 < max(frame_steps) < 0.5 * moved(start, result.best), (max(frame_steps), moved(start, result.best))
    assert explorer.captures[0].correct is False  # the captured best pose fools the classifier
    # "then nearest" (on by default) pulled the success back toward the start: the search's
    # step turned the teddy bear 133 degrees, the pose kept is 36 degrees from the start
    assert explorer.optimize_options.nearest and moved(start, result.best) < 0.2
    said = f"{describe_change(start, result.best)} from the start, pulled back from "
    said += describe_change(start, result.first_success, most=2)  # the first success, more than 100 degrees off
    assert moved(start, result.first_success) > 0.3 and any(said in m.text for m in explorer.messages)
    gif = explorer.optimize_run.recording
    assert gif is not None and gif.parent == explorer.captures_dir and gif.suffix == ".gif"
    frames = iio.imread(gif, index=None)
    assert len(frames) == frame_count(start, result) > 1 + result.iterations + 1  # turning into the far pose
    assert frames.shape[1] > explorer.classifier.input_size
    assert explorer.optimize_run.frames == (len(frames), len(frames))  # the panel followed them
    assert any("recorded the run" in m.text for m in explorer.messages)
    explorer.revert_optimize()
    run_until(explorer, screen, lambda: explorer.pose == start, timeout=5, what="the glide back to the start")
    assert not explorer.announce_closing()  # nothing running: nothing to say
    # from a pose that fools already, the nearest success is that pose, and the message says so
    explorer.pose, explorer.optimize_options.record = result.best, None
    explorer.act("optimize")
    run_until(explorer, screen, lambda: not explorer.optimizing, timeout=60, what="the search from a fooling pose")
    assert explorer.optimize_run.result.best == result.best == explorer.pose
    # (if the search's first success was elsewhere, the message names it too: "the start
    # itself, pulled back from yaw -145°, roll -106°" on CI, where the re-shaded start did not fool)
    assert "best pose kept (the start itself" in [m.text for m in explorer.messages if "done:" in m.text][-1]


def test_revert_glides_back_and_a_hand_on_the_pose_takes_over(explorer, screen):
    start, away = explorer.pose, explorer.pose.replace(yaw=explorer.pose.yaw + 150.0, pitch=40.0)
    explorer.optimize_start = start
    explorer.pose = away
    explorer.revert_optimize()
    shown = []
    run_until(explorer, screen, lambda: shown.append(explorer.pose) or explorer.pose == start, what="the glide")
    assert len(shown) > 3 and all(0.0 < moved(p, start) < moved(away, start) for p in shown[1:-1])
    explorer.pose = away
    explorer.revert_optimize()
    explorer.draw(screen, (W, H))
    explorer.set_param("roll", 30.0)  # a slider moved during the glide
    held = explorer.pose
    for _ in range(5):
        explorer.draw(screen, (W, H))
        time.sleep(0.05)
    assert explorer.pose == held  # the glide gave way
    explorer.glides = False
    explorer.revert_optimize()
    assert explorer.pose == start  # at once


def start_long_search(explorer: Explorer, screen, record: str | None = None) -> None:
    """A 120 s random search (recorded as ``record``) that has finished its first iteration."""
    o = explorer.optimize_options
    o.seconds, o.until_fooled, o.method, o.record = 120, False, "random", record
    explorer.act("optimize")
    run_until(explorer, screen, lambda: explorer.optimize_run.progress is not None, what="the first iteration")


def test_another_object_or_model_stops_the_search_whose_poses_are_then_neither_shown_nor_captured(explorer, screen):
    """Before, a search went on moving the new object to the old one's poses, and captured
    the new object in the old one's best pose at its end."""
    start_long_search(explorer, screen)
    run = explorer.optimize_run
    explorer.load_object("hen")
    run_until(explorer, screen, lambda: explorer.obj.name == "hen", what="the hen")
    assert run.join(60) and run.result.stopped
    assert any("the pose search on teddy_bear was stopped" in m.text for m in explorer.messages)
    for _ in range(5):
        explorer.draw(screen, (W, H))
    assert explorer.pose == explorer.obj.canonical_pose and not explorer.captures and not explorer.optimizing
    assert explorer.optimize_start is None  # nothing to revert to on this object
    explorer.act("optimize")  # and a search against a model that is replaced
    run_until(explorer, screen, lambda: explorer.optimize_run.progress is not None, what="the first iteration")
    run, run_classifier = explorer.optimize_run, explorer.classifier
    explorer.load_model("efficientnet_lite0")
    run_until(explorer, screen, lambda: explorer.classifier is not run_classifier, what="the new model")
    pose = explorer.pose
    assert run.join(60) and run.result.stopped
    stopped = "the pose search on hen was stopped: the model is now efficientnet_lite0"
    assert any(m.text == stopped for m in explorer.messages)
    for _ in range(5):
        explorer.draw(screen, (W, H))
    assert explorer.pose == pose and not explorer.captures and not explorer.optimizing


def test_stopping_the_search_keeps_a_valid_best_pose_and_records_it_as_mp4(explorer, screen):
    import imageio.v3 as iio

    start = explorer.pose
    start_long_search(explorer, screen, "mp4")
    assert explorer.announce_closing()  # closing the window now would say why it waits
    assert explorer.messages[-1].text.startswith("closing: the pose search stops and its recording is written")
    explorer.act("optimize")  # stop
    run_until(explorer, screen, lambda: not explorer.optimizing, timeout=60, what="the stop and the recording")
    explorer.draw(screen, (W, H))
    result = explorer.optimize_run.result
    assert result.stopped and result.elapsed < 60
    assert explorer.pose == result.best
    mp4 = explorer.optimize_run.recording
    assert mp4 is not None and mp4.name == f"{explorer.obj.name}-random-run.mp4"
    assert len(iio.imread(mp4, index=None)) == frame_count(start, result) + 12  # start, steps, best held 1.5 s


def test_closing_while_a_slow_recording_is_written_still_captures_the_best_pose(explorer, screen, monkeypatch):
    """Closing waits for a search's recording only so long (here not at all); the best pose
    is then captured without it, once, and the recording goes on being written."""
    import app.gui.explorer

    monkeypatch.setattr(app.gui.explorer, "RECORDING_WAIT", 0.0)
    start_long_search(explorer, screen, "gif")
    assert explorer.wind_down()  # a capture is due
    run = explorer.optimize_run
    assert not run.done and run.result is not None and run.result.stopped  # stopped, still recording
    assert "left unfinished; best pose captured" in explorer.messages[-1].text
    explorer.draw(screen, (W, H))  # the search is over: its outcome and best, and the recording's frames
    assert re.fullmatch(r"(FOOLED|not fooled), recording(: frame \d+ of \d+)?; best true class p 0\.\d{3}",
                        explorer.panel.optimize_status), explorer.panel.optimize_status  # fmt: skip
    run_until(explorer, screen, lambda: len(explorer.captures) == 1, what="the capture of the best pose")
    assert explorer.captures[0].pose == run.result.best == explorer.pose
    assert run.join(60) and run.recording is not None and run.recording.exists()
    for _ in range(3):
        explorer.draw(screen, (W, H))
    assert len(explorer.captures) == 1  # the run's end is not reported (and captured) a second time


def test_a_view_wider_than_the_largest_render_is_drawn_coarser_not_refused(explorer):
    """A framebuffer over 2 x 8192 pixels wide (a huge or HiDPI window) while the view moves
    at half resolution: before, "render size 49805x50 is out of range (1..8192)" ended the app."""
    assert explorer._scaled_view(18000, 100).size == (8192, 45)
    assert explorer._scaled_view(300, 200).size == (300, 200)


def test_optimize_without_groups_is_a_message(explorer):
    for g in explorer.optimize_options.groups:
        explorer.optimize_options.groups[g] = False
    explorer.act("optimize")
    assert not explorer.optimizing
    assert any(m.error and "no parameters" in m.text for m in explorer.messages)


def test_atlas_maps_yaw_and_pitch_in_the_background_and_a_click_loads_a_cell(explorer, screen):
    explorer.atlas_resolution = "coarse"
    start = explorer.pose
    explorer.act("atlas")
    assert explorer.mapping
    run_until(explorer, screen, lambda: not explorer.mapping, timeout=180, what="the atlas")
    explorer.draw(screen, (W, H))
    run = explorer.atlas
    assert run.error is None and run.done_cells == run.cells == 12 * 6
    assert (run.true_rank > 0).all()
    assert 0 < run.fraction_correct() < 1  # right in some poses, wrong in others
    assert run.fraction_correct() == pytest.approx((run.true_rank == 1).mean())
    assert any("atlas of teddy_bear / efficientnet_lite0: 72 of 72 poses" in m.text for m in explorer.messages)
    assert explorer.pose == start  # mapping never moves the view
    # the drawn cells have the colours of their ranks
    img = image_of(screen)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(ARTIFACTS / "explorer-atlas.png")
    x0, y0, x1, y1 = explorer.panel.item_rects["atlas_map"]
    cell = (x1 - x0) / 12
    wrong = np.argwhere(run.true_rank > 5)[0]
    right = np.argwhere(run.true_rank == 1)[0]

    def centre(row, col):
        return x0 + (col + 0.5) * cell, y0 + (6 - row - 0.5) * cell

    for (row, col), is_right in ((wrong, False), (right, True)):
        x, y = centre(row, col)
        r, g, b = img[int(y), int(x)].astype(int)
        assert (g > r + 60) if is_right else (r > g + 60), (row, col, (r, g, b))
    # a click shows that cell's pose; the live prediction agrees with the map
    click_at(explorer, screen, *centre(*wrong))
    assert explorer.pose == run.pose_at(*wrong)
    assert explorer.pose.z == start.z and explorer.pose.roll == start.roll
    run_until(explorer, screen, lambda: fresh_result(explorer), what="the prediction of the cell's pose")
    assert explorer.result.rank_of(850) == run.true_rank[tuple(wrong)]
    explorer.act("atlas")  # a map stopped part-way says so
    explorer.act("atlas")
    run_until(explorer, screen, lambda: "(stopped): " in explorer.messages[-1].text, timeout=60, what="the stop")
    assert not explorer.mapping and explorer.atlas.done_cells < 72


def click_at(explorer: Explorer, screen, x: float, y: float) -> None:
    io = imgui.get_io()
    io.add_mouse_pos_event(x, y)
    explorer.draw(screen, (W, H))
    io.add_mouse_button_event(0, True)
    explorer.draw(screen, (W, H))
    io.add_mouse_button_event(0, False)
    explorer.draw(screen, (W, H))


def test_lens_sections_attack_map_crops_and_dress_the_object_in_an_evolved_skin(explorer, screen):
    lenses = explorer.lenses
    run_until(explorer, screen, lambda: fresh_result(explorer), what="the first prediction")
    # pixel attack on the live input, as a job on the classifier's worker
    lenses.attack_method = "fgsm"
    lenses.start_attack()
    run_until(explorer, screen, lambda: lenses.attack is not None, what="the attack")
    r = lenses.attack
    assert r.label == 850 and r.linf == 2 and r.fooled  # the teddy bear, 2/255
    assert any(m.text.startswith("fgsm: fooled") for m in explorer.messages)
    explorer.draw(screen, (W, H))
    assert "attack_button" in explorer.panel.item_rects
    caps = explorer.captures_dir
    for _ in range(2):  # Save twice: new names, nothing written over
        x0, y0, x1, y1 = explorer.panel.item_rects["attack_save"]
        click_at(explorer, screen, (x0 + x1) / 2, (y0 + y1) / 2)
    run_until(explorer, screen, lambda: len(list(caps.glob("teddy_bear-attack*.json"))) == 2, what="two saves")
    doc = json.loads((caps / "teddy_bear-attack-2.json").read_text())
    assert doc["object"] == "teddy_bear" and doc["attacks"][0]["method"] == "fgsm" and doc["attacks"][0]["fooled"]
    saved = np.asarray(Image.open(caps / "teddy_bear-attack-2-fgsm.png"))
    assert np.array_equal(saved, r.adversarial)  # exactly the image that was classified
    sheet = Image.open(caps / "teddy_bear-attack.png")
    assert sheet.height == 2 * r.adversarial.shape[0] + 36 and sheet.width > 3 * 2 * r.adversarial.shape[1]
    # a running attack is stopped by its button (a PGD within 0.1/255 cannot fool: it would run all its steps)
    lenses.attack_method, lenses.attack_eps = "pgd", 0.1
    lenses.start_attack()
    explorer.draw(screen, (W, H))
    x0, y0, x1, y1 = explorer.panel.item_rects["attack_button"]
    click_at(explorer, screen, (x0 + x1) / 2, (y0 + y1) / 2)
    run_until(explorer, screen, lambda: not lenses.attacking, what="the stopped attack")
    assert lenses.attack.method == "pgd" and lenses.attack.stopped and lenses.attack.steps < 10
    assert "(stopped after" in explorer.messages[-1].text
    # fragility map of the full view, beside the window; a click on a cell shows the crop pair
    lenses.fragility_size, lenses.fragility_grid = 0.6, "coarse"
    lenses.start_fragility((W - int(explorer.panel.width), H))
    run_until(explorer, screen, lambda: not lenses.mapping_fragility, timeout=240, what="the fragility map")
    run = lenses.fragility
    assert run.error is None and run.map is not None and run.map.correct.shape == (6, 6)
    explorer.draw(screen, (W, H))
    x0, y0, x1, y1 = explorer.panel.item_rects["fragility_map"]
    scale = (x1 - x0) / run.image.shape[1]
    m = run.map
    col, row = 2, 3
    click_at(explorer, screen, x0 + (m.xs[col] + m.size / 2) * scale, y0 + (m.ys[row] + m.size / 2) * scale)
    assert lenses.fragility_cell == (row, col)
    assert explorer.messages[-1].text.startswith(f"crop {m.size} px at ({m.xs[col]}, {m.ys[row]})")
    assert any(t.text.startswith("fragility map, crop") for t in explorer.messages)
    x0, y0, x1, y1 = explorer.panel.item_rects["fragility_save"]
    click_at(explorer, screen, (x0 + x1) / 2, (y0 + y1) / 2)
    run_until(explorer, screen, lambda: (caps / "teddy_bear-fragility-fri.png").exists(), what="the saved map")
    doc = json.loads((caps / "teddy_bear-fragility.json").read_text())
    assert doc["maps"][0]["correct"] == m.correct.astype(int).tolist() and doc["maps"][0]["size"] == m.size
    assert doc["image_size"] == [run.image.shape[1], run.image.shape[0]] and doc["grid"] == 6
    assert Image.open(caps / "teddy_bear-fragility-maps.png").width > 500
    # evolution of skins; clicking the best elite dresses the object, and the live view follows
    run_until(explorer, screen, lambda: fresh_result(explorer), what="a prediction")
    before = explorer.result.probabilities.copy()
    lenses.start_evolve()
    run_until(explorer, screen, lambda: lenses.evolution.state.generation >= 2, timeout=120, what="two generations")
    lenses.evolution.stop()
    run_until(explorer, screen, lambda: not lenses.evolving, what="the evolution to stop")
    explorer.draw(screen, (W, H))
    assert any(t.text.startswith("evolution stopped at generation") for t in explorer.messages)
    x0, y0, x1, y1 = explorer.panel.item_rects["evolve_save"]
    click_at(explorer, screen, (x0 + x1) / 2, (y0 + y1) / 2)
    run_until(explorer, screen, lambda: list(caps.glob("teddy_bear-evolve/gallery-gen*.png")), what="the gallery")
    from app.lenses.evolve import EvolveState

    archive = EvolveState.load(caps / "teddy_bear-evolve" / "archive.json")
    assert archive.generation == lenses.evolution.state.generation and archive.object == "teddy_bear"
    assert len(list(caps.glob("teddy_bear-evolve/elites/*.png"))) == len(lenses.evolution.gallery())
    explorer.draw(screen, (W, H))
    best_class = lenses.evolution.gallery()[0][0]
    x0, y0, x1, y1 = explorer.panel.item_rects["elite0"]
    click_at(explorer, screen, (x0 + x1) / 2, y0 + 5)
    assert lenses.skin == (best_class, explorer.classifier.name) and explorer.renderer.has_skin
    run_until(explorer, screen, lambda: fresh_result(explorer), what="the prediction of the skinned object")
    assert not np.allclose(explorer.result.probabilities, before)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_of(screen)).save(ARTIFACTS / "explorer-lenses.png")
    right = W - imgui.get_style().scrollbar_size
    assert explorer.panel.content_right <= right  # Evolve, Save and Undress once ran off the panel
    x0, y0, x1, y1 = explorer.panel.item_rects["evolve_undress"]
    assert x1 <= right
    click_at(explorer, screen, (x0 + x1) / 2, (y0 + y1) / 2)
    assert lenses.skin is None and not explorer.renderer.has_skin


def test_the_search_station_keeps_its_pipeline_between_searches(classifier):
    """Searches reuse the station's pipeline while the model and the render settings stay
    (another object is uploaded into it); other settings or a failed search make a new one."""
    from app.background.station import SearchStation
    from app.render.renderer import RenderSettings

    station = SearchStation()
    hen, teddy = resolve_object("hen"), resolve_object("teddy_bear")
    meshes = {o.name: o.load() for o in (hen, teddy)}
    got, images = [], []

    def ask(settings, obj, fail=False):
        done = threading.Event()

        def job(st):
            try:
                got.append(st.pipeline(classifier, settings, obj, meshes[obj.name]))
                images.append(got[-1].render(obj.canonical_pose))  # on the station's thread, in its context
                if fail:
                    raise RuntimeError("a search that failed")
            finally:
                done.set()

        station.submit(job)
        assert done.wait(60)

    try:
        ask(RenderSettings(), hen)
        ask(RenderSettings(), hen)
        assert got[1] is got[0] and got[0].object is hen
        ask(RenderSettings(), teddy)
        assert got[2] is got[0] and got[2].object is teddy and got[2].mesh is meshes["teddy_bear"]
        assert images[2].std() > 10 and np.abs(images[2].astype(int) - images[0]).mean() > 10  # another object drawn
        ask(RenderSettings(textures=False), teddy)
        assert got[3] is not got[0] and not got[3].settings.textures
        ask(RenderSettings(textures=False), teddy, fail=True)
        ask(RenderSettings(textures=False), teddy)
        assert got[5] is not got[4] is got[3]
    finally:
        assert station.close(30)


def test_searches_get_the_shown_mesh_and_a_prepared_model(ctx, tmp_path):
    """The window makes the gradient copy of a fresh classifier beside the view, once its
    live model is frozen, with no search asked for, and the search thread's pipeline with
    the object uploaded; a search then takes the mesh the window shows, not the file again
    (here deleted after loading), on that pipeline."""
    import shutil

    from app.vision.classifiers import load_classifier

    clf = load_classifier("efficientnet_lite0", device="cpu")
    shutil.copytree(ROOT / "models" / "hen", tmp_path / "hen")
    ex = Explorer(ctx, clf, resolve_object(str(tmp_path / "hen" / "chicken.obj")), captures_dir=tmp_path / "caps")
    screen = ctx.framebuffer(color_attachments=[ctx.texture((W, H), 4)])
    try:
        run_until(ex, screen, lambda: clf._frozen_grad is not None, what="the gradient copy made beside the view")
        run_until(ex, screen, lambda: not ex._preparing.is_set(), what="the search thread prepared")
        assert not ex.optimize_run
        prepared = ex.search_station.kept
        assert prepared is not None and prepared.mesh is ex.mesh and prepared._diff is not None  # re-shader made
        shutil.rmtree(tmp_path / "hen")
        ex.optimize_options.seconds, ex.target_class = 2, 8  # a mesh file has no true class: a target (hen)
        ex.act("optimize")
        assert ex.optimizing, ex.messages[-1].text
        run_until(ex, screen, lambda: not ex.optimizing, what="the search")
        run = ex.optimize_run
        assert run.error is None and run.result.evaluations > 0, run.error
        assert ex.search_station.kept is prepared  # the search ran on what was prepared
    finally:
        assert ex.close(timeout=60)
        screen.release()


def headless_searches(ex: Explorer, *option_sets: dict) -> list:
    """The window's last search again, headless, as its search thread runs it (the same
    pipeline settings, batch and streams, the mesh the window shows, the run's space, goal,
    seed and budget), once for each set of extra options."""
    from app.pipeline.pipeline import Pipeline
    from app.search.space import Budget
    from app.vision.streams import default_streams

    run, o, clf = ex.optimize_run, ex.optimize_options, ex.classifier
    pipe = Pipeline(clf, ctx=ex.ctx, settings=ex.render_settings(), batch=18, streams=default_streams(clf.device))
    try:
        pipe.set_object(ex.obj, ex.mesh)
        return [pipe.search(run.method, run.space, run.goal, Budget(seconds=o.seconds), seed=o.seed,
                            stop_on_success=run.stop_on_success, nearest=run.nearest, **options)
                for options in option_sets]  # fmt: skip
    finally:
        pipe.release()


def test_a_search_asked_for_before_the_live_model_is_frozen_runs_the_frozen_model(ctx, tmp_path):
    """The live view freezes a new model after its first answer; a search asked for before
    (here at once) waits for that frozen model and finds what the same search finds headless
    on it, as run.py optimize runs it.  It ran the eager model, whose probabilities differ in
    their last bits, and so did not reproduce."""
    from app.vision.classifiers import load_classifier

    clf = load_classifier("efficientnet_lite0", device="cpu")
    ex = Explorer(ctx, clf, resolve_object("teddy_bear"), captures_dir=tmp_path / "caps")
    screen = ctx.framebuffer(color_attachments=[ctx.texture((W, H), 4)])
    o = ex.optimize_options
    o.method, o.seconds, o.seed = "grad", 10, 3
    try:
        assert not clf.freeze_tried
        ex.act("optimize")
        run_until(ex, screen, lambda: not ex.optimizing, what="the search")
        run = ex.optimize_run
        assert run.error is None and run.result.success, run.error
        assert clf.frozen and clf._frozen_grad is not None
    finally:
        assert ex.close(timeout=60)
        screen.release()
    (again,) = headless_searches(ex, {})
    assert again.success and again.evaluations == run.result.evaluations
    assert again.best_score == run.result.best_score
    assert again.best.vector.tolist() == run.result.best.vector.tolist()


def test_a_search_that_goes_on_past_its_first_success_names_where_that_was(explorer, screen):
    """Without "stop at the first success" and "then nearest", the search climbs on past its
    first success: the closing message names that pose as where the goal was first met,
    not as a pose pulled back from."""
    o = explorer.optimize_options
    o.method, o.seconds, o.until_fooled, o.nearest = "grad", 3, False, False
    explorer.act("optimize")
    run_until(explorer, screen, lambda: not explorer.optimizing, what="the search")
    result = explorer.optimize_run.result
    assert result.success and result.first_success_elsewhere  # a better fooling pose than the first
    said = [m.text for m in explorer.messages if "done:" in m.text][-1]
    first = describe_change(explorer.optimize_run.start, result.first_success, most=2)
    assert f"; the goal first met at {first}" in said
    assert "pulled back" not in said


def test_the_atlas_maps_the_mesh_the_window_shows_not_the_file_again(ctx, classifier, tmp_path):
    """An object folder of the user's (with a manifest, so with a true class), deleted after
    the window loaded it: the map renders the mesh the window shows, as searches do."""
    import shutil

    shutil.copytree(ROOT / "models" / "hen", tmp_path / "hen")
    ex = Explorer(ctx, classifier, resolve_object(str(tmp_path / "hen")), captures_dir=tmp_path / "caps")
    screen = ctx.framebuffer(color_attachments=[ctx.texture((W, H), 4)])
    try:
        shutil.rmtree(tmp_path / "hen")
        ex.atlas_resolution = "coarse"
        ex.act("atlas")
        assert ex.mapping, ex.messages[-1].text
        run_until(ex, screen, lambda: not ex.mapping, timeout=180, what="the atlas")
        run = ex.atlas
        assert run.error is None and run.done_cells == run.cells, run.error
        assert (run.true_rank == 1).any()  # the hen, recognised in some poses
    finally:
        assert ex.close(timeout=60)
        screen.release()


def test_the_gradient_options_in_the_panel_reach_the_search(explorer, screen):
    """Edge gradients and grad's first step, as run.py optimize --edge-gradients and
    --first-step have them: the window's search then finds exactly what the same search
    finds headless with them, and its first success lies within the first step."""
    o, start = explorer.optimize_options, explorer.pose
    assert o.method == "grad" and o.first_step is None and not o.edges
    # the first prediction's lines move the Optimize section down: click once they are there
    run_until(explorer, screen, lambda: fresh_result(explorer), what="the first prediction")
    for name in ("edges", "first step"):
        explorer.draw(screen, (W, H))
        x0, y0, x1, y1 = explorer.panel.item_rects[f"optimize: {name}"]
        click_at(explorer, screen, x0 + 8, (y0 + y1) / 2)
    assert o.edges and o.first_step == 0.5  # the untargeted default, to start the slider from
    o.first_step, o.seed = 0.3, 2
    explorer.act("optimize")
    run_until(explorer, screen, lambda: not explorer.optimizing, timeout=120, what="the search")
    run = explorer.optimize_run
    assert run.error is None and run.result.success, run.error
    assert run.space.base == start and run.stop_on_success and o.seconds == 20
    again = headless_searches(explorer, {"edges": True, "first_step": 0.3}, {})
    assert again[0].best == run.result.best and again[0].evaluations == run.result.evaluations
    assert again[1].first_success != run.result.first_success  # the default first step went elsewhere
    first = np.linalg.norm(run.space.to_unit(run.result.first_success) - run.space.to_unit(start))
    assert first <= 0.3 + 1e-9, first
