"""A pose search running beside the window, on its own thread with its own GL context.

The window's context belongs to the drawing thread, so the search renders with a
headless (EGL) context of its own, created on its thread.  The window reads
:attr:`OptimizeRun.progress` every frame to animate the pose, and :attr:`result` when
the run has ended (budget, success or :meth:`stop`).  With ``record`` set, the run is
then rendered into a GIF or MP4 beside the captures (:mod:`app.recording`) before it is done.
"""

from __future__ import annotations

import threading
from pathlib import Path

from app.background import BackgroundRun
from app.classifiers import Classifier
from app.glcontext import create_headless_context
from app.library import LibraryObject
from app.live import lower_priority
from app.mesh import Mesh
from app.params import Pose
from app.recording import check_format, record_run
from app.renderer import RenderSettings
from app.search import Budget, Goal, Progress, SearchResult, SearchSpace, import_cma
from app.streams import default_streams


def prepare_search(classifier: Classifier) -> threading.Thread:
    """Make, on a low-priority thread of its own, what the first search would otherwise
    make before it starts: the ``cma`` import (0.4 s) and the classifier's differentiable
    copy (:meth:`Classifier.prepare_gradients`, 0.5 s).  The window calls it once its live
    model is frozen; a search started meanwhile waits for the copy rather than making it too."""

    def work() -> None:
        lower_priority()
        import_cma()
        classifier.prepare_gradients()

    thread = threading.Thread(target=work, name="prepare-search", daemon=True)
    thread.start()
    return thread


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
        mesh: Mesh | None = None,
        nearest: bool = False,
    ):
        """``mesh``: ``obj`` already loaded (the window's), so the run does not read it again;
        ``nearest``: see :func:`app.search.search`."""
        self.start = start
        self.object = obj.name
        self.record = record  # a folder: the recording goes there under a new name
        self.record_suffix = f".{record_format}"
        check_format(Path(f"run{self.record_suffix}"))  # raises RecordingError before the thread
        self.recording: Path | None = None  # the file written
        self.frames = (0, 0)  # the recording's frames made, of how many
        self.phase = "searching"
        self.method = method
        self.goal = goal
        self.space = SearchSpace(start, groups)  # raises SearchError on an empty selection, before the thread
        self.progress: Progress | None = None
        self.result: SearchResult | None = None
        options = {"seed": seed, "stop_on_success": stop_on_success, "nearest": nearest}
        self._start(self._run, (classifier, obj, mesh, settings, budget, options), "optimize")

    def _run(self, classifier, obj, mesh, settings, budget, options) -> None:
        from app.pipeline import Pipeline

        ctx = pipe = None
        try:
            ctx = create_headless_context()
            streams = default_streams(classifier.device)  # two on the CPU: the live classifier pauses meanwhile
            pipe = Pipeline(classifier, ctx=ctx, settings=settings, batch=18, streams=streams)
            pipe.set_object(obj, mesh)
            self.result = pipe.search(self.method, self.space, self.goal, budget, stop=self._stop,
                                      report=self._report, **options)  # fmt: skip
            if self.record is not None and self.result.history:
                from app.files import claim_stem

                self.phase = "recording"
                _stem, self.recording = claim_stem(
                    self.record, f"{obj.name}-{self.method}-run", (self.record_suffix,),
                    lambda p: record_run(pipe, self.start, self.result, self.goal.true_class, self.goal.target, p,
                                         report=self._frames_made),
                )  # fmt: skip
        finally:
            if pipe is not None:
                pipe.release()
            if ctx is not None:
                ctx.release()

    def _report(self, progress: Progress) -> None:
        self.progress = progress

    def _frames_made(self, done: int, total: int) -> None:
        self.frames = (done, total)
