"""The window's model section chooses the engine (issue 40): choosing OpenVINO loads the
model again, the live view then runs on it, with the same top-1."""

import pytest

from app.vision import engines


@pytest.mark.skipif(engines.openvino_version() is None, reason="needs OpenVINO")
def test_choosing_openvino_reloads_the_model_and_the_view_runs_on_it(stage, tmp_path, monkeypatch):
    monkeypatch.setenv("STRIKE_ENGINE_CACHE", str(tmp_path / "engines"))
    ex = stage.ex
    stage.until(stage.predicted, "the first prediction")
    before = int(ex.result.top(1).indices[0])
    assert ex.engine == "torch" and ex.classifier.engine is None
    ex.engine = "openvino"
    ex.load_model("efficientnet_lite0")
    stage.until(lambda: ex.busy is None and ex.classifier.engine is not None, "the model on OpenVINO", timeout=180)
    stage.state.pose = stage.state.pose.replace(yaw=stage.state.pose.yaw + 0.5)  # a new frame for the new model
    stage.until(lambda: stage.predicted() and ex.result.model == "efficientnet_lite0", "a prediction")
    assert int(ex.result.top(1).indices[0]) == before
    stage.panel.open_all = True
    stage.draw()
