"""Evolved fooling skins (the Evolved fooling skins section): MAP-Elites over CPPN textures.

An :class:`EvolveRun` evolves skins of the object (or plain images) on a thread of its
own, with its own headless GL context, until stopped; the panel shows the best elites,
and a click dresses the object in one (:meth:`EvolveJob.dress`), which the live view
then classifies.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from app.background.run import BackgroundRun
from app.core.files import claim_stem
from app.core.imagenet import class_names
from app.core.params import Pose
from app.gui.jobs.attack import saved
from app.gui.jobs.base import RunJob
from app.lenses.evolve import EvolveState, evolve, genome_skin, image_evaluator, object_evaluator
from app.lenses.gallery import genome_picture, write_gallery
from app.pipeline.pipeline import Pipeline
from app.render.glcontext import create_headless_context
from app.render.settings import RenderSettings
from app.vision.classifiers import Classifier

GENERATIONS = 2000  # an evolution in the window runs until stopped, or this many generations
GALLERY = 12


class EvolveRun(BackgroundRun):
    """MAP-Elites on CPPN skins of the object (or plain images), until stopped."""

    def __init__(self, classifier: Classifier, state: EvolveState, mesh, settings: RenderSettings, batch: int = 8,
                 true_class: int | None = None):  # fmt: skip
        """``true_class``: the object's own class, left out of the gallery (it fools no one)."""
        self.state, self.model, self.true_class = state, classifier.name, true_class
        self.pictures: dict[int, np.ndarray] = {}  # what the classifier saw for the current best elites
        self.lock = threading.Lock()
        self._start(self._run, (classifier, mesh, settings, batch), "evolve")

    def _run(self, classifier: Classifier, mesh, settings: RenderSettings, batch: int) -> None:
        ctx = pipe = None
        try:
            if self.state.kind == "object":
                ctx = create_headless_context()
                pipe = Pipeline(classifier, ctx=ctx, settings=settings, batch=batch)
                pipe.set_mesh(mesh)
                evaluate = object_evaluator(classifier, pipe.renderer, pipe.reader, Pose(self.state.pose), settings)
            else:
                evaluate = image_evaluator(classifier)

            def checkpoint(state: EvolveState) -> None:
                best = state.best(GALLERY, exclude=self.true_class)
                fresh = {c: self.pictures.get(c) for c, e in best if e.generation < state.generation}
                for c, e in best:  # new elites (this generation's) get their picture
                    if fresh.get(c) is None:
                        fresh[c] = genome_picture(state, e.genome, pipe, classifier.input_size)
                with self.lock:
                    self.pictures = fresh
                self.tick()

            evolve(self.state, evaluate, GENERATIONS, batch, stop=self._stop, checkpoint=checkpoint)
        finally:
            if pipe is not None:
                pipe.release()
            if ctx is not None:
                ctx.release()

    def gallery(self) -> list[tuple[int, float, np.ndarray]]:
        """(class, probability, picture) of the best elites, best first."""
        with self.lock:
            pictures = dict(self.pictures)
        out = []
        for c, e in self.state.best(GALLERY, exclude=self.true_class):
            if pictures.get(c) is not None:
                out.append((c, e.fitness, pictures[c]))
        return out


class EvolveJob(RunJob):
    name = "evolve"
    what = "the evolution"

    def __init__(self, host):
        super().__init__(host)
        self.kind = "object"  # or "image": plain pictures, not skins

    def begin(self) -> None:
        h, s = self.host, self.host.state
        state = EvolveState(self.kind, h.classifier.name, s.target_class, seed=0, object=s.obj.name,
                            pose=s.pose.to_dict())  # fmt: skip
        own = s.obj.imagenet_class if self.kind == "object" else None
        self.run = EvolveRun(h.classifier, state, s.mesh, s.render_settings(), true_class=own)

    def activity(self) -> str | None:
        run = self.run
        return None if run is None or run.done else f"evolution: generation {run.state.generation}"

    def dress(self, class_index: int) -> None:
        """Dress the object in the elite of ``class_index`` (a plain-image genome paints by x, y)."""
        run = self.run
        if run is None or class_index not in run.state.elites:
            return
        self.host.set_skin(genome_skin(run.state.elites[class_index].genome))
        self.host.state.skin = (class_index, run.model)

    def undress(self) -> None:
        self.host.set_skin(None)
        self.host.state.skin = None

    def save(self) -> None:
        """A new folder in the captures folder with archive.json (``run.py evolve --resume
        --out FOLDER`` goes on from it), the gallery sheet and the elites' pictures."""
        run, folder = self.run, self.host.captures_dir
        if run is None or not run.done or not run.state.elites:
            return
        state = run.state
        pictures = {c: picture for c, _p, picture in run.gallery()}  # what the gallery shows
        name = f"{state.object or 'images'}-evolve"

        def job(_clf: Classifier) -> Path:
            folder.mkdir(parents=True, exist_ok=True)
            _stem, out = claim_stem(folder, name, ("",), lambda p: p.mkdir() or p)  # mkdir claims it
            state.save(out / "archive.json")
            return write_gallery(state, out, len(pictures), pictures=pictures)

        self.host.live.run_job(job, lambda out: saved(self, "evolution", out), finish_on_close=True)

    def ended(self, run: EvolveRun) -> None:
        s = run.state
        best = s.best(1, exclude=run.true_class)
        top = f"; best {class_names()[best[0][0]]} {100 * best[0][1].fitness:.0f}%" if best else ""
        aim = f"; target {100 * s.target_fitness():.1f}%" if s.target is not None else ""
        n = len(s.best(minimum=0.5, exclude=run.true_class))
        self.notify(f"evolution stopped at generation {s.generation} ({s.evaluations} pictures, "
                    f"{n} class{'es' * (n != 1)} at >= 50%){top}{aim}; click an elite to dress the object")  # fmt: skip
