"""Fragility map of the view (the Fragility section): where does a 1 px shift or a 2 px shrink flip it?

The view is rendered at the size the window shows it, and square crops on a grid, each
shifted by one pixel and shrunk by two, are classified on a thread of their own
(:class:`FragilityRun`), beside the window.  A click on a cell shows the crop and the
neighbour whose answer differs (:meth:`FragilityJob.pick`).
"""

from __future__ import annotations

import numpy as np

from app.background.run import BackgroundRun
from app.core.imagenet import class_names
from app.gui.jobs.attack import saved
from app.gui.jobs.base import RunJob
from app.lenses.fragility import FragilityMap, FragilityResult, crop_image, fragility
from app.lenses.outputs import write_fragility
from app.vision.classifiers import Classifier

GRIDS = {"coarse": 6, "medium": 10, "fine": 14}


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


class FragilityJob(RunJob):
    name = "fragility"
    what = "the fragility map"

    def __init__(self, host):
        super().__init__(host)
        self.size = 0.5  # the crop's side, a fraction of the view's shorter side
        self.grid = "coarse"
        self.layer = "correct"  # which map the panel draws over the view
        self.cell: tuple[int, int] | None = None
        self.pair: list[tuple[np.ndarray, str, tuple[str, str], bool]] = []  # (crop, caption, (top-1, " p%"), correct)

    def begin(self) -> None:
        """Map crops of the current view as the window shows it."""
        h, s = self.host, self.host.state
        if s.obj.imagenet_class is None:
            self.notify(f"{s.obj.name} has no ImageNet class: nothing to map", error=True)
            return
        image = h.render_view()
        try:
            self.run = FragilityRun(h.classifier, image, s.obj.imagenet_class, self.size, GRIDS[self.grid])
            self.run.object, self.run.pose = s.obj.name, s.pose
        except Exception as e:
            self.notify(f"cannot map fragility: {e}", error=True)
        self.cell, self.pair = None, []

    def activity(self) -> str | None:
        run = self.run
        return None if run is None or run.done else f"fragility: {run.crops_done} of {run.crops_total} crops"

    def pick(self, row: int, col: int) -> None:
        """Show the crop of a map cell and the neighbour whose correctness differs (if one does)."""
        run = self.run
        if run is None or run.map is None:
            return
        m, names, size = run.map, class_names(), self.host.classifier.input_size
        other = m.flipping_neighbour(row, col)
        what = {None: "no neighbour flips", **dict.fromkeys(range(1, 5), "shifted 1 px"),
                **dict.fromkeys(range(5, 9), "shrunk 2 px")}  # fmt: skip
        ok = m.correct_at(row, col)
        self.pair = []
        for n in (0, other if other is not None else 0):
            box = m.box(row, col, n)
            line = (names[int(m.top1[row, col, n])], f" {100 * m.top1_prob[row, col, n]:.0f}%")
            caption = f"crop {box[2]} px" if not self.pair else what[other]
            self.pair.append((crop_image(run.image, box, size), caption, line, ok[n]))
        self.cell = (row, col)
        said = ["".join(line) for _, _, line, _ in self.pair]
        flips = "" if other is None else f"; {what[other]}: {said[1]}"
        self.notify(f"crop {m.box(row, col, 0)[2]} px at ({m.xs[col]}, {m.ys[row]}): {said[0]}"
                    f"{flips or '; no neighbour flips'}")  # fmt: skip

    def save(self) -> None:
        """The maps over the view, FRI fractions and the JSON of every map (as ``run.py fragility``)."""
        run, folder = self.run, self.host.captures_dir
        if run is None or run.result is None or not run.result.maps:
            return
        record = {"object": run.object, "pose": run.pose.to_dict(), "image_size": list(run.image.shape[1::-1]),
                  "grid": run.steps, "crops": run.crops_total}  # fmt: skip
        self.host.live.run_job(lambda _clf: write_fragility(folder, run.object, run.result, record),
                               lambda out: saved(self, "fragility map", out), finish_on_close=True)  # fmt: skip

    def ended(self, run: FragilityRun) -> None:
        m = run.map
        if m is None:
            self.notify("the fragility map was stopped before its first crop size finished")
            return
        f = m.fractions()
        self.notify(f"fragility map, crop {m.size} px: {100 * f['correct']:.0f}% correct, loose FRIs "
                    f"{100 * f['loose_shift']:.0f}% (shift) / {100 * f['loose_shrink']:.0f}% (shrink) in "
                    f"{run.elapsed:.1f} s; click a cell")  # fmt: skip
