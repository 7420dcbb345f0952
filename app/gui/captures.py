"""Captures: the model-input PNG, the full-window PNG and a JSON that reproduces them.

The window asks for one (:meth:`Captures.request`, the C key); the next frame drawn is
read back, and the files are written on the classifier's worker, which classifies the
model-input image for the JSON (:meth:`Captures.write`).

Files are never overwritten: each capture takes the first free number
(``teddy_bear-001-input.png``, ``-window.png``, ``.json``, and ``-map.png`` with the
class-activation overlay on), claimed with exclusive creation, so two captures (or two
running apps) cannot take the same name.  With other models judging beside the live one,
the JSON holds each one's prediction (``models``), each on the pose rendered at its size.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.background.live import LiveClassifier
from app.core.files import claim_stem, png_bytes, write_new
from app.core.params import Pose, PoseDocument
from app.vision.cam import ActivationMaps, CamUnavailable, blend, explained_class
from app.vision.classifiers import Classifier, classify_image
from app.vision.predictions import prediction_record

SUFFIXES = ("-input.png", "-window.png", ".json", "-map.png")  # the map only with the overlay on


@dataclass
class CaptureRequest:
    """Everything a capture writes, gathered on the drawing thread."""

    directory: Path
    object_name: str  # library name or mesh path: what ``run.py render --object`` accepts
    prefix: str  # file names start with this (the object's short name)
    pose: Pose
    settings: dict  # RenderSettings.to_dict() with the quality resolved
    input_image: np.ndarray  # (S, S, 3|4) uint8: exactly what the classifier sees
    window_image: np.ndarray | None  # (H, W, 3) uint8
    true_class: int | None = None
    target_class: int | None = None
    others: list[tuple[Classifier, np.ndarray]] = field(default_factory=list)  # more models, their input images
    map_for: str | None = None  # with the overlay on: which class its picture explains (top1, true, target)


@dataclass
class CaptureResult:
    stem: str
    paths: list[Path]
    object_name: str
    pose: Pose
    label: str  # the top-1 label
    correct: bool | None  # top-1 == true class (None when the object has no class)
    prediction: dict = field(default_factory=dict)
    true_class: int | None = None


def write_capture(request: CaptureRequest, model: str, input_size: int, probabilities: np.ndarray,
                  others: list[dict] | None = None, map_image: np.ndarray | None = None) -> CaptureResult:  # fmt: skip
    """Write the files under the first free ``<object>-NNN`` stem: the input, the window, the
    pose file (with ``others``, each other model's prediction) and, given, the map's picture."""
    prediction = prediction_record(model, input_size, probabilities, request.true_class, request.target_class)
    extra: dict = {
        "prediction": prediction,
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    if others:
        extra["models"] = [prediction, *others]
    doc = PoseDocument(request.pose, object=request.object_name, model=model, settings=request.settings, extra=extra,
                       true_class=request.true_class)  # fmt: skip
    contents = [png_bytes(request.input_image[..., :3])]
    contents.append(png_bytes(request.window_image) if request.window_image is not None else None)
    contents.append(doc.to_json().encode())
    contents.append(png_bytes(map_image) if map_image is not None else None)
    stem, first = claim_stem(request.directory, request.prefix, SUFFIXES, lambda p: write_new(p, contents[0]),
                             numbered=True)  # fmt: skip
    paths = [first] + [
        write_new(request.directory / f"{stem}{s}", c) for s, c in zip(SUFFIXES[1:], contents[1:], strict=True) if c
    ]
    top1 = prediction["top5"][0]
    correct = None if request.true_class is None else top1["class"] == request.true_class
    return CaptureResult(stem, paths, request.object_name, request.pose, top1["label"], correct, prediction,
                         request.true_class)  # fmt: skip


class Captures:
    """The captures of a session: asked for, written on the worker, listed."""

    def __init__(self, directory: Path, live: LiveClassifier, notify):
        self.directory = Path(directory)
        self.live, self.notify = live, notify
        self.taken: list[CaptureResult] = []
        self.pending = False  # asked for: the next frame drawn is captured

    def request(self) -> None:
        self.pending = True

    def write(self, request: CaptureRequest) -> None:
        """Classify ``request.input_image`` and write the capture files, on the worker."""
        self.pending = False

        def job(clf: Classifier) -> CaptureResult:
            if request.input_image.shape[0] != clf.input_size:
                raise RuntimeError("the model changed while capturing; capture again")
            probs = classify_image(clf, request.input_image)
            others = [prediction_record(o.name, o.input_size, classify_image(o, image), request.true_class,
                                        request.target_class) for o, image in request.others]  # fmt: skip
            map_image = None
            if request.map_for is not None:
                chosen = explained_class(request.map_for, int(np.argmax(probs)), request.true_class,
                                         request.target_class)  # fmt: skip
                try:
                    heat = ActivationMaps(clf)(request.input_image, chosen)
                    map_image = blend(request.input_image[..., :3], heat)
                except CamUnavailable:
                    pass
            return write_capture(request, clf.name, clf.input_size, probs, others, map_image)

        def finished(result: CaptureResult | Exception) -> None:
            if isinstance(result, Exception):
                self.notify(f"capture failed: {result}", error=True)
                return
            self.taken.append(result)
            self.notify(f"captured {result.stem} ({result.label}) in {request.directory}")

        self.live.run_job(job, finished, finish_on_close=True)
