"""The pose explorer's state and actions, independent of any window.

:class:`Explorer` owns the scene (object, pose, render settings), the renderer, the
model-input target, the live classifier worker and the ImGui renderer.  A front end
feeds it input and calls :meth:`Explorer.draw` with a framebuffer: the pyglet window
passes its screen, the tests pass an offscreen framebuffer on a headless context.
"""

from __future__ import annotations

import math
import statistics
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import imgui_bundle
import moderngl
import numpy as np
from imgui_bundle import imgui

from app.background.live import Frame, LiveClassifier, LiveResult
from app.background.station import SearchStation
from app.core.files import claim_stem, write_new
from app.core.glide import Glide
from app.core.params import GROUPS, Pose, PoseDocument, describe_change, load_pose_file
from app.gui import interaction
from app.gui.atlas import RESOLUTIONS as ATLAS_RESOLUTIONS
from app.gui.atlas import AtlasRun
from app.gui.capture import CaptureRequest, CaptureResult, write_capture
from app.gui.imgui_gl import ImageTextures, ImGuiRenderer
from app.gui.interaction import DragMode
from app.gui.lenses import Lenses
from app.gui.optimize_run import OptimizeRun
from app.render.renderer import MAX_SIZE, OffscreenTarget, Renderer, RenderSettings, is_software, resolve_quality
from app.scene.library import MESH_SUFFIXES, LibraryObject, resolve_object
from app.scene.mesh import Mesh
from app.search.registry import default_method
from app.search.space import Budget, Goal
from app.vision.classifiers import Classifier, load_classifier
from app.vision.predictions import classify_image

BACKGROUNDS = ((1.0, 1.0, 1.0), (0.5, 0.5, 0.5), (0.0, 0.0, 0.0))
NUDGE_DEG = 5.0
MOTION_HOLD = 0.4  # seconds after the last change that count as "moving"
RECORDING_WAIT = 120.0  # seconds closing waits for a search's recording before it captures without it
MOVING_VIEW_SCALE = 0.5  # 3D view resolution while moving on software GL
FONT_PX = 15.0


@dataclass(frozen=True)
class Shortcut:
    keys: str  # as shown to people
    action: str  # Explorer.act() name
    description: str
    bindings: tuple[tuple[str, float], ...]  # (pyglet key name, amount passed to act())


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("L", "toggle_live", "live prediction on/off", (("L", 1),)),
    Shortcut("C", "capture", "capture: model-input PNG + window PNG + JSON (never overwrites)", (("C", 1),)),
    Shortcut("X", "toggle_texture", "textures on/off", (("X", 1),)),
    Shortcut("F", "toggle_culling", "back-face culling on/off", (("F", 1),)),
    Shortcut("B", "cycle_background", "background: white / grey / black", (("B", 1),)),
    Shortcut("R", "reset_pose", "reset to the object's canonical pose", (("R", 1),)),
    Shortcut("S", "save_pose", "save the pose as JSON in the captures folder", (("S", 1),)),
    Shortcut("O", "optimize", "start / stop the pose search (Optimize pose section)", (("O", 1),)),
    Shortcut("M", "atlas", "start / stop the yaw x pitch map of this view (Atlas section)", (("M", 1),)),
    Shortcut("A", "attack", "attack the model-input pixels (Pixel attacks section)", (("A", 1),)),
    Shortcut("G", "fragility", "start / stop the fragility map of this view's crops", (("G", 1),)),
    Shortcut("V", "evolve", "start / stop evolving fooling skins (Evolved fooling skins)", (("V", 1),)),
    Shortcut("H", "toggle_help", "this help", (("H", 1), ("F1", 1))),
    Shortcut("Tab", "toggle_panel", "show/hide the panel", (("TAB", 1),)),
    Shortcut("Left/Right", "yaw", "yaw -/+ 5 degrees", (("LEFT", -1), ("RIGHT", 1))),
    Shortcut("Up/Down", "pitch", "pitch -/+ 5 degrees", (("UP", -1), ("DOWN", 1))),
    Shortcut("Q/E", "roll", "roll -/+ 5 degrees", (("Q", -1), ("E", 1))),
    Shortcut(
        "+/-",
        "zoom",
        "nearer / farther",
        (("PLUS", 1), ("EQUAL", 1), ("NUM_ADD", 1), ("MINUS", -1), ("NUM_SUBTRACT", -1)),
    ),
    Shortcut("Esc", "quit", "quit", (("ESCAPE", 1),)),
)

