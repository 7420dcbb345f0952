"""``run.py sweep`` and ``report``: a real sweep, a resume after a kill, errors, one writer per folder."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app.cli.main import main
from app.core.params import INDEX
from app.scene.library import resolve_object
from app.sweep.sweep import (
    PLAN_FILE,
    ROW_FIELDS,
    ROWS_FILE,
    read_plan,
)
from tests.conftest import ROOT, interrupted, wait_for

pytestmark = pytest.mark.slow  # real searches, maps and lenses, or run.py in a process of its own


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
    assert "![hen / efficientnet_lite0](plots/hen-efficientnet_lite0.png)" in md
    all_lite1 = report["fractions"]["all objects|efficientnet_lite1"]["top1"]
    assert f"| efficientnet_lite1, this sweep, top-1 correct (all objects) |  | {100 * all_lite1:.1f}% |" in md
    assert "data:image/png;base64," in (out / "report.html").read_text()
    png = Image.open(out / "plots" / "all-efficientnet_lite1.png")
    pairs = report["heatmaps"]["all objects|efficientnet_lite1"]["pairs"]
    assert pairs == [["yaw", "pitch"], ["yaw", "roll"], ["pitch", "roll"], ["x", "y"], ["yaw", "z"]]  # the 6D pose
    assert png.size == (400 * 5, 360)  # a 4 x 3.6 inch panel per pair
    assert "report:" in capsys.readouterr().out
    # the folder is never overwritten by a new sweep
    assert main(argv) == 2
    assert len(_rows(out / ROWS_FILE)) == 40


def _same_rows(a: list[dict], b: list[dict]) -> None:
    """The same rows, in any order: every field equal, probabilities to float rounding (the
    batches that classified them may differ)."""
    key = lambda r: (r["object"], int(r["index"]), r["model"])  # noqa: E731
    a, b = sorted(a, key=key), sorted(b, key=key)
    assert [key(r) for r in a] == [key(r) for r in b]
    for ra, rb in zip(a, b, strict=True):
        for field in ROW_FIELDS:
            if field in ("true_prob", *(f"p{k}" for k in range(1, 6))):
                assert float(ra[field]) == pytest.approx(float(rb[field]), abs=1e-4), (key(ra), field)
            else:
                assert ra[field] == rb[field], (key(ra), field)


def test_resume_after_a_kill_gives_the_rows_of_an_uninterrupted_sweep(tmp_path):
    out = tmp_path / "killed"
    args = ["sweep", "--object", "hen,basketball", "--models", "efficientnet_lite0", "--samples", "40",
            "--batch", "4", "--device", "cpu"]  # fmt: skip
    cmd = [sys.executable, str(ROOT / "run.py"), *args, "--out", str(out)]
    proc = subprocess.Popen(cmd, env=dict(os.environ, STRIKE_OFFLINE="1"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip

    def rows_or_ended() -> bool:
        done = (out / ROWS_FILE).exists() and len((out / ROWS_FILE).read_text().splitlines()) > 20
        return done or proc.poll() is not None

    wait_for(rows_or_ended, "20 rows of the sweep", timeout=300)
    assert proc.poll() is None, "the sweep ended before it was killed"
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
    assert len(rows) == 80
    assert main([*args, "--out", str(tmp_path / "whole"), "--no-report"]) == 0
    _same_rows(rows, _rows(tmp_path / "whole" / ROWS_FILE))  # an uninterrupted sweep's rows, each once
    # a finished sweep resumes to nothing, and can grow
    assert main(["sweep", "--out", str(out), "--resume", "--samples", "44", "--device", "cpu", "--no-report"]) == 0
    assert len(_rows(out / ROWS_FILE)) == 88
    assert main(["report", str(out)]) == 0 and (out / "report.md").is_file()


def test_ctrl_c_ends_a_sweep_that_then_goes_on_with_resume(tmp_path):
    out = tmp_path / "stopped"
    args = ["sweep", "--object", "hen", "--models", "efficientnet_lite0", "--samples", "120", "--batch", "4",
            "--device", "cpu", "--no-report"]  # fmt: skip
    proc, seen, stdout, err = interrupted([*args, "--out", out], ready=r"\b(1[2-9]|[2-9]\d)/120\b")
    assert proc.returncode == 130, seen + err
    assert f"interrupted; the rows so far are in {out / ROWS_FILE}: go on with --resume" in err
    kept = _rows(out / ROWS_FILE)
    assert 12 <= len(kept) < 120
    assert main(["sweep", "--out", str(out), "--resume", "--device", "cpu", "--no-report"]) == 0
    rows = _rows(out / ROWS_FILE)
    assert rows[: len(kept)] == kept and sorted(int(r["index"]) for r in rows) == list(range(120))


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
        wait_for(lambda: proc.poll() is not None or ((out / ROWS_FILE).exists()
                                                   and len((out / ROWS_FILE).read_text().splitlines()) > 8),
                 "the sweep's first rows", timeout=300)  # fmt: skip
        assert proc.poll() is None, "the sweep ended before the test could use its folder"
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


def test_several_classification_streams_give_the_same_rows(tmp_path):
    """--streams classifies that many batches at once; the rows are the same as with one."""
    rows = {}
    for streams in ("1", "3"):
        out = tmp_path / streams
        assert main(["sweep", "--object", "barrel", "--models", "efficientnet_lite0", "--samples", "18", "--batch", "4",
                     "--streams", streams, "--device", "cpu", "--no-report", "--out", str(out)]) == 0  # fmt: skip
        rows[streams] = _rows(out / ROWS_FILE)
    assert [int(r["index"]) for r in rows["3"]] == list(range(18))  # sunk in pose order
    _same_rows(rows["1"], rows["3"])
