"""The thread the window's pose searches run on, kept for the whole session.

A search beside the window needs a GL context of its own (the window's belongs to the
drawing thread), the object uploaded into it, its differentiable renderer, and the
classifier's gradient copy.  Made afresh for each search, the thread, context, upload and
renderer took 110-170 ms of the 180-270 ms before a search's first report here (the first
draw in a new context compiles its shaders).  :class:`SearchStation` keeps them: searches
run on its one thread, one after another, and reuse its pipeline while the classifier,
the render settings and the mesh stay the same.  :meth:`SearchStation.prepare` makes
them beside the view before the first search is asked for.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.core.threads import lower_priority
from app.render.glcontext import create_headless_context
from app.render.settings import RenderSettings
from app.scene.library import LibraryObject
from app.scene.mesh import Mesh
from app.search.cma import import_cma
from app.vision.classifiers import Classifier
from app.vision.streams import default_streams

if TYPE_CHECKING:
    from app.pipeline.pipeline import Pipeline

Job = Callable[["SearchStation"], None]


class SearchStation:
    """One thread for the session's searches; :meth:`pipeline` is called on it only."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._ctx = None
        self._pipe = None
        self._thread = threading.Thread(target=self._serve, name="search", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        """Run ``job(station)`` on the station's thread after the jobs before it; a job
        reports its own errors (an exception it lets out is dropped with the pipeline)."""
        self._jobs.put(job)

    def _serve(self) -> None:
        lower_priority()  # the window's drawing comes first
        try:
            while (job := self._jobs.get()) is not None:
                try:
                    job(self)
                except BaseException:
                    self.discard()  # whatever state the failure left is not reused
        finally:
            self.discard()

    def pipeline(self, classifier: Classifier, settings: RenderSettings, obj: LibraryObject, mesh: Mesh) -> Pipeline:
        """The pipeline for this classifier, these settings and this object (``mesh`` as
        the window loaded it), made or kept."""
        from app.pipeline.pipeline import Pipeline

        if self._ctx is None:
            self._ctx = create_headless_context()
        pipe = self._pipe
        if pipe is None or pipe.classifier is not classifier or pipe.settings != settings:
            if pipe is not None:
                self._pipe = None
                pipe.release()
            streams = default_streams(classifier.device)  # two on the CPU: the live classifier pauses meanwhile
            pipe = Pipeline(classifier, ctx=self._ctx, settings=dataclasses.replace(settings), batch=18,
                            streams=streams)  # fmt: skip
            self._pipe = pipe
        if pipe.mesh is not mesh or pipe.object is not obj:
            pipe.set_object(obj, mesh)
        return pipe

    def prepare(self, classifier: Classifier, settings: RenderSettings, obj: LibraryObject, mesh: Mesh,
                gradient: bool, done: Callable[[], None] | None = None) -> None:  # fmt: skip
        """Make beside the view what the next search would otherwise make first: the
        ``cma`` import (0.4 s), the context, the pipeline with the object uploaded, and with
        ``gradient`` the classifier's gradient copy (0.5 s) and the differentiable renderer,
        and then runs a first batch and gradient on the object (:meth:`Pipeline.warm_up`).
        ``done()`` is called on the station's thread when it is over, whatever happened."""

        def job(station: SearchStation) -> None:
            try:
                import_cma()
                pipe = station.pipeline(classifier, settings, obj, mesh)
                pipe.warm_up(gradient)  # its gradient makes the classifier's gradient copy (PoseGradient)
            finally:
                if done is not None:
                    done()

        self.submit(job)

    @property
    def kept(self) -> Pipeline | None:
        """The pipeline kept for the next search (None before the first, or after a failure)."""
        return self._pipe

    def discard(self) -> None:
        """Release the pipeline and the context (on the station's thread)."""
        pipe, ctx, self._pipe, self._ctx = self._pipe, self._ctx, None, None
        if pipe is not None:
            pipe.release()
        if ctx is not None:
            ctx.release()

    def close(self, timeout: float | None = None) -> bool:
        """End the thread once the jobs before are done, releasing what it holds; True if it ended."""
        self._jobs.put(None)
        self._thread.join(timeout)
        return not self._thread.is_alive()
