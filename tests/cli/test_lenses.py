"""``run.py attack``, ``fragility`` and ``evolve``: the files they write, resuming, Ctrl-C."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from app.lenses.evolve import EvolveError, EvolveState
from app.lenses.fragility import KINDS
from app.vision.classifiers import classify_image
from tests.conftest import interrupted, run, started

pytestmark = pytest.mark.slow  # real searches, maps and lenses, or run.py in a process of its own


def test_attack_command_writes_the_sheet_and_images_that_classify_as_reported(tmp_path):
    out = run("attack", "--object", "hen", "--model", "efficientnet_lite0", "--methods", "fgsm,pgd",
              "--pose-seconds", "5", "--out", tmp_path).stdout  # fmt: skip
    assert "fgsm" in out and "pgd" in out and "pose" in out
    record = json.loads((tmp_path / "hen-attack.json").read_text())
    assert [a["method"] for a in record["attacks"]] == ["fgsm", "pgd"]
    sheet = Image.open(tmp_path / "hen-attack.png")
    assert sheet.width > 5 * 448 and sheet.height == 448 + 36  # original, 2 x (change, image), pose
    from app.vision.classifiers import load_classifier

    clf = load_classifier("efficientnet_lite0")
    for a in record["attacks"]:
        saved = np.array(Image.open(tmp_path / f"hen-attack-{a['method']}.png").convert("RGB"))
        assert int(np.argmax(classify_image(clf, saved))) == a["top5_after"][0]["index"]
        assert a["linf_255"] <= 2
    assert "changed" in record["pose_attack"]
    run("attack", "--object", "hen", "--methods", "fgsm", "--no-pose", "--out", tmp_path)
    assert (tmp_path / "hen-attack-2.json").exists()  # never over the first run's files
    bad = run("attack", "--object", "hen", "--methods", "cw", "--out", tmp_path, check_ok=False)
    assert bad.returncode == 2 and "fgsm, pgd, deepfool" in bad.stderr


def test_fragility_command_writes_maps_consistent_with_its_fractions(tmp_path):
    run("fragility", "--object", "teddy_bear", "--size", "320x240", "--sizes", "0.6,0.9", "--grid", "3",
        "--model", "efficientnet_lite0", "--out", tmp_path)  # fmt: skip
    record = json.loads((tmp_path / "teddy_bear-fragility.json").read_text())
    assert record["crops"] == 2 * 9 * 9
    for m in record["maps"]:
        correct = np.array(m["correct"], bool)
        assert correct.shape == (3, 3) and m["fractions"]["correct"] == correct.mean()
        for kind in KINDS:
            fri = np.array(m[kind], bool)
            assert m["fractions"][kind] == fri.mean() and not (fri & ~correct).any()
    for name in ("maps", "fri"):
        png = np.asarray(Image.open(tmp_path / f"teddy_bear-fragility-{name}.png").convert("RGB"))
        assert png.shape[0] > 200 and png.shape[1] > 400 and len(np.unique(png.reshape(-1, 3), axis=0)) > 50
    bad = run("fragility", "--object", "teddy_bear", "--sizes", "1.0", "--out", tmp_path, check_ok=False)
    assert bad.returncode == 2 and "does not fit" in bad.stderr


def test_fragility_by_the_top5_criterion_counts_every_crop_the_top1_one_does(tmp_path):
    """Correct by top-5 (the true class among the five first) includes correct by top-1."""
    from app.cli.main import main

    maps = {}
    for criterion in ("top1", "top5"):
        out = tmp_path / criterion
        assert main(["fragility", "--object", "hen", "--size", "320x240", "--sizes", "0.5", "--grid", "4",
                     "--model", "efficientnet_lite0", "--criterion", criterion, "--out", str(out)]) == 0  # fmt: skip
        record = json.loads((out / "hen-fragility.json").read_text())
        assert record["criterion"] == criterion
        maps[criterion] = np.array(record["maps"][0]["correct"], bool)
    assert (maps["top5"] >= maps["top1"]).all() and maps["top5"].sum() > maps["top1"].sum()


def test_evolve_command_resumes_and_refuses_contradictions(tmp_path):
    args = ("--model", "efficientnet_lite0", "--out", tmp_path, "--batch", "6")
    run("evolve", "--kind", "object", "--object", "sports_car", "--generations", "2", "--gallery", "4", *args)
    run("evolve", "--resume", "--generations", "1", "--gallery", "4", *args)
    state = EvolveState.load(tmp_path / "archive.json")
    assert state.kind == "object" and state.object == "sports_car" and state.generation == 3
    assert [r["generation"] for r in state.history] == [1, 2, 3] and state.evaluations == 18
    assert (tmp_path / "gallery-gen2.png").exists() and (tmp_path / "gallery-gen3.png").exists()
    assert len(list((tmp_path / "elites").glob("*.png"))) >= 4
    again = run("evolve", "--kind", "image", "--generations", "1", *args, check_ok=False)
    assert again.returncode == 2 and "--resume" in again.stderr
    clash = run("evolve", "--resume", "--target", "sock", "--generations", "1", *args, check_ok=False)
    assert clash.returncode == 2 and "other settings" in clash.stderr
    # one writer of an archive at a time: a second --resume while one runs would lose generations
    first, _ = started(["evolve", "--resume", "--generations", "500", *args], ready=r"\b1/500")  # it holds the folder
    try:
        busy = run("evolve", "--resume", "--generations", "1", *args, check_ok=False)
        assert busy.returncode == 2 and "in use by another evolution" in busy.stderr
    finally:
        first.kill()
        first.wait()
    assert EvolveState.load(tmp_path / "archive.json").generation >= 4
    (tmp_path / "archive.json").write_text("{}")
    broken = run("evolve", "--resume", "--generations", "1", *args, check_ok=False)
    assert broken.returncode == 2 and "archive.json: not an evolution archive" in broken.stderr
    with pytest.raises(EvolveError, match=r"archive.json: broken evolution archive: no field 'model'"):
        (tmp_path / "archive.json").write_text('{"format": "strike-a-pose/evolve", "version": 1, "kind": "image"}')
        EvolveState.load(tmp_path / "archive.json")
    unknown = run("evolve", "--object", "nosuch", "--generations", "1", "--out", tmp_path / "new", check_ok=False)
    assert unknown.returncode == 2 and "nosuch" in unknown.stderr
    assert not (tmp_path / "new").exists()  # a failed start leaves no empty folder
    with pytest.raises(EvolveError):
        EvolveState("video", "m", None, 0)


def test_ctrl_c_keeps_the_finished_crop_sizes_and_generations(tmp_path):
    """The first Ctrl-C ends fragility after the crop sizes already mapped, and an evolution
    after its generation; both write what they have and exit with 130."""
    sizes = ",".join(f"{0.30 + 0.01 * k:.2f}" for k in range(30))
    proc, seen, out, err = interrupted(
        ["fragility", "--object", "hen", "--grid", "2", "--sizes", sizes, "--out", tmp_path / "f"],
        ready=r"\b(1[0-9]{2}|[89][0-9])/1080",  # 36 crops a size: two or more sizes done
    )
    assert proc.returncode == 130, seen + err
    assert "stopping; the crop sizes already mapped are kept" in err
    mapped = int(re.search(r"stopped \(Ctrl-C\): (\d+) of 30 crop sizes mapped", err).group(1))
    assert 2 <= mapped < 30
    doc = json.loads((tmp_path / "f" / "hen-fragility.json").read_text())
    assert len(doc["maps"]) == mapped and doc["crops"] == 36 * mapped
    assert doc["stopped"] == f"Ctrl-C, after {mapped} of 30 crop sizes"
    assert (tmp_path / "f" / "hen-fragility-maps.png").exists()

    proc, seen, out, err = interrupted(
        ["evolve", "--kind", "image", "--generations", "500", "--batch", "6", "--out", tmp_path / "e"],
        ready=r"\b2/500",
    )
    assert proc.returncode == 130, seen + err
    generation = int(re.match(r"stopped \(Ctrl-C\); generation (\d+):", out).group(1))
    assert 2 <= generation < 500
    assert EvolveState.load(tmp_path / "e" / "archive.json").generation == generation
    assert (tmp_path / "e" / f"gallery-gen{generation}.png").exists()


def test_ctrl_c_ends_an_attack_run_with_the_attacks_done_so_far(tmp_path):
    """The first Ctrl-C ends PGD after its step (its image so far is kept and marked) or the pose
    attack at its best pose so far; the sheet and JSON are written, exit 130."""
    args = ["attack", "--object", "hen", "--model", "efficientnet_lite0", "--target", "ashcan"]
    proc, seen, out, err = interrupted(
        [*args, "--methods", "fgsm,pgd,deepfool", "--eps", "0.5", "--steps", "100000", "--out", tmp_path / "p"],
        ready=r"pgd: attacking, up to 100000 steps",
    )
    assert proc.returncode == 130, seen + err
    assert "stopping after this step; the attacks so far are kept" in err
    doc = json.loads((tmp_path / "p" / "hen-attack.json").read_text())
    assert [a["method"] for a in doc["attacks"]] == ["fgsm", "pgd"] and doc["attacks"][1]["stopped"] is True
    assert doc["attacks"][1]["steps"] < 100000 and "stopped" not in doc["attacks"][0]
    assert doc["stopped"] == "Ctrl-C during pgd; not run: deepfool, pose" and "pose_attack" not in doc
    assert re.search(r"^pgd .* steps, .* s \(stopped\)$", out, re.M), out
    assert (tmp_path / "p" / "hen-attack.png").exists() and (tmp_path / "p" / "hen-attack-pgd.png").exists()

    proc, seen, out, err = interrupted(
        [*args, "--methods", "fgsm", "--pose-seconds", "300", "--out", tmp_path / "q"], ready=r"pose attack: turning"
    )
    assert proc.returncode == 130, seen + err
    doc = json.loads((tmp_path / "q" / "hen-attack.json").read_text())
    assert doc["stopped"] == "Ctrl-C during the pose attack" and doc["pose_attack"]["seconds"] < 300
