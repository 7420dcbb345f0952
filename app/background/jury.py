"""More models beside the live one: each judges the newest view, on a thread of its own.

The window's own classifier answers every frame (:mod:`app.background.live`); the models
chosen beside it (at most two, so three judge in all) load and run here, each on the view
rendered at its own input size in a GL context of this thread, so the drawing thread never
waits on them.  A view not started yet is replaced by a newer one; they answer less often
than the live model when the processor is busy, and never hold up a frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.background.newest import NewestOnly
from app.core.params import Pose
from app.core.threads import lower_priority
from app.render.settings import RenderSettings
from app.scene.library import LibraryObject
from app.scene.mesh import Mesh
from app.vision.classifiers import Classifier, load_classifier

MAX_EXTRA = 2


@dataclass(frozen=True)
class JuryAnswer:
    key: object  # the scene key of the view judged
    models: tuple[str, ...]
    probabilities: np.ndarray  # (M, 1000)
    seconds: float


@dataclass
class _View:
    key: object
    obj: LibraryObject
    mesh: Mesh
    pose: Pose
    settings: RenderSettings


class LiveJury(NewestOnly[_View]):
    def __init__(self, device: str = "auto", weights: dict[str, Path] | None = None):
        super().__init__("live-jury")
        self.device, self.weights = device, dict(weights or {})
        self._wanted: tuple[str, ...] = ()
        self._latest: JuryAnswer | None = None
        self.models: dict[str, Classifier] = {}  # loaded, by name (read on the drawing thread)
        self.problems: list[str] = []  # models that could not be loaded, said once each
        self.loading: str | None = None

    @property
    def wanted(self) -> tuple[str, ...]:
        return self._wanted

    def want(self, names: tuple[str, ...]) -> None:
        """The models to judge beside the live one (at most :data:`MAX_EXTRA`)."""
        with self._cond:
            self._wanted = tuple(dict.fromkeys(names))[:MAX_EXTRA]
            self._cond.notify()
        if self._wanted:
            self._start()

    def submit(self, key: object, obj: LibraryObject, mesh: Mesh, pose: Pose, settings: RenderSettings) -> None:
        self._offer(_View(key, obj, mesh, pose, settings))

    def latest(self) -> JuryAnswer | None:
        """The newest answer of the wanted models that could be loaded (None before the first)."""
        a = self._latest
        return a if a is not None and a.models == tuple(m.name for m in self.ready()) else None

    def ready(self) -> list[Classifier]:
        """The wanted models already loaded, in order (what a search over every model uses)."""
        return [self.models[n] for n in self._wanted if n in self.models]

    def _may_start(self) -> bool:
        return bool(self._wanted)  # a view waits until a model is wanted

    def _run(self) -> None:
        from app.render.glcontext import create_headless_context

        lower_priority()
        ctx = create_headless_context()
        jury = None
        try:
            while (view := self._take()) is not None:
                self._load(self._wanted)
                models = self.ready()
                if models:
                    jury = self._judge(ctx, jury, models, view)
        finally:
            if jury is not None:
                jury.release()
                jury.pipe.release()
            ctx.release()

    def _load(self, names: tuple[str, ...]) -> None:
        for name in names:
            if name in self.models or any(p.startswith(f"{name}:") for p in self.problems):
                continue
            self.loading = name
            try:
                clf = load_classifier(name, self.weights.get(name), self.device, notify=lambda _m: None,
                                      fallback=False)  # fmt: skip
                clf.freeze()
                self.models[name] = clf
            except Exception as e:  # said in the panel; the other models go on
                self.problems.append(f"{name}: {e}")
            finally:
                self.loading = None

    def _judge(self, ctx, jury, models: list[Classifier], view: _View):
        from app.pipeline.jury import Jury
        from app.pipeline.pipeline import Pipeline

        start = time.perf_counter()
        if jury is None or jury.models != models or jury.pipe.settings != view.settings:
            if jury is not None:
                jury.release()
                jury.pipe.release()
            jury = Jury(Pipeline(models[0], ctx=ctx, settings=view.settings), models[1:])
        if jury.pipe.mesh is not view.mesh:
            jury.pipe.set_object(view.obj, view.mesh)
        probs = jury.probabilities([view.pose])[0].numpy()
        self._latest = JuryAnswer(view.key, tuple(m.name for m in models), probs, time.perf_counter() - start)
        return jury
