"""``render``, ``classify`` and ``demo``: one object (or an image file), one picture, one prediction."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from app.cli.args import model_args, parse_size, scene_args, whole, writable_file, writable_folder
from app.cli.common import EPILOG, engine_ready, model_name, notice, render_image, scene
from app.core.files import claim_stem, png_bytes, write_new
from app.core.verdict import judge
from app.scene.library import DEFAULT_OBJECT, resolve_object
from app.vision import classifiers
from app.vision.predictions import top_k


def register(sub) -> None:
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

    p.set_defaults(run=cmd_render)

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
    p.add_argument("--cam", type=writable_file, metavar="PNG",
                   help="write the model-input image with the Grad-CAM overlay: where the model looks")  # fmt: skip
    p.add_argument("--cam-for", choices=["top1", "true", "target"], default="top1",
                   help="the class the overlay explains (default top1; true: the object's class)")  # fmt: skip
    p.add_argument("--target", help="a class for --cam-for target (name or index)")
    p.add_argument("--models", metavar="A,B,C",
                   help="up to 3 models, each with its verdict, and how many the pose fools")  # fmt: skip

    p.set_defaults(run=cmd_classify)

    p = sub.add_parser("demo", help="render + classify the default object with the best available model")
    model_args(p)
    p.add_argument("--out", type=writable_folder, default="out", help="folder for the demo image (default out/)")

    p.set_defaults(run=cmd_demo)


def _format_prediction(pred, probabilities, true_class: int | None, topk: int) -> list[str]:
    """The top-k lines, and for an object with a class its verdict (:mod:`app.core.verdict`)."""
    from app.core.imagenet import class_names

    lines = []
    for rank, (label, prob) in enumerate(zip(pred.labels()[:topk], pred.probabilities[:topk], strict=True), 1):
        bar = "#" * round(prob * 30)
        lines.append(f" {rank}. {label:30.30s} {prob * 100:6.2f}%  {bar}")
    if true_class is not None:
        lines.append(f"true class: {class_names()[true_class]} ({true_class})")
        lines.append(f"verdict: {judge(probabilities, true_class).line()}")
    return lines


def cmd_render(args: argparse.Namespace) -> int:
    obj, pose, settings, doc = scene(args)
    if args.size:
        width, height = args.size
    else:
        width = height = classifiers.model_spec(classifiers.resolve_name(model_name(args, doc))).input_size
    image = render_image(obj, pose, settings, (width, height))
    out = write_new(args.out, png_bytes(image), overwrite=args.overwrite)
    print(f"wrote {out} ({width}x{height}, {obj.name})")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    import torch

    obj, pose, settings, doc = scene(args)
    if args.cam:  # what --cam needs is checked before the model loads
        if args.cam.exists():
            raise FileExistsError(f"{args.cam} exists; --cam never writes over a file")
        if args.cam_for == "target" and not args.target:
            raise ValueError("--cam-for target needs --target CLASS")
        if args.cam_for == "true" and (args.image or obj.imagenet_class is None):
            raise ValueError("--cam-for true needs an object with a class (a library object, or --class)")
    if args.models:
        return _classify_by_models(args, obj, pose, settings)
    if args.image:  # read before the model loads: a bad file is the first thing reported
        from app.scene.mesh import load_texture

        frame = torch.from_numpy(np.ascontiguousarray(load_texture(args.image, "image")))
    clf = classifiers.load_classifier(model_name(args, doc), args.weights, args.device, notify=notice)
    engine_ready(clf)
    if args.image:
        probs = clf.probabilities(frame)[0]
        true_class, what = None, str(args.image)
    else:
        from app.pipeline.pipeline import Pipeline

        pipe = Pipeline(clf, settings=settings)
        for w in pipe.set_object(obj):
            notice(f"warning: {w}")
        probs = pipe.probabilities([pose])[0]
        true_class, what = obj.imagenet_class, f"{obj.name} ({obj.display_name})"
    probs = probs.float().cpu().numpy()
    pred = top_k(probs, args.topk)
    if args.cam:
        _write_cam(args, clf, frame if args.image else pipe.render(pose), probs, true_class)
    if args.json:
        verdict = judge(probs, true_class)
        result = {
            "input": what,
            "model": clf.name,
            "top": [
                {"class": i, "label": lab, "probability": p}
                for i, lab, p in zip(pred.indices, pred.labels(), pred.probabilities, strict=True)
            ],
            "true_class": true_class,
            "true_rank": verdict.true_rank,
            "verdict": verdict.word,
            "says": verdict.plain(),
        }
        print(json.dumps(result, indent=2))
        return 0
    print(f"{what}  |  {clf.name} ({clf.input_size} px, {clf.device})")
    print("\n".join(_format_prediction(pred, probs, true_class, args.topk)))
    return 0


def _classify_by_models(args, obj, pose, settings) -> int:
    """``classify --models``: each model's top-1 and verdict for the object's pose, each at
    its own input size, and how many of them the pose fools."""
    from app.cli.common import load_models
    from app.pipeline.jury import Jury
    from app.pipeline.pipeline import Pipeline

    if args.image or args.cam:
        raise ValueError("--models judges a rendered object; leave out --image and --cam")
    models = load_models(args.models, args.device, args.weights)
    pipe = Pipeline(models[0], settings=settings)
    for w in pipe.set_object(obj):
        notice(f"warning: {w}")
    jury = Jury(pipe, models[1:])
    probs = jury.probabilities([pose])[0].numpy()
    verdicts = [judge(p, obj.imagenet_class) for p in probs]
    fooled = sum(v.fooled for v in verdicts)
    if args.json:
        print(json.dumps({"input": f"{obj.name} ({obj.display_name})", "true_class": obj.imagenet_class,
                          "models": [{"model": m.name, "top1": v.top1, "probability": v.top1_p, "verdict": v.word,
                                      "true_rank": v.true_rank, "says": v.plain()}
                                     for m, v in zip(models, verdicts, strict=True)],
                          "fooled": fooled if obj.imagenet_class is not None else None}, indent=2))  # fmt: skip
        return 0
    print(f"{obj.name} ({obj.display_name})")
    for m, v in zip(models, verdicts, strict=True):
        print(f"{m.name:20s} {v.line()}")
    if obj.imagenet_class is not None:
        print(f"fools {fooled} of {len(models)} models")
    return 0


def _write_cam(args, clf, image, probs, true_class: int | None) -> None:
    """``--cam``: the overlay for the class ``--cam-for`` names, written under a new name."""
    from app.cli.common import class_arg
    from app.core.imagenet import class_names
    from app.vision.cam import ActivationMaps, blend, explained_class

    image = np.asarray(image)[..., :3]
    if image.shape[:2] != (clf.input_size, clf.input_size):  # an image file: what the model sees
        from PIL import Image

        image = np.asarray(Image.fromarray(image).resize((clf.input_size,) * 2, Image.Resampling.BILINEAR))
    chosen = explained_class(args.cam_for, int(np.argmax(probs)), true_class, class_arg(args.target))
    heat = ActivationMaps(clf)(image, chosen)
    out = write_new(args.cam, png_bytes(blend(image, heat)))
    notice(f"wrote {out}: where {clf.name} finds {class_names()[chosen]} (Grad-CAM)")


def cmd_demo(args: argparse.Namespace) -> int:
    import torch

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
        probs = clf.probabilities(torch.from_numpy(images[-1]))[0].float().cpu().numpy()
        print("\n".join(_format_prediction(top_k(probs, 5), probs, obj.imagenet_class, 5)))
    suffixes = tuple(suffix for _t, _p, suffix in shots)
    stem, first = claim_stem(args.out, f"demo-{obj.name}", suffixes, lambda p: write_new(p, png_bytes(images[0])))
    written = [first, write_new(args.out / f"{stem}{suffixes[1]}", png_bytes(images[1]))]
    for path in written:
        print(f"wrote {path}")
    return 0
