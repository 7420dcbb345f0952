"""Forward passes on the CPU: torch (frozen, as the app ran them) against OpenVINO at f32 and bf16.

    python benchmarks/bench_engines.py [--models efficientnet_lite0,inception_v3] [--rounds 3]
                                       [--sweep-objects hen,teddy_bear,sports_car] [--search-objects all]

Per model, quiet and busy (another process spinning on one core, as the software
rasteriser does in the window): batch-1 latency and batch-16 images/s, medians of
``--rounds`` rounds of 11 after warm-up, engines alternating within each round, and the
ratios to torch.  Models without weights here (Inception-v3) run with random weights:
their speed does not depend on them.  Threads: the app's (all cores but one).
Goals (issue 40, at f32): batch 1 at least 1.5x torch for efficientnet_lite0 and 1.3x for
Inception-v3 when quiet, 2x for both when busy; bf16 at least 2.5x.

Then the app's own work with efficientnet_lite0 on each engine (``--engine torch`` against
``--engine openvino``, both frozen, alternating object by object): a sweep's poses/s
(goal: 1.3x), and the median time to fool of CMA-ES and random search, untargeted from
each object's canonical pose (failures count as the budget).  The window's prediction
latency and frame times with each engine: ``bench_window.py --engine torch|openvino``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time

import torch

from app.vision import engines
from app.vision.classifiers import Classifier, load_classifier, model_spec
from app.vision.engines import OpenVinoEngine


def spin(stop) -> None:
    while not stop.is_set():
        pass


def classifier(name: str) -> Classifier:
    if name in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
        return load_classifier(name, device="cpu")
    import torchvision

    spec = model_spec(name)
    kwargs = {"aux_logits": True, "init_weights": False} if name == "inception_v3" else {}
    return Classifier(spec, getattr(torchvision.models, name)(**kwargs), torch.device("cpu"))


def timed(fn, n: int = 11) -> float:
    fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="efficientnet_lite0,inception_v3")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sweep-objects", default="hen,teddy_bear,sports_car")
    ap.add_argument("--sweep-samples", type=int, default=64, help="poses per object and round")
    ap.add_argument("--search-objects", default="all")
    ap.add_argument("--search-seconds", type=float, default=5.0)
    args = ap.parse_args()
    threads = max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(threads)
    print(f"{threads} thread(s), OpenVINO {engines.openvino_version()}, bf16 on this CPU: {engines.bf16_supported()}")
    head = f"{'model':20s} {'condition':9s} {'engine':14s} {'batch 1':>9s} {'x torch':>8s}"
    print(f"{head} {'batch 16':>12s} {'x torch':>8s}")
    for name in args.models.split(","):
        clf = classifier(name)
        clf.freeze()
        size = clf.input_size
        runners = {
            "torch frozen": clf.probabilities,
            "openvino f32": OpenVinoEngine(clf, threads=threads).probabilities,
        }
        if engines.bf16_supported():
            runners["openvino bf16"] = OpenVinoEngine(clf, "bf16", threads=threads).probabilities
        one = torch.randint(0, 256, (1, size, size, 4), dtype=torch.uint8)
        many = torch.randint(0, 256, (16, size, size, 4), dtype=torch.uint8)
        for condition in ("quiet", "busy"):
            stop = multiprocessing.Event()
            spinner = multiprocessing.Process(target=spin, args=(stop,)) if condition == "busy" else None
            if spinner is not None:
                spinner.start()
            try:
                lat = {k: [] for k in runners}
                thr = {k: [] for k in runners}
                for _ in range(args.rounds):
                    for k, run in runners.items():  # alternating within each round
                        lat[k].append(timed(lambda run=run, x=one: run(x)))
                        thr[k].append(16 / timed(lambda run=run, x=many: run(x), 3))
            finally:
                if spinner is not None:
                    stop.set()
                    spinner.join()
            base_l, base_t = statistics.median(lat["torch frozen"]), statistics.median(thr["torch frozen"])
            for k in runners:
                ms, ips = statistics.median(lat[k]) * 1000, statistics.median(thr[k])
                print(f"{name:20s} {condition:9s} {k:14s} {ms:7.1f}ms {base_l * 1000 / ms:7.2f}x "
                      f"{ips:8.1f} im/s {ips / base_t:7.2f}x")  # fmt: skip
    app_work(args)
    return 0


def app_work(args) -> None:
    """Sweeps and searches on each engine, alternating (see the module's docstring)."""
    sys.path.insert(0, os.path.dirname(__file__))
    from bench_search import run, shown
    from bench_sweep import sweep_rate

    from app.pipeline.pipeline import Pipeline
    from app.render.glcontext import create_headless_context
    from app.scene.library import list_objects, resolve_object
    from app.search.space import Goal, SearchSpace
    from app.sweep.sweep import SweepPlan
    from app.vision.streams import default_streams

    def objects(text: str):
        return list_objects() if text == "all" else [resolve_object(n) for n in text.split(",")]

    ctx = create_headless_context()
    chosen = ("torch", "openvino")
    clfs = {e: load_classifier("efficientnet_lite0", device="cpu", engine=e) for e in chosen}
    for clf in clfs.values():
        clf.freeze()
    sweep_objects = objects(args.sweep_objects)
    rates: dict[str, list[float]] = {e: [] for e in chosen}
    for _ in range(args.rounds):
        for e in chosen:
            plan = SweepPlan(objects=tuple(o.name for o in sweep_objects), models=(clfs[e].name,),
                             samples=args.sweep_samples, seed=1)  # fmt: skip
            rates[e].append(sweep_rate(ctx, plan, sweep_objects, [clfs[e]], 16, default_streams(clfs[e].device)))
    base = statistics.median(rates["torch"])
    print(f"\nsweep, efficientnet_lite0, {len(sweep_objects)} objects x {args.sweep_samples} poses, batch 16")
    for e in chosen:
        r = statistics.median(rates[e])
        print(f"  {e:9s} {r:6.1f} poses/s {r / base:5.2f}x  (rounds: {', '.join(f'{x:.1f}' for x in rates[e])})")
    pipes = {e: Pipeline(clfs[e], batch=18, streams=default_streams(clfs[e].device), ctx=ctx) for e in chosen}
    times: dict[tuple[str, str], list[float]] = {(e, m): [] for e in chosen for m in ("cmaes", "random")}
    for obj in objects(args.search_objects):
        for e in chosen:
            shown(pipes[e], obj, False)
            space = SearchSpace(obj.canonical_pose, ["rotation"])
            for m in ("cmaes", "random"):
                t, _ = run(pipes[e], m, space, Goal(obj.imagenet_class), args.search_seconds, 0)
                times[e, m].append(t if t is not None else args.search_seconds)
    print(f"\nuntargeted search (rotation, {args.search_seconds:g} s budget, seed 0), median time to fool")
    for m in ("cmaes", "random"):
        t0 = statistics.median(times["torch", m])
        row = "  ".join(f"{e} {statistics.median(times[e, m]):5.2f} s" for e in chosen)
        print(f"  {m:7s} {row}  openvino {t0 / statistics.median(times['openvino', m]):4.2f}x faster")


if __name__ == "__main__":
    sys.exit(main())