MOUSE_HELP: tuple[tuple[str, str], ...] = (
    ("left drag", "rotate (arcball)"),
    ("right drag / shift + left drag", "move in the image plane"),
    ("wheel", "nearer / farther"),
    ("ctrl + left drag (or alt)", "move the light"),
    ("ctrl + click on a slider", "type a value"),
    ("drop a .json / mesh file", "load a pose / an object"),
)


@dataclass
class OptimizeOptions:
    """The panel's choices for the pose search."""

    method: str = "cmaes"  # the Explorer picks search.default_method for its machine
    groups: dict[str, bool] = field(default_factory=lambda: {g: g == "rotation" for g in GROUPS})
    seconds: float = 20.0
    seed: int = 0
    until_fooled: bool = True
    nearest: bool = True  # then the nearest success to the start on the line to it (search.search ``nearest``)
    edges: bool = False  # grad: edge gradients (Pipeline.search ``edges``)
    first_step: float | None = None  # grad: its first step (search.search ``grad_step``); None: the default
    record: str | None = None  # "gif" or "mp4": write the run as one beside the captures


@dataclass
class Message:
    text: str
    error: bool


def create_imgui_context(ui_scale: float = 1.0) -> imgui.internal.Context:
    """A new current ImGui context with a scalable TTF font and sizes scaled by ``ui_scale``."""
    context = imgui.create_context()
    io = imgui.get_io()
    io.set_ini_filename(None)  # no imgui.ini litter in the working directory
    font = Path(imgui_bundle.__file__).parent / "assets" / "fonts" / "Roboto" / "Roboto-Regular.ttf"
    if font.is_file():
        io.fonts.add_font_from_file_ttf(str(font), FONT_PX)
    style = imgui.get_style()
    style.font_size_base = FONT_PX
    style.font_scale_main = ui_scale
    if ui_scale > 1.0:
        style.scale_all_sizes(ui_scale)
    return context


class FrameStats:
    """Frame intervals and prediction latencies of the recent past."""

    def __init__(self, keep: int | None = 240):
        self.keep = keep
        self.reset()

    def reset(self) -> None:
        self.frame_times: deque[float] = deque(maxlen=self.keep)
        self.latencies: deque[float] = deque(maxlen=self.keep)
        self.inferences: deque[float] = deque(maxlen=self.keep)
        self._last: float | None = None

    def summary(self) -> dict:
        """Percentiles in milliseconds (for the benchmark)."""

        def pct(values, q):
            return round(float(np.percentile(np.array(values) * 1000, q)), 2) if values else None

        out: dict = {"frames": len(self.frame_times) + 1, "predictions": len(self.latencies)}
        for name, values in (("frame", self.frame_times), ("latency", self.latencies), ("inference", self.inferences)):
            out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = pct(values, 50), pct(values, 95)
        return out

    def frame(self, now: float) -> None:
        if self._last is not None:
            self.frame_times.append(now - self._last)
        self._last = now

    def result(self, result: LiveResult) -> None:
        self.latencies.append(result.latency)
        self.inferences.append(result.inference)

    @property
    def fps(self) -> float:
        recent = list(self.frame_times)[-60:]
        return len(recent) / sum(recent) if recent and sum(recent) > 0 else 0.0

    @staticmethod
    def median_ms(values: deque[float]) -> float:
        return statistics.median(values) * 1000 if values else float("nan")


