"""The failure lenses on real renders with the bundled classifier: pixel attacks,
fragile-recognition maps, evolved fooling images and skins."""

from __future__ import annotations

import json
import re
import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from app.lenses.attacks import AttackError, attack
from app.lenses.cppn import IMAGE_INPUTS, Genome
from app.lenses.evolve import EvolveError, EvolveState, evolve, genome_skin, image_evaluator
from app.lenses.fragility import KINDS, FragilityError, FragilityMap, crop_image, fragility
from app.render.renderer import OffscreenTarget, RenderSettings
from app.scene.library import resolve_object
from app.vision.predictions import classify_image
from tests.test_cli import interrupted, run, started


@pytest.fixture(scope="module")
def hen_view(pipeline):
    obj = resolve_object("hen")
    pipeline.set_object(obj)
    return obj, pipeline.render(obj.canonical_pose)


# ------------------------------------------------------------------ pixel attacks


def test_fgsm_with_epsilon_zero_changes_nothing(classifier, hen_view):
    obj, image = hen_view
    r = attack(classifier, image, "fgsm", label=obj.imagenet_class, eps=0)
    assert np.array_equal(r.adversarial, image) and r.linf == 0 and r.l2 == 0
    assert np.array_equal(r.after, r.before) and not r.fooled
    assert int(np.argmax(r.before)) == obj.imagenet_class  # the canonical hen is a hen


def test_pgd_lowers_the_true_class_within_its_budget(classifier, hen_view):
    obj, image = hen_view
    r = attack(classifier, image, "pgd", label=obj.imagenet_class, eps=2, steps=5, seed=1)
    assert r.after[obj.imagenet_class] < 0.5 * r.before[obj.imagenet_class]
    assert 1 <= r.linf <= 2 and r.changed_pixels > 0.5
    # what is reported is what the 8-bit image gives
    assert np.allclose(classify_image(classifier, r.adversarial), r.after, atol=1e-5)


def test_targeted_pgd_and_deepfool_fool_with_small_changes(classifier, hen_view):
    obj, image = hen_view
    clock = 409  # analog clock
    t = attack(classifier, image, "pgd", label=obj.imagenet_class, target=clock, eps=4, steps=20)
    assert t.fooled and int(np.argmax(t.after)) == clock and t.linf <= 4 and t.outcome == "reached analog clock"
    d = attack(classifier, image, "deepfool", label=obj.imagenet_class, steps=30)
    fgsm = attack(classifier, image, "fgsm", label=obj.imagenet_class, eps=2)
    assert d.fooled and int(np.argmax(d.after)) != obj.imagenet_class and d.outcome == "fooled"
    assert d.l2 < fgsm.l2 / 2  # DeepFool looks for the smallest L2 change
    record = d.record()
    assert record["fooled"] and record["top5_after"][0]["index"] == int(np.argmax(d.after))


def test_attacks_refuse_bad_requests(classifier, hen_view):
    _obj, image = hen_view
    with pytest.raises(AttackError, match="unknown attack"):
        attack(classifier, image, "cw")
    with pytest.raises(AttackError, match="takes 224 px"):
        attack(classifier, image[:100, :100], "fgsm")
    with pytest.raises(AttackError, match="untargeted"):
        attack(classifier, image, "deepfool", target=1)
    with pytest.raises(AttackError, match="8-bit steps"):
        attack(classifier, image, "pgd", eps=-1)


# ---------------------------------------------------------- fragility maps


