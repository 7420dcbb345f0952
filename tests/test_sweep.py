"""Pose-space sweeps: sampling, real sweeps through the CLI, resuming after a kill, the report."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.cli.main import main
from app.core.params import INDEX, PARAM_BY_NAME, Pose
from app.scene.library import resolve_object
from app.sweep.report import heatmap, plot_size, summarise, transfer, wilson
from app.sweep.sweep import (
    PLAN_FILE,
    ROW_FIELDS,
    ROWS_FILE,
    SweepError,
    SweepPlan,
    parse_grid,
    read_plan,
    read_rows,
    run_sweep,
)
from app.sweep.table import RowTable

ROOT = Path(__file__).resolve().parent.parent
BASE = Pose(z=-12.0, ambient=0.3)


def test_the_same_seed_gives_the_same_poses_uniform_over_the_declared_ranges():
    plan = SweepPlan(objects=("hen",), models=("m",), samples=4000, seed=7)
    v = plan.vectors(BASE, stream="hen")
    other = SweepPlan(objects=("x", "hen"), models=("n",), samples=4000, seed=7)
    assert np.array_equal(v, other.vectors(BASE, stream="hen"))
    assert not np.array_equal(v, plan.vectors(BASE, stream="teddy_bear"))  # objects do not share poses
    assert not np.array_equal(
        v, SweepPlan(objects=("hen",), models=("m",), samples=4000, seed=8).vectors(BASE, stream="hen")
    )
    # pose i does not depend on the length of the sweep or on which poses are asked for
    short = SweepPlan(objects=("hen",), models=("m",), samples=10, seed=7)
    assert np.array_equal(short.vectors(BASE, stream="hen"), v[:10])
    assert np.array_equal(plan.vectors(BASE, [3999, 5, 17], stream="hen"), v[[3999, 5, 17]])
    assert np.array_equal(plan.vectors(BASE, [2001, 2000], stream="hen"), v[[2001, 2000]])
    # the draws of the first sweeps (the whole prefix drawn for every batch), so old sweeps resume alike
    rng = np.random.default_rng([7, zlib.crc32(b"hen")])
    assert np.array_equal(v[:, [INDEX[n] for n in plan.varied]][3990:], _scaled(rng.random((4000, 6))[3990:], plan))
    assert plan.varied == ("yaw", "pitch", "roll", "x", "y", "z")
    for name in plan.varied:
        p, col = PARAM_BY_NAME[name], v[:, INDEX[name]]
        assert p.low <= col.min() < p.low + 0.02 * p.span and p.high - 0.02 * p.span < col.max() <= p.high
        counts = np.histogram(col, bins=8, range=(p.low, p.high))[0]
        assert counts.min() > 0.8 * 500 and counts.max() < 1.2 * 500, (name, counts)  # uniform
    for name in ("ambient", "light_azimuth", "fov"):
        assert np.all(v[:, INDEX[name]] == BASE[name])  # not sampled: the base pose's value


def _scaled(u: np.ndarray, plan: SweepPlan) -> np.ndarray:
    params = [PARAM_BY_NAME[n] for n in plan.varied]
    return np.array([p.low for p in params]) + u * np.array([p.span for p in params])


def test_grid_plans_are_regular_and_in_product_order():
    plan = SweepPlan(objects=("hen",), models=("m",), grid=parse_grid("yaw=4, pitch=3, z=3"))
    assert plan.samples == 36 and plan.mode == "grid" and plan.varied == ("yaw", "pitch", "z")
    v = plan.vectors(BASE)
    assert list(np.unique(v[:, INDEX["yaw"]])) == [-180.0, -90.0, 0.0, 90.0]  # full circle, no duplicate end
    assert list(np.unique(v[:, INDEX["z"]])) == [-28.0, -15.5, -3.0]  # end to end
    assert tuple(v[1, [INDEX["yaw"], INDEX["pitch"], INDEX["z"]]]) == (-180.0, -180.0, -15.5)  # last name fastest
    assert tuple(v[35, [INDEX["yaw"], INDEX["pitch"], INDEX["z"]]]) == (90.0, 60.0, -3.0)
    one = SweepPlan(objects=("hen",), models=("m",), grid=(("yaw", 2), ("roll", 1)))
    assert np.all(one.vectors(BASE)[:, INDEX["roll"]] == BASE.roll) and one.varied == ("yaw",)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"samples": 0}, "--samples >= 1"),
        ({"samples": 5, "groups": ("rotation", "colour")}, "unknown parameter group"),
        ({"grid": (("spin", 3),)}, "unknown grid parameter"),
        ({"grid": (("yaw", 0),)}, "whole number of steps"),
        ({"grid": (("yaw", 3), ("yaw", 4))}, "listed twice"),
        ({"samples": 5, "models": ("a", "a")}, "models listed twice"),
        ({"samples": 5, "objects": ()}, "at least one object"),
        ({"samples": 10_000_001}, "10,000,001 poses per object is more than a sweep holds"),
        ({"grid": (("yaw", 10**5), ("pitch", 10**5), ("roll", 10**5), ("z", 10**5))}, "split the grid"),
    ],
)
def test_bad_plans_are_refused_with_a_clear_error(kwargs, match):
    args = {"objects": ("hen",), "models": ("m",), **kwargs}
    with pytest.raises(SweepError, match=match):
        SweepPlan(**args)


def test_grid_text_errors():
    for text in ("yaw", "yaw=x", "yaw=-3", ""):
        with pytest.raises(SweepError):
            parse_grid(text)


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_small_real_sweep_writes_rows_and_a_report(tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "--object", "hen,minivan", "--models", "efficientnet_lite0,efficientnet_lite1",
            "--samples", "10", "--batch", "4", "--seed", "3", "--device", "cpu", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    for name in (PLAN_FILE, ROWS_FILE, "report.md", "report.html", "report.json"):
        assert (out / name).is_file(), name
    rows = _rows(out / ROWS_FILE)
    assert len(rows) == 2 * 10 * 2 and tuple(rows[0]) == ROW_FIELDS
    keys = {(r["object"], int(r["index"]), r["model"]) for r in rows}
    assert len(keys) == 40
    plan = read_plan(out)
    for r in rows:  # each row is what it claims: its pose is pose i of the plan, its flags match its top-5
        obj = resolve_object(r["object"])
        expected = plan.vectors(obj.canonical_pose, [int(r["index"])], stream=obj.name)[0]
        assert np.allclose([float(r[n]) for n in INDEX], expected, rtol=1e-9)
        assert r["correct_top1"] == str(int(int(r["top1"]) == obj.imagenet_class))
        assert r["correct_top5"] == str(int(str(obj.imagenet_class) in [r[f"top{k}"] for k in range(1, 6)]))
        assert float(r["p1"]) >= float(r["p5"])
    # the canonical-pose class is not what most random poses get
    assert sum(r["correct_top1"] == "1" for r in rows) < len(rows) / 2
    report = json.loads((out / "report.json").read_text())
    for model in ("efficientnet_lite0", "efficientnet_lite1"):
        mine = [r for r in rows if r["model"] == model]
        assert report["fractions"][f"all objects|{model}"]["top1"] == pytest.approx(
            sum(r["correct_top1"] == "1" for r in mine) / len(mine)
        )
    fooled0 = {
        (r["object"], r["index"]) for r in rows if r["model"] == "efficientnet_lite0" and r["correct_top1"] == "0"
    }
    fooled1 = {
        (r["object"], r["index"]) for r in rows if r["model"] == "efficientnet_lite1" and r["correct_top1"] == "0"
    }
    assert report["transfer"]["fraction"][0][1] == pytest.approx(len(fooled0 & fooled1) / len(fooled0))
    md = (out / "report.md").read_text()
    assert "![hen / efficientnet_lite0](plots/hen-efficientnet_lite0.png)" in md and "3.09%" in md
    assert "data:image/png;base64," in (out / "report.html").read_text()
    png = Image.open(out / "plots" / "all-efficientnet_lite1.png")
    assert png.size[::-1] == plot_size(len(report["heatmaps"]["all objects|efficientnet_lite1"]["pairs"]))
    assert "report:" in capsys.readouterr().out
    # the folder is never overwritten by a new sweep
    assert main(argv) == 2
    assert len(_rows(out / ROWS_FILE)) == 40


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
    assert Image.open(out / "plots" / "hen-efficientnet_lite0.png").size[::-1] == plot_size(1)
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


def test_several_classification_streams_give_the_same_rows_in_pose_order(ctx, classifier):
    """Batches classified by three one-thread workers at once come out as one worker makes
    them (same poses, order and top-5; probabilities to float rounding), and torch's
    thread count is given back afterwards."""
    plan = SweepPlan(objects=("hen", "barrel"), models=(classifier.name,), samples=10, seed=4)
    objects = [resolve_object(n) for n in plan.objects]
    threads = torch.get_num_threads()
    runs = {}
    for streams in (1, 3):
        rows: list[dict] = []
        made = run_sweep(plan, objects, [classifier], rows.extend, lambda _o, _m: range(10), ctx=ctx, batch=3,
                         streams=streams)  # fmt: skip
        assert made == len(rows) == 20
        with ThreadPoolExecutor(1) as later:  # a thread started afterwards has torch's full count
            assert later.submit(torch.get_num_threads).result() == threads
        runs[streams] = rows
    one, three = runs[1], runs[3]
    assert [(r["object"], r["index"]) for r in three] == [(o, i) for o in plan.objects for i in range(10)]
    assert [(r["object"], r["index"], r["top1"]) for r in one] == [(r["object"], r["index"], r["top1"]) for r in three]
    assert [float(r["true_prob"]) for r in one] == pytest.approx([float(r["true_prob"]) for r in three], abs=1e-4)
    with pytest.raises(SweepError, match="streams must be >= 1"):
        run_sweep(plan, objects, [classifier], rows.extend, lambda _o, _m: range(10), ctx=ctx, streams=0)


def test_resume_after_a_kill_gives_every_row_exactly_once(tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, str(ROOT / "run.py"), "sweep", "--object", "hen,basketball", "--models",
           "efficientnet_lite0", "--samples", "40", "--batch", "4", "--device", "cpu", "--out", str(out)]  # fmt: skip
    env = dict(os.environ, STRIKE_OFFLINE="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (out / ROWS_FILE).exists() and len((out / ROWS_FILE).read_text().splitlines()) > 20:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = (out / ROWS_FILE).read_text()
    done = before[: before.rfind("\n") + 1]
    assert 20 < len(done.splitlines()) < 81, "the sweep was not killed midway"
    with open(out / ROWS_FILE, "a") as f:
        f.write("hen,39,efficientnet_lite0,12.5,3")  # what a kill mid-write leaves
    assert main(["sweep", "--out", str(out), "--resume", "--batch", "4", "--device", "cpu", "--no-report"]) == 0
    after = (out / ROWS_FILE).read_text()
    assert after.startswith(done)  # nothing computed before the kill was lost or rewritten
    rows = _rows(out / ROWS_FILE)
    keys = [(r["object"], int(r["index"])) for r in rows]
    assert len(keys) == len(set(keys)) == 80
    assert set(keys) == {(o, i) for o in ("hen", "basketball") for i in range(40)}
    # a finished sweep resumes to nothing, and can grow
    assert main(["sweep", "--out", str(out), "--resume", "--samples", "44", "--device", "cpu", "--no-report"]) == 0
    assert len(_rows(out / ROWS_FILE)) == 88
    assert main(["report", str(out)]) == 0 and (out / "report.md").is_file()


def test_sweep_errors_are_one_line_and_keep_the_folder(tmp_path, capsys, monkeypatch):
    assert main(["sweep", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "no folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["sweep", "--out", str(tmp_path / "empty"), "--resume"]) == 2
    assert "holds no sweep" in capsys.readouterr().err
    assert main(["sweep", "--object", "hen", "--out", str(tmp_path / "a"), "--device", "cpu"]) == 2
    assert "--samples N" in capsys.readouterr().err
    assert main(["sweep", "--object", "hen", "--grid", "yaw=100000,pitch=100000", "--out", str(tmp_path / "a")]) == 2
    assert "10,000,000,000 poses per object is more than a sweep holds" in capsys.readouterr().err
    assert main(["sweep", "--object", "nosuch", "--samples", "3", "--out", str(tmp_path / "b")]) == 2
    assert "no object 'nosuch'" in capsys.readouterr().err
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # no cached weights
    assert (
        main(["sweep", "--object", "hen", "--models", "resnet50", "--samples", "3", "--out", str(tmp_path / "c")]) == 2
    )
    assert "resnet50: no ImageNet weights here" in capsys.readouterr().err
    out = tmp_path / "d"
    argv = ["sweep", "--object", "hen", "--models", "resnet50,efficientnet_lite0", "--samples", "3", "--device", "cpu",
            "--no-report", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert "left out of the sweep" in capsys.readouterr().err
    assert read_plan(out).models == ("efficientnet_lite0",)
    assert main(["sweep", "--out", str(out), "--resume", "--seed", "5"]) == 2
    assert "--seed differs" in capsys.readouterr().err
    assert main(["sweep", "--out", str(out), "--resume", "--models", "efficientnet_lite1"]) == 2
    assert "--models differs" in capsys.readouterr().err
    assert main(["sweep", "--out", str(out), "--resume", "--no-texture"]) == 2
    assert "--no-texture differs" in capsys.readouterr().err
    assert main(["sweep", "--out", str(out), "--resume", "--samples", "2"]) == 2
    assert "can only grow" in capsys.readouterr().err
    assert main(["sweep", "--out", str(out), "--resume", "--samples", "20000000"]) == 2
    assert "more than a sweep holds" in capsys.readouterr().err
    (out / PLAN_FILE).write_text("{not json")
    assert main(["sweep", "--out", str(out), "--resume"]) == 2
    assert "not JSON" in capsys.readouterr().err
    assert len(_rows(out / ROWS_FILE)) == 3


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


def test_one_writer_per_sweep_folder_and_the_report_only_reads(tmp_path, capsys):
    """While a sweep runs, a second sweep into its folder is refused (it would compute and
    append the same rows again), and a report reads the rows without touching the file
    (it used to cut a row the sweep was writing)."""
    out = tmp_path / "busy"
    cmd = [sys.executable, str(ROOT / "run.py"), "sweep", "--object", "hen", "--models", "efficientnet_lite0",
           "--samples", "400", "--batch", "4", "--device", "cpu", "--no-report", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=dict(os.environ, STRIKE_OFFLINE="1"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.time() + 120
        while not ((out / ROWS_FILE).exists() and len((out / ROWS_FILE).read_text().splitlines()) > 8):
            assert time.time() < deadline and proc.poll() is None, "the sweep did not start"
            time.sleep(0.05)
        assert main(["sweep", "--out", str(out), "--resume", "--device", "cpu", "--no-report"]) == 2
        assert "in use by another sweep" in capsys.readouterr().err
        assert main(["sweep", "--object", "hen", "--samples", "3", "--out", str(out)]) == 2  # a new one neither
        assert "already holds a sweep" in capsys.readouterr().err
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with open(out / ROWS_FILE, "a") as f:
        f.write("hen,399,efficientnet_lite0,12.5,3")  # as a row being written looks to a reader
    before = (out / ROWS_FILE).read_bytes()
    assert main(["report", str(out)]) == 0
    assert (out / ROWS_FILE).read_bytes() == before
    report = json.loads((out / "report.json").read_text())
    assert report["rows"] == len(before.splitlines()) - 2  # the header and the torn row are not rows
    # once the writer is gone (killed here), the folder is free again
    assert main(["sweep", "--out", str(out), "--resume", "--samples", "400", "--device", "cpu", "--no-report",
                 "--batch", "16"]) == 0  # fmt: skip
    assert len(_rows(out / ROWS_FILE)) == 400
