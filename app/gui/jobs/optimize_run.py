"""A pose search running beside the window, on the session's search thread, and its options.

The window's context belongs to the drawing thread, so the search renders with the
headless (EGL) context of a :class:`app.background.station.SearchStation`, kept between
searches.  The window reads :attr:`OptimizeRun.progress` every frame to animate the pose,
and :attr:`OptimizeRun.result` when the run has ended (budget, success or stop).  With
``record`` set, the run is then rendered into a GIF or MP4 beside the captures
(:mod:`app.search.recording`) before it is done.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.background.run import BackgroundRun
from app.background.station import SearchStation
from app.core.files import claim_stem
from app.core.params import GROUPS, Pose
from app.pipeline.jury import Jury
from app.render.settings import RenderSettings
from app.scene.library import LibraryObject
from app.scene.mesh import Mesh
from app.search.recording import check_format, record_run
from app.search.registry import get_method
from app.search.result import Progress, SearchResult
from app.search.space import Budget, Goal, SearchError, SearchSpace
from app.vision.classifiers import Classifier


@dataclass
class OptimizeOptions:
    """The panel's choices for the pose search (the command line's ``optimize`` options)."""

    method: str = "cmaes"  # the job starts with app.search.registry.default_method for its machine
    groups: dict[str, bool] = field(default_factory=lambda: {g: g == "rotation" for g in GROUPS})
    seconds: float = 20.0
    iterations: int | None = None  # a cap on iterations too (the panel leaves it off; tests set it)
    seed: int = 0
    until_fooled: bool = True
    nearest: bool = True  # then the nearest success to the start (app.search.pullback)
    record: str | None = None  # "gif" or "mp4": write the run as one beside the captures
    every_model: bool = False  # meet the goal in the models judging beside the live one too
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # method -> its options set in the panel

    def of_method(self, method: str | None = None) -> dict[str, Any]:
        """The options of ``method`` (default: the chosen one) set in the panel, each at its default otherwise."""
        m = get_method(method or self.method)
        chosen = self.method_options.get(m.name, {})
        return {o.name: chosen.get(o.name, o.default) for o in m.options if o.label is not None}

    def set(self, name: str, value: Any) -> None:
        """Set one of the chosen method's options."""
        self.method_options.setdefault(self.method, {})[name] = value


class OptimizeRun(BackgroundRun):
    def __init__(self, station: SearchStation, classifier: Classifier, obj: LibraryObject, mesh: Mesh,
                 settings: RenderSettings, start: Pose, goal: Goal, options: OptimizeOptions,
                 record: Path | None = None, others: list[Classifier] | None = None):  # fmt: skip
        """``mesh``: ``obj`` as the window loaded it (the run does not read it again);
        ``station``: where it runs; ``options``: copied, the panel's later changes do not
        reach it; ``record``: a folder the run's recording goes to (under a new name);
        ``others``: more models the pose must meet the goal in (:class:`app.pipeline.jury.Jury`)."""
        options = copy.deepcopy(options)
        self.start, self.object, self.goal = start, obj.name, goal
        self.method = options.method
        self.stop_on_success, self.nearest = options.until_fooled, options.nearest
        self.record = record if options.record else None
        self.record_suffix = f".{options.record or 'gif'}"
        check_format(Path(f"run{self.record_suffix}"))  # raises RecordingError before the thread
        self.recording: Path | None = None  # the file written
        self.frames = (0, 0)  # the recording's frames made, of how many
        self.phase = "preparing"  # then "searching", then with ``record`` "recording"
        self.space = SearchSpace(start, [g for g, on in options.groups.items() if on])  # SearchError: none chosen
        self.others = list(others or [])
        if self.others and get_method(self.method).needs_gradient:
            raise SearchError(f"{get_method(self.method).label} follows one model's gradient: to fool "
                              "every model, choose a method that only classifies (CMA-ES, random, finite "
                              "differences)")  # fmt: skip
        self.progress: Progress | None = None
        self.result: SearchResult | None = None
        search = {"seed": options.seed, "stop_on_success": self.stop_on_success, "nearest": self.nearest,
                  **options.of_method()}  # fmt: skip
        budget = Budget(options.iterations, options.seconds)
        self._start(self._run, (station, classifier, obj, mesh, settings, budget, search), "optimize", station)

    def _run(self, station, classifier, obj, mesh, settings, budget, search) -> None:
        try:
            # the live view freezes each model after its first answer (app.background.live): a search
            # asked for before that, or while it traces, waits for the same frozen model, which every
            # later search and run.py optimize run too; it ran the eager model otherwise
            classifier.freeze()
            pipe = station.pipeline(classifier, settings, obj, mesh)
            self.phase = "searching"
            jury = Jury(pipe, self.others) if self.others else None
            try:
                self.result = (jury or pipe).search(self.method, self.space, self.goal, budget, stop=self._stop,
                                                    report=self._report, **search)  # fmt: skip
            finally:
                if jury is not None:
                    jury.release()
            if self.record is not None and self.result.history:
                self.phase = "recording"
                _stem, self.recording = claim_stem(
                    self.record, f"{obj.name}-{self.method}-run", (self.record_suffix,),
                    lambda p: record_run(pipe, self.start, self.result, self.goal.true_class, self.goal.target, p,
                                         report=self._frames_made),
                )  # fmt: skip
        except BaseException:
            station.discard()  # the next search starts from a fresh context and pipeline
            raise

    def _report(self, progress: Progress) -> None:
        self.progress = progress

    def _frames_made(self, done: int, total: int) -> None:
        self.frames = (done, total)
