"""Sweep throughput against classifier-only throughput at the same batch size, in one run.

    python benchmarks/bench_sweep.py [--objects hen,teddy_bear,sports_car] [--samples 96] [--batch 16]
                                     [--repeats 3] [--verbose]

For each model: images/s of the classifier alone on frames already in memory, from one
stream and (on the CPU) from two one-thread streams, whichever is faster being the
baseline; then poses/s of a real sweep (render -> read -> classify -> rows, the next batch
rendered while the last ones are classified) with one and with two classification streams
over the same number of poses per object.  The best sweep over the best classifier-only
is the goal figure (>= 0.9).  They alternate ``--repeats`` times and the median of the
ratios is reported with its range (this shared VM drifts by 10% within a minute).  Then
all models in one sweep (each pose rendered once per input size) against the sum of their
classifier-only times.  Models without weights here are timed with random weights (speed
does not depend on them).  Last, what rendering and reading one pose costs per object,
with all faces drawn and with the hidden faces of closed pieces culled (app.scene.culling).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from app.core.params import Pose
from app.render.frames import FrameReader, render_batch
from app.render.glcontext import create_headless_context, describe
from app.render.renderer import Renderer
from app.render.targets import OffscreenTarget
from app.scene.library import resolve_object
from app.sweep.sweep import SweepPlan, run_sweep
from app.vision.classifiers import REGISTRY_MODELS, Classifier, build_architecture, load_classifier, model_spec
from app.vision.streams import StreamPool, default_streams


def classifier_for(name: str, device: str) -> Classifier:
    if name in REGISTRY_MODELS:
        clf = load_classifier(name, device=device)
    else:
        clf = Classifier(model_spec(name), build_architecture(name), torch.device(device))
    clf.freeze()
    return clf


def classifier_only(clf: Classifier, frames: torch.Tensor, images: int, streams: int = 1) -> float:
    """Images per second of ``clf.probabilities`` on ``frames`` (one batch, repeated), from
    ``streams`` threads at once that share torch's threads out as the sweep's workers do."""
    per_stream = -(-images // (frames.shape[0] * streams))

    def work() -> None:
        for _ in range(per_stream):
            clf.probabilities(frames).cpu()

    clf.probabilities(frames)
    with StreamPool(streams, clf.device) as pool:
        t = time.perf_counter()
        for f in [pool.submit(work) for _ in range(streams)]:
            f.result()
        return per_stream * streams * frames.shape[0] / (time.perf_counter() - t)


def sweep_rate(ctx, plan: SweepPlan, objects, models, batch: int, streams: int) -> float:
    rows: list[dict] = []
    t = time.perf_counter()
    run_sweep(plan, objects, models, rows.extend, lambda _o, _m: range(plan.samples), ctx=ctx, batch=batch,
              streams=streams)  # fmt: skip
    if models[0].device.type == "cuda":
        torch.cuda.synchronize()
    return len(rows) / len(models) / (time.perf_counter() - t)


def median_of(runs: list[dict], key) -> float:
    return statistics.median(r[key] for r in runs)


def render_costs(ctx, objects, size: int, poses: int) -> None:
    """ms to render and read one pose, per object: all faces drawn vs closed pieces culled."""
    target = OffscreenTarget(ctx, size, size, "auto")
    renderers = {cull: Renderer(ctx, cull_closed=cull) for cull in (False, True)}
    print(f"\nrender + read, {size} px, ms per pose ({poses} random poses, alternating, best of 3)")
    print(f"{'object':20s} {'triangles':>9s} {'all faces':>10s} {'culled':>8s} {'ratio':>6s}")
    for obj in objects:
        mesh = obj.load()
        plan = SweepPlan(objects=(obj.name,), models=("-",), samples=poses, seed=1)
        chosen = plan.poses(obj.canonical_pose, stream=obj.name)
        best = {}
        for renderer in renderers.values():
            renderer.set_mesh(mesh)
        for _ in range(3):
            for cull, renderer in renderers.items():
                best[cull] = min(best.get(cull, 1e9), _render_ms(renderer, target, chosen))
        plain, culled = best[False], best[True]
        print(f"{obj.name:20s} {mesh.triangle_count:9d} {plain:10.2f} {culled:8.2f} {culled / plain:6.2f}")
    for renderer in renderers.values():
        renderer.release()
    target.release()


def _render_ms(renderer: Renderer, target: OffscreenTarget, poses: list[Pose]) -> float:
    t = time.perf_counter()
    for pose in poses:
        renderer.render(pose, target)
        target.read()
    return (time.perf_counter() - t) / len(poses) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", default="hen,teddy_bear,sports_car")
    parser.add_argument("--models", default="efficientnet_lite0,efficientnet_lite1,efficientnet_lite2")
    parser.add_argument("--samples", type=int, default=96, help="poses per object")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--repeats", type=int, default=3, help="classifier-only and sweep alternate this often")
    parser.add_argument("--verbose", action="store_true", help="print every repeat")
    args = parser.parse_args()

    ctx = create_headless_context()
    print(f"GL: {describe(ctx)}; torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}")
    objects = [resolve_object(n) for n in args.objects.split(",")]
    models = [classifier_for(n, args.device) for n in args.models.split(",")]
    renderer = Renderer(ctx)
    renderer.set_mesh(objects[0].load())
    images = args.samples * len(objects)
    streams = sorted({1, default_streams(args.device)})
    per_image_ms = {}
    print(f"{len(objects)} objects x {args.samples} poses, batch {args.batch}, {args.repeats} alternating repeats")
    print("classifier-only: images/s of the classifier alone with 1 and with 2 streams (one-thread each);")
    print("sweep: poses/s with 1 and 2 classification streams; ratio: the best sweep / the best classifier-only,")
    print("the median of the repeats' ratios and their range")
    heads = [f"alone x{n}" for n in streams] + [f"sweep x{n}" for n in streams]
    print(f"{'model':20s} " + " ".join(f"{h:>10s}" for h in heads) + f" {'ratio':>6s} {'range':>10s}")
    for clf in models:
        target = OffscreenTarget(ctx, clf.input_size, clf.input_size, "auto")
        reader = FrameReader(target, clf.device, slots=args.batch)
        plan = SweepPlan(objects=tuple(o.name for o in objects), models=(clf.name,), samples=args.samples, seed=1)
        frames = render_batch(renderer, reader, plan.poses(objects[0].canonical_pose)[: args.batch]).clone()
        runs = []
        for _ in range(args.repeats):
            run = {("alone", n): classifier_only(clf, frames, images, n) for n in streams}
            run |= {("sweep", n): sweep_rate(ctx, plan, objects, [clf], args.batch, n) for n in streams}
            runs.append(run)
            if args.verbose:
                print("   ", " ".join(f"{run[k]:10.1f}" for k in run))
        ratios = [max(r[k] for k in r if k[0] == "sweep") / max(r[k] for k in r if k[0] == "alone") for r in runs]
        per_image_ms[clf.name] = 1000 / max(median_of(runs, ("alone", n)) for n in streams)
        cells = " ".join(f"{median_of(runs, (kind, n)):10.1f}" for kind in ("alone", "sweep") for n in streams)
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(f"{clf.name:20s} {cells} {statistics.median(ratios):6.2f} {spread:>10s}")
        target.release()
    if len(models) > 1:
        plan = SweepPlan(objects=tuple(o.name for o in objects), models=tuple(m.name for m in models),
                         samples=args.samples, seed=1)  # fmt: skip
        alone = 1000 / sum(per_image_ms.values())
        swept = statistics.median(
            sweep_rate(ctx, plan, objects, models, args.batch, streams[-1]) for _ in range(args.repeats)
        )
        print(f"all {len(models)} together: {swept:.1f} poses/s against {alone:.1f} images/s classifier-only "
              f"(the sum of the models' best times per image): {swept / alone:.2f}")  # fmt: skip
    render_costs(ctx, objects, models[0].input_size, 48)


if __name__ == "__main__":
    main()