class Explorer:
    """One object, one pose, one classifier: everything the window shows and does."""

    def __init__(
        self,
        ctx: moderngl.Context,
        classifier: Classifier,
        obj: LibraryObject,
        pose: Pose | None = None,
        settings: RenderSettings | None = None,
        captures_dir: Path = Path("captures"),
        device: str = "auto",
        ui_scale: float = 1.0,
        view_scale: float | None = None,
        weights: dict[str, Path] | None = None,
        echo: bool = False,
    ):
        """``view_scale``: resolution of the 3D view; None = full, but half while the scene
        moves on a software rasteriser (llvmpipe cannot fill a large window at 30 FPS).
        ``weights``: weight files by model name (``--weights``), used whenever that model
        is chosen again in the panel.  ``echo``: print the panel's messages too (the
        window's terminal keeps a log of what happened)."""
        self.ctx = ctx
        self.echo = echo
        self.view_pixels = (640, 480)  # the 3D view in framebuffer pixels, as last drawn
        self.view_scale = view_scale
        self.software_gl = is_software(ctx)
        self._view_target: OffscreenTarget | None = None
        self._last_key: tuple | None = None
        self._last_change = 0.0
        self.settings = settings or RenderSettings()
        self.quality = resolve_quality(ctx, self.settings.quality)
        self.renderer = Renderer(ctx)
        self.captures_dir = Path(captures_dir)
        self.device = device
        self.weights = dict(weights or {})
        self.ui_scale = ui_scale
        self.messages: deque[Message] = deque(maxlen=6)
        self.messages_posted = 0  # redraw on each new message (the deque's length stops at 6)
        if classifier.notice:  # already printed where the model was loaded
            self.messages.append(Message(classifier.notice, True))
        self.model_notice = classifier.notice
        self.live = LiveClassifier(classifier)
        self.live_enabled = True
        self.show_help = False
        self.show_panel = True
        self.target_class: int | None = None
        self.captures: list[CaptureResult] = []
        self.stats = FrameStats()
        self.result: LiveResult | None = None
        self.busy: str | None = None  # "loading model ..." while a job runs
        self.quit_requested = False
        self.optimize_options = OptimizeOptions(method=default_method(classifier.device, ctx.version_code))
        self.optimize_run: OptimizeRun | None = None
        self.optimize_start: Pose | None = None
        self.glides = True  # glides to a search's best pose and back to its start (app.core.glide); False: jumps
        self._glide: Glide | None = None
        self._glide_shown: Pose | None = None  # the pose the glide last showed (another one: the user moved it)
        self._search_ending: OptimizeRun | None = None  # ended; reported and captured once the view is at its best
        self.search_station = SearchStation()  # the searches' thread, GL context and pipeline, kept
        self._prepared_for: tuple | None = None  # (classifier, mesh, settings, gradient) last prepared
        self._preparing = threading.Event()  # a preparation is in flight
        self.atlas: AtlasRun | None = None
        self.atlas_resolution = "medium"
        self._drag: tuple[DragMode, tuple[float, float]] | None = None
        self._capture_pending = False
        self._submitted_key: object = None
        self._target: OffscreenTarget | None = None
        self._input_buffer: np.ndarray | None = None
        self.lenses = Lenses(self)  # attacks, fragility, evolved skins (their textures are made on first draw)
        self.obj = obj
        mesh = obj.load()
        self._apply_mesh(obj, mesh, pose or obj.canonical_pose)
        self._make_input_target()
        from app.gui.panel import Panel  # the panel draws with ImGui; imported here to keep this module's API first

        self.imgui_context = create_imgui_context(ui_scale)
        self.imgui_renderer = ImGuiRenderer(ctx)
        self.textures = ImageTextures(ctx, self.imgui_renderer)  # the panel's images (thumbnail, lenses)
        self.panel = Panel(self)

    # ------------------------------------------------------------- properties

    @property
    def classifier(self) -> Classifier:
        return self.live.classifier

    @property
    def input_size(self) -> int:
        return self.classifier.input_size

    @property
    def object_ref(self) -> str:
        """What ``run.py --object`` needs to find the object again: its library name or its file."""
        return self.obj.name if self.obj.license_file is not None else str(self.obj.mesh_path.resolve())

    @property
    def scene_key(self) -> tuple:
        """Identifies what the model-input image shows; a change means a new prediction is due."""
        s = self.settings
        return (
            self.obj.name,
            str(self.obj.mesh_path),
            self.pose,
            s.textures,
            s.cull_back_faces,
            s.background,
            s.background_image,
            self.input_size,
            self.lenses.skin,
        )

    def render_settings(self) -> RenderSettings:
        """The settings with the quality resolved, as written into captures."""
        s = RenderSettings.from_dict(self.settings.to_dict())
        s.quality = self.quality
        return s

    # -------------------------------------------------------------- messages

    def notify(self, text: str, error: bool = False) -> None:
        self.messages.append(Message(text, error))
        self.messages_posted += 1
        if self.echo:
            print(("error: " if error else "") + text, file=sys.stderr if error else sys.stdout, flush=True)

    # ------------------------------------------------------------------ scene

    def set_pose(self, pose: Pose) -> None:
        self.pose = pose

    def set_param(self, name: str, value: float) -> None:
        """Set one declared parameter (clipped to its range, circular ones wrapped)."""
        if math.isfinite(value):
            self.pose = self.pose.fitted(**{name: value})

    def _apply_mesh(self, obj: LibraryObject, mesh: Mesh, pose: Pose) -> None:
        if self.optimize_run is not None:
            self._drop_search("another object is shown")
            self.optimize_start = None  # nothing of this object to revert to
        self.renderer.set_mesh(mesh)
        self.obj, self.mesh = obj, mesh
        self._glide, self.pose = None, pose
        for w in mesh.warnings:
            self.notify(f"{obj.name}: {w}", error=True)

    def load_object(self, name_or_path: str, pose: Pose | None = None) -> None:
        """Load a library object or a mesh file on the worker; the view switches when it is ready."""
        try:
            obj = resolve_object(name_or_path)
        except Exception as e:
            self.notify(str(e), error=True)
            return
        self.busy = f"loading {obj.name} ..."

        def done(result: Mesh | Exception) -> None:
            self.busy = None
            if isinstance(result, Exception):
                self.notify(f"cannot load {obj.name}: {result}", error=True)
                return
            self._apply_mesh(obj, result, pose or obj.canonical_pose)
            self.notify(f"loaded {obj.name} ({obj.display_name})")

        self.live.run_job(lambda _clf: obj.load(), done)

    def load_model(self, name: str, weights: Path | None = None) -> None:
        """Build a classifier on the worker; live predictions switch to it when it is ready.
        Without ``weights``, a file given for this model at start-up is used again."""
        weights = weights or self.weights.get(name)
        self.busy = f"loading model {name} ..."
        notices: list[str] = []

        def job(_clf: Classifier) -> Classifier:
            clf = load_classifier(name, weights, self.device, notify=notices.append)
            if self.live.freeze:
                clf.freeze()
            return clf

        def done(result: Classifier | Exception) -> None:
            self.busy = None
            if isinstance(result, Exception):
                self.notify(f"cannot load model {name}: {result}", error=True)
                return
            if self.optimizing:  # it searches against the model that is going
                self._drop_search(f"the model is now {result.name}")
            self.live.classifier = result
            self.model_notice = result.notice
            for n in notices:
                self.notify(n, error=result.notice is not None)
            self._make_input_target()
            self.result = None
            self.notify(f"model: {result.name} ({result.input_size} px, {result.device})")

        self.live.run_job(job, done)

    def load_pose(self, path: str | Path) -> None:
        try:
            doc = load_pose_file(path)
            settings = RenderSettings.from_file_dict(doc.settings, path)
        except Exception as e:
            self.notify(str(e), error=True)
            return
        if settings is not None:
            self.settings = settings
            self.quality = resolve_quality(self.ctx, settings.quality)
            self._make_input_target()
        if doc.object and doc.object not in (self.obj.name, self.object_ref):
            self.load_object(doc.object, doc.pose)
        else:
            self.pose = doc.pose
        self.notify(f"pose loaded from {path}")

    def save_pose(self) -> Path | None:
        doc = PoseDocument(
            self.pose, object=self.object_ref, model=self.classifier.name, settings=self.render_settings().to_dict()
        )
        try:
            _stem, path = claim_stem(self.captures_dir, f"{self.obj.name}-pose", (".json",),
                                     lambda p: write_new(p, doc.to_json().encode()))  # fmt: skip
        except OSError as e:
            self.notify(f"cannot save the pose: {e}", error=True)
            return None
        self.notify(f"saved {path}")
        return path

    def load_dropped(self, paths: list[str]) -> None:
        for p in paths:
            if p.lower().endswith(".json"):
                self.load_pose(p)
            elif p.lower().endswith(MESH_SUFFIXES):
                self.load_object(p)
            else:
                self.notify(f"{p}: drop a pose .json or a mesh ({', '.join(MESH_SUFFIXES)})", error=True)

    def return_to(self, capture: CaptureResult) -> None:
        """Go back to a captured pose (and its object)."""
        if capture.object_name not in (self.obj.name, self.object_ref):
            self.load_object(capture.object_name, capture.pose)
        else:
            self.pose = capture.pose

    # ---------------------------------------------------------------- actions

    def act(self, action: str, amount: float = 1.0) -> None:
        """Run a named action (keyboard shortcuts and panel buttons share these)."""
        s = self.settings
        if action == "toggle_live":
            self.live_enabled = not self.live_enabled
        elif action == "capture":
            self._capture_pending = True
        elif action == "toggle_texture":
            s.textures = not s.textures
        elif action == "toggle_culling":
            s.cull_back_faces = not s.cull_back_faces
        elif action == "cycle_background":
            i = BACKGROUNDS.index(s.background) if s.background in BACKGROUNDS else -1
            s.background = BACKGROUNDS[(i + 1) % len(BACKGROUNDS)]
        elif action == "reset_pose":
            self.pose = self.obj.canonical_pose
        elif action == "save_pose":
            self.save_pose()
        elif action == "toggle_help":
            self.show_help = not self.show_help
        elif action == "toggle_panel":
            self.show_panel = not self.show_panel
        elif action in ("yaw", "pitch", "roll"):
            self.set_param(action, self.pose[action] + NUDGE_DEG * amount)
        elif action == "zoom":
            self.pose = interaction.zoom(self.pose, amount)
        elif action == "optimize":
            if self.optimizing:
                self.optimize_run.stop()
                if self.optimize_run.done:  # the view is on its way to the best pose: go there now
                    self._follow_optimize(at_once=True)
            else:
                self.start_optimize()
        elif action == "atlas":
            if self.mapping:
                self.atlas.stop()
            else:
                self.start_atlas()
        elif action == "attack":
            self.lenses.start_attack()
        elif action == "fragility":
            if self.lenses.mapping_fragility:
                self.lenses.fragility.stop()
            else:
                self.lenses.start_fragility(self.view_pixels)
        elif action == "evolve":
            if self.lenses.evolving:
                self.lenses.evolution.stop()
            else:
                self.lenses.start_evolve()
        elif action == "quit":
            self.quit_requested = True
        else:
            raise ValueError(f"unknown action {action!r}")

    # -------------------------------------------------------------- optimize

    @property
    def computing(self) -> bool:
        """A pose search, a map or a lens is at work beside the view (the window then redraws
        for input alone less often, :func:`app.gui.window.frame_due`)."""
        run, lenses = self.optimize_run, self.lenses
        searching = run is not None and not run.done
        return searching or self.mapping or lenses.mapping_fragility or lenses.evolving or lenses.attacking

    @property
    def optimizing(self) -> bool:
        """A pose search runs, or its end is not yet shown (the view is still on its way to
        the best pose it found)."""
        run = self.optimize_run
        return run is not None and (not run.done or not run.announced or self._search_ending is run)

    def start_optimize(self) -> None:
        """Search from the current pose with the panel's options; the view animates as it runs."""
        if self.optimizing:
            return
        self.finish_glide()  # from where the view was going (Revert, then Optimize at once)
        o = self.optimize_options
        try:
            goal = Goal(self.obj.imagenet_class, self.target_class)
            run = OptimizeRun(
                self.classifier, self.obj, self.pose, self.render_settings(), o.method, goal,
                [g for g, on in o.groups.items() if on], Budget(seconds=o.seconds), o.seed, o.until_fooled,
                record=self.captures_dir if o.record else None, record_format=o.record or "gif",
                station=self.search_station, mesh=self.mesh, nearest=o.nearest, edges=o.edges,
                first_step=o.first_step,
            )  # fmt: skip
        except Exception as e:
            self.notify(f"cannot optimize: {e}", error=True)
            return
        self.optimize_run, self.optimize_start = run, self.pose

    def _prepare_search(self) -> None:
        """Once a classifier has been frozen for the live view (after its first prediction,
        :class:`app.background.live.LiveClassifier`), make on the search thread, beside the view, what
        the next search would otherwise make first (:meth:`SearchStation.prepare`): again
        whenever the model, the object or the render settings change, one at a time."""
        clf = self.classifier
        if not clf.freeze_tried or self._preparing.is_set() or self.optimizing:
            return
        settings, gradient = self.render_settings(), self.optimize_options.method == "grad"
        last = self._prepared_for
        if last is not None and last[0] is clf and last[1] is self.mesh and last[2:] == (settings, gradient):
            return
        self._prepared_for = (clf, self.mesh, settings, gradient)
        self._preparing.set()
        self.search_station.prepare(clf, settings, self.obj, self.mesh, gradient, done=self._preparing.clear)

    def _drop_search(self, why: str) -> None:
        """Another object or model is in use: a search still running or still on its way to
        its best pose stops, and its poses are neither shown nor captured."""
        run = self.optimize_run
        if self.optimizing:
            run.stop()
            run.announced = True  # its end is not reported, nor its best pose captured
            self.notify(f"the pose search on {run.object} was stopped: {why}")
        self.optimize_run = self._search_ending = None
        self._glide = None

    def revert_optimize(self) -> None:
        if self.optimize_start is not None and not self.optimizing:
            self.glide_to(self.optimize_start)

    def glide_to(self, pose: Pose, at_once: bool = False) -> None:
        """Move the view to ``pose`` over a fraction of a second (:class:`app.core.glide.Glide`),
        or at once (``at_once``, or with :attr:`glides` off)."""
        if self._glide is not None and self._glide.end == pose and not at_once:
            return
        if at_once or not self.glides or pose == self.pose:
            self._glide, self.pose = None, pose
            return
        self._glide, self._glide_shown = Glide(self.pose, pose, time.perf_counter()), self.pose

    def finish_glide(self) -> None:
        """End a glide under way where it was going."""
        if self._glide is not None:
            self.glide_to(self._glide.end, at_once=True)

    def _advance_glide(self) -> None:
        g = self._glide
        if g is None:
            return
        if self.pose != self._glide_shown:  # moved by hand (a slider, a drag): the hand wins
            self._glide = None
            return
        now = time.perf_counter()
        self.pose = self._glide_shown = g.pose(now)
        if g.done(now):
            self._glide = None

    def _follow_optimize(self, at_once: bool = False) -> None:
        """Animate a running search (the view moves to each pose it reports, and glides to the
        best one at the end); once the view is there, report the outcome and capture the best
        pose.  ``at_once``: no glide (closing, Stop)."""
        run = self.optimize_run
        if run is None:
            return
        if not run.done:
            if run.announced:  # closing: its best pose is already shown and captured
                return
            if run.result is not None:  # the search is over; its recording is being written
                self.glide_to(run.result.best, at_once)
            elif run.progress is not None and not run.progress.nearest:  # the pull-back's end: eased into at the end
                self.glide_to(run.progress.current, at_once=True)  # at once: drawing every glide frame slows the search
            return
        if run.newly_ended():
            if run.error is not None or run.result is None:
                self.notify(f"the pose search failed: {run.error}", error=True)
                self.glide_to(self.optimize_start or self.pose, at_once)
                return
            self._search_ending = run
            self.glide_to(run.result.best, at_once)
        if self._search_ending is run and (self._glide is None or at_once):
            self._search_ending = None
            self._report_search(run)

    def _report_search(self, run: OptimizeRun) -> None:
        r = run.result
        self.glide_to(r.best, at_once=True)  # exactly there, even if a drag took the view elsewhere meanwhile
        how = "stopped" if r.stopped else "done"
        verdict = run.goal.outcome(r.success)
        moved = describe_change(run.start, r.best)
        where = "the start itself" if moved == "no change" else f"{moved} from the start"
        if r.first_success_elsewhere:
            first = describe_change(run.start, r.first_success, most=2)
            if run.nearest and run.stop_on_success:  # the search stopped there, and "then nearest" moved on
                where += f", pulled back from {first}"
            else:  # it searched on from there (and pulled back from a better pose, if "then nearest")
                where += f"; the goal first met at {first}"
        self.notify(f"{r.method} {how}: {verdict} after {r.effort}; best pose kept ({where}; Revert to go back), "
                    "captured")  # fmt: skip
        if run.recording is not None:
            self.notify(f"recorded the run: {run.recording}")
        self.act("capture")

    # ----------------------------------------------------------------- atlas

    @property
    def mapping(self) -> bool:
        return self.atlas is not None and not self.atlas.done

    def start_atlas(self) -> None:
        """Map yaw x pitch around the current pose with the current model, beside the window."""
        if self.mapping:
            return
        try:
            steps = ATLAS_RESOLUTIONS[self.atlas_resolution]
            self.atlas = AtlasRun(self.classifier, self.obj, self.pose, self.render_settings(), steps, mesh=self.mesh)
        except Exception as e:
            self.notify(f"cannot map: {e}", error=True)

    def atlas_pick(self, row: int, column: int) -> None:
        """Show the pose of a map cell."""
        if self.atlas is not None:
            self.pose = self.atlas.pose_at(row, column)

    def _follow_atlas(self) -> None:
        run = self.atlas
        if run is None or not run.newly_ended():
            return
        if run.error is not None:
            self.notify(f"the atlas failed: {run.error}", error=True)
            return
        share = run.fraction_correct()
        right = "-" if share is None else f"{100 * share:.1f}%"
        stopped = " (stopped)" if run.done_cells < run.cells else ""
        self.notify(f"atlas of {run.object} / {run.model}{stopped}: {run.done_cells} of {run.cells} poses in "
                    f"{run.elapsed:.1f} s, top-1 correct {right}; click a cell to see its pose")  # fmt: skip

    # ----------------------------------------------------------------- mouse

    def view_rect(self, width: float, height: float) -> tuple[int, int, int, int]:
        """The 3D view's rectangle (x, y, w, h), bottom-left origin, in the given units."""
        panel = self.panel.width if self.show_panel else 0
        w = max(int(width - panel), 1)
        return (0, 0, w, max(int(height), 1))

    def start_drag(self, mode: DragMode | None, x: float, y: float) -> None:
        self._drag = (mode, (x, y)) if mode is not None else None

    def drag_to(self, x: float, y: float, view: tuple[int, int, int, int]) -> None:
        if self._drag is None:
            return
        mode, (x0, y0) = self._drag
        if mode is DragMode.ROTATE:
            self.pose = interaction.arcball_drag(self.pose, (x0, y0), (x, y), view)
        elif mode is DragMode.TRANSLATE:
            self.pose = interaction.translate_drag(self.pose, x - x0, y - y0, view)
        elif mode is DragMode.LIGHT:
            self.pose = interaction.light_drag(self.pose, x - x0, y - y0, view)
        self._drag = (mode, (x, y))

    def end_drag(self) -> None:
        self._drag = None

    # -------------------------------------------------------------- drawing

    def _make_input_target(self) -> None:
        size = self.input_size
        if self._target is not None and self._target.width == size and self._target.quality == self.quality:
            return
        if self._target is not None:
            self._target.release()
        self._target = OffscreenTarget(self.ctx, size, size, self.quality)
        self._input_buffer = np.empty((size, size, 4), np.uint8)

    def render_input(self, pose: Pose | None = None) -> np.ndarray:
        """The model-input image of the current scene, or of it in ``pose`` (a fresh (S, S, 4) array)."""
        assert self._target is not None and self._input_buffer is not None
        self.renderer.render(pose or self.pose, self._target, self.settings)
        return self._target.read_into(self._input_buffer).copy()

    def update(self) -> bool:
        """Collect worker results and feed it the newest frame; True if anything changed."""
        changed = self.live.poll() > 0
        self._advance_glide()
        self._follow_optimize()
        self._follow_atlas()
        self.lenses.follow()
        result = self.live.latest()
        if result is not None and result is not self.result:
            self.result = result
            self.stats.result(result)
            changed = True
        self._prepare_search()
        if self.live_enabled and self.live.idle and self.busy is None and not self.optimizing:
            key = self.scene_key
            if key != self._submitted_key:
                start = time.perf_counter()
                image = self.render_input()
                self.live.submit(Frame(image, self.pose, key, start))
                self._submitted_key = key
        return changed

    def thumbnail_ref(self) -> imgui.ImTextureRef | None:
        return None if self.result is None else self.textures.ref("thumbnail", self.result.frame.image)

    def drawn_state(self) -> tuple:
        """Changes whenever the window shows something new (the window redraws then)."""
        return (
            self.scene_key,
            id(self.live.latest()),
            len(self.captures),
            self.messages_posted,
            self.busy,
            self.show_help,
            self.show_panel,
            self.live_enabled,
            self.target_class,
            self._capture_pending,
            self.current_view_scale(),
        )

    def current_view_scale(self, now: float | None = None) -> float:
        if self._capture_pending:
            return 1.0
        if self.view_scale is not None:
            return self.view_scale
        now = time.perf_counter() if now is None else now
        moving = now - self._last_change < MOTION_HOLD
        return MOVING_VIEW_SCALE if self.software_gl and moving else 1.0

    def _scaled_view(self, width: int, height: int) -> OffscreenTarget:
        """The offscreen target of a view drawn at reduced resolution (at most MAX_SIZE a
        side, so a very wide window or framebuffer draws a coarser view, not an error)."""
        shrink = min(1.0, MAX_SIZE / max(width, height))
        width, height = max(int(width * shrink), 1), max(int(height * shrink), 1)
        t = self._view_target
        if t is None or t.size != (width, height) or t.quality != self.quality:
            if t is not None:
                self.imgui_renderer.unregister(t.texture)
                t.release()
            t = self._view_target = OffscreenTarget(self.ctx, width, height, self.quality)
        return t

    def draw(
        self,
        framebuffer: moderngl.Framebuffer,
        window_size: tuple[float, float],
        framebuffer_size: tuple[int, int] | None = None,
    ) -> None:
        """Draw one frame: the 3D view, the panel, and a pending capture.

        ``window_size`` is in window units (what mouse events use); the framebuffer may be
        larger (HiDPI), by the ratio of the two.
        """
        now = time.perf_counter()
        self.stats.frame(now)
        self.update()
        fb_w, fb_h = framebuffer_size or framebuffer.size
        ww, wh = window_size
        sx, sy = fb_w / max(ww, 1), fb_h / max(wh, 1)
        vx, vy, vw, vh = self.view_rect(ww, wh)
        viewport = (int(vx * sx), int(vy * sy), max(int(vw * sx), 1), max(int(vh * sy), 1))
        self.view_pixels = viewport[2:]
        key = self.scene_key
        if key != self._last_key:
            self._last_key, self._last_change = key, now
        scale = self.current_view_scale(now)
        framebuffer.use()
        framebuffer.viewport = (0, 0, fb_w, fb_h)
        framebuffer.clear(0.16, 0.16, 0.18, 1.0, viewport=(0, 0, fb_w, fb_h))
        scaled = None
        if scale < 1.0:
            scaled = self._scaled_view(max(int(viewport[2] * scale), 1), max(int(viewport[3] * scale), 1))
            self.renderer.render(self.pose, scaled, self.settings)
            scaled.resolve()
        else:
            self.renderer.render(self.pose, framebuffer, self.settings, viewport=viewport)
        io = imgui.get_io()
        io.display_size = (ww, wh)
        io.display_framebuffer_scale = (sx, sy)
        imgui.new_frame()
        if scaled is not None:  # drawn first, under the overlay and the panel; ImGui is y-down, so top = wh - vy - vh
            top = wh - vy - vh
            imgui.get_background_draw_list().add_image(
                self.imgui_renderer.register(scaled.texture), imgui.ImVec2(vx, top), imgui.ImVec2(vx + vw, top + vh)
            )
        self.panel.draw(ww, wh)
        imgui.render()
        self.imgui_renderer.render(imgui.get_draw_data(), framebuffer, (fb_w, fb_h))
        if self._capture_pending:
            self._capture_pending = False
            self._start_capture(framebuffer, (fb_w, fb_h))

    def _start_capture(self, framebuffer: moderngl.Framebuffer, size: tuple[int, int]) -> None:
        w, h = size
        pixels = framebuffer.read(viewport=(0, 0, w, h), components=3, alignment=1)
        window = np.frombuffer(pixels, np.uint8).reshape(h, w, 3)[::-1]
        request = CaptureRequest(
            directory=self.captures_dir,
            object_name=self.object_ref,
            prefix=self.obj.name,
            pose=self.pose,
            settings=self.render_settings().to_dict(),
            input_image=self.render_input(),
            window_image=np.ascontiguousarray(window),
            true_class=self.obj.imagenet_class,
            target_class=self.target_class,
        )
        self.capture_with(request)

    def capture_with(self, request: CaptureRequest) -> None:
        """Classify ``request.input_image`` and write the capture files, on the worker."""

        def job(clf: Classifier) -> CaptureResult:
            if request.input_image.shape[0] != clf.input_size:
                raise RuntimeError("the model changed while capturing; capture again")
            probs = classify_image(clf, request.input_image)
            return write_capture(request, clf.name, clf.input_size, probs)

        def finished(result: CaptureResult | Exception) -> None:
            if isinstance(result, Exception):
                self.notify(f"capture failed: {result}", error=True)
                return
            self.captures.append(result)
            self.notify(f"captured {result.stem} ({result.label}) in {request.directory}")

        self.live.run_job(job, finished, finish_on_close=True)

    # -------------------------------------------------------------- shutdown

    def announce_closing(self) -> bool:
        """Before :meth:`wind_down` waits: say that a running pose search's recording will
        be written first (it can take seconds); True if there is a message to draw."""
        run = self.optimize_run
        if run is None or run.done or run.record is None:
            return False
        self.notify("closing: the pose search stops and its recording is written first")
        return True

    def wind_down(self) -> bool:
        """Stop the background runs before the window closes; a pose search stopped so keeps
        its best pose and captures it.  True if a frame must still be drawn for a capture."""
        for run in (self.optimize_run, self.atlas):
            if run is not None:
                run.stop()
        if self.atlas is not None:
            self.atlas.join(30)
        run = self.optimize_run
        if run is not None and not run.done:
            end = time.monotonic() + 30
            while run.result is None and not run.join(0.05) and time.monotonic() < end:
                pass  # the search stops after its current iteration
            if run.result is not None:
                run.join(RECORDING_WAIT)  # the search is over; it writes its recording, if asked to
            if not run.done and run.result is not None:  # the best pose is not lost with the recording
                run.announced = True
                self.glide_to(run.result.best, at_once=True)
                self.notify(f"the recording took over {RECORDING_WAIT:.0f} s and was left unfinished; "
                            "best pose captured", error=True)  # fmt: skip
                self.act("capture")
        self.lenses.stop_all()
        self._follow_optimize(at_once=True)
        return self._capture_pending

    def close(self, timeout: float = 10.0) -> bool:
        """Stop the worker once the captures and saves asked for are written, and free GPU
        resources; True if the worker ended within ``timeout``."""
        self.wind_down()
        self.search_station.close(timeout)  # torch must not be left running on a thread at exit
        ended = self.live.close(timeout)
        self.live.poll()  # report the captures written while closing
        imgui.set_current_context(self.imgui_context)
        self.lenses.release()
        self.textures.release()
        self.imgui_renderer.release()
        imgui.destroy_context(self.imgui_context)
        for res in (self._target, self._view_target):
            if res is not None:
                res.release()
        self.renderer.release()
        return ended
