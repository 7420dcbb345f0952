"""The verdict words and colours the view's headline and the Prediction section share."""

from __future__ import annotations

from imgui_bundle import imgui

from app.background.live import LiveResult
from app.core.verdict import CORRECT, FOOLED, TARGET_HIT, Verdict, judge
from app.gui.panel.widgets import AMBER, BLUE, GREEN, RED


def verdict(result: LiveResult, true_class: int | None, target: int | None) -> tuple[Verdict, imgui.ImVec4] | None:
    """The verdict of a prediction (:mod:`app.core.verdict`) and its colour: green CORRECT,
    blue TARGET HIT, FOOLED amber while the true class is in the top-5 and red beyond;
    None when there is no class to judge by and no target hit."""
    v = judge(result.probabilities, true_class, target)
    return None if v.word is None else (v, colour(v))


def colour(v: Verdict) -> imgui.ImVec4 | None:
    """Green CORRECT, blue TARGET HIT, FOOLED amber while the true class is in the top-5 and
    red beyond; None without a verdict."""
    if v.word == FOOLED:
        return AMBER if v.true_rank <= 5 else RED
    return {CORRECT: GREEN, TARGET_HIT: BLUE}.get(v.word)


def fools(ex) -> tuple[int, int] | None:
    """(models fooled, models judging) when other models answer beside the live one and
    the object has a class; None otherwise."""
    s, result, answer = ex.state, ex.result, ex.beside.answer()
    if result is None or answer is None or s.obj.imagenet_class is None:
        return None
    verdicts = [judge(result.probabilities, s.obj.imagenet_class), *(judge(p, s.obj.imagenet_class)
                                                                       for p in answer.probabilities)]  # fmt: skip
    return sum(v.fooled for v in verdicts), len(verdicts)
