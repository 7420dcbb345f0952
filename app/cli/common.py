"""What the ``run.py`` commands share beyond their arguments: the scene from ``--object``,
``--pose`` and ``--set``, notices on stderr, and Ctrl-C that stops work gracefully.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from app.core.params import Pose, PoseDocument, PoseError, load_pose_file
from app.render.settings import RenderSettings
from app.scene.library import DEFAULT_OBJECT, LibraryObject, ObjectNotFound, resolve_object
from app.scene.mesh import load_texture

EPILOG = """\
examples:
  python run.py                      # the interactive window (same as: python run.py window)
  python run.py --object hen --model resnet50
  python run.py demo
  python run.py render --object teddy_bear --out teddy.png
  python run.py render --object models/hen/chicken.obj --pose pose.json --size 1024x768 --out big.png
  python run.py classify --object sports_car --pose pose.json --model resnet50
  python run.py classify --image photo.jpg
  python run.py optimize --object teddy_bear --target parachute --budget 10s --record gif --out runs
  python run.py optimize --object all --budget 5s --out runs  # every library object, then a summary table
  python run.py objects
  python run.py models

Pose files are JSON: {"format": "strike-a-pose/pose", "version": 1, "object": "...",
"pose": {"yaw": 30, ...}}; parameters left out take their defaults (run.py params lists them).
Without --pose an object is shown in its canonical (correctly classified) pose.
Models: 'auto' is inception_v3 when its weights are in the torch hub cache (or
downloadable, or given with --weights), else the bundled efficientnet_lite0 (offline).
Set STRIKE_OFFLINE=1 to skip download attempts.
"""


def notice(msg: str) -> None:
    """A line for the user on stderr (stdout carries the results)."""
    print(msg, file=sys.stderr)


def note_own_class(obj, target: int | None) -> None:
    """A target that is the object's own class is a search for a pose (or image) it is
    recognised in, not a way to fool the classifier: say so."""
    from app.core.imagenet import class_names

    if target is not None and target == obj.imagenet_class:
        notice(f"note: the target {class_names()[target]} is {obj.name}'s own class: "
                "the search looks for a pose (or pixels) it is recognised in")  # fmt: skip


def scene(args: argparse.Namespace) -> tuple[LibraryObject, Pose, RenderSettings, PoseDocument | None]:
    """The object, pose and render settings from ``--object``, ``--pose`` (a pose file,
    whose object and settings are the defaults) and ``--set``, and the pose file itself."""
    doc = load_pose_file(args.pose) if getattr(args, "pose", None) else None
    name = args.object or (doc.object if doc and doc.object else DEFAULT_OBJECT)
    try:
        obj = resolve_object(name)
    except ObjectNotFound as e:
        if args.object or not doc:
            raise
        raise ObjectNotFound(f"{args.pose}: {e}") from None  # the file named it: say which
    given = getattr(args, "true_class", None)
    obj = obj.with_class(class_arg(given) if given else doc.true_class if doc else None)
    if doc and doc.model not in (None, "auto") and not getattr(args, "model", None):
        from app.vision.classifiers import ModelUnavailable, model_spec

        try:
            model_spec(doc.model)
        except ModelUnavailable as e:
            raise ModelUnavailable(f"{args.pose}: {e}") from None
    pose = doc.pose if doc else obj.canonical_pose
    if args.set:
        changes = {}
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                raise PoseError(f"--set expects NAME=VALUE, got {item!r}")
            try:
                changes[key] = float(value)
            except ValueError:
                raise PoseError(f"--set {key}: {value!r} is not a number") from None
        pose = pose.replace(**changes)
    settings = (RenderSettings.from_file_dict(doc.settings, args.pose) if doc else None) or RenderSettings()
    if args.no_texture:
        settings.textures = False
    if args.cull:
        settings.cull_back_faces = True
    if args.background:
        settings.background = args.background
    if args.background_image:
        settings.background_image = str(args.background_image)
    if settings.background_image:  # the flag's or the pose file's: decoded before the model loads
        load_texture(Path(settings.background_image), "background image")
    if args.quality:
        settings.quality = args.quality
    return obj, pose, settings, doc


def render_image(obj: LibraryObject, pose: Pose, settings: RenderSettings, size: tuple[int, int]):
    """The scene at ``size`` (width, height) as (H, W, 3) uint8, in a headless context of its
    own; the mesh loader's warnings go to stderr."""
    from app.render.glcontext import create_headless_context
    from app.render.renderer import Renderer
    from app.render.targets import OffscreenTarget

    mesh = obj.load()
    for w in mesh.warnings:
        notice(f"warning: {w}")
    ctx = create_headless_context()
    renderer = target = None
    try:  # released at once: a caller in a loop (a test, a script) keeps no GL memory
        renderer = Renderer(ctx)
        renderer.set_mesh(mesh)
        target = OffscreenTarget(ctx, size[0], size[1], settings.quality)
        renderer.render(pose, target, settings)
        return target.read()[..., :3].copy()
    finally:
        for owner in (target, renderer, ctx):
            if owner is not None:
                owner.release()


