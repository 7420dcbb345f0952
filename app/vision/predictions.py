"""Predictions in the forms the front ends show and write: top-k, ranks, JSON records."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.core.imagenet import class_names
from app.core.verdict import judge


@dataclass
class Prediction:
    """Top-k of one image."""

    indices: list[int]
    probabilities: list[float]

    def labels(self) -> list[str]:
        names = class_names()
        return [names[i] for i in self.indices]

    def rank_of(self, class_index: int) -> int | None:
        """1-based rank of ``class_index`` within the top-k, or None."""
        return self.indices.index(class_index) + 1 if class_index in self.indices else None


def top_k(probabilities: np.ndarray, k: int = 5) -> Prediction:
    order = np.argsort(-probabilities, kind="stable")[:k]
    return Prediction([int(i) for i in order], [float(probabilities[i]) for i in order])


def rank_of(probabilities: np.ndarray, class_index: int) -> int:
    """1-based rank of ``class_index`` among all classes (1 = top-1)."""
    return int((probabilities > probabilities[class_index]).sum()) + 1


def prediction_record(model: str, input_size: int, probabilities: np.ndarray, true_class, target_class) -> dict:
    """The ``prediction`` entry of a capture/pose file."""
    names = class_names()
    top = top_k(probabilities, 5)
    record: dict = {
        "model": model,
        "input_size": input_size,
        "top5": [
            {"class": i, "label": names[i], "probability": round(p, 6)}
            for i, p in zip(top.indices, top.probabilities, strict=True)
        ],
    }
    verdict = judge(probabilities, true_class, target_class)
    if verdict.word is not None:
        record["verdict"] = verdict.word
    record["says"] = verdict.plain()
    for key, cls in (("true_class", true_class), ("target_class", target_class)):
        if cls is not None:
            record[key] = {
                "class": cls,
                "label": names[cls],
                "probability": round(float(probabilities[cls]), 6),
                "rank": rank_of(probabilities, cls),
            }
    return record
