"""Evolution of fooling images and skins: CPPN genomes, resuming, skins, the gallery."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from app.lenses.cppn import IMAGE_INPUTS, Genome
from app.lenses.evolve import EvolveError, EvolveState, evolve, genome_skin, image_evaluator
from app.render.settings import RenderSettings
from app.render.targets import OffscreenTarget
from app.scene.library import resolve_object


def test_evolution_raises_the_target_confidence_and_resumes_identically(eager_classifier, tmp_path):
    target = 149  # dugong: within reach of a few generations
    evaluate = image_evaluator(eager_classifier)
    state = EvolveState("image", eager_classifier.name, target, seed=3)
    evolve(state, evaluate, 1, batch=12)
    first = state.target_fitness()
    evolve(state, evaluate, 7, batch=12)
    fitness = [row["target_fitness"] for row in state.history]
    assert fitness == sorted(fitness)  # elites never get worse
    assert state.target_fitness() > 2 * first
    assert len(state.elites) == 1000  # every class has an elite: the archive is MAP-Elites'
    # same seed, in two halves through a saved archive: the same run
    half = EvolveState("image", eager_classifier.name, target, seed=3)
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


def test_gallery_labels_fit_their_tile_and_say_when_they_are_cut():
    """A class name was cut at 26 characters whatever its width, with no sign of the cut."""
    from PIL import ImageDraw, ImageFont

    from app.lenses.gallery import fitted

    draw, font = ImageDraw.Draw(Image.new("RGB", (10, 10))), ImageFont.load_default(size=13)
    long = "Granny Smith and a very long class name indeed"
    cut = fitted(draw, long, font, 218)
    assert cut.endswith("...") and long.startswith(cut[:-3]) and len(cut) > 20
    assert draw.textlength(cut, font=font) <= 218 < draw.textlength(long, font=font)
    assert fitted(draw, "hen", font, 218) == "hen"


def test_a_hostile_archive_gives_one_clear_error(tmp_path):
    """Issue 43: an archive nested 200,000 deep ended ``evolve --resume`` in a RecursionError
    traceback; a named pipe would have hung in open()."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(EvolveError, match=r"deep.json: not an evolution archive \(JSON nested too deeply to read\)$"):
        EvolveState.load(deep)
    digits = tmp_path / "digits.json"
    digits.write_text('{"seed": 1' + "0" * 5000 + "}")
    with pytest.raises(EvolveError, match="digits.json: not an evolution archive .a number of more than 4,300 digits"):
        EvolveState.load(digits)
    fifo = tmp_path / "archive.json"
    os.mkfifo(fifo)
    with pytest.raises(EvolveError, match="evolution archive .*archive.json is not a regular file"):
        EvolveState.load(fifo)
