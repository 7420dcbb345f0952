"""The live view's fast preview (issue 40): bfloat16 for what is shown, f32 for what is kept.

Turned on from the panel's checkbox, the live predictions come from OpenVINO at bf16 and
say so; a capture taken meanwhile is classified again at f32 (its JSON holds the f32
probabilities of its own input picture, not the preview's).  Turned off, the view is
classified again at f32 without moving."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from app.vision import engines
from app.vision.classifiers import load_classifier

pytestmark = pytest.mark.skipif(
    engines.openvino_version() is None or not engines.bf16_supported(), reason="needs OpenVINO on a CPU with bf16"
)


def test_the_preview_shows_bf16_and_a_capture_keeps_f32(stage, tmp_path, monkeypatch):
    monkeypatch.setenv("STRIKE_ENGINE_CACHE", str(tmp_path / "engines"))
    ex = stage.ex
    stage.until(stage.predicted, "the first prediction")
    assert ex.result.precision == "f32" and not ex.preview
    stage.panel.open_all = True
    stage.draw(2)
    stage.click_item("fast_preview")
    assert ex.preview
    stage.until(lambda: stage.predicted() and ex.result.precision == "bf16", "a prediction in the preview", 180)
    assert ex.classifier.preview is not None and ex.classifier.preview.precision == "bf16"
    shown = ex.result.probabilities.copy()

    ex.captures.request()
    stage.until(lambda: ex.captures.taken, "the capture")
    (capture,) = ex.captures.taken
    doc = json.loads(next(p for p in capture.paths if p.suffix == ".json").read_text())
    picture = np.array(Image.open(next(p for p in capture.paths if p.name.endswith("-input.png"))))
    at_f32 = load_classifier("efficientnet_lite0", device="cpu", engine="torch").probabilities(
        torch.from_numpy(picture)[None]
    )[0]
    kept = {c["class"]: c["probability"] for c in doc["prediction"]["top5"]}
    for cls, p in kept.items():
        assert abs(p - float(at_f32[cls])) <= 1e-3
    # the preview differs from f32 by more than that on this frame, so the capture did not copy it
    assert max(abs(float(shown[c]) - float(at_f32[c])) for c in kept) > 1e-3

    stage.click_item("fast_preview")
    assert not ex.preview
    stage.until(lambda: stage.predicted() and ex.result.precision == "f32", "the view at f32 again, not moved")


def test_precision_bf16_starts_the_window_in_the_preview(stage_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("STRIKE_ENGINE_CACHE", str(tmp_path / "engines"))
    stage = stage_factory(preview=True)  # what run.py window --precision bf16 passes
    stage.until(lambda: stage.predicted() and stage.ex.result.precision == "bf16", "a first answer in bf16", 180)
