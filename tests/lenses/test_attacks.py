"""Pixel attacks: FGSM, PGD and DeepFool on a real view."""

from __future__ import annotations

import numpy as np
import pytest

from app.lenses.attacks import AttackError, attack
from app.scene.library import resolve_object
from app.vision.classifiers import classify_image


@pytest.fixture
def hen_view(pipeline):
    obj = resolve_object("hen")
    pipeline.set_object(obj)
    return obj, pipeline.render(obj.canonical_pose)


def test_fgsm_with_epsilon_zero_changes_nothing(eager_classifier, hen_view):
    obj, image = hen_view
    r = attack(eager_classifier, image, "fgsm", label=obj.imagenet_class, eps=0)
    assert np.array_equal(r.adversarial, image) and r.linf == 0 and r.l2 == 0
    assert np.array_equal(r.after, r.before) and not r.fooled
    assert int(np.argmax(r.before)) == obj.imagenet_class  # the canonical hen is a hen


def test_pgd_lowers_the_true_class_within_its_budget(eager_classifier, hen_view):
    obj, image = hen_view
    r = attack(eager_classifier, image, "pgd", label=obj.imagenet_class, eps=2, steps=5, seed=1)
    assert r.after[obj.imagenet_class] < 0.5 * r.before[obj.imagenet_class]
    assert 1 <= r.linf <= 2 and r.changed_pixels > 0.5
    # what is reported is what the 8-bit image gives
    assert np.allclose(classify_image(eager_classifier, r.adversarial), r.after, atol=1e-5)


def test_targeted_pgd_and_deepfool_fool_with_small_changes(eager_classifier, hen_view):
    obj, image = hen_view
    clock = 409  # analog clock
    t = attack(eager_classifier, image, "pgd", label=obj.imagenet_class, target=clock, eps=4, steps=20)
    assert t.fooled and int(np.argmax(t.after)) == clock and t.linf <= 4 and t.outcome == "TARGET HIT (analog clock)"
    d = attack(eager_classifier, image, "deepfool", label=obj.imagenet_class, steps=30)
    fgsm = attack(eager_classifier, image, "fgsm", label=obj.imagenet_class, eps=2)
    assert d.fooled and int(np.argmax(d.after)) != obj.imagenet_class and d.outcome == "FOOLED"
    assert d.l2 < fgsm.l2 / 2  # DeepFool looks for the smallest L2 change
    record = d.record()
    assert record["fooled"] and record["top5_after"][0]["index"] == int(np.argmax(d.after))


def test_attacks_refuse_bad_requests(eager_classifier, hen_view):
    _obj, image = hen_view
    with pytest.raises(AttackError, match="unknown attack"):
        attack(eager_classifier, image, "cw")
    with pytest.raises(AttackError, match="takes 224 px"):
        attack(eager_classifier, image[:100, :100], "fgsm")
    with pytest.raises(AttackError, match="untargeted"):
        attack(eager_classifier, image, "deepfool", target=1)
    with pytest.raises(AttackError, match="8-bit steps"):
        attack(eager_classifier, image, "pgd", eps=-1)
