"""The window's model section chooses the engine (issue 40): choosing OpenVINO loads the
model again, the live view then runs on it, with the same top-1.  The conversion runs on
the live worker while the search thread warms its gradient up beside it (torch's
deterministic kernels on): it failed to trace then, before it waited for them."""

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
    stage.until(lambda: ex.busy is None, "the model loaded again")
    stage.until(stage.predicted, "its prediction of the view as it was")  # no move needed (it waited for one)
    assert int(ex.result.top(1).indices[0]) == before
    stage.until(lambda: ex.classifier.engine is not None, "the model on OpenVINO", timeout=180)
    stage.until(lambda: any("converted for OpenVINO in" in m.text for m in ex.messages), "the conversion's notice")
    stage.state.pose = stage.state.pose.replace(yaw=stage.state.pose.yaw + 0.5)
    stage.until(stage.predicted, "a prediction on OpenVINO")
    assert int(ex.result.top(1).indices[0]) == before
    stage.panel.open_all = True
    stage.draw()
