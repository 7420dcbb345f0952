"""Where the model looks, live: Grad-CAM of the newest classified frame, on a thread of its own.

The map takes a forward and a backward pass (about 50-200 ms for EfficientNet-Lite0 on
two CPU cores), so it never runs in a frame or on the classifier's worker: the window
hands over each new prediction's frame, a frame not started yet is replaced by a newer
one, and the window draws whichever map is newest.  So maps come at most as often as
predictions, and less often while the processor is busy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from app.background.newest import NewestOnly
from app.core.threads import lower_priority
from app.vision.cam import ActivationMaps, CamUnavailable, colorize
from app.vision.classifiers import Classifier


@dataclass(frozen=True)
class LiveMap:
    key: object  # the scene key of the frame it explains
    model: str
    class_index: int
    rgba: np.ndarray  # (S, S, 4) uint8 overlay
    seconds: float


class LiveMaps(NewestOnly[tuple[Classifier, np.ndarray, int, object]]):
    def __init__(self) -> None:
        super().__init__("live-maps")
        self._latest: LiveMap | None = None
        self._maps: ActivationMaps | None = None
        self.unavailable: str | None = None  # why the current model has no map

    def submit(self, classifier: Classifier, image: np.ndarray, class_index: int, key: object) -> None:
        """Explain ``class_index`` in ``image`` next (replacing a request not started yet)."""
        self._start()
        self._offer((classifier, image, class_index, key))

    def latest(self) -> LiveMap | None:
        return self._latest

    def clear(self) -> None:
        self._latest = None

    def _run(self) -> None:
        lower_priority()
        while (request := self._take()) is not None:
            self._explain(*request)

    def _explain(self, classifier: Classifier, image: np.ndarray, class_index: int, key: object) -> None:
        start = time.perf_counter()
        try:
            if self._maps is None or self._maps.classifier is not classifier:
                self._maps, self.unavailable = None, None
                self._maps = ActivationMaps(classifier)
            heat = self._maps(image, class_index)
        except CamUnavailable as e:
            self.unavailable = f"{classifier.name}: {e}"
            return
        self._latest = LiveMap(key, classifier.name, class_index, colorize(heat), time.perf_counter() - start)
