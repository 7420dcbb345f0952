"""A mesh file brought to the window (issue 39): it asks for the class, the panel's true-class
field gives it, and "Add to library" keeps it with a canonical pose, in the user's library."""

import json
import os
from pathlib import Path

import pytest

from app.core.params import PoseDocument
from app.gui.panel.verdicts import verdict
from app.gui.pose_files import load_dropped, load_pose, save_pose
from tests.built_objects import TENNIS_BALL, tennis_ball


def test_a_dropped_mesh_asks_for_its_class_and_the_field_gives_the_verdict(stage, tmp_path):
    ex, s = stage.ex, stage.state
    ball = tennis_ball(tmp_path / "ball")
    load_dropped(ex, [str(ball)])
    stage.until(lambda: s.obj.name == "ball", "the dropped ball")
    assert s.asking_class and s.obj.imagenet_class is None
    assert any("what is ball?" in m.text for m in ex.messages)
    stage.until(stage.predicted, "a prediction of the ball")
    assert verdict(ex.result, s.obj.imagenet_class, s.target_class) is None  # no class, no headline
    stage.panel.fields["true"] = "tennis ball"
    stage.draw()
    stage.click_item("true class: first match")
    assert s.obj.imagenet_class == TENNIS_BALL and not s.asking_class
    s.pose = s.pose.replace(z=-7.5)
    stage.until(stage.predicted, "a prediction with the class")
    v, _color = verdict(ex.result, s.obj.imagenet_class, s.target_class)
    assert v.word == "CORRECT" and v.plain().startswith("top-1 is tennis ball")
    # a saved pose keeps the class, and loading it into a fresh view of another object brings both back
    saved = save_pose(ex)
    assert json.loads(saved.read_text())["class"] == TENNIS_BALL
    ex.load_object("hen")
    stage.until(lambda: s.obj.name == "hen", "the hen")
    load_pose(ex, saved)
    stage.until(lambda: s.obj.name == "ball", "the ball again")
    assert s.obj.imagenet_class == TENNIS_BALL and not s.asking_class
    # so does going back to a capture
    ex.captures.request()
    stage.until(lambda: ex.captures.taken, "the capture")
    assert json.loads(ex.captures.taken[-1].paths[-1].read_text())["class"] == TENNIS_BALL
    ex.load_object("hen")
    stage.until(lambda: s.obj.name == "hen", "the hen")
    ex.return_to(ex.captures.taken[-1])
    stage.until(lambda: s.obj.name == "ball", "the ball of the capture")
    assert s.obj.imagenet_class == TENNIS_BALL


@pytest.mark.slow  # 144 views beside the view
def test_add_to_library_keeps_the_mesh_with_a_canonical_pose_and_lists_it(stage, tmp_path):
    ex, s = stage.ex, stage.state
    ball = tennis_ball(tmp_path / "src", "felt")
    ex.act("add_to_library")  # the teddy bear is in the library already
    assert any(m.error and "teddy_bear is in the library already" in m.text for m in ex.messages)
    ex.load_object(str(ball))
    stage.until(lambda: s.obj.name == "felt", "the ball")
    ex.act("add_to_library")
    assert any(m.error and "give it its class first" in m.text for m in ex.messages)
    ex.set_true_class(TENNIS_BALL)
    stage.panel.open_all = True
    stage.draw()
    assert stage.panel.fields["library_name"] == "felt"  # from the file's name
    stage.panel.fields["library_name"] = "my_ball"
    stage.draw()  # the name typed into the panel is the one used
    ex.act("add_to_library")
    assert ex.jobs.add_to_library.running and "adding to the library" in ex.jobs.activity()
    stage.until(lambda: s.obj.name == "my_ball", "the object added and shown", timeout=300)
    folder = Path(os.environ["STRIKE_LIBRARY"]) / "my_ball"
    manifest = json.loads((folder / "object.json").read_text())
    assert manifest["imagenet_class"] == TENNIS_BALL and s.obj.in_library
    assert s.pose == s.obj.canonical_pose == PoseDocument(s.obj.canonical_pose).pose
    stage.until(stage.predicted, "a prediction in the canonical pose")
    assert ex.result.top(1).indices[0] == TENNIS_BALL
    assert any(m.text.startswith("added my_ball to the library") for m in ex.messages)
    assert "my_ball" in [o.name for o in stage.panel.objects]  # listed again in the panel's object list
    assert not any(m.error for m in ex.messages if "my_ball" in m.text)
