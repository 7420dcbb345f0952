"""Pose-search methods compared in one run: untargeted time to fool, targeted success.

    python benchmarks/bench_search.py [--objects all] [--methods grad,cmaes,random,fd]
        [--seconds 10] [--targets parachute,microphone,ashcan] [--target-seconds 15] [--nearest]

Each method first runs two untimed iterations on the first object, so that no method's
first run pays for shader compiles and the models' first calls at a batch size, and each
object is rendered and classified once and its search paths warmed, untimed, before its
runs (as the window shows it and prepares its search beside the view before a search:
a batch and a gradient at poses half a turn away), so that no method pays for its
textures' or its raster's first use.

Untargeted (rotation only): from each library object's canonical (correctly classified)
pose, each method searches until it first fools the bundled classifier or the wall-time
budget runs out.  Printed: success rate and median time to fool (failures count as the
budget) per method, and the ratios of those medians to finite differences and CMA-ES,
and the median largest angle change from the start of the poses kept (with ``--nearest``
pulled back toward the start after the first success, which does not change its time).

Targeted (rotation, translation and light): for each object and each target class, each
method gets the same wall-time budget to make the target the top-1 class.  Printed:
success rate per method within the budget and within shorter ones (the same runs, cut at
that time: a run that reached the target after 3 s counts from 5 s on), and the
difference to CMA-ES in percentage points.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from app.core.imagenet import class_names, resolve_class
from app.core.params import largest_change
from app.pipeline.pipeline import Pipeline
from app.scene.library import list_objects, resolve_object
from app.search.registry import method_names
from app.search.space import Budget, Goal, SearchSpace
from app.vision.classifiers import load_classifier
from app.vision.streams import default_streams


def run(pipe, method, space, goal, seconds, seed, nearest=False) -> tuple[float | None, float]:
    """Seconds to the first success (or None), and the largest change of the pose kept
    from the start, in degrees (a fraction of a full turn)."""
    r = pipe.search(method, space, goal, Budget(seconds=seconds), seed=seed, stop_on_success=True, nearest=nearest)
    return (r.time_to_success if r.success else None), 360.0 * largest_change(space.base, r.best)


def shown(pipe: Pipeline, obj, gradient: bool) -> None:
    """Load ``obj``, render and classify it once, and warm its search paths, untimed, as the
    window has shown an object and prepared its search beside the view before any search
    starts (:meth:`Pipeline.warm_up`, at poses half a turn away).  An object's first render
    can cost more (the barrel's took 26 ms against 15 ms later), its first raster and
    gradient 5-10 ms more, and that fell on the first method run on it: grad."""
    pipe.set_object(obj)
    pipe.probabilities([obj.canonical_pose])
    pipe.warm_up(gradient)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", default="all")
    ap.add_argument("--methods", default=",".join(method_names()))
    ap.add_argument("--seconds", type=float, default=10.0, help="untargeted budget per run")
    ap.add_argument("--params", default="rotation", help="untargeted search space")
    ap.add_argument("--targets", default="parachute,microphone,ashcan", help="'' for no targeted runs")
    ap.add_argument("--target-seconds", type=float, default=15.0)
    ap.add_argument("--target-params", default="rotation,translation,light")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--streams", type=int, help="classification streams for batches (default 2 on the CPU)")
    ap.add_argument("--nearest", action="store_true", help="untargeted: pull each success back toward the start")
    args = ap.parse_args()
    objects = list_objects() if args.objects == "all" else [resolve_object(n) for n in args.objects.split(",")]
    methods = args.methods.split(",")
    targets = [resolve_class(t) for t in args.targets.split(",") if t]
    clf = load_classifier("efficientnet_lite0", device=args.device)
    clf.freeze()  # as the app does; the grad method's PoseGradient prepares the differentiable copy
    streams = args.streams or default_streams(clf.device)
    pipe = Pipeline(clf, batch=18, streams=streams)
    print(f"{len(objects)} objects, {clf.name} on {clf.device}, {pipe.streams} classification stream(s); "
          f"untargeted: {args.params}, {args.seconds:g} s")  # fmt: skip
    pipe.set_object(objects[0])  # warm-up, untimed: shader compiles and first model calls at each batch size
    for m in methods:
        pipe.search(m, SearchSpace(objects[0].canonical_pose, ["rotation"]), Goal(objects[0].imagenet_class),
                    Budget(iterations=2), seed=args.seed)  # fmt: skip
    times: dict[str, list[float]] = {m: [] for m in methods}
    wins: dict[str, int] = dict.fromkeys(methods, 0)
    moved: dict[str, list[float]] = {m: [] for m in methods}  # untargeted successes: degrees from the start
    hits: dict[str, list[float | None]] = {m: [] for m in methods}  # targeted: seconds to the target, or None
    tries = 0
    for obj in objects:
        shown(pipe, obj, "grad" in methods)
        space = SearchSpace(obj.canonical_pose, args.params.split(","))
        row = []
        for m in methods:
            t, degrees = run(pipe, m, space, Goal(obj.imagenet_class), args.seconds, args.seed, args.nearest)
            times[m].append(t if t is not None else args.seconds)
            wins[m] += t is not None
            if t is not None:
                moved[m].append(degrees)
            row.append(f"{m} {f'{t:.2f} s {degrees:3.0f}°' if t is not None else 'no':>13s}")
        print(f"  {obj.name:14s} " + "  ".join(row), flush=True)
    kept = "pulled back" if args.nearest else "first success"
    print(f"\nuntargeted  success  median time to fool  vs fd    vs cmaes   change from the start ({kept})")
    med = {m: statistics.median(times[m]) for m in methods}
    for m in methods:
        vs_fd = f"{med['fd'] / med[m]:5.1f}x" if "fd" in med else "   -"
        vs_cma = f"{med['cmaes'] / med[m]:5.1f}x" if "cmaes" in med else "   -"
        d = moved[m]
        change = f"median {statistics.median(d):3.0f}° ({min(d):.0f}-{max(d):.0f})" if d else "-"
        print(f"{m:10s} {wins[m]:4d}/{len(objects):<3d} {med[m]:12.2f} s       {vs_fd}  {vs_cma}     {change}")
    print(
        "(vs X = X's median time / this method's: higher is faster; change: the largest angle change of the "
        "pose kept, over the successes)",
        flush=True,
    )
    if not targets:
        return 0
    names = class_names()
    print(f"\ntargeted: {args.target_params}, {args.target_seconds:g} s, targets {[names[t] for t in targets]}")
    for obj in objects:
        shown(pipe, obj, "grad" in methods)
        space = SearchSpace(obj.canonical_pose, args.target_params.split(","))
        for target in targets:
            if target == obj.imagenet_class:
                continue
            tries += 1
            row = []
            for m in methods:
                t, _ = run(pipe, m, space, Goal(obj.imagenet_class, target), args.target_seconds, args.seed)
                hits[m].append(t)
                row.append(f"{m} {f'{t:.1f} s' if t is not None else 'no':>7s}")
            print(f"  {obj.name:14s} -> {names[target][:12]:12s} " + "  ".join(row), flush=True)
    budgets = sorted({b for b in (0.5, 1.0, 2.0, 5.0) if b < args.target_seconds} | {args.target_seconds})
    print("\ntargeted: reached within each budget (the same runs, cut at that time), and vs cmaes in points")
    print("method    " + "".join(f"{f'within {b:g} s':>24s}" for b in budgets))

    def rate(m: str, b: float) -> float:
        return 100.0 * sum(t is not None and t <= b for t in hits[m]) / tries

    for m in methods:
        cells = []
        for b in budgets:
            n = sum(t is not None and t <= b for t in hits[m])
            vs = f" ({rate(m, b) - rate('cmaes', b):+5.1f})" if "cmaes" in hits else ""
            cells.append(f"{n:3d}/{tries} {rate(m, b):5.1f}%{vs}")
        print(f"{m:10s}" + "".join(f"{c:>24s}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