def model_name(args: argparse.Namespace, doc: PoseDocument | None) -> str:
    """``--model``, else the pose file's model, else "auto"."""
    return getattr(args, "model", None) or (doc.model if doc and doc.model else "auto")


@contextlib.contextmanager
def _on_ctrl_c(handler) -> Iterator[None]:
    """Inside the block, Ctrl-C calls ``handler`` (on the main thread only), even in a
    process that started with SIGINT ignored (as a background job does)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def ctrl_c_stops(stop: threading.Event, bar, saying: str) -> contextlib.AbstractContextManager[None]:
    """Inside the block, the first Ctrl-C sets ``stop`` and writes ``saying`` above the progress
    ``bar`` (the work ends at its next check and keeps what it has); a second one interrupts
    at once."""

    def first(_signum, _frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        bar.write(f"{saying} (Ctrl-C again to quit)", file=sys.stderr)

    return _on_ctrl_c(first)


def ctrl_c_interrupts() -> contextlib.AbstractContextManager[None]:
    """Inside the block, Ctrl-C raises KeyboardInterrupt."""
    return _on_ctrl_c(signal.default_int_handler)


def engine_ready(clf) -> None:
    """Start ``clf``'s engine (``--engine``) now, and tell its notice once: a first
    conversion and its time, or why torch runs instead."""
    clf.use_engine()
    if clf.engine_notice:
        notice(clf.engine_notice)
        clf.engine_notice = None


def load_models(text: str, device: str, weights=None) -> list:
    """``--models a,b,c``: each classifier loaded and frozen; one without weights here is an
    error (it is never replaced by the bundled model, which would judge twice)."""
    from app.pipeline.jury import MAX_MODELS
    from app.vision import classifiers
    from app.vision.classifiers import ModelUnavailable, WeightsMissing

    names = [n.strip() for n in text.split(",") if n.strip()]
    if not 1 <= len(names) <= MAX_MODELS or len(set(names)) != len(names):
        raise ModelUnavailable(f"--models takes 1 to {MAX_MODELS} different models, got {text!r}")
    loaded = []
    for name in names:
        try:
            clf = classifiers.load_classifier(classifiers.resolve_name(name), weights if name == names[0] else None,
                                              device, notify=lambda _m: None, fallback=False)  # fmt: skip
        except WeightsMissing:
            raise ModelUnavailable(f"{name}: no ImageNet weights here (run.py models lists what is)") from None
        clf.freeze()
        engine_ready(clf)
        loaded.append(clf)
    return loaded


def class_arg(text: str | None) -> int | None:
    """``--target`` or ``--class``: a class name or index, or None."""
    from app.core.imagenet import resolve_class

    if not text:
        return None
    return resolve_class(int(text) if text.strip().isdigit() else text)
