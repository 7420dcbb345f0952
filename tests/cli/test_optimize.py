"""``run.py optimize``: files, recordings, Ctrl-C, targets, several objects."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from app.core.params import Pose, describe_change, largest_change, load_pose_file
from app.scene.library import resolve_object
from app.search.space import Goal
from tests.conftest import ROOT, interrupted, run

pytestmark = pytest.mark.slow  # real searches, maps and lenses, or run.py in a process of its own


def test_optimize_command_writes_files_never_overwrites_and_reproduces(tmp_path):
    cmd = [sys.executable, "run.py", "optimize", "--object", "teddy_bear", "--method", "random",
           "--iterations", "2", "--seed", "3", "--out", str(tmp_path)]  # fmt: skip
    budget = [*cmd[:7], "--budget", "2", *cmd[9:]]  # the same budget, written the other way
    for c in (cmd, budget):
        r = subprocess.run(c, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        [f"teddy_bear-random{s}{e}" for s in ("", "-2") for e in (".json", ".png", "-trajectory.csv")]
    )
    a, b = (json.loads((tmp_path / f"teddy_bear-random{s}.json").read_text()) for s in ("", "-2"))
    assert a["pose"] == b["pose"]  # same seed
    assert len((tmp_path / "teddy_bear-random-2-trajectory.csv").read_text().strip().splitlines()) == 1 + 2
    assert a["prediction"]["true_class"]["rank"] > 1
    again = tmp_path / "again.png"
    render = [
        sys.executable,
        "run.py",
        "render",
        "--pose",
        str(tmp_path / "teddy_bear-random.json"),
        "--out",
        str(again),
    ]
    subprocess.run(render, cwd=ROOT, check=True, capture_output=True, timeout=120)
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(tmp_path / "teddy_bear-random.png")))
    bad = subprocess.run(
        [*cmd[:-2], "--target", "zebroid", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "zebroid" in bad.stderr and "Traceback" not in bad.stderr
    bad = subprocess.run([*cmd, "--edge-gradients"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--edge-gradients is for --method grad" in bad.stderr
    bad = subprocess.run([*cmd, "--first-step", "0.1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "--first-step is for --method grad" in bad.stderr
    bad = subprocess.run([*budget, "--seconds", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "give --budget or --iterations/--seconds, not both" in bad.stderr
    bad = subprocess.run([*cmd[:7], "--budget", "2 minutes", *cmd[9:]], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "budget must be like 5s, 40 (iterations) or 40,5s" in bad.stderr
    assert not (tmp_path / "teddy_bear-random-3.json").exists()


def newest_pose_file(folder):
    return max(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)


def exit_code_of(pose_file) -> int:
    """What run.py optimize exits with for the search that wrote ``pose_file``: 0 if its best
    pose met the goal (here: the hen's top-1 is not hen), 1 if not."""
    top1 = json.loads(pose_file.read_text())["prediction"]["top5"][0]["class"]
    return 0 if top1 != 8 else 1


def test_optimize_command_gradient_method_with_recordings(tmp_path):
    """--record writes a GIF or MP4: the start, one frame per iteration, and the best pose
    (the one written as the PNG), held 1.5 s.  No --method: the gradient is the default on
    the CPU, and the files are named after it."""
    import imageio.v3 as iio

    base = [sys.executable, "run.py", "optimize", "--object", "hen", "--iterations", "3", "--out", str(tmp_path)]
    for fmt in ("gif", "mp4"):
        r = subprocess.run([*base, "--record", fmt], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert r.returncode == exit_code_of(newest_pose_file(tmp_path)), r.stderr
        bar = re.search(r"recording the run: 100%\|\S+\| (\d+)/\1 ", r.stderr)  # the wait has its bar
        assert bar, r.stderr
        made = int(bar.group(1))
    assert (tmp_path / "hen-grad.gif").exists() and (tmp_path / "hen-grad-2.mp4").exists()
    assert not (tmp_path / "hen-grad.mp4").exists()  # the second run took new names for all its files
    rows = (tmp_path / "hen-grad-trajectory.csv").read_text().strip().splitlines()
    gif = iio.imread(tmp_path / "hen-grad.gif", index=None)
    mp4 = iio.imread(tmp_path / "hen-grad-2.mp4", index=None)
    # start, 3 iterations, best, and frames turning into the first step's far pose
    assert len(rows) - 1 == 3 and len(gif) == made > 3 + 2 and len(mp4) == made + 12  # 1.5 s at 8 frames a second
    assert gif.shape[1:] == (2 * 224 + 36, 2 * 224, 3)  # enlarged twice, with the label band on top
    with Image.open(tmp_path / "hen-grad.gif") as im:
        im.seek(made - 1)
        assert im.info["duration"] >= 1500 and im.n_frames == made
    best = iio.imread(tmp_path / "hen-grad.png")[..., :3].astype(float)
    halved = gif[-1, 36:].astype(float).reshape(224, 2, 224, 2, 3).mean(axis=(1, 3))
    assert np.abs(halved - best).mean() < 4  # GIF colours; another pose differs by 10-40
    r = subprocess.run([*base, "--edge-gradients"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == exit_code_of(tmp_path / "hen-grad-3.json"), r.stderr
    assert len((tmp_path / "hen-grad-3-trajectory.csv").read_text().strip().splitlines()) == 4
    # --first-step: the first fooling pose is nearer the start when the first step is shorter
    # (here 0.31 of a range from the start, 0.38 with the default half of the cube)
    moved = {}
    for step in ("0.5", "0.1"):
        r = subprocess.run([*base, "--until-fooled", "--first-step", step], cwd=ROOT, capture_output=True, text=True,
                           timeout=300)  # fmt: skip
        assert r.returncode == 0, r.stderr
        fooling = Pose(json.loads((tmp_path / sorted(tmp_path.glob("hen-grad-*.json"))[-1].name).read_text())["pose"])
        moved[step] = largest_change(resolve_object("hen").canonical_pose, fooling)
    assert moved["0.1"] < moved["0.5"] - 0.05, moved
    # --nearest: the success pulled back toward the start, said, noted and nearer still
    r = subprocess.run([*base, "--until-fooled", "--nearest"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / sorted(tmp_path.glob("hen-grad-*.json"))[-1].name).read_text())
    assert "then the nearest success to the start" in doc["note"]
    assert largest_change(resolve_object("hen").canonical_pose, Pose(doc["pose"])) < moved["0.5"] - 0.05
    # the first success, before the pull-back, is in the file and said: the default first step's pose
    first = Pose(doc["first_success"]["pose"])
    assert largest_change(resolve_object("hen").canonical_pose, first) == pytest.approx(moved["0.5"], abs=1e-6)
    assert doc["first_success"]["seconds"] > 0
    said = re.search(r"the first success's change from the start: (.+)", r.stdout)
    assert said and said.group(1) == doc["first_success"]["change_from_start"], r.stdout
    loaded = load_pose_file(sorted(tmp_path.glob("hen-grad-*.json"))[-1])  # still a pose file others read
    assert loaded.pose == Pose(doc["pose"]) and loaded.extra["first_success"] == doc["first_success"]
    assert re.search(r"change from the start: (yaw|pitch|roll) [+-]\d+°", r.stdout), r.stdout


def test_optimize_command_runs_the_frozen_model(tmp_path, monkeypatch):
    """``run.py optimize`` freezes the model before searching, as the window does: its
    gradients run the frozen differentiable copy (about 61 ms instead of 90 eager) and its
    renders are classified by the frozen model.  (It ran the eager model until 2026-12-03.)"""
    import app.pipeline.gradient
    from app.cli.main import main

    seen = []
    original = app.pipeline.gradient.PoseGradient.__call__

    def watched(self, space, goal, u):
        seen.append((self.classifier.frozen, self.classifier._frozen_grad is not None))
        return original(self, space, goal, u)

    monkeypatch.setattr(app.pipeline.gradient.PoseGradient, "__call__", watched)
    code = main(["optimize", "--object", "hen", "--method", "grad", "--iterations", "1", "--out", str(tmp_path)])
    assert code == exit_code_of(tmp_path / "hen-grad.json")
    assert seen and all(frozen and copy for frozen, copy in seen), seen


def test_ctrl_c_stops_an_optimize_run_and_keeps_its_best_pose(tmp_path):
    """The first Ctrl-C (SIGINT) ends the search after its iteration and writes the best pose
    so far, as the window's Stop button does; exit status 130."""
    proc, seen, out, err = interrupted(
        ["optimize", "--object", "hen", "--method", "cmaes", "--target", "ashcan", "--params",
         "rotation,translation,light", "--seconds", "120", "--out", tmp_path],
        ready=r"\b2it",  # two generations done, so the search is under way
    )  # fmt: skip
    assert proc.returncode == 130, seen + err
    assert "stopping after this iteration" in err
    assert "Traceback" not in err and out.startswith("stopped (Ctrl-C), ")
    doc = json.loads((tmp_path / "hen-cmaes.json").read_text())
    assert doc["note"].endswith("stopped by Ctrl-C")
    rows = (tmp_path / "hen-cmaes-trajectory.csv").read_text().strip().splitlines()
    assert 1 + 2 <= len(rows) <= 1 + 5 and (tmp_path / "hen-cmaes.png").exists()


def test_ctrl_c_while_recording_keeps_the_result_said_and_written(tmp_path):
    """The search is over when the recording starts: a Ctrl-C then ends only the recording
    (no half-written or hidden file is left), after the result line and its files; as in a
    search, the objects after it are skipped and the summary is written."""
    proc, seen, out, err = interrupted(
        ["optimize", "--object", "hen,teddy_bear", "--seconds", "8", "--record", "gif", "--out", tmp_path],
        ready=r"recording the run: +\d+%",
        sigint_ignored=True,  # as in CI, where this Ctrl-C went unheard until the recording had its handler
    )
    assert proc.returncode == 130, seen + err
    assert "Traceback" not in err and out.startswith("FOOLED: top-1 is no longer ")
    files = f"{tmp_path / 'hen-grad'}.json, .png, -trajectory.csv"
    assert f"wrote {files}; the recording was interrupted (Ctrl-C)\n" in out
    assert out.splitlines()[-1].startswith("fooled 1 of 1 objects; stopped by Ctrl-C, 1 not searched; wrote ")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hen-grad-trajectory.csv", "hen-grad.json", "hen-grad.png", "optimize-summary.csv"
    ]  # fmt: skip


def test_a_targeted_run_says_whether_it_reached_its_target_and_notes_an_own_class_target(tmp_path):
    """A targeted search reports "TARGET HIT (CLASS)", not "FOOLED"; a target that is the
    object's own class is a search for a pose it is recognised in, and says so."""
    assert Goal(8).outcome(True) == "FOOLED" and Goal(8).outcome(False) == "not fooled"
    assert (
        Goal(8, 412).outcome(True) == "TARGET HIT (ashcan)" and Goal(8, 412).outcome(False) == "target missed (ashcan)"
    )
    r = run("optimize", "--object", "hen", "--method", "random", "--target", "hen", "--iterations", "1",
            "--out", tmp_path)  # fmt: skip
    assert "note: the target hen is hen's own class: the search looks for a pose" in r.stderr
    assert r.stdout.startswith("TARGET HIT (hen): top-1 is the target, hen"), (
        r.stdout
    )  # the canonical pose is recognised


def test_optimize_command_searches_several_objects_and_writes_a_summary(tmp_path):
    """--object NAME,NAME or all: one search per object, each with its own files, then a table
    (printed and as optimize-summary.csv); exit 1 when some object was not fooled."""
    r = run("optimize", "--object", "hen,soccer_ball", "--method", "random", "--iterations", "2",
            "--out", tmp_path / "a", check_ok=False)  # fmt: skip
    assert r.returncode == 1, r.stderr  # the soccer ball looks the same in every rotation
    with open(tmp_path / "a" / "optimize-summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(x["object"], x["success"], x["files"]) for x in rows] == [
        ("hen", "True", "hen-random"), ("soccer_ball", "False", "soccer_ball-random")]  # fmt: skip
    doc = json.loads((tmp_path / "a" / "hen-random.json").read_text())
    assert rows[0]["top1"] == doc["prediction"]["top5"][0]["label"] != "hen" and rows[1]["first_success_s"] == ""
    hen = resolve_object("hen").canonical_pose
    assert rows[0]["change_from_start"] == describe_change(hen, Pose(doc["pose"])) != "no change"
    assert "fooled 1 of 2 objects; wrote" in r.stdout and (tmp_path / "a" / "soccer_ball-random.png").exists()
    lines = [x for x in r.stdout.splitlines() if "fooled: top-1" in x.lower()]
    assert len(lines) == 2 and "(first success at " in lines[0]
    assert lines[1].startswith("not fooled: top-1") and "first success" not in lines[1]  # was "(first success at -)"
    pose = tmp_path / "a" / "hen-random.json"
    bad = run("optimize", "--object", "all", "--pose", pose, "--out", tmp_path / "b", check_ok=False)
    assert bad.returncode == 2 and "--pose is one object's pose" in bad.stderr
    bad = run("optimize", "--object", "hen,nosuch", "--out", tmp_path / "b", check_ok=False)
    assert bad.returncode == 2 and "nosuch" in bad.stderr and not (tmp_path / "b").exists()
    # Ctrl-C ends the object being searched (its best pose is kept) and leaves the rest
    proc, seen, out, err = interrupted(
        ["optimize", "--object", "hen,teddy_bear", "--method", "cmaes", "--target", "ashcan", "--seconds", "120",
         "--out", tmp_path / "c"],
        ready=r"\b2it",
    )  # fmt: skip
    assert proc.returncode == 130, seen + err
    assert "target ashcan hit on 0 of 1 objects; stopped by Ctrl-C, 1 not searched" in out
    with open(tmp_path / "c" / "optimize-summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(x["object"], x["stopped"]) for x in rows] == [("hen", "True")]
    assert not list((tmp_path / "c").glob("teddy_bear*"))
