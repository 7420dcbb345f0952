"""What the window computes beside the live prediction: where the model looks (Grad-CAM)
and what the other chosen models make of the view.  Each runs on a thread of its own
(:mod:`app.background.maps`, :mod:`app.background.jury`) on the newest view only; this
class decides when each is asked again and hands the panel what is newest."""

from __future__ import annotations

from pathlib import Path

from app.background.jury import JuryAnswer, LiveJury
from app.background.live import LiveResult
from app.background.maps import LiveMap, LiveMaps
from app.gui.state import ViewState
from app.vision.classifiers import Classifier


class Beside:
    def __init__(self, device: str, weights: dict[str, Path]):
        self.maps = LiveMaps()
        self.jury = LiveJury(device, weights)
        self._explained: tuple | None = None  # (scene key, model, class) of the last map asked for
        self._shown: tuple = (None, None)  # the map and the answer the window last drew
        self._judged: object = None  # the scene key last given to the jury

    def follow(self, state: ViewState, result: LiveResult | None, classifier: Classifier, key: object) -> bool:
        """Ask for what is new (a map of the newest prediction, the jury's view of the newest
        pose); True when something newer than what was drawn has come back."""
        if state.show_map and result is not None:
            wanted = (result.frame.key, result.model, state.map_class(int(result.top(1).indices[0])))
            if wanted != self._explained:
                self._explained = wanted
                self.maps.submit(classifier, result.frame.image, wanted[2], result.frame.key)
        if self.jury.wanted and key != self._judged:
            self._judged = key
            self.jury.submit(key, state.obj, state.mesh, state.pose, state.render_settings())
        return (self.maps.latest(), self.jury.latest()) != self._shown

    def live_map(self, model: str) -> LiveMap | None:
        """The newest class-activation map of ``model`` (None while there is none)."""
        m = self.maps.latest()
        self._shown = (m, self._shown[1])
        return m if m is not None and m.model == model else None

    def answer(self) -> JuryAnswer | None:
        """The other models' newest answer (None while there is none)."""
        a = self.jury.latest()
        self._shown = (self._shown[0], a)
        return a

    def drawn_state(self) -> tuple:
        return id(self.maps.latest()), id(self.jury.latest()), self.jury.loading, len(self.jury.problems)

    def close(self, timeout: float) -> bool:
        return self.maps.close(timeout) & self.jury.close(timeout)
