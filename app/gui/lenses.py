"""The window's failure lenses: pixel attacks, fragility maps and evolved skins.

:class:`Lenses` belongs to an :class:`app.gui.explorer.Explorer` and keeps what the panel's
lens sections show.  Nothing here blocks drawing: an attack runs as a job on the live
classifier's worker; a fragility map and an evolution run on threads of their own
(:class:`FragilityRun`, :class:`EvolveRun`), the evolution with its own headless GL
context.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.background.run import BackgroundRun
from app.core.imagenet import class_names
from app.core.params import Pose
from app.lenses.attacks import DEFAULT_STEPS, AttackResult, attack
from app.lenses.evolve import EvolveState, evolve, genome_skin, image_evaluator, object_evaluator
from app.lenses.fragility import FragilityMap, FragilityResult, crop_image, fragility
from app.lenses.gallery import genome_picture
from app.render.renderer import OffscreenTarget, RenderSettings
from app.vision.classifiers import Classifier
from app.vision.predictions import classify_image

if TYPE_CHECKING:
    from app.gui.explorer import Explorer

FRAGILITY_GRIDS = {"coarse": 6, "medium": 10, "fine": 14}
EVOLVE_GENERATIONS = 2000  # an evolution in the window runs until stopped, or this many generations
GALLERY = 12


class FragilityRun(BackgroundRun):
    """Maps of one crop size over a full-resolution view, beside the window."""

    def __init__(self, classifier: Classifier, image: np.ndarray, true_class: int, relative: float, steps: int):
        self.image, self.true_class, self.relative, self.steps = image, true_class, relative, steps
        self.model = classifier.name
        self.map: FragilityMap | None = None
        self.result: FragilityResult | None = None
        self.crops_done, self.crops_total = 0, 0
        self._start(self._run, (classifier,), "fragility")

    def _run(self, classifier: Classifier) -> None:
        def report(p) -> None:
            self.crops_done, self.crops_total = p.crops_done, p.crops_total
            self.tick()

        result = fragility(classifier, self.image, self.true_class, [self.relative], self.steps, batch=16,
                           stop=self._stop, report=report)  # fmt: skip
        self.result, self.map = result, (result.maps[0] if result.maps else None)


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
        from app.pipeline.pipeline import Pipeline
        from app.render.glcontext import create_headless_context

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

            evolve(self.state, evaluate, EVOLVE_GENERATIONS, batch, stop=self._stop, checkpoint=checkpoint)
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


class Lenses:
    """State and actions of the lens sections (see the module docstring)."""

    def __init__(self, ex: Explorer):
        self.ex = ex
        self.attack_method = "pgd"
        self.attack_eps = 2.0
        self.attack: AttackResult | None = None
        self.attack_record: dict = {}  # the scene it was made in (object, model, pose)
        self.attack_change: np.ndarray | None = None  # the attack's change, amplified to be seen
        self.attack_pose: tuple[Pose, np.ndarray, np.ndarray] | None = None  # pose, image, probabilities
        self.attacking = False
        self._attack_stop = threading.Event()  # ends a running PGD or DeepFool after its step
        self.fragility_size = 0.5
        self.fragility_grid = "coarse"
        self.fragility_layer = "correct"
        self.fragility: FragilityRun | None = None
        self.fragility_cell: tuple[int, int] | None = None
        # (crop, caption, (top-1 class, " p%"), correct)
        self.fragility_pair: list[tuple[np.ndarray, str, tuple[str, str], bool]] = []
        self.evolve_kind = "object"
        self.evolution: EvolveRun | None = None
        self.skin: tuple[int, str] | None = None  # (class, model) of the elite the object wears

    # ---------------------------------------------------------------- attacks
    def start_attack(self) -> None:
        """Attack the view's pixels as a job on the classifier worker; while one runs, stop it."""
        ex = self.ex
        if self.attacking:
            self._attack_stop.set()
            return
        self._attack_stop.clear()
        image = ex.render_input()[..., :3].copy()
        label = ex.obj.imagenet_class
        run = ex.optimize_run
        best = run.result.best if run is not None and run.result is not None else None
        pose_image = None
        if best is not None and run.object == ex.obj.name:
            pose_image = ex.render_input(best)[..., :3].copy()
        method, eps = self.attack_method, self.attack_eps
        scene = {"object": ex.obj.name, "model": ex.classifier.name, "label": label, "pose": ex.pose.to_dict(),
                 "settings": ex.render_settings().to_dict()}  # fmt: skip
        steps = DEFAULT_STEPS[method]

        def job(clf: Classifier):
            result = attack(clf, image, method, label=label, eps=eps, steps=steps, stop=self._attack_stop)
            pose = None if pose_image is None else (best, pose_image, classify_image(clf, pose_image))
            return result, pose

        def done(out) -> None:
            self.attacking = False
            if isinstance(out, Exception):
                ex.notify(f"the attack failed: {out}", error=True)
                return
            self.attack, self.attack_pose = out
            self.attack_record = scene
            self.attack_change = self.attack.perturbation_image()
            r = self.attack
            ex.notify(f"{method}: {r.outcome} with L-inf {r.linf}/255, "
                      f"L2 {r.l2:.0f}/255 in {r.seconds:.1f} s"
                      + (f" (stopped after {r.steps} steps)" if r.stopped else ""))  # fmt: skip

        self.attacking = True
        ex.live.run_job(job, done)

    def save_attack(self) -> None:
        """The attack sheet (original | change | adversarial | pose search's best), the
        adversarial image and a JSON record, under new names in the captures folder."""
        from app.lenses.outputs import attack_tiles, pose_attack_record, pose_tile, write_attack

        r, scene, ex = self.attack, self.attack_record, self.ex
        if r is None:
            return
        pose = self.attack_pose

        def job(_clf: Classifier) -> Path:
            tiles = attack_tiles(scene["model"], r.original, [r], scene["label"])
            record = {k: v for k, v in scene.items() if k != "label"} | {"attacks": [r.record()]}
            if pose is not None:
                best, image, probs = pose
                fooled = int(np.argmax(probs)) != scene["label"]
                tiles.append(pose_tile(image, probs, "pose search's best", fooled))
                record["pose_attack"] = pose_attack_record(Pose(scene["pose"]), best, probs, fooled)
            return write_attack(ex.captures_dir, scene["object"], tiles, [r], record)

        ex.live.run_job(job, lambda out: self._saved("attack", out), finish_on_close=True)

    def _saved(self, what: str, out: Path | Exception) -> None:
        if isinstance(out, Exception):
            self.ex.notify(f"saving the {what} failed: {out}", error=True)
        else:
            self.ex.notify(f"saved the {what}: {out}")

    # -------------------------------------------------------------- fragility
    @property
    def mapping_fragility(self) -> bool:
        return self.fragility is not None and not self.fragility.done

    def start_fragility(self, view_size: tuple[int, int]) -> None:
        """Map crops of the current view at ``view_size`` (the window's 3D view in pixels)."""
        ex = self.ex
        if self.mapping_fragility:
            return
        if ex.obj.imagenet_class is None:
            ex.notify(f"{ex.obj.name} has no ImageNet class: nothing to map", error=True)
            return
        target = OffscreenTarget(ex.ctx, max(view_size[0], 64), max(view_size[1], 64), ex.quality)
        try:
            ex.renderer.render(ex.pose, target, ex.settings)
            image = target.read()[..., :3].copy()
        finally:
            target.release()
        try:
            self.fragility = FragilityRun(ex.classifier, image, ex.obj.imagenet_class, self.fragility_size,
                                          FRAGILITY_GRIDS[self.fragility_grid])  # fmt: skip
            self.fragility.object, self.fragility.pose = ex.obj.name, ex.pose
        except Exception as e:
            ex.notify(f"cannot map fragility: {e}", error=True)
        self.fragility_cell, self.fragility_pair = None, []

    def pick_fragility_cell(self, row: int, col: int) -> None:
        """Show the crop of a map cell and the neighbour whose correctness differs (if one does)."""
        run = self.fragility
        if run is None or run.map is None:
            return
        m, names, size = run.map, class_names(), self.ex.classifier.input_size
        other = m.flipping_neighbour(row, col)
        what = {None: "no neighbour flips", **dict.fromkeys(range(1, 5), "shifted 1 px"),
                **dict.fromkeys(range(5, 9), "shrunk 2 px")}  # fmt: skip
        ok = m.correct_at(row, col)
        self.fragility_pair = []
        for n in (0, other if other is not None else 0):
            box = m.box(row, col, n)
            line = (names[int(m.top1[row, col, n])], f" {100 * m.top1_prob[row, col, n]:.0f}%")
            caption = f"crop {box[2]} px" if not self.fragility_pair else what[other]
            self.fragility_pair.append((crop_image(run.image, box, size), caption, line, ok[n]))
        self.fragility_cell = (row, col)
        said = ["".join(line) for _, _, line, _ in self.fragility_pair]
        flips = "" if other is None else f"; {what[other]}: {said[1]}"
        self.ex.notify(f"crop {m.box(row, col, 0)[2]} px at ({m.xs[col]}, {m.ys[row]}): {said[0]}"
                       f"{flips or '; no neighbour flips'}")  # fmt: skip

    def save_fragility(self) -> None:
        """The maps over the view, FRI fractions and the JSON of every map (as ``run.py fragility``)."""
        from app.lenses.outputs import write_fragility

        run, ex = self.fragility, self.ex
        if run is None or run.result is None or not run.result.maps:
            return
        record = {"object": run.object, "pose": run.pose.to_dict(), "image_size": list(run.image.shape[1::-1]),
                  "grid": run.steps, "crops": run.crops_total}  # fmt: skip
        ex.live.run_job(lambda _clf: write_fragility(ex.captures_dir, run.object, run.result, record),
                        lambda out: self._saved("fragility map", out), finish_on_close=True)  # fmt: skip

    # ---------------------------------------------------------------- evolve
    @property
    def evolving(self) -> bool:
        return self.evolution is not None and not self.evolution.done

    def start_evolve(self) -> None:
        ex = self.ex
        if self.evolving:
            return
        state = EvolveState(self.evolve_kind, ex.classifier.name, ex.target_class, seed=0,
                            object=ex.obj.name, pose=ex.pose.to_dict())  # fmt: skip
        own = ex.obj.imagenet_class if self.evolve_kind == "object" else None
        self.evolution = EvolveRun(ex.classifier, state, ex.renderer.mesh, ex.render_settings(), true_class=own)

    def apply_skin(self, class_index: int) -> None:
        """Dress the object in the elite of ``class_index`` (a plain-image genome paints by x, y)."""
        run = self.evolution
        if run is None or class_index not in run.state.elites:
            return
        self.ex.renderer.set_skin(genome_skin(run.state.elites[class_index].genome))
        self.skin = (class_index, run.model)

    def save_evolution(self) -> None:
        """A new folder in the captures folder with archive.json (``run.py evolve --resume
        --out FOLDER`` goes on from it), the gallery sheet and the elites' pictures."""
        from app.core.files import claim_stem
        from app.lenses.gallery import write_gallery

        run, ex = self.evolution, self.ex
        if run is None or not run.done or not run.state.elites:
            return
        state = run.state
        pictures = {c: picture for c, _p, picture in run.gallery()}  # what the gallery shows
        name = f"{state.object or 'images'}-evolve"

        def job(_clf: Classifier) -> Path:
            ex.captures_dir.mkdir(parents=True, exist_ok=True)
            _stem, folder = claim_stem(ex.captures_dir, name, ("",), lambda p: p.mkdir() or p)  # mkdir claims it
            state.save(folder / "archive.json")
            return write_gallery(state, folder, len(pictures), pictures=pictures)

        ex.live.run_job(job, lambda out: self._saved("evolution", out), finish_on_close=True)

    def remove_skin(self) -> None:
        self.ex.renderer.set_skin(None)
        self.skin = None

    # ----------------------------------------------------------------- life
    def follow(self) -> None:
        """Announce a fragility map or an evolution that has ended (once per run)."""
        for run in (self.fragility, self.evolution):
            if run is None or not run.newly_ended():
                continue
            if run.error is not None:
                self.ex.notify(f"the {'fragility map' if run is self.fragility else 'evolution'} failed: "
                               f"{run.error}", error=True)  # fmt: skip
            elif run is self.fragility:
                self._announce_fragility(run)
            else:
                s = run.state
                best = s.best(1, exclude=run.true_class)
                top = f"; best {class_names()[best[0][0]]} {100 * best[0][1].fitness:.0f}%" if best else ""
                aim = f"; target {100 * s.target_fitness():.1f}%" if s.target is not None else ""
                n = len(s.best(minimum=0.5, exclude=run.true_class))
                self.ex.notify(f"evolution stopped at generation {s.generation} ({s.evaluations} pictures, "
                               f"{n} class{'es' * (n != 1)} at >= 50%){top}{aim}; "
                               "click an elite to dress the object")  # fmt: skip

    def _announce_fragility(self, run: FragilityRun) -> None:
        m = run.map
        if m is None:
            self.ex.notify("the fragility map was stopped before its first crop size finished")
            return
        f = m.fractions()
        self.ex.notify(f"fragility map, crop {m.size} px: {100 * f['correct']:.0f}% correct, loose FRIs "
                       f"{100 * f['loose_shift']:.0f}% (shift) / {100 * f['loose_shrink']:.0f}% (shrink) in "
                       f"{run.elapsed:.1f} s; click a cell")  # fmt: skip

    def stop_all(self) -> None:
        self._attack_stop.set()
        for run in (self.fragility, self.evolution):
            if run is not None:
                run.stop()
        for run in (self.fragility, self.evolution):
            if run is not None:
                run.join(30)

    def release(self) -> None:
        self.stop_all()
