"""Render / read / classify timings, measured in one run, printed as ms and ratios.

    python benchmarks/bench_pipeline.py [--object teddy_bear] [--frames 30]

* render+read: draw the object and read RGBA into a preallocated buffer (299 px and 1024x768)
* classifier-only: forward pass on a tensor already in memory (batch 1, inference mode)
* pipeline: render -> zero-copy tensor -> preprocess -> forward -> top-5, per frame
Models without weights here are timed with random weights (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from app.core.params import Pose
from app.pipeline.pipeline import Pipeline
from app.render.glcontext import create_headless_context, describe
from app.render.renderer import Renderer
from app.render.settings import RenderSettings
from app.render.targets import OffscreenTarget
from app.scene.library import resolve_object
from app.vision.classifiers import Classifier, build_architecture, load_classifier, model_spec


def timed(fn, n: int, warmup: int = 3) -> float:
    """Median milliseconds of ``fn()`` over ``n`` runs."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def classifier_for(name: str, device: str) -> Classifier:
    if name == "efficientnet_lite0":
        return load_classifier(name, device=device)
    return Classifier(model_spec(name), build_architecture(name), torch.device(device))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--object", default="teddy_bear")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--models", default="efficientnet_lite0,inception_v3,resnet50")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    n = args.frames

    ctx = create_headless_context()
    print(f"GL: {describe(ctx)}; torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}")
    obj = resolve_object(args.object)
    renderer = Renderer(ctx)
    mesh = obj.load()
    renderer.set_mesh(mesh)
    print(f"object: {obj.name} ({mesh.triangle_count:,} triangles)\n")

    print("render + read (RGBA into a preallocated buffer), median ms")
    for quality in ("fast", "high"):
        for w, h in ((299, 299), (224, 224), (1024, 768)):
            target = OffscreenTarget(ctx, w, h, quality)
            buf = np.empty((h, w, 4), np.uint8)
            settings = RenderSettings(quality=quality)
            poses = iter([Pose(yaw=(i * 7) % 360 - 180) for i in range(10_000)])

            def frame(target=target, buf=buf, settings=settings, poses=poses):
                renderer.render(next(poses), target, settings)
                target.read_into(buf)

            print(f"  {quality:4s} {w}x{h}: {timed(frame, n):7.1f}")
            target.release()

    print("\nper model, batch 1, median ms:  classifier-only | pipeline (render->tensor->top-5) | ratio")
    for name in args.models.split(","):
        clf = classifier_for(name, args.device)
        pipe = Pipeline(clf, ctx=ctx)
        pipe.set_object(obj)
        frame = pipe.frames([obj.canonical_pose]).clone()
        poses = iter([obj.canonical_pose.replace(yaw=(i * 7) % 360 - 180) for i in range(10_000)])
        # interleave the two measurements so that machine noise hits both alike
        only, full = [], []
        for _ in range(3):
            clf.predict(frame)
            pipe.classify(next(poses))
        for _ in range(n):
            t = time.perf_counter()
            clf.predict(frame)
            only.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            pipe.classify(next(poses))
            full.append((time.perf_counter() - t) * 1000)
        c, p = statistics.median(only), statistics.median(full)
        print(f"  {name:20s} {clf.input_size} px: {c:7.1f} | {p:7.1f} | {p / c:5.2f}")
        pipe.release()


if __name__ == "__main__":
    main()
