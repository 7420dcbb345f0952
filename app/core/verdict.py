"""One vocabulary for what a model made of an object, for every front end.

Three words, each with one meaning everywhere (the window's headline, the search's status,
captures, the command line, the per-model lines):

- **CORRECT**: the model's top-1 is the object's class;
- **FOOLED**: its top-1 is another class (the object's class may still be in the top-5:
  the rank says so, it is not a different verdict);
- **TARGET HIT**: its top-1 is the target class asked for.

A pose search meets its goal exactly when the verdict of its pose says so (FOOLED for an
untargeted search, TARGET HIT for a targeted one), and the plain sentence says what was
met and by what margin: "top-1 is no longer hen: kite 23.9% against hen 23.3%".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.imagenet import class_names

CORRECT, FOOLED, TARGET_HIT = "CORRECT", "FOOLED", "TARGET HIT"


@dataclass(frozen=True)
class Verdict:
    word: str | None  # CORRECT, FOOLED or TARGET HIT; None: no class to judge by and no target hit
    top1: int
    top1_p: float
    runner_up: int
    runner_up_p: float
    true_class: int | None = None
    true_p: float | None = None
    true_rank: int | None = None  # 1 = top-1
    target: int | None = None
    target_p: float | None = None

    @property
    def fooled(self) -> bool:
        return self.true_class is not None and self.top1 != self.true_class

    @property
    def hit(self) -> bool:
        return self.target is not None and self.top1 == self.target

    def plain(self) -> str:
        """What the model's top-1 means here, with the margin that decides it."""
        names = class_names()
        top, p = names[self.top1], 100 * self.top1_p
        if self.hit:
            said = f"top-1 is the target, {top} {p:.1f}%"
            if self.true_class is not None and self.true_class != self.target:
                said += f"; {names[self.true_class]} {100 * self.true_p:.1f}% (rank {self.true_rank})"
            return said
        if self.true_class is None:
            return f"top-1 is {top} {p:.1f}%"
        true = names[self.true_class]
        if self.fooled:
            return (f"top-1 is no longer {true}: {top} {p:.1f}% against {true} {100 * self.true_p:.1f}% "
                    f"(rank {self.true_rank})")  # fmt: skip
        return f"top-1 is {true} {p:.1f}%, {p - 100 * self.runner_up_p:.1f} points over {names[self.runner_up]}"

    def line(self) -> str:
        """The verdict and its sentence: ``FOOLED: top-1 is no longer hen: kite ...``."""
        return f"{self.word}: {self.plain()}" if self.word else self.plain()


def judge(probabilities, true_class: int | None, target: int | None = None) -> Verdict:
    """The verdict of one prediction (``probabilities``: the 1000 class probabilities)."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    order = np.argsort(-p, kind="stable")
    top1, runner_up = int(order[0]), int(order[1])
    rank = None if true_class is None else int(np.flatnonzero(order == true_class)[0]) + 1
    if target is not None and top1 == target:
        word = TARGET_HIT
    elif true_class is None:
        word = None
    else:
        word = CORRECT if top1 == true_class else FOOLED
    return Verdict(word=word, top1=top1, top1_p=float(p[top1]), runner_up=runner_up, runner_up_p=float(p[runner_up]),
                   true_class=true_class, true_p=None if true_class is None else float(p[true_class]),
                   true_rank=rank, target=target, target_p=None if target is None else float(p[target]))  # fmt: skip
