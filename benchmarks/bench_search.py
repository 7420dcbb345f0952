"""Pose-search methods compared in one run: success rate and time to the first fooling pose.

    python benchmarks/bench_search.py [--objects all] [--methods random,cmaes,fd] [--seconds 20] [--params rotation]

Starting from each library object's canonical (correctly classified) pose, each method
searches untargeted (any wrong class) until it first fools the bundled classifier or the
wall-time budget runs out.  Printed: per method the success rate and the median time to
fool (failures count as the budget), and the ratios of those medians to finite differences
and to CMA-ES.  Targeted runs: --target CLASS.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.classifiers import load_classifier  # noqa: E402
from app.imagenet import resolve_class  # noqa: E402
from app.library import list_objects, resolve_object  # noqa: E402
from app.pipeline import Pipeline  # noqa: E402
from app.search import METHODS, Budget, Goal, SearchSpace, search  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", default="all")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--params", default="rotation")
    ap.add_argument("--target", help="targeted runs towards this class")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    objects = list_objects() if args.objects == "all" else [resolve_object(n) for n in args.objects.split(",")]
    methods = args.methods.split(",")
    target = resolve_class(args.target) if args.target else None
    clf = load_classifier("efficientnet_lite0")
    pipe = Pipeline(clf, batch=18)
    times: dict[str, list[float]] = {m: [] for m in methods}
    wins: dict[str, int] = dict.fromkeys(methods, 0)
    print(f"{len(objects)} objects, budget {args.seconds:g} s each, params {args.params}, "
          f"{'target ' + args.target if target is not None else 'untargeted'}, {clf.name}")  # fmt: skip
    for obj in objects:
        pipe.set_object(obj)
        space = SearchSpace(obj.canonical_pose, args.params.split(","))
        goal = Goal(obj.imagenet_class, target)
        row = []
        for m in methods:
            r = search(m, pipe.probabilities, space, goal, Budget(seconds=args.seconds), seed=args.seed,
                       stop_on_success=True)  # fmt: skip
            t = r.time_to_success if r.success else args.seconds
            times[m].append(t)
            wins[m] += r.success
            shown = f"{t:.2f} s" if r.success else "no"
            row.append(f"{m} {shown:>8s}")
        print(f"  {obj.name:14s} " + "  ".join(row))
    print("\nmethod   success  median time to fool  vs fd   vs cmaes")
    med = {m: statistics.median(times[m]) for m in methods}
    for m in methods:
        vs_fd = f"{med['fd'] / med[m]:5.1f}x" if "fd" in med else "   -"
        vs_cma = f"{med['cmaes'] / med[m]:5.1f}x" if "cmaes" in med else "   -"
        print(f"{m:8s} {wins[m]:3d}/{len(objects):<3d} {med[m]:12.2f} s       {vs_fd}  {vs_cma}")
    print("(vs X = X's median time / this method's: higher is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
