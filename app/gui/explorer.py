"""The window's application, without the window: what it shows, what it does, what runs beside it.

:class:`Explorer` holds the :class:`~app.gui.state.ViewState` (object, pose, settings),
the live classifier's worker, the captures and the jobs that run beside the view
(:mod:`app.gui.jobs`), and turns actions (:mod:`app.gui.actions`), drags and dropped files
into changes of them.  It draws nothing: :class:`app.gui.screen.Screen` draws it with its
panel into a framebuffer, which the pyglet window (:mod:`app.gui.window`) shows and the
tests read back.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import moderngl
import numpy as np

from app.background.live import Frame, LiveClassifier, LiveResult
from app.core.params import Pose
from app.gui import interaction
from app.gui.actions import run_action
from app.gui.beside import Beside
from app.gui.captures import CaptureRequest, Captures
from app.gui.interaction import DragMode
from app.gui.jobs import Host, Jobs
from app.gui.messages import Messages
from app.gui.motion import Motion
from app.gui.state import ViewState
from app.gui.stats import FrameStats
from app.gui.view import SceneView
from app.render.settings import RenderSettings, resolve_quality
from app.scene.library import LibraryObject, resolve_object
from app.scene.mesh import Mesh
from app.vision.classifiers import Classifier, load_classifier


class Explorer:
    """One object, one pose, one classifier: everything the window shows and does."""

    def __init__(
        self, ctx: moderngl.Context, classifier: Classifier, obj: LibraryObject, pose: Pose | None = None,
        settings: RenderSettings | None = None, captures_dir: Path = Path("captures"), device: str = "auto",
        view_scale: float | None = None, weights: dict[str, Path] | None = None, echo: bool = False,
        preview: bool = False,
    ):  # fmt: skip
        """``view_scale``: see :class:`SceneView`.  ``weights``: weight files by model name
        (``--weights``), used whenever that model is chosen again.  ``echo``: print the
        messages too (the window's terminal keeps a log of what happened).  ``preview``: the
        live view starts in the bf16 fast preview (``--precision bf16``)."""
        self.ctx = ctx
        self.device, self.weights = device, dict(weights or {})
        self.engine = classifier.engine_choice  # what runs the forward passes of the models loaded here
        self.messages = Messages(echo)
        if classifier.notice:  # already printed where the model was loaded
            self.messages.notify(classifier.notice, error=True, echo=False)
        self.model_notice = classifier.notice
        self.view = SceneView(ctx, view_scale)
        settings = settings or RenderSettings()
        mesh = obj.load()
        self.state = ViewState(obj, mesh, pose or obj.canonical_pose, settings, resolve_quality(ctx, settings.quality))
        self.live = LiveClassifier(classifier)
        self.live.preview = preview
        self.beside = Beside(device, self.weights)  # where the model looks, and more models' answers
        self.result: LiveResult | None = None
        self.stats = FrameStats()
        self.busy: str | None = None  # "loading model ..." while a load runs on the worker
        self.quit_requested = False
        self.captures = Captures(captures_dir, self.live, self.notify)
        self.motion = Motion(self.state)
        self.jobs = Jobs(Host(self.state, self.live, self.motion, self.notify, self.render_input,
                              self.render_view, self.set_skin, self.captures.request, self.captures.directory,
                              ctx.version_code, self.beside.jury.ready))  # fmt: skip
        self.jobs.add_to_library.show = self.load_object
        self._drag: tuple[DragMode, tuple[float, float]] | None = None
        self._submitted: object = None  # the scene key of the last frame given to the live classifier
        self._told: set[str] = set()  # the engines' notices already posted
        self._show_mesh(obj, mesh, self.state.pose)
        self.view.input_target(self.input_size, self.state.quality)

    # ------------------------------------------------------------- properties

    @property
    def preview(self) -> bool:
        """The live view's fast preview: predictions in bfloat16 (app.vision.engines)."""
        return self.live.preview

    @preview.setter
    def preview(self, on: bool) -> None:
        if on != self.live.preview:
            self.live.preview = on
            self._submitted = None  # the view is classified again, in the precision now asked

    @property
    def classifier(self) -> Classifier:
        return self.live.classifier

    @property
    def input_size(self) -> int:
        return self.classifier.input_size

    @property
    def scene_key(self) -> tuple:
        return self.state.scene_key(self.input_size)

    @property
    def computing(self) -> bool:
        """A job works beside the view (the window then redraws for input alone less often)."""
        return self.jobs.computing

    def notify(self, text: str, error: bool = False) -> None:
        self.messages.notify(text, error)

    def _tell_engine_notices(self) -> bool:
        """Post what the worker's engine said once (a first conversion and its time, or why
        torch or f32 runs instead); the panel keeps showing a reason for torch."""
        clf = self.classifier
        said = [n for n in (clf.engine_notice, clf.preview_notice if self.preview else None)
                if n and n not in self._told]  # fmt: skip
        for text in said:
            self._told.add(text)
            self.notify(text)
        return bool(said)

    def act(self, action: str, amount: float = 1.0) -> None:
        """Run a named action (:data:`app.gui.actions.ACTIONS`; keys and panel buttons share these)."""
        run_action(self, action, amount)

    # --------------------------------------------------------------- rendering

    def render_input(self, pose: Pose | None = None) -> np.ndarray:
        """The model-input image of the scene, or of it in ``pose`` (a fresh (S, S, 4) array)."""
        return self.view.render_input(pose or self.state.pose, self.state.settings)

    def render_view(self) -> np.ndarray:
        """The 3D view at the size the window last drew it, as (H, W, 3)."""
        return self.view.render_view(self.state.pose, self.state.settings, self.state.quality)

    def set_skin(self, volume: np.ndarray | None) -> None:
        self.view.renderer.set_skin(volume)

    # ------------------------------------------------------------------ scene

    def _show_mesh(self, obj: LibraryObject, mesh: Mesh, pose: Pose) -> None:
        for job in self.jobs:
            job.object_changed()
        self.view.renderer.set_mesh(mesh)
        s = self.state
        s.obj, s.mesh, s.pose = obj, mesh, pose
        s.asking_class = obj.imagenet_class is None
        self.motion.cancel()
        for w in mesh.warnings:
            self.notify(f"{obj.name}: {w}", error=True)

    def load_object(self, name_or_path: str, pose: Pose | None = None, true_class: int | None = None) -> None:
        """Load a library object or a mesh file (told ``true_class``) on the worker; the view
        switches when it is ready.  A mesh file without a class asks for one."""
        try:
            obj = resolve_object(name_or_path).with_class(true_class)
        except Exception as e:
            self.notify(str(e), error=True)
            return
        self.busy = f"loading {obj.name} ..."

        def done(result: Mesh | Exception) -> None:
            self.busy = None
            if isinstance(result, Exception):
                self.notify(f"cannot load {obj.name}: {result}", error=True)
                return
            self._show_mesh(obj, result, pose or obj.canonical_pose)
            self.notify(f"loaded {obj.name} ({obj.display_name})")
            if obj.imagenet_class is None:
                self.notify(f"what is {obj.name}? Type its ImageNet class in 'true class' (Prediction), "
                            "or leave it unknown")  # fmt: skip

        self.live.run_job(lambda _clf: obj.load(), done)

    def set_true_class(self, index: int | None) -> None:
        """Tell the shown object its class (None: unknown); what the jobs found for the old one is dropped."""
        s = self.state
        s.obj, s.asking_class = dataclasses.replace(s.obj, imagenet_class=index), False
        for job in self.jobs:
            job.object_changed()
        self.notify(f"{s.obj.name} is a {s.obj.class_name}" if index is not None else f"{s.obj.name}: class unknown")

    def load_model(self, name: str, weights: Path | None = None) -> None:
        """Build a classifier on the worker; live predictions switch to it when it is ready.
        Without ``weights``, a file given for this model at start-up is used again."""
        weights = weights or self.weights.get(name)
        self.busy = f"loading model {name} ..."
        notices: list[str] = []

        def job(_clf: Classifier) -> Classifier:
            clf = load_classifier(name, weights, self.device, notify=notices.append, engine=self.engine)
            if self.live.freeze:
                clf.freeze()
            return clf

        def done(result: Classifier | Exception) -> None:
            self.busy = None
            if isinstance(result, Exception):
                self.notify(f"cannot load model {name}: {result}", error=True)
                return
            for job in self.jobs:
                job.model_changed(result.name)
            self.live.classifier = result
            self.model_notice = result.notice
            for n in notices:
                self.notify(n, error=result.notice is not None)
            self.view.input_target(self.input_size, self.state.quality)
            self.result, self._submitted = None, None  # the new model classifies the view as it is
            self.notify(f"model: {result.name} ({result.input_size} px, {result.device})")

        self.live.run_job(job, done)

    def return_to(self, capture) -> None:
        """Go back to a captured pose (and its object)."""
        if not self.state.shows(capture.object_name):
            self.load_object(capture.object_name, capture.pose, capture.true_class)
        else:
            self.state.pose = capture.pose

    def capture_window(self, window_image: np.ndarray) -> None:
        """Write a capture of the scene with ``window_image`` (the frame just drawn)."""
        s = self.state
        others = [(o, self.view.render_at(s.pose, s.settings, o.input_size, s.quality))
                  for o in self.beside.jury.ready()]  # fmt: skip
        self.captures.write(CaptureRequest(
            directory=self.captures.directory, object_name=s.object_ref, prefix=s.obj.name, pose=s.pose,
            settings=s.render_settings().to_dict(), input_image=self.render_input(), window_image=window_image,
            true_class=s.obj.imagenet_class, target_class=s.target_class, others=others,
            map_for=s.map_for if s.show_map else None,
        ))  # fmt: skip

    # ------------------------------------------------------------------ mouse

    def start_drag(self, mode: DragMode | None, x: float, y: float) -> None:
        self._drag = (mode, (x, y)) if mode is not None else None

    def drag_to(self, x: float, y: float, view: tuple[int, int, int, int]) -> None:
        """Turn, move or light the object by a drag to (x, y) in ``view`` (x, y, w, h; pixels, y up)."""
        if self._drag is None:
            return
        mode, (x0, y0) = self._drag
        s = self.state
        if mode is DragMode.ROTATE:
            s.pose = interaction.arcball_drag(s.pose, (x0, y0), (x, y), view)
        elif mode is DragMode.TRANSLATE:
            s.pose = interaction.translate_drag(s.pose, x - x0, y - y0, view)
        elif mode is DragMode.LIGHT:
            s.pose = interaction.light_drag(s.pose, x - x0, y - y0, view)
        self._drag = (mode, (x, y))

    def end_drag(self) -> None:
        self._drag = None

    # ------------------------------------------------------------------- frame

    def update(self) -> bool:
        """Collect the worker's results, follow the jobs and feed the worker the newest
        frame; True if anything changed."""
        changed = self.live.poll() > 0
        self.motion.advance()
        for job in self.jobs:
            job.follow()
        result = self.live.latest()
        if result is not None and result is not self.result:
            self.result = result
            self.stats.result(result)
            changed = True
        changed |= self.beside.follow(self.state, self.result, self.classifier, self.scene_key)
        changed |= self._tell_engine_notices()
        optimize = self.jobs.optimize
        optimize.prepare()
        if self.state.live_enabled and self.live.idle and self.busy is None and not optimize.active:
            key = self.scene_key
            if key != self._submitted:
                start = time.perf_counter()
                self.live.submit(Frame(self.render_input(), self.state.pose, key, start))
                self._submitted = key
        return changed

    def drawn_state(self) -> tuple:
        """Changes whenever the window would show something new (the window redraws then)."""
        s = self.state
        return (
            self.scene_key, id(self.live.latest()), len(self.captures.taken), self.messages.posted, self.busy,
            s.show_help, s.show_panel, s.live_enabled, s.target_class, self.captures.pending,
            s.show_map, s.map_for, *self.beside.drawn_state(),
            self.view.scale(capturing=self.captures.pending),
        )  # fmt: skip

    # --------------------------------------------------------------- shutdown

    def announce_closing(self) -> bool:
        """Before :meth:`wind_down` waits: say why it may take a while; True if there is a message to draw."""
        return any([job.announce_closing() for job in self.jobs])

    def wind_down(self) -> bool:
        """Stop the jobs before the window closes; a pose search stopped so keeps its best
        pose and captures it.  True if a frame must still be drawn for a capture."""
        for job in self.jobs:
            job.stop()
        for job in self.jobs:
            job.wind_down()
        return self.captures.pending

    def close(self, timeout: float = 10.0) -> bool:
        """Stop the worker once the captures and saves asked for are written, and free GPU
        resources; True if the worker ended within ``timeout``."""
        self.wind_down()
        for job in self.jobs:
            job.close(timeout)
        ended = self.live.close(timeout) & self.beside.close(timeout)
        self.live.poll()  # report the captures written while closing
        self.view.release()
        return ended
