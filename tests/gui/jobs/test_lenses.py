"""The failure lenses in the window: pixel attacks, the fragility map, evolved skins."""

from __future__ import annotations

import json

import numpy as np
import pytest
from imgui_bundle import imgui
from PIL import Image

from app.lenses.evolve import EvolveState
from tests.conftest import ARTIFACTS
from tests.gui.conftest import H, W

pytestmark = pytest.mark.slow  # real searches, maps and lenses, or run.py in a process of its own


def test_a_pixel_attack_runs_on_the_worker_is_saved_under_new_names_and_stops_on_its_button(stage):
    ex, job = stage.ex, stage.ex.jobs.attack
    caps = ex.captures.directory
    stage.until(stage.predicted, "the first prediction")
    job.method = "fgsm"
    job.toggle()
    stage.until(lambda: job.result is not None, "the attack")
    r = job.result
    assert r.label == 850 and r.linf == 2 and r.fooled  # the teddy bear, 2/255
    assert any(m.text.startswith("fgsm: FOOLED") for m in ex.messages)
    stage.draw()
    assert "attack_button" in stage.panel.item_rects
    for _ in range(2):  # Save twice: new names, nothing written over
        stage.click_item("attack_save")
    stage.until(lambda: len(list(caps.glob("teddy_bear-attack*.json"))) == 2, "two saves")
    doc = json.loads((caps / "teddy_bear-attack-2.json").read_text())
    assert doc["object"] == "teddy_bear" and doc["attacks"][0]["method"] == "fgsm" and doc["attacks"][0]["fooled"]
    saved = np.asarray(Image.open(caps / "teddy_bear-attack-2-fgsm.png"))
    assert np.array_equal(saved, r.adversarial)  # exactly the image that was classified
    sheet = Image.open(caps / "teddy_bear-attack.png")
    assert sheet.height == 2 * r.adversarial.shape[0] + 36 and sheet.width > 3 * 2 * r.adversarial.shape[1]
    # a running attack is stopped by its button (a PGD within 0.1/255 cannot fool: it would run all its steps)
    job.method, job.eps = "pgd", 0.1
    job.toggle()
    stage.draw()
    stage.click_item("attack_button")
    stage.until(lambda: not job.attacking, "the stopped attack")
    assert job.result.method == "pgd" and job.result.stopped and job.result.steps < 10
    assert "(stopped after" in ex.messages[-1].text


def test_the_fragility_map_of_the_view_shows_a_clicked_crop_and_is_saved(stage):
    ex, job = stage.ex, stage.ex.jobs.fragility
    caps = ex.captures.directory
    stage.draw()  # the 3D view's size is known once drawn
    job.size, job.grid = 0.6, "coarse"
    job.toggle()
    stage.until(lambda: not job.running, "the fragility map", timeout=240)
    run = job.run
    assert run.error is None and run.map is not None and run.map.correct.shape == (6, 6)
    assert run.image.shape[:2] == (H, W - int(stage.panel.width))  # the view as the window shows it
    stage.draw()
    x0, y0, x1, y1 = stage.panel.item_rects["fragility_map"]
    scale = (x1 - x0) / run.image.shape[1]
    m = run.map
    col, row = 2, 3
    stage.click(x0 + (m.xs[col] + m.size / 2) * scale, y0 + (m.ys[row] + m.size / 2) * scale)
    assert job.cell == (row, col)
    assert ex.messages[-1].text.startswith(f"crop {m.size} px at ({m.xs[col]}, {m.ys[row]})")
    assert any(t.text.startswith("fragility map, crop") for t in ex.messages)
    stage.click_item("fragility_save")
    stage.until(lambda: (caps / "teddy_bear-fragility-fri.png").exists(), "the saved map")
    doc = json.loads((caps / "teddy_bear-fragility.json").read_text())
    assert doc["maps"][0]["correct"] == m.correct.astype(int).tolist() and doc["maps"][0]["size"] == m.size
    assert doc["image_size"] == [run.image.shape[1], run.image.shape[0]] and doc["grid"] == 6
    maps = Image.open(caps / "teddy_bear-fragility-maps.png")
    assert maps.height > run.image.shape[0] / 2 and maps.width > run.image.shape[1]  # the view, with its maps


def test_an_evolved_skin_dresses_the_object_and_the_live_view_follows(stage):
    ex, job = stage.ex, stage.ex.jobs.evolve
    caps = ex.captures.directory
    stage.until(stage.predicted, "a prediction")
    before = ex.result.probabilities.copy()
    job.toggle()
    stage.until(lambda: job.run.state.generation >= 2, "two generations")
    job.toggle()
    stage.until(lambda: not job.running, "the evolution to stop")
    stage.draw()
    assert any(t.text.startswith("evolution stopped at generation") for t in ex.messages)
    stage.click_item("evolve_save")
    stage.until(lambda: list(caps.glob("teddy_bear-evolve/gallery-gen*.png")), "the gallery")
    archive = EvolveState.load(caps / "teddy_bear-evolve" / "archive.json")
    assert archive.generation == job.run.state.generation and archive.object == "teddy_bear"
    assert len(list(caps.glob("teddy_bear-evolve/elites/*.png"))) == len(job.run.gallery())
    stage.draw()
    best_class = job.run.gallery()[0][0]
    x0, y0, x1, _y1 = stage.panel.item_rects["elite0"]
    stage.click((x0 + x1) / 2, y0 + 5)
    assert stage.state.skin == (best_class, ex.classifier.name) and ex.view.renderer.has_skin
    stage.until(stage.predicted, "the prediction of the skinned object")
    assert not np.allclose(ex.result.probabilities, before)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(stage.image()).save(ARTIFACTS / "explorer-lenses.png")
    right = W - imgui.get_style().scrollbar_size
    assert stage.panel.content_right <= right  # Evolve, Save and Undress once ran off the panel
    assert stage.panel.item_rects["evolve_undress"][2] <= right
    stage.click_item("evolve_undress")
    assert stage.state.skin is None and not ex.view.renderer.has_skin
