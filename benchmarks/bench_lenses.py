"""Run times of the failure lenses, in one run, with the bundled classifier.

    python benchmarks/bench_lenses.py [--objects hen,teddy_bear]

Pixel attacks on the model-input view (FGSM, PGD 10 steps, DeepFool), a fragility map
(crops per second, and the seconds for one crop size at a 10 x 10 grid of a 1024x768 view),
and evolution (pictures per second: plain CPPN images and skins rendered on the object).
"""

from __future__ import annotations

import argparse
import time

import torch

from app.lenses.attacks import attack
from app.lenses.evolve import EvolveState, evolve, image_evaluator, object_evaluator
from app.lenses.fragility import fragility
from app.pipeline.pipeline import Pipeline
from app.render.targets import OffscreenTarget
from app.scene.library import resolve_object
from app.vision.classifiers import load_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", default="hen,teddy_bear")
    args = parser.parse_args()
    clf = load_classifier("efficientnet_lite0")
    clf.freeze()
    pipe = Pipeline(clf, batch=16)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {clf.name}")
    print(f"{'object':12s} {'lens':28s} {'seconds':>8s}  result")
    for name in args.objects.split(","):
        obj = resolve_object(name)
        pipe.set_object(obj)
        image = pipe.render(obj.canonical_pose)
        for method, kw in (("fgsm", {"eps": 2}), ("pgd", {"eps": 2, "steps": 10}), ("deepfool", {"steps": 50})):
            attack(clf, image, method, label=obj.imagenet_class, **kw)  # warm-up
            r = attack(clf, image, method, label=obj.imagenet_class, **kw)
            print(f"{name:12s} {method + ' ' + str(kw):28s} {r.seconds:8.2f}  fooled={r.fooled} steps={r.steps} "
                  f"Linf={r.linf} L2={r.l2:.0f}")  # fmt: skip
        view = OffscreenTarget(pipe.ctx, 1024, 768, "auto")
        pipe.renderer.render(obj.canonical_pose, view, pipe.settings)
        big = view.read()[..., :3].copy()
        view.release()
        result = fragility(clf, big, obj.imagenet_class, [0.5], steps=10)
        crops = result.maps[0].correct.size * 9
        f = result.maps[0].fractions()
        rate = crops / result.seconds
        print(f"{name:12s} {'fragility 0.5, 10x10 grid':28s} {result.seconds:8.2f}  {rate:.1f} crops/s, "
              f"correct {f['correct']:.2f}, loose shift FRIs {f['loose_shift']:.2f}")  # fmt: skip
        for kind in ("image", "object"):
            state = EvolveState(kind, clf.name, None, seed=0, object=name, pose=obj.canonical_pose.to_dict())
            if kind == "image":
                evaluate = image_evaluator(clf)
            else:
                evaluate = object_evaluator(clf, pipe.renderer, pipe.reader, obj.canonical_pose, pipe.settings)
            t = time.perf_counter()
            evolve(state, evaluate, 5, batch=16)
            s = time.perf_counter() - t
            print(f"{name:12s} {'evolve ' + kind + ', 5 x 16':28s} {s:8.2f}  {state.evaluations / s:.1f} pictures/s, "
                  f"{len(state.best(minimum=0.5))} classes >= 0.5")  # fmt: skip


if __name__ == "__main__":
    main()
