"""Where one step of the grad method spends its time, per library object.

    python benchmarks/bench_gradient.py [--objects all] [--repeats 7]

For each object at its canonical pose, with the bundled classifier frozen as the app has
it, the median of ``--repeats`` runs of: rasterising the visibility buffer (OpenGL), the
re-shading in torch forward alone and forward + backward, the classifier's forward +
backward to its input, one whole gradient (:class:`app.pipeline.gradient.PoseGradient`: all of
these), and one OpenGL render classified alone (what grad's untargeted line search pays
a step).  Printed in milliseconds, with the re-shading's share of a gradient and the
gradient's cost in single renders, both measured in this run.
"""

from __future__ import annotations

import argparse
import sys

import torch
from bench_pipeline import timed  # this folder is on sys.path when a script here runs

from app.pipeline.gradient import deterministic_kernels
from app.pipeline.pipeline import Pipeline
from app.scene.library import list_objects, resolve_object
from app.search.space import Goal, SearchSpace
from app.vision.classifiers import load_classifier


def time_object(pipe: Pipeline, obj, repeats: int) -> dict[str, float]:
    """Milliseconds for each part of one gradient step of ``obj`` at its canonical pose."""
    clf = pipe.classifier
    pipe.set_object(obj)
    gradient = pipe.gradient()
    diff = gradient.renderer
    space, goal = SearchSpace(obj.canonical_pose, ["rotation"]), Goal(obj.imagenet_class)
    u = space.to_unit(obj.canonical_pose)
    pose = space.from_unit(u)
    vis = diff.rasterize(pose)
    vector = torch.from_numpy(pose.vector)
    batch = (diff.shade(vis, vector).detach().permute(2, 0, 1).unsqueeze(0) * 255.0).to(clf.device)

    def shade() -> None:
        with torch.no_grad():
            diff.shade(vis, vector)

    def shade_backward() -> None:
        diff.shade(vis, vector.clone().requires_grad_(True)).sum().backward()

    def model() -> None:
        x = batch.clone().requires_grad_(True)
        with torch.enable_grad(), deterministic_kernels():
            torch.log_softmax(clf.logits(x).float(), dim=1)[0, obj.imagenet_class].backward()

    def step() -> None:
        gradient(space, goal, u)

    return {  # timed() leaves out its first calls (TorchScript's profiling runs, allocations)
        "raster": timed(lambda: diff.rasterize(pose), repeats),
        "shade": timed(shade, repeats),
        "shade+bw": timed(shade_backward, repeats),
        "model": timed(model, repeats),
        "gradient": timed(step, repeats),
        "render": timed(lambda: pipe.probabilities([pose]), repeats),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", default="all")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    objects = list_objects() if args.objects == "all" else [resolve_object(n) for n in args.objects.split(",")]
    clf = load_classifier("efficientnet_lite0")
    clf.freeze()
    pipe = Pipeline(clf, batch=18, streams=2)
    print(f"{clf.name} on {clf.device}; milliseconds, median of {args.repeats}")
    print(f"{'object':14s} {'raster':>7s} {'shade':>7s} {'shade+bw':>9s} {'model f+b':>10s} {'gradient':>9s} "
          f"{'1 render':>9s} {'shading %':>10s} {'renders':>8s}")  # fmt: skip
    for obj in objects:
        row = time_object(pipe, obj, args.repeats)
        print(f"{obj.name:14s} {row['raster']:7.1f} {row['shade']:7.1f} {row['shade+bw']:9.1f} {row['model']:10.1f} "
              f"{row['gradient']:9.1f} {row['render']:9.1f} {100 * row['shade+bw'] / row['gradient']:9.0f}% "
              f"{row['gradient'] / row['render']:7.1f}x", flush=True)  # fmt: skip
    pipe.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
