"""The Atlas: a yaw x pitch map of the current view, classified beside the window.

An :class:`AtlasRun` sweeps a regular grid over yaw and pitch (the full circle each),
with every other parameter at the pose it started from, on its own thread with its own
headless GL context (the sweep core of :mod:`app.sweep`).  The panel draws the cells as
they fill (:mod:`app.gui.panel.atlas`); a click shows a cell's pose (:meth:`AtlasJob.pick`).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from app.background.run import BackgroundRun
from app.core.params import Pose
from app.core.threads import lower_priority
from app.gui.jobs.base import RunJob
from app.render.glcontext import create_headless_context
from app.render.settings import RenderSettings
from app.scene.library import LibraryObject
from app.scene.mesh import Mesh
from app.sweep.sweep import SweepPlan, run_sweep
from app.vision.classifiers import Classifier

RESOLUTIONS: dict[str, tuple[int, int]] = {"coarse": (12, 6), "medium": (24, 12), "fine": (36, 18)}  # (yaw, pitch)


class AtlasRun(BackgroundRun):
    def __init__(
        self,
        classifier: Classifier,
        obj: LibraryObject,
        base: Pose,
        settings: RenderSettings,
        steps: tuple[int, int] = RESOLUTIONS["medium"],
        batch: int = 8,
        mesh: Mesh | None = None,
    ):
        """``mesh``: ``obj`` as the window loaded it (the map does not read the file again,
        which may have changed or gone since)."""
        if obj.imagenet_class is None:
            raise ValueError(f"{obj.name} has no ImageNet class, so there is nothing to map")
        self.object, self.model, self.base, self.steps = obj.name, classifier.name, base, steps
        self.true_class = obj.imagenet_class
        self.plan = SweepPlan(objects=(obj.name,), models=(classifier.name,),
                              grid=(("yaw", steps[0]), ("pitch", steps[1])), settings=settings.to_dict())  # fmt: skip
        shape = (steps[1], steps[0])  # rows: pitch, columns: yaw
        self.correct = np.full(shape, np.nan)  # 1 / 0 top-1 correct; NaN: not classified yet
        self.true_prob = np.full(shape, np.nan)
        self.true_rank = np.zeros(shape, dtype=np.int64)  # 0: not classified yet
        self.top1 = np.full(shape, -1, dtype=np.int64)
        self.top1_prob = np.zeros(shape)
        self.done_cells = 0
        sweep_obj = dataclasses.replace(obj, canonical_pose=base)  # the sweep's base pose: where the map was asked
        self._start(self._run, (classifier, sweep_obj, batch, mesh), "atlas")

    @property
    def cells(self) -> int:
        return self.steps[0] * self.steps[1]

    def cell(self, index: int) -> tuple[int, int]:
        """(row, column) = (pitch step, yaw step) of pose ``index`` (yaw is the plan's slow axis)."""
        return index % self.steps[1], index // self.steps[1]

    def pose_at(self, row: int, column: int) -> Pose:
        return self.plan.poses(self.base, [column * self.steps[1] + row])[0]

    def fraction_correct(self) -> float | None:
        return None if self.done_cells == 0 else float(np.nansum(self.correct) / self.done_cells)

    def _run(self, classifier: Classifier, obj: LibraryObject, batch: int, mesh: Mesh | None) -> None:
        ctx = create_headless_context()
        try:
            run_sweep(self.plan, [obj], [classifier], self._sink, lambda _o, _m: range(self.plan.samples),
                      ctx=ctx, batch=batch, stop=self._stop, worker_init=lower_priority,
                      meshes=None if mesh is None else {obj.name: mesh})  # fmt: skip
        finally:
            ctx.release()

    def _sink(self, rows: list[dict]) -> None:
        for r in rows:
            at = self.cell(int(r["index"]))
            self.true_prob[at] = float(r["true_prob"])
            self.true_rank[at] = int(r["true_rank"])
            self.top1[at] = int(r["top1"])
            self.top1_prob[at] = float(r["p1"])
            self.correct[at] = float(r["correct_top1"])
        self.done_cells += len(rows)
        self.tick()


class AtlasJob(RunJob):
    name = "atlas"
    what = "the atlas"

    def __init__(self, host):
        super().__init__(host)
        self.resolution = "medium"

    def begin(self) -> None:
        """Map yaw x pitch around the current pose with the current model."""
        s = self.host.state
        try:
            steps = RESOLUTIONS[self.resolution]
            self.run = AtlasRun(self.host.classifier, s.obj, s.pose, s.render_settings(), steps, mesh=s.mesh)
        except Exception as e:
            self.notify(f"cannot map: {e}", error=True)

    def activity(self) -> str | None:
        run = self.run
        return None if run is None or run.done else f"atlas: {run.done_cells} of {run.cells} poses"

    def pick(self, row: int, column: int) -> None:
        """Show the pose of a map cell."""
        run = self.run
        if run is None:
            return
        pose = self.host.state.pose = run.pose_at(row, column)
        rank = int(run.true_rank[row, column])
        said = f"true class rank {rank}" if rank else "not classified yet"
        self.notify(f"map cell yaw {pose.yaw:.0f}, pitch {pose.pitch:.0f} ({said})")

    def ended(self, run: AtlasRun) -> None:
        share = run.fraction_correct()
        right = "-" if share is None else f"{100 * share:.1f}%"
        stopped = " (stopped)" if run.done_cells < run.cells else ""
        self.notify(f"atlas of {run.object} / {run.model}{stopped}: {run.done_cells} of {run.cells} poses in "
                    f"{run.elapsed:.1f} s, top-1 correct {right}; click a cell to see its pose")  # fmt: skip
