"""Sweep throughput against classifier-only throughput at the same batch size, in one run.

    python benchmarks/bench_sweep.py [--objects hen,teddy_bear,sports_car] [--samples 96] [--batch 16]

For each model: images/s of the classifier alone on frames already in memory, then
poses/s of a real sweep (render -> read -> classify -> rows, the next batch rendered while
the last is classified) over the same number of poses per object; the ratio is the goal
figure (>= 0.9).  Then all models in one sweep (each pose rendered once per input size)
against the sum of their classifier-only times.  Models without weights here are timed
with random weights (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from app.classifiers import REGISTRY_MODELS, Classifier, build_architecture, load_classifier, model_spec  # noqa: E402
from app.frames import FrameReader, render_batch  # noqa: E402
from app.glcontext import create_headless_context, describe  # noqa: E402
from app.library import resolve_object  # noqa: E402
from app.renderer import OffscreenTarget, Renderer  # noqa: E402
from app.sweep import SweepPlan, run_sweep  # noqa: E402


def classifier_for(name: str, device: str) -> Classifier:
    if name in REGISTRY_MODELS:
        clf = load_classifier(name, device=device)
    else:
        clf = Classifier(model_spec(name), build_architecture(name), torch.device(device))
    clf.freeze()
    return clf


def classifier_only(clf: Classifier, frames: torch.Tensor, images: int) -> float:
    """Images per second of ``clf.probabilities`` on ``frames`` (one batch, repeated)."""
    clf.probabilities(frames)
    done, t = 0, time.perf_counter()
    while done < images:
        clf.probabilities(frames).cpu()
        done += frames.shape[0]
    return done / (time.perf_counter() - t)


def sweep_rate(ctx, plan: SweepPlan, objects, models, batch: int) -> float:
    rows: list[dict] = []
    t = time.perf_counter()
    run_sweep(plan, objects, models, rows.extend, lambda _o, _m: range(plan.samples), ctx=ctx, batch=batch)
    if models[0].device.type == "cuda":
        torch.cuda.synchronize()
    return len(rows) / len(models) / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", default="hen,teddy_bear,sports_car")
    parser.add_argument("--models", default="efficientnet_lite0,efficientnet_lite1,efficientnet_lite2")
    parser.add_argument("--samples", type=int, default=96, help="poses per object")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()

    ctx = create_headless_context()
    print(f"GL: {describe(ctx)}; torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}")
    objects = [resolve_object(n) for n in args.objects.split(",")]
    models = [classifier_for(n, args.device) for n in args.models.split(",")]
    renderer = Renderer(ctx)
    renderer.set_mesh(objects[0].load())
    images = args.samples * len(objects)
    per_image_ms = {}
    print(f"{len(objects)} objects x {args.samples} poses, batch {args.batch}")
    print(f"{'model':20s} {'classifier-only':>16s} {'sweep':>12s} {'ratio':>6s}")
    for clf in models:
        target = OffscreenTarget(ctx, clf.input_size, clf.input_size, "auto")
        reader = FrameReader(target, clf.device, slots=args.batch)
        plan = SweepPlan(objects=tuple(o.name for o in objects), models=(clf.name,), samples=args.samples, seed=1)
        frames = render_batch(renderer, reader, plan.poses(objects[0].canonical_pose)[: args.batch])
        alone = classifier_only(clf, frames, images)
        swept = sweep_rate(ctx, plan, objects, [clf], args.batch)
        per_image_ms[clf.name] = 1000 / alone
        print(f"{clf.name:20s} {alone:11.1f} img/s {swept:7.1f} pose/s {swept / alone:6.2f}")
        target.release()
    if len(models) > 1:
        plan = SweepPlan(objects=tuple(o.name for o in objects), models=tuple(m.name for m in models),
                         samples=args.samples, seed=1)  # fmt: skip
        alone = 1000 / sum(per_image_ms.values())
        swept = sweep_rate(ctx, plan, objects, models, args.batch)
        label = f"all {len(models)} together"
        print(f"{label:20s} {alone:11.1f} img/s {swept:7.1f} pose/s {swept / alone:6.2f}"
              "   (classifier-only: the sum of the models' times per image)")  # fmt: skip


if __name__ == "__main__":
    main()
