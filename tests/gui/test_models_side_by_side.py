"""Several models in the window (issue 41): up to two more models judge each view beside the
live one, each at its own input size, with their verdicts and how many the view fools; a
pose search can ask for a pose that fools every one."""

import json

import numpy as np
import pytest
from PIL import Image

from app.core.verdict import judge
from app.gui.panel.verdicts import fools
from app.pipeline.jury import Jury
from app.pipeline.pipeline import Pipeline
from app.vision.classifiers import load_classifier

OTHERS = ("efficientnet_lite1", "efficientnet_lite2")


def _answered(stage):
    ex = stage.ex
    answer = ex.beside.answer()
    return stage.predicted() and answer is not None and answer.key == ex.scene_key


def test_two_more_models_judge_the_view_as_each_would_alone(stage_factory, ctx):
    stage = stage_factory("hen")
    ex, s = stage.ex, stage.state
    ex.beside.jury.want(OTHERS)
    stage.until(lambda: _answered(stage), "the other models' answer", timeout=180)
    assert fools(ex) == (0, 3)  # the hen in its canonical pose: recognised by all three
    s.pose = s.pose.replace(pitch=-100.0, roll=40.0)
    stage.until(lambda: _answered(stage), "their answer for the turned hen")
    assert fools(ex) == (3, 3)
    answer = ex.beside.answer()
    alone = [load_classifier(name, device="cpu") for name in OTHERS]
    pipe = Pipeline(alone[0], ctx=ctx, settings=s.render_settings())
    pipe.set_object(s.obj, s.mesh)
    try:
        jury = Jury(pipe, alone[1:])
        expected = jury.probabilities([s.pose])[0].numpy()
        jury.release()
    finally:
        pipe.release()
    for got, want in zip(answer.probabilities, expected, strict=True):  # each model at its own size
        assert np.argmax(got) == np.argmax(want) and np.abs(got - want).max() < 1e-3
        assert judge(got, 8).word == "FOOLED"
    stage.panel.open_all = True
    stage.draw()
    assert "also ask" in stage.panel.item_rects  # in the Object, model section
    # a capture keeps every model's prediction, and with the overlay on, the map's picture
    s.show_map = True
    ex.act("capture")
    stage.until(lambda: ex.captures.taken, "the capture")
    capture = ex.captures.taken[-1]
    assert [p.name[len(capture.stem) :] for p in capture.paths] == ["-input.png", "-window.png", ".json", "-map.png"]
    doc = json.loads(capture.paths[2].read_text())
    assert [m["model"] for m in doc["models"]] == ["efficientnet_lite0", *OTHERS]
    assert all(m["verdict"] == "FOOLED" for m in doc["models"])
    assert Image.open(capture.paths[3]).size == (224, 224)
    ex.beside.jury.want(())
    assert ex.beside.answer() is None and fools(ex) is None


@pytest.mark.slow  # a search over three models
def test_a_search_in_every_model_ends_on_a_pose_that_fools_all_three(stage_factory):
    stage = stage_factory("hen")
    ex, s, job = stage.ex, stage.state, stage.ex.jobs.optimize
    ex.beside.jury.want(OTHERS)
    stage.until(lambda: len(ex.beside.jury.ready()) == 2, "the two models loaded", timeout=180)
    job.options.every_model = True
    job.options.method = "grad"
    ex.act("optimize")
    assert not job.active and any("follows one model's gradient" in m.text for m in ex.messages if m.error)
    job.options.method, job.options.iterations, job.options.seconds = "random", 30, 600.0
    ex.act("optimize")
    assert job.active
    stage.until(lambda: not job.active, "the search", timeout=600)
    result = job.run.result
    assert result.success
    stage.until(lambda: s.pose == result.best and _answered(stage), "the view at the best pose, judged")
    assert fools(ex) == (3, 3)  # each model, asked again about the pose kept, is fooled