def test_fri_kinds_follow_their_definitions():
    correct = np.array([[True, True, True, False]])
    shift = np.array([[[True] * 4, [False, True, True, True], [False] * 4, [False] * 4]])
    shrink = np.array([[[False] * 4, [True] * 4, [True, False, True, True], [False] * 4]])
    z = np.zeros((1, 4, 9))
    m = FragilityMap(0.5, 100, np.arange(4), np.arange(1), correct, shift, shrink, z.astype(int), z, z)
    assert m.fri("loose_shift").tolist() == [[False, True, True, False]]  # a wrong crop is never an FRI
    assert m.fri("strict_shift").tolist() == [[False, False, True, False]]
    assert m.fri("loose_shrink").tolist() == [[True, False, True, False]]
    assert m.fri("strict_shrink").tolist() == [[True, False, False, False]]
    assert m.fractions() == {"correct": 0.75, "loose_shift": 0.5, "strict_shift": 0.25,
                             "loose_shrink": 0.5, "strict_shrink": 0.25}  # fmt: skip
    assert m.flipping_neighbour(0, 1) == 1 and m.box(0, 1, 1) == (2, 0, 100) and m.box(0, 1, 8) == (3, 2, 98)


def test_fragility_map_of_a_real_view(ctx, renderer, classifier):
    obj = resolve_object("teddy_bear")
    renderer.set_mesh(obj.load())
    target = OffscreenTarget(ctx, 320, 240, "auto")
    renderer.render(obj.canonical_pose, target, RenderSettings())
    image = target.read()[..., :3].copy()
    target.release()
    result = fragility(classifier, image, obj.imagenet_class, [0.55, 0.9], steps=4, batch=16)
    assert [m.size for m in result.maps] == [132, 216]
    for m in result.maps:
        ny, nx = len(m.ys), len(m.xs)
        assert m.correct.shape == (ny, nx) and m.shift_correct.shape == m.shrink_correct.shape == (ny, nx, 4)
        assert (m.xs >= 1).all() and (m.xs + m.size + 1 <= 320).all() and (m.ys + m.size + 1 <= 240).all()
        # the fractions come from the correctness arrays
        f = m.fractions()
        assert f["correct"] == m.correct.sum() / m.correct.size
        for kind in KINDS:
            neigh = m.shift_correct if kind.endswith("shift") else m.shrink_correct
            flips = (~neigh).all(axis=2) if kind.startswith("strict") else (~neigh).any(axis=2)
            assert f[kind] == (m.correct & flips).sum() / m.correct.size
        # the top-1 stored for a crop and for its one-pixel shift are those of the crops themselves
        picture = torch.from_numpy(image).permute(2, 0, 1).float()
        for neighbour in (0, 2, 7):
            x, y, s = m.box(ny - 1, 0, neighbour)
            crop = F.interpolate(picture[None, :, y : y + s, x : x + s], size=(224, 224), mode="bilinear",
                                 antialias=True)  # fmt: skip
            assert int(classifier.probabilities(crop).argmax()) == m.top1[ny - 1, 0, neighbour]
    assert result.maps[1].correct.all()  # nine tenths of the view: the whole bear
    assert 0 < result.maps[0].correct.mean() < 1  # half the view: only some crops show a bear
    assert crop_image(image, result.maps[0].box(0, 0), 224).shape == (224, 224, 3)
    # stopped in the second size: its time is not counted in the kept map's seconds (crops/s)
    stop, mapped_at = threading.Event(), []

    def slow_second_size(p) -> None:
        if mapped_at and not stop.is_set():
            time.sleep(1.0)
            stop.set()

    started = time.perf_counter()
    result = fragility(classifier, image, obj.imagenet_class, [0.55, 0.9], steps=4, batch=16, stop=stop,
                       report=slow_second_size, on_map=lambda m: mapped_at.append(time.perf_counter()))  # fmt: skip
    assert len(result.maps) == 1 and 0 < result.seconds <= mapped_at[0] - started
    assert time.perf_counter() - started > result.seconds + 1.0


def test_fragility_refuses_crops_that_do_not_fit(classifier):
    image = np.zeros((100, 120, 3), np.uint8)
    with pytest.raises(FragilityError, match="does not fit"):
        fragility(classifier, image, 1, [1.0])
    with pytest.raises(FragilityError, match="0 < size <= 1"):
        fragility(classifier, image, 1, [0.01])


# ------------------------------------------------------------------ evolution


