"""Sweep reports: heatmaps, fractions and transfer from the rows."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from app.cli.main import main
from app.core.params import PARAM_BY_NAME
from app.sweep.report import heatmap, summarise, transfer, wilson
from app.sweep.sweep import (
    ROW_FIELDS,
    ROWS_FILE,
    SweepError,
    SweepPlan,
    read_plan,
    read_rows,
)
from app.sweep.table import RowTable


def test_a_grid_heatmap_is_the_correctness_of_each_grid_pose(tmp_path):
    out = tmp_path / "grid"
    assert main(["sweep", "--object", "hen", "--models", "efficientnet_lite0", "--grid", "yaw=8,pitch=4",
                 "--device", "cpu", "--out", str(out)]) == 0  # fmt: skip
    rows = read_rows(out / ROWS_FILE)
    plan = read_plan(out)
    frac, count = heatmap(rows, "yaw", "pitch", (8, 4))
    assert frac.shape == (4, 8) and np.all(count == 1)
    for r in rows:
        i = int(r["index"])
        assert frac[i % 4, i // 4] == float(r["correct_top1"])  # yaw is the slow axis, pitch the fast one
    assert 0 < np.nansum(frac) < 32  # the hen is right in some poses and wrong in others
    report = json.loads((out / "report.json").read_text())
    assert report["heatmaps"]["hen|efficientnet_lite0"]["pairs"] == [["yaw", "pitch"]]
    assert Image.open(out / "plots" / "hen-efficientnet_lite0.png").size == (400, 360)  # one 4 x 3.6 inch panel
    assert plan.samples == 32 and report["complete"]


def test_fractions_and_transfer_are_computed_from_the_rows():
    def row(obj, i, model, ok):
        return {"object": obj, "index": str(i), "model": model, "correct_top1": ok, "correct_top5": "1",
                "true_prob": "0.5", "top1_label": "kite" if ok == "0" else "hen"}  # fmt: skip

    rows = [row("hen", i, "a", "1" if i < 3 else "0") for i in range(10)]
    rows += [row("hen", i, "b", "0" if i in (5, 6, 7, 8) else "1") for i in range(10)]
    plan = SweepPlan(objects=("hen",), models=("a", "b"), samples=10)
    s = summarise(plan, rows + rows[:2])  # a repeated row counts once
    assert s.fractions[("hen", "a")].top1 == 3 and s.fractions[("hen", "a")].n == 10
    assert s.fractions[("hen", "a")].wrong_labels == [("kite", 7)]
    frac, n = transfer(rows, ["a", "b"])
    assert n[0, 1] == 7 and frac[0, 1] == pytest.approx(4 / 7)  # a wrong on 3..9; b wrong on 5..8
    assert n[1, 0] == 4 and frac[1, 0] == 1.0
    assert s.complete
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-3)
    lo, hi = wilson(50, 100)
    assert (lo, hi) == pytest.approx((0.4038, 0.5962), abs=1e-3)


def test_the_report_reads_rows_as_columns_as_the_dicts_say(tmp_path):
    """RowTable.read (streamed, columns) holds what read_rows (dicts) does; a torn last line
    is left out and a damaged row is named by its line."""
    out = tmp_path / "s"
    assert main(["sweep", "--object", "hen,barrel", "--models", "efficientnet_lite0", "--samples", "6",
                 "--device", "cpu", "--no-report", "--out", str(out)]) == 0  # fmt: skip
    path = out / ROWS_FILE
    with open(path, "a") as f:
        f.write("hen,0,efficientnet_lite0,12.5,3")  # a kill mid-write; also a repeat of (hen, 0)
    rows = read_rows(path)
    table = RowTable.read(path)
    assert len(table) == len(rows) == 12
    assert [table.objects[c] for c in table.obj] == [r["object"] for r in rows]
    assert list(table.index) == [int(r["index"]) for r in rows]
    assert list(table.column("yaw")) == [float(r["yaw"]) for r in rows]
    assert list(table.correct1) == [r["correct_top1"] == "1" for r in rows]
    assert [table.labels[c] for c in table.label] == [r["top1_label"] for r in rows]
    plan = read_plan(out)
    by_table, by_dicts = summarise(plan, table), summarise(plan, rows)
    assert by_table.fractions == by_dicts.fractions and by_table.rows == by_dicts.rows == 12
    assert by_dicts.fractions[("hen", "efficientnet_lite0")].n == 6  # the torn row is left out
    repeated = RowTable.from_rows(rows + rows[:3]).unique()
    assert len(repeated) == 12 and list(repeated.index) == list(table.index)
    complete = path.read_text()[: path.read_text().rfind("\n") + 1]
    path.write_text(complete + "hen,1,efficientnet_lite0,12.5,3\n")
    with pytest.raises(SweepError, match="line 14: 5 fields where a row has"):
        RowTable.read(path)
    path.write_text(complete + "hen,1,efficientnet_lite0,not-a-number" + ",0" * (len(ROW_FIELDS) - 4) + "\n")
    with pytest.raises(SweepError, match="line 14: could not convert"):
        RowTable.read(path)


def _md_row(md: str, *first: str) -> list[str]:
    """The cells of the Markdown table row that starts with ``first``."""
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[: len(first)] == list(first):
            return cells
    raise AssertionError(f"no row {first} in the report")


@pytest.mark.slow
def test_the_reports_tables_intervals_and_heatmaps_are_a_recount_of_its_rows(tmp_path):
    """report.json, report.md and report.html against a recount of rows.csv made here, with
    the Wilson interval checked by its definition (the bounds are the proportions p for which
    (k/n - p)^2 = z^2 p (1 - p) / n)."""
    import csv
    import html
    import math

    out = tmp_path / "sweep"
    models = ("efficientnet_lite0", "efficientnet_lite1")
    assert main(["sweep", "--object", "hen,barrel", "--models", ",".join(models), "--samples", "24", "--batch", "8",
                 "--seed", "5", "--device", "cpu", "--out", str(out)]) == 0  # fmt: skip
    with open(out / ROWS_FILE, newline="") as f:
        rows = list(csv.DictReader(f))
    report = json.loads((out / "report.json").read_text())
    md, page = (out / "report.md").read_text(), (out / "report.html").read_text()
    z = 1.96
    for obj in ("hen", "barrel", "all objects"):
        for model in models:
            mine = [r for r in rows if r["model"] == model and obj in (r["object"], "all objects")]
            n, k1 = len(mine), sum(r["correct_top1"] == "1" for r in mine)
            k5 = sum(r["correct_top5"] == "1" for r in mine)
            mean_p = sum(float(r["true_prob"]) for r in mine) / n
            got = report["fractions"][f"{obj}|{model}"]
            assert (got["n"], got["top1"], got["top5"]) == (n, k1 / n, k5 / n)
            assert got["mean_true_prob"] == pytest.approx(mean_p, rel=1e-6)
            for k, (lo, hi) in ((k1, got["top1_ci95"]), (k5, got["top5_ci95"])):
                p = k / n
                assert lo <= p <= hi
                for bound in (lo, hi):
                    if 0 < bound < 1:  # an interior bound solves the interval's quadratic
                        assert (p - bound) ** 2 == pytest.approx(z * z * bound * (1 - bound) / n, rel=1e-9)
            cells = _md_row(md, obj, model)
            lo, hi = got["top1_ci95"]
            assert cells[2:4] == [str(n), f"{100 * k1 / n:.1f}% [{100 * lo:.1f}%, {100 * hi:.1f}%]"]
            assert cells[5] == f"{mean_p:.3f}"
            assert f"<td>{html.escape(cells[3])}</td>" in page
    for key, entry in report["heatmaps"].items():  # each heatmap's cells recounted from the rows
        obj, model = key.split("|")
        mine = [r for r in rows if r["model"] == model and obj in (r["object"], "all objects")]
        for pair, cell in entry["cells"].items():
            a, b = pair.split("|")
            poses = np.array(cell["poses"])
            bins_b, bins_a = poses.shape
            count, good = np.zeros_like(poses), np.zeros(poses.shape)
            for r in mine:
                pa, pb = PARAM_BY_NAME[a], PARAM_BY_NAME[b]
                i = min(int((float(r[a]) - pa.low) / pa.span * bins_a), bins_a - 1)
                j = min(int((float(r[b]) - pb.low) / pb.span * bins_b), bins_b - 1)
                count[j, i] += 1
                good[j, i] += r["correct_top1"] == "1"
            assert count.tolist() == cell["poses"], (key, pair)
            expected = [[None if c == 0 else g / c for g, c in zip(gr, cr, strict=True)]
                        for gr, cr in zip(good, count, strict=True)]  # fmt: skip
            assert cell["correct"] == expected, (key, pair)
            assert not math.isnan(count.sum()) and count.sum() == len(mine)
        png = np.asarray(Image.open(out / entry["png"]).convert("RGB"))
        assert png.shape[:2] == (360, 400 * len(entry["cells"]))  # 4 x 3.6 inches a panel at 100 dpi
        assert len(np.unique(png.reshape(-1, 3), axis=0)) > 50  # drawn, not blank
