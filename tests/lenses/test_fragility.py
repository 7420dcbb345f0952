"""Fragility maps: the FRI kinds, a real view, crops that do not fit."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from app.lenses.fragility import KINDS, FragilityError, FragilityMap, crop_image, fragility
from app.render.settings import RenderSettings
from app.render.targets import OffscreenTarget
from app.scene.library import resolve_object


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


@pytest.mark.slow
def test_fragility_map_of_a_real_view(ctx, renderer, eager_classifier):
    obj = resolve_object("teddy_bear")
    renderer.set_mesh(obj.load())
    target = OffscreenTarget(ctx, 320, 240, "auto")
    renderer.render(obj.canonical_pose, target, RenderSettings())
    image = target.read()[..., :3].copy()
    target.release()
    result = fragility(eager_classifier, image, obj.imagenet_class, [0.55, 0.9], steps=4, batch=16)
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
        # the top-1 stored for a crop and for its one-pixel shift are those of the crops themselves,
        # resized and rounded to 8 bits as a picture of the crop is saved
        picture = torch.from_numpy(image).permute(2, 0, 1).float()
        for neighbour in (0, 2, 7):
            x, y, s = m.box(ny - 1, 0, neighbour)
            crop = F.interpolate(picture[None, :, y : y + s, x : x + s], size=(224, 224), mode="bilinear",
                                 antialias=True)  # fmt: skip
            crop = crop.round().clamp(0, 255)
            assert int(eager_classifier.probabilities(crop).argmax()) == m.top1[ny - 1, 0, neighbour]
    assert result.maps[1].correct.all()  # nine tenths of the view: the whole bear
    assert 0 < result.maps[0].correct.mean() < 1  # half the view: only some crops show a bear
    assert crop_image(image, result.maps[0].box(0, 0), 224).shape == (224, 224, 3)
    # stopped in the second size: its time is not counted in the kept map's seconds (crops/s)
    stop, mapped_at = threading.Event(), []

    def stop_in_the_second_size(p) -> None:
        if mapped_at:
            stop.set()

    started = time.perf_counter()
    result = fragility(eager_classifier, image, obj.imagenet_class, [0.55, 0.9], steps=4, batch=16, stop=stop,
                       report=stop_in_the_second_size,
                       on_map=lambda m: mapped_at.append(time.perf_counter()))  # fmt: skip
    assert len(result.maps) == 1 and 0 < result.seconds <= mapped_at[0] - started


def test_fragility_refuses_crops_that_do_not_fit(eager_classifier):
    image = np.zeros((100, 120, 3), np.uint8)
    with pytest.raises(FragilityError, match="does not fit"):
        fragility(eager_classifier, image, 1, [1.0])
    with pytest.raises(FragilityError, match="0 < size <= 1"):
        fragility(eager_classifier, image, 1, [0.01])
