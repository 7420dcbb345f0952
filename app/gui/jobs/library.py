"""Add to library: the shown mesh file, with the class it was given, into the user's library.

The canonical-pose search (144 natural views) runs beside the view with a GL context of
its own, as ``run.py add-object`` does (:func:`app.pipeline.adding.add_object`); when it
ends the object is listed in the panel's object list and shown in the pose that was found.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.background.run import BackgroundRun
from app.core.resources import user_library_dir
from app.gui.jobs.base import RunJob
from app.pipeline.adding import Added, AddRequest, AddStopped, add_object
from app.pipeline.canonical import VIEWS
from app.render.glcontext import create_headless_context
from app.scene.intake import object_name
from app.vision.classifiers import Classifier


class AddRun(BackgroundRun):
    def __init__(self, request: AddRequest, classifier: Classifier):
        self.request = request
        self.stage, self.views, self.total = "copying", 0, VIEWS  # a z-up pass counts its own
        self.added: Added | None = None
        self._start(self._run, (classifier,), "add to library")

    def _run(self, classifier: Classifier) -> None:
        ctx = create_headless_context()
        try:
            self.added = add_object(self.request, classifier, self._report, self._stop, ctx)
        except AddStopped:
            pass
        finally:
            ctx.release()

    def _report(self, stage: str, done: int, total: int) -> None:
        self.stage, self.views, self.total = stage, done, total
        self.tick()


class AddToLibraryJob(RunJob):
    name = "add_to_library"
    what = "adding to the library"

    def __init__(self, host, library: Path | None = None, show: Callable[[str], None] | None = None):
        """``library``: where objects go (default: the user's library); ``show(name)``: load a
        library object into the view (the explorer's)."""
        super().__init__(host)
        self.library = library
        self.show = show
        self.names: dict[str, str] = {}  # the name typed for each mesh file, by its path
        self.listed = 0  # objects added this session: the panel lists the libraries again when it grows

    def wanted_name(self) -> str:
        obj = self.host.state.obj
        return self.names.get(obj.ref) or object_name(obj.mesh_path.stem)

    def refusal(self) -> str | None:
        """Why the shown object cannot be added now, or None."""
        obj = self.host.state.obj
        if obj.in_library:
            return f"{obj.name} is in the library already"
        if obj.imagenet_class is None:
            return "give it its class first (true class, in the Prediction section)"
        return None

    def begin(self) -> None:
        s = self.host.state
        why = self.refusal()
        if why:
            self.notify(f"cannot add to the library: {why}", error=True)
            return
        request = AddRequest(
            source=s.obj.mesh_path,
            true_class=s.obj.imagenet_class,
            name=self.wanted_name(),
            library=self.library or user_library_dir(),
        )
        try:
            request.object_name()
        except ValueError as e:
            self.notify(f"cannot add to the library: {e}", error=True)
            return
        self.run = AddRun(request, self.host.classifier)
        self.notify(f"adding {request.name} to {request.library}: looking for its canonical pose ...")

    def activity(self) -> str | None:
        run = self.run
        if run is None or run.done:
            return None
        return f"adding to the library: {run.views} of {run.total} views"

    def ended(self, run: AddRun) -> None:
        if run.added is None:
            self.notify(f"{run.request.name} was not added (stopped)")
            return
        added = run.added
        for w in added.warnings:
            self.notify(f"{added.object.name}: {w}", error=True)
        view = added.view
        self.listed += 1
        self.notify(f"added {added.object.name} to the library: canonical pose found, {100 * view.probability:.1f}% "
                    f"{added.object.class_name}, top-1 in {view.recognised} of {view.views} natural views")  # fmt: skip
        if self.show is not None:
            self.show(added.object.name)