def test_evolution_raises_the_target_confidence_and_resumes_identically(classifier, tmp_path):
    target = 149  # dugong: within reach of a few generations
    evaluate = image_evaluator(classifier)
    state = EvolveState("image", classifier.name, target, seed=3)
    evolve(state, evaluate, 1, batch=12)
    first = state.target_fitness()
    evolve(state, evaluate, 7, batch=12)
    fitness = [row["target_fitness"] for row in state.history]
    assert fitness == sorted(fitness)  # elites never get worse
    assert state.target_fitness() > 2 * first
    assert len(state.elites) == 1000  # every class has an elite: the archive is MAP-Elites'
    # same seed, in two halves through a saved archive: the same run
    half = EvolveState("image", classifier.name, target, seed=3)
    evolve(half, evaluate, 4, batch=12)
    half.save(tmp_path / "archive.json")
    resumed = EvolveState.load(tmp_path / "archive.json")
    evolve(resumed, evaluate, 4, batch=12)
    assert resumed.history == state.history
    assert {c: e.fitness for c, e in resumed.elites.items()} == {c: e.fitness for c, e in state.elites.items()}


def test_genomes_mutate_into_valid_graphs_and_round_trip():
    rng = np.random.default_rng(0)
    g = Genome.random(IMAGE_INPUTS, rng)
    for _ in range(200):
        g = g.mutate(rng)
    depth = {n.id: n.depth for n in g.nodes} | {i: 0.0 for i in range(len(IMAGE_INPUTS))}
    assert all(depth[c.src] < depth[c.dst] for c in g.connections)  # acyclic by construction
    again = Genome.from_dict(json.loads(json.dumps(g.to_dict())))
    coords = {k: np.linspace(-1, 1, 50, dtype=np.float32) for k in ("x", "y", "d", "bias")}
    out = g.evaluate(coords)
    assert out.shape == (50, 3) and np.isfinite(out).all()
    assert np.allclose(again.evaluate(coords), out, atol=1e-5)
    with pytest.raises(ValueError, match="not a CPPN genome"):
        Genome.from_dict({"inputs": ["x"], "nodes": [[1, "relu", 1.0]], "connections": []})


def test_a_skin_paints_the_object_and_comes_off(ctx, renderer):
    obj = resolve_object("teddy_bear")
    renderer.set_mesh(obj.load())
    target = OffscreenTarget(ctx, 128, 128, "auto")
    renderer.render(obj.canonical_pose, target, RenderSettings())
    plain = target.read()[..., :3].copy()
    volume = np.zeros((8, 8, 8, 3), np.uint8)
    volume[..., 2] = 255  # all blue
    renderer.set_skin(volume)
    renderer.render(obj.canonical_pose, target, RenderSettings())
    skinned = target.read()[..., :3].copy()
    renderer.set_skin(None)
    renderer.render(obj.canonical_pose, target, RenderSettings())
    again = target.read()[..., :3].copy()
    target.release()
    assert np.array_equal(again, plain)
    background = (plain == 255).all(axis=2) & (skinned == 255).all(axis=2)
    changed = (plain != skinned).any(axis=2)
    assert changed.mean() > 0.3 and background.mean() > 0.2  # the bear changed, the background did not
    bear = skinned[changed].astype(int)
    assert (bear[:, 2] >= bear[:, 0]).mean() > 0.95 and (bear[:, 0] < 60).mean() > 0.9  # blue, lit
    with pytest.raises(ValueError, match="uint8 volume"):
        renderer.set_skin(np.zeros((8, 8, 3), np.uint8))
    assert genome_skin(Genome.random(("x", "y", "z", "d", "bias"), np.random.default_rng(1)), 16).shape == (
        16, 16, 16, 3)  # fmt: skip


