"""The Atlas in the window: a yaw x pitch map made beside the view; a click shows a cell's pose."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ARTIFACTS, ROOT

pytestmark = pytest.mark.slow  # real searches, maps and lenses, or run.py in a process of its own


def test_atlas_maps_yaw_and_pitch_in_the_background_and_a_click_loads_a_cell(stage):
    ex, s, job = stage.ex, stage.state, stage.ex.jobs.atlas
    job.resolution = "coarse"
    start = s.pose
    ex.act("atlas")
    assert job.running
    stage.until(lambda: not job.running, "the atlas", timeout=180)
    stage.draw()
    run = job.run
    assert run.error is None and run.done_cells == run.cells == 12 * 6
    assert (run.true_rank > 0).all()
    assert 0 < run.fraction_correct() < 1  # right in some poses, wrong in others
    assert run.fraction_correct() == pytest.approx((run.true_rank == 1).mean())
    assert any("atlas of teddy_bear / efficientnet_lite0: 72 of 72 poses" in m.text for m in ex.messages)
    assert s.pose == start  # mapping never moves the view
    # the drawn cells have the colours of their ranks
    img = stage.image()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(ARTIFACTS / "explorer-atlas.png")
    x0, y0, x1, y1 = stage.panel.item_rects["atlas_map"]
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
    stage.click(*centre(*wrong))
    assert s.pose == run.pose_at(*wrong)
    assert s.pose.z == start.z and s.pose.roll == start.roll
    stage.until(stage.predicted, "the prediction of the cell's pose")
    assert ex.result.rank_of(850) == run.true_rank[tuple(wrong)]
    ex.act("atlas")  # a map stopped part-way says so
    ex.act("atlas")
    stage.until(lambda: "(stopped): " in ex.messages[-1].text, "the stop")
    assert not job.running and job.run.done_cells < 72


def test_the_atlas_maps_the_mesh_the_window_shows_not_the_file_again(stage_factory, tmp_path):
    """An object folder of the user's (with a manifest, so with a true class), deleted after
    the window loaded it: the map renders the mesh the window shows, as searches do."""
    shutil.copytree(ROOT / "models" / "hen", tmp_path / "hen")
    st = stage_factory(str(tmp_path / "hen"))
    job = st.ex.jobs.atlas
    shutil.rmtree(tmp_path / "hen")
    job.resolution = "coarse"
    st.ex.act("atlas")
    assert job.running, st.ex.messages[-1].text
    st.until(lambda: not job.running, "the atlas", timeout=180)
    run = job.run
    assert run.error is None and run.done_cells == run.cells, run.error
    assert (run.true_rank == 1).any()  # the hen, recognised in some poses
