"""A pose search running beside the window, on the session's search thread.

The window's context belongs to the drawing thread, so the search renders with the
headless (EGL) context of a :class:`app.background.station.SearchStation`, kept between
searches.  The window reads :attr:`OptimizeRun.progress` every frame to animate the pose,
and :attr:`result` when the run has ended (budget, success or :meth:`stop`).  With
``record`` set, the run is then rendered into a GIF or MP4 beside the captures
(:mod:`app.search.recording`) before it is done.
"""

from __future__ import annotations

from pathlib import Path

from app.background.run import BackgroundRun
from app.background.station import SearchStation
from app.core.params import Pose
from app.render.renderer import RenderSettings
from app.scene.library import LibraryObject
from app.scene.mesh import Mesh
from app.search.recording import check_format, record_run
from app.search.result import Progress, SearchResult
from app.search.space import Budget, Goal, SearchSpace
from app.vision.classifiers import Classifier


class OptimizeRun(BackgroundRun):
    def __init__(
        self,
        classifier: Classifier,
        obj: LibraryObject,
        start: Pose,
        settings: RenderSettings,
        method: str,
        goal: Goal,
        groups: list[str],
        budget: Budget,
        seed: int = 0,
        stop_on_success: bool = False,
        record: Path | None = None,
        record_format: str = "gif",
        *,
        station: SearchStation,
        mesh: Mesh,
        nearest: bool = False,
        edges: bool = False,
        first_step: float | None = None,
    ):
        """``mesh``: ``obj`` as the window loaded it (the run does not read it again);
        ``station``: where it runs; ``nearest``: see :func:`app.search.run.search`; for the
        ``grad`` method, ``edges`` and ``first_step``: :meth:`app.pipeline.pipeline.Pipeline.search`
        ``edges`` and :func:`app.search.run.search` ``grad_step`` (None: its default)."""
        self.start = start
        self.object = obj.name
        self.record = record  # a folder: the recording goes there under a new name
        self.record_suffix = f".{record_format}"
        check_format(Path(f"run{self.record_suffix}"))  # raises RecordingError before the thread
        self.recording: Path | None = None  # the file written
        self.frames = (0, 0)  # the recording's frames made, of how many
        self.phase = "preparing"  # then "searching", then with ``record`` "recording"
        self.method = method
        self.goal = goal
        self.stop_on_success, self.nearest = stop_on_success, nearest
        self.space = SearchSpace(start, groups)  # raises SearchError on an empty selection, before the thread
        self.progress: Progress | None = None
        self.result: SearchResult | None = None
        options = {"seed": seed, "stop_on_success": stop_on_success, "nearest": nearest}
        if method == "grad":
            options |= {"edges": edges, "first_step": first_step}
        self._start(self._run, (station, classifier, obj, mesh, settings, budget, options), "optimize", station)

    def _run(self, station, classifier, obj, mesh, settings, budget, options) -> None:
        try:
            # the live view freezes each model after its first answer (app.background.live): a search asked
            # for before that, or while it traces, waits for the same frozen model, which every
            # later search and run.py optimize run too; it ran the eager model otherwise
            classifier.freeze()
            pipe = station.pipeline(classifier, settings, obj, mesh)
            self.phase = "searching"
            self.result = pipe.search(self.method, self.space, self.goal, budget, stop=self._stop,
                                      report=self._report, **options)  # fmt: skip
            if self.record is not None and self.result.history:
                from app.core.files import claim_stem

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