# ------------------------------------------------------------------ commands


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
        assert Image.open(tmp_path / f"teddy_bear-fragility-{name}.png").width > 400
    bad = run("fragility", "--object", "teddy_bear", "--sizes", "1.0", "--out", tmp_path, check_ok=False)
    assert bad.returncode == 2 and "does not fit" in bad.stderr


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
    proc, seen, out, err, took = interrupted(
        ["fragility", "--object", "hen", "--grid", "2", "--sizes", sizes, "--out", tmp_path / "f"],
        ready=r"\b(1[0-9]{2}|[89][0-9])/1080",  # 36 crops a size: two or more sizes done
    )
    assert proc.returncode == 130 and took < 10, seen + err
    assert "stopping; the crop sizes already mapped are kept" in err
    mapped = int(re.search(r"stopped \(Ctrl-C\): (\d+) of 30 crop sizes mapped", err).group(1))
    assert 2 <= mapped < 30
    doc = json.loads((tmp_path / "f" / "hen-fragility.json").read_text())
    assert len(doc["maps"]) == mapped and doc["crops"] == 36 * mapped
    assert doc["stopped"] == f"Ctrl-C, after {mapped} of 30 crop sizes"
    assert (tmp_path / "f" / "hen-fragility-maps.png").exists()

    proc, seen, out, err, took = interrupted(
        ["evolve", "--kind", "image", "--generations", "500", "--batch", "6", "--out", tmp_path / "e"],
        ready=r"\b2/500",
    )
    assert proc.returncode == 130 and took < 10, seen + err
    generation = int(re.match(r"stopped \(Ctrl-C\); generation (\d+):", out).group(1))
    assert 2 <= generation < 500
    assert EvolveState.load(tmp_path / "e" / "archive.json").generation == generation
    assert (tmp_path / "e" / f"gallery-gen{generation}.png").exists()


def test_ctrl_c_ends_an_attack_run_with_the_attacks_done_so_far(tmp_path):
    """The first Ctrl-C ends PGD after its step (its image so far is kept and marked) or the pose
    attack at its best pose so far; the sheet and JSON are written, exit 130."""
    args = ["attack", "--object", "hen", "--model", "efficientnet_lite0", "--target", "ashcan"]
    proc, seen, out, err, took = interrupted(
        [*args, "--methods", "fgsm,pgd,deepfool", "--eps", "0.5", "--steps", "100000", "--out", tmp_path / "p"],
        ready=r"pgd: attacking, up to 100000 steps",
    )
    assert proc.returncode == 130 and took < 10, seen + err
    assert "stopping after this step; the attacks so far are kept" in err
    doc = json.loads((tmp_path / "p" / "hen-attack.json").read_text())
    assert [a["method"] for a in doc["attacks"]] == ["fgsm", "pgd"] and doc["attacks"][1]["stopped"] is True
    assert doc["attacks"][1]["steps"] < 100000 and "stopped" not in doc["attacks"][0]
    assert doc["stopped"] == "Ctrl-C during pgd; not run: deepfool, pose" and "pose_attack" not in doc
    assert re.search(r"^pgd .* steps, .* s \(stopped\)$", out, re.M), out
    assert (tmp_path / "p" / "hen-attack.png").exists() and (tmp_path / "p" / "hen-attack-pgd.png").exists()

    proc, seen, out, err, took = interrupted(
        [*args, "--methods", "fgsm", "--pose-seconds", "300", "--out", tmp_path / "q"], ready=r"pose attack: turning"
    )
    assert proc.returncode == 130 and took < 10, seen + err
    doc = json.loads((tmp_path / "q" / "hen-attack.json").read_text())
    assert doc["stopped"] == "Ctrl-C during the pose attack" and doc["pose_attack"]["seconds"] < 300


def test_gallery_labels_fit_their_tile_and_say_when_they_are_cut():
    """A class name was cut at 26 characters whatever its width, with no sign of the cut."""
    from PIL import Image, ImageDraw, ImageFont

    from app.lenses.gallery import fitted

    draw, font = ImageDraw.Draw(Image.new("RGB", (10, 10))), ImageFont.load_default(size=13)
    long = "Granny Smith and a very long class name indeed"
    cut = fitted(draw, long, font, 218)
    assert cut.endswith("...") and long.startswith(cut[:-3]) and len(cut) > 20
    assert draw.textlength(cut, font=font) <= 218 < draw.textlength(long, font=font)
    assert fitted(draw, "hen", font, 218) == "hen"
