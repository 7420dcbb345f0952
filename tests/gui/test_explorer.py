"""The app's state and its loads: live predictions, captures, pose files, objects and models, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

from app.gui.captures import SUFFIXES
from app.gui.pose_files import load_dropped, load_pose, save_pose
from tests.conftest import ROOT
from tests.gui.conftest import H, W


def test_prediction_follows_the_newest_pose(stage):
    s = stage.state
    stage.until(stage.predicted, "the first prediction")
    first = stage.ex.result.probabilities[850]
    s.pose = s.pose.replace(pitch=-100.0, roll=40.0)
    stage.until(stage.predicted, "the prediction of the new pose")
    assert stage.ex.result.frame.pose == s.pose
    assert stage.ex.result.probabilities[850] < first - 0.2


def test_capture_writes_three_files_never_overwrites_and_reproduces(stage, tmp_path):
    ex, s = stage.ex, stage.state
    out = ex.captures.directory
    out.mkdir()
    squatter = out / "teddy_bear-001-window.png"
    squatter.write_bytes(b"not mine")
    ex.act("capture")
    stage.until(lambda: len(ex.captures.taken) == 1, "the first capture")
    s.pose = s.pose.replace(yaw=100.0)
    ex.act("capture")
    stage.until(lambda: len(ex.captures.taken) == 2, "the second capture")
    assert squatter.read_bytes() == b"not mine"
    first, second = ex.captures.taken
    assert (first.stem, second.stem) == ("teddy_bear-002", "teddy_bear-003")
    for c in (first, second):
        assert [p.name for p in c.paths] == [f"{c.stem}{suffix}" for suffix in SUFFIXES[:3]]  # no map: overlay off
    doc = json.loads(first.paths[2].read_text())
    assert doc["object"] == "teddy_bear" and doc["model"] == "efficientnet_lite0"
    assert doc["pose"] == s.obj.canonical_pose.to_dict()
    assert doc["settings"]["quality"] in ("fast", "high")
    assert doc["prediction"]["top5"][0]["label"] == "teddy" and doc["prediction"]["true_class"]["rank"] == 1
    assert np.asarray(Image.open(first.paths[1])).shape == (H, W, 3)
    # the CLI re-renders the model-input image exactly from the JSON
    again = tmp_path / "again.png"
    cmd = [sys.executable, "run.py", "render", "--pose", str(first.paths[2]), "--out", str(again)]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=120)
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(first.paths[0])))


def test_captured_poses_can_be_revisited_and_pose_files_round_trip(stage):
    ex, s = stage.ex, stage.state
    s.live_enabled = False
    s.pose = s.pose.replace(yaw=42.0, light_azimuth=90.0)
    ex.act("capture")
    stage.until(lambda: len(ex.captures.taken) == 1, "a capture")
    saved, again = save_pose(ex), save_pose(ex)
    assert saved is not None and again is not None and saved != again  # never overwritten
    ex.act("reset_pose")
    assert s.pose.yaw != 42.0
    ex.return_to(ex.captures.taken[0])
    assert s.pose.yaw == 42.0 and s.pose.light_azimuth == 90.0
    ex.act("reset_pose")
    load_pose(ex, saved)
    assert s.pose.yaw == 42.0


def test_bad_input_becomes_a_message_not_a_crash(stage, tmp_path):
    ex, s = stage.ex, stage.state
    broken = tmp_path / "broken.json"
    broken.write_text('{"pose": {"yaw": "north"}}')
    pose = s.pose
    load_pose(ex, broken)
    ex.load_object("no_such_object")
    bad_mesh = tmp_path / "bad.obj"
    bad_mesh.write_text("v 0 0 0\nf 1 2 3\n")
    ex.load_object(str(bad_mesh))
    stage.until(lambda: ex.busy is None, "the failed load")
    errors = [m.text for m in ex.messages if m.error]
    assert any("yaw" in e and str(broken) in e for e in errors)
    assert any("no_such_object" in e for e in errors)
    assert any("cannot load bad" in e for e in errors)
    assert s.pose == pose and s.obj.name == "teddy_bear"


def test_hostile_pose_files_dropped_on_the_window_become_messages(stage, tmp_path):
    """Issue 43: the files that once ended in tracebacks or hung, dropped on the window."""
    ex, s = stage.ex, stage.state
    (tmp_path / "digits.json").write_text('{"yaw": 1' + "0" * 400 + "}")
    (tmp_path / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "bg.json").write_text(
        json.dumps({"pose": {}, "settings": {"background_image": str(tmp_path / "fifo.json")}})
    )
    pose = s.pose
    load_dropped(ex, [str(tmp_path / n) for n in ("digits.json", "deep.json", "fifo.json", "bg.json")])
    errors = [m.text for m in ex.messages if m.error]
    assert any("digits.json: pose parameter 'yaw' is a 401-digit number" in e for e in errors), errors
    assert any("deep.json: not a pose file (JSON nested too deeply to read)" in e for e in errors), errors
    assert any(e.startswith(f"pose file {tmp_path / 'fifo.json'} is not a regular file") for e in errors), errors
    stage.until(lambda: any("background image" in m.text and m.error for m in ex.messages), "the background's refusal")
    assert s.pose == pose


def test_switching_object_on_the_worker(stage):
    stage.ex.load_object("hen")
    stage.until(lambda: stage.state.obj.name == "hen", "the hen")
    assert stage.state.pose == stage.state.obj.canonical_pose
    stage.until(stage.predicted, "a prediction of the hen")
    assert stage.ex.result.top(1).indices[0] == 8


def test_model_switch_without_weights_shows_the_fallback_notice(stage):
    ex = stage.ex
    ex.load_model("inception_v3")  # no weights here and STRIKE_OFFLINE: falls back
    stage.until(lambda: ex.busy is None, "the model load")
    assert ex.classifier.name == "efficientnet_lite0"
    assert ex.model_notice and "inception_v3" in ex.model_notice
    assert any(m.error and "using the bundled efficientnet_lite0" in m.text for m in ex.messages)
    stage.until(stage.predicted, "a prediction by the new model")


def test_weights_given_at_start_are_used_when_the_model_is_chosen_again(stage, tmp_path):
    ex = stage.ex
    bad = tmp_path / "inception.pth"
    bad.write_bytes(b"not a checkpoint")
    ex.weights["inception_v3"] = bad
    ex.load_model("inception_v3")
    stage.until(lambda: ex.busy is None, "the model load")
    assert any(m.error and str(bad) in m.text for m in ex.messages)  # that file, not the fallback
    assert ex.classifier.name == "efficientnet_lite0"


def test_unknown_model_is_a_message(stage):
    ex = stage.ex
    ex.load_model("no_such_net")
    stage.until(lambda: ex.busy is None, "the failed model load")
    assert any(m.error and "no_such_net" in m.text for m in ex.messages)
    assert ex.classifier.name == "efficientnet_lite0"
