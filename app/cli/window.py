"""``window`` (and no command at all): the interactive explorer.

The command line does not import the window (:mod:`app.gui`): the program hands the
function that opens it to :func:`app.cli.main.main` (:mod:`app.main`), and this command
prepares the scene and the classifier and calls it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from app.cli.args import model_args, number, scene_args, whole, window_size, writable_folder
from app.cli.common import model_name, notice, scene
from app.render.glcontext import WindowUnavailable, check_display
from app.vision import classifiers

WINDOW_EPILOG = """\
mouse: left drag rotates, right (or shift+left) drag moves, wheel zooms, ctrl+left drag moves the light.
keys: L live, C capture, X texture, F culling, B background, R reset, S save pose, O optimize,
M map yaw x pitch, H help, Tab panel, Esc quit.
"""


def register(sub) -> None:
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
    p.add_argument("--precision", choices=["f32", "bf16"], default="f32",
                   help="bf16: start the live view in the fast preview (OpenVINO bfloat16, on CPUs that have it); "
                        "captures, searches and everything saved are classified at f32")  # fmt: skip
    p.add_argument("--threads", type=whole(1, 1024), help="processor threads for the classifier (default: all but one)")

    p.set_defaults(run=cmd_window)


def cmd_window(args: argparse.Namespace) -> int:
    import torch

    if args.open_window is None:
        raise WindowUnavailable("this build of the program has no window; use the headless commands")
    check_display()  # fail fast, before loading a model
    obj, pose, settings, doc = scene(args)
    threads = args.threads or max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(threads)
    clf = classifiers.load_classifier(model_name(args, doc), args.weights, args.device, notify=notice)
    weights: dict[str, Path] | None = {clf.name: args.weights} if args.weights else None
    return args.open_window(classifier=clf, obj=obj, pose=pose, settings=settings, captures_dir=args.captures,
                            device=args.device, weights=weights, size=args.size, ui_scale=args.ui_scale,
                            view_scale=args.view_scale, preview=args.precision == "bf16")  # fmt: skip
