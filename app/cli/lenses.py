"""The failure lenses on the command line: ``attack``, ``fragility`` and ``evolve``.

Each renders the object as the other commands do (``--object``, ``--pose``, ``--set``...),
runs one lens of :mod:`app.lenses.attacks`, :mod:`app.lenses.fragility` or :mod:`app.lenses.evolve`, and writes
its files under new names (never over existing ones).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

import numpy as np

from app.cli.args import model_args, number, parse_size, positive, scene_args, seed_arg, whole, writable_folder
from app.cli.common import (
    class_arg,
    ctrl_c_stops,
    engine_ready,
    model_name,
    note_own_class,
    notice,
    render_image,
    scene,
)
from app.core.files import FolderLock
from app.lenses.outputs import attack_tiles, pose_attack_record, pose_tile, write_attack, write_fragility
from app.vision.streams import default_streams

ATTACK_EPILOG = """\
examples:
  python run.py attack --object teddy_bear --out attacks/          # FGSM, PGD, DeepFool + a pose attack
  python run.py attack --object hen --methods pgd --eps 1 --steps 20 --target "analog clock" --out attacks/
Writes NAME-attack.png (original | each attack's perturbation, amplified, and adversarial image |
the pose attack), NAME-attack.json (norms, predictions, times) and each adversarial image as PNG.
"""
FRAGILITY_EPILOG = """\
examples:
  python run.py fragility --object teddy_bear --sizes 0.4,0.6,0.8 --grid 10 --out fragility/
  python run.py fragility --object hen --pose pose.json --size 1024x768 --criterion top5 --out fragility/
Writes NAME-fragility.json (every map), NAME-fragility-maps.png (the view with the correctness and
four FRI maps per crop size) and NAME-fragility-fri.png (FRI fraction against crop size).
"""
EVOLVE_EPILOG = """\
examples:
  python run.py evolve --kind image --generations 200 --out evolved/images      # fill the archive
  python run.py evolve --kind object --object teddy_bear --target "soccer ball" --generations 100 --out evolved/teddy
  python run.py evolve --out evolved/teddy --resume --generations 100           # go on
Writes archive.json after every generation (atomically; --resume goes on from it) and, at the
end, gallery.png and elites/CLASS.png for the best entries.
"""


def register(sub) -> None:
    p = sub.add_parser("attack", help="pixel attacks (FGSM, PGD, DeepFool) next to a pose attack of the same view",
                       epilog=ATTACK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    scene_args(p)
    model_args(p)
    p.add_argument("--methods", default="fgsm,pgd,deepfool", help="comma-separated: fgsm, pgd, deepfool")
    p.add_argument(
        "--eps", type=number(0, 255), default=2.0, help="L-inf budget of FGSM/PGD in 8-bit steps (default 2)"
    )
    p.add_argument("--alpha", type=positive, help="PGD step in 8-bit steps (default eps/4, at least 0.5)")
    p.add_argument("--steps", type=whole(1, 100_000),
                   help="PGD iterations (default 10) / DeepFool iterations (default 50)")  # fmt: skip
    p.add_argument("--target", help="class for a targeted FGSM/PGD (default: untargeted)")
    seed_arg(p, "PGD random start and pose search seed")
    p.add_argument(
        "--pose-seconds",
        type=positive,
        default=10.0,
        help="pose attack budget (rotation; grad on CPU, CMA-ES with CUDA)",
    )
    p.add_argument("--no-pose", action="store_true", help="leave out the pose attack")
    p.add_argument("--out", type=writable_folder, required=True, help="folder for the sheet, JSON and images")
    p.set_defaults(run=cmd_attack)

    p = sub.add_parser("fragility", help="fragile-recognition maps: classify every crop of the view on a grid",
                       epilog=FRAGILITY_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    scene_args(p)
    model_args(p)
    p.add_argument("--size", type=parse_size, default=(1024, 768),
                   help="view resolution WxH the crops come from (default 1024x768)")  # fmt: skip
    p.add_argument("--sizes", default="0.4,0.6,0.8", help="crop sides as fractions of the shorter image side")
    p.add_argument("--grid", type=whole(2, 100), default=10, help="crop positions per axis, 2..100 (default 10)")
    p.add_argument("--criterion", choices=["top1", "top5"], default="top1", help="what counts as correct")
    p.add_argument("--batch", type=whole(1, 1024), default=32, help="crops classified together (default 32)")
    p.add_argument("--out", type=writable_folder, required=True, help="folder for the JSON and the plots")
    p.set_defaults(run=cmd_fragility)

    p = sub.add_parser("evolve", help="evolve CPPN fooling images / object textures with MAP-Elites (resumable)",
                       epilog=EVOLVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    scene_args(p)
    model_args(p)
    p.add_argument("--kind", choices=["image", "object"], help="plain fooling images or a skin on the object")
    p.add_argument("--target", help="class to aim for (default: as many classes as possible)")
    p.add_argument("--generations", type=whole(1), default=50, help="generations to run (default 50)")
    p.add_argument("--batch", type=whole(1, 1024), default=16, help="children per generation (default 16)")
    seed_arg(p, "random seed (same seed, same machine: same run)")
    p.add_argument("--gallery", type=whole(1, 1000), default=24, help="elites shown in gallery.png (default 24)")
    p.add_argument("--resume", action="store_true", help="go on with the archive in --out")
    p.add_argument("--out", type=writable_folder, required=True, help="folder for archive.json and the gallery")
    p.set_defaults(run=cmd_evolve)


def cmd_attack(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.core.imagenet import class_names
    from app.lenses.attacks import DEFAULT_STEPS, METHODS, AttackError, attack
    from app.pipeline.pipeline import Pipeline
    from app.vision import classifiers

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods or any(m not in METHODS for m in methods):
        raise AttackError(f"--methods takes {', '.join(METHODS)}; got {args.methods!r}")
    obj, pose, settings, doc = scene(args)
    target = class_arg(args.target)
    clf = classifiers.load_classifier(model_name(args, doc), args.weights, args.device, notify=notice)
    pipe = Pipeline(clf, settings=settings, batch=18, streams=default_streams(clf.device))
    for w in pipe.set_object(obj):
        notice(f"warning: {w}")
    note_own_class(obj, target)
    names = class_names()
    image = pipe.render(pose)
    label = obj.imagenet_class
    results = []
    stop = threading.Event()
    with ctrl_c_stops(stop, tqdm, "stopping after this step; the attacks so far are kept"):
        for m in methods:
            if stop.is_set():
                break
            steps = args.steps or DEFAULT_STEPS[m]
            print(f"{m}: attacking" + (f", up to {steps} steps" if m != "fgsm" else ""), file=sys.stderr)
            r = attack(clf, image, m, label=label, target=None if m == "deepfool" else target, eps=args.eps,
                       alpha=args.alpha, steps=steps, seed=args.seed, stop=stop)  # fmt: skip
            results.append(r)
            top = r.top()
            print(f"{m:9s} {r.outcome:10s} -> {names[top.indices[0]]} "
                  f"{top.probabilities[0]:.3f}; L-inf {r.linf}/255, L2 {r.l2:.1f}/255, "
                  f"{100 * r.changed_pixels:.0f}% of pixels changed, {r.steps} steps, {r.seconds:.2f} s"
                  f"{' (stopped)' if r.stopped else ''}")  # fmt: skip
        tiles = attack_tiles(clf.name, image, results, label)
        record = {
            "object": obj.name,
            "model": clf.name,
            "pose": pose.to_dict(),
            "attacks": [r.record() for r in results],
        }
        if not args.no_pose and not stop.is_set():
            record["pose_attack"] = _pose_attack(pipe, obj, pose, target, args, tiles, names, stop)
    if stop.is_set():
        if not results and "pose_attack" not in record:
            print("stopped (Ctrl-C) before any attack finished; nothing written", file=sys.stderr)
            return 130
        record["stopped"] = _stopped_at(results, methods, "pose_attack" in record, args.no_pose)
    sheet = write_attack(args.out, obj.name, tiles, results, record)
    print(f"wrote {sheet}, its .json and the adversarial images")
    return 130 if stop.is_set() else 0


def _stopped_at(results: list, methods: list[str], posed: bool, no_pose: bool) -> str:
    """Where Ctrl-C ended an attack run, for its JSON: "Ctrl-C during pgd; not run: deepfool, pose"."""
    during = "the pose attack" if posed else next((r.method for r in results if r.stopped), None)
    not_run = methods[len(results) :] + ([] if posed or no_pose else ["pose"])
    where = f"during {during}" if during else f"after {results[-1].method}"
    return f"Ctrl-C {where}" + (f"; not run: {', '.join(not_run)}" if not_run else "")


def _pose_attack(pipe, obj, pose, target, args, tiles, names, stop: threading.Event) -> dict:
    from app.search.space import Budget, Goal, SearchSpace

    space, goal = SearchSpace(pose, ["rotation"]), Goal(obj.imagenet_class, target)
    method = pipe.default_method()
    print(f"pose attack: turning the object for up to {args.pose_seconds:g} s ({method})", file=sys.stderr)
    result = pipe.search(method, space, goal, Budget(seconds=args.pose_seconds), seed=args.seed,
                         stop_on_success=True, stop=stop)  # fmt: skip
    best = pipe.render(result.best)
    probs = pipe.probabilities([result.best])[0].float().cpu().numpy()
    top = int(np.argmax(probs))
    record = pose_attack_record(pose, result.best, probs, result.success, result.elapsed)
    turn = ", ".join(f"{n} {v:+.0f}" for n, v in record["changed"].items())
    tiles.append(pose_tile(best, probs, f"pose attack: {turn}", result.success))
    print(f"pose      {goal.outcome(result.success):10s} -> {names[top]} {probs[top]:.3f}; "
          f"turned {turn or 'nothing'}, {method}, {result.elapsed:.1f} s")  # fmt: skip
    return record


def cmd_fragility(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app.lenses.fragility import CROPS_PER_POSITION, FragilityError, crops_for, fragility
    from app.vision import classifiers

    width, height = args.size
    try:
        relatives = [float(v) for v in args.sizes.split(",") if v.strip()]
    except ValueError:
        raise FragilityError(f"--sizes takes fractions like 0.4,0.6,0.8; got {args.sizes!r}") from None
    obj, pose, settings, doc = scene(args)
    if obj.imagenet_class is None:
        raise FragilityError(f"{obj.name} has no ImageNet class, so correctness cannot be judged")
    image = render_image(obj, pose, settings, (width, height))
    clf = classifiers.load_classifier(model_name(args, doc), args.weights, args.device, notify=notice)
    clf.freeze()
    engine_ready(clf)
    total = crops_for(image.shape, relatives, args.grid)
    bar = tqdm(total=total, desc=f"fragility of {obj.name} ({clf.name})", unit="crop", file=sys.stderr)

    def report(p) -> None:
        bar.n = p.crops_done
        bar.set_postfix(size=p.relative)
        bar.refresh()

    stop = threading.Event()
    with ctrl_c_stops(stop, bar, "stopping; the crop sizes already mapped are kept"):
        result = fragility(clf, image, obj.imagenet_class, relatives, args.grid, args.criterion, args.batch,
                           stop=stop, report=report)  # fmt: skip
    bar.close()
    if not result.maps:
        print("stopped (Ctrl-C) before the first crop size was mapped; nothing written", file=sys.stderr)
        return 130
    stopped = len(result.maps) < len(relatives)
    if stopped:
        total = sum(m.correct.size for m in result.maps) * CROPS_PER_POSITION
        print(f"stopped (Ctrl-C): {len(result.maps)} of {len(relatives)} crop sizes mapped", file=sys.stderr)
    print(f"{'crop':>5s} {'px':>5s} {'correct':>8s} " + " ".join(f"{k:>13s}" for k in ("loose shift", "strict shift",
          "loose shrink", "strict shrink")))  # fmt: skip
    for m in result.maps:
        f = m.fractions()
        print(f"{m.relative:5.2f} {m.size:5d} {f['correct']:8.3f} " + " ".join(
            f"{f[k]:13.3f}" for k in ("loose_shift", "strict_shift", "loose_shrink", "strict_shrink")))  # fmt: skip
    record = {"object": obj.name, "pose": pose.to_dict(), "image_size": [width, height], "grid": args.grid,
              "crops": total}  # fmt: skip
    if stopped:
        record["stopped"] = f"Ctrl-C, after {len(result.maps)} of {len(relatives)} crop sizes"
    path = write_fragility(args.out, obj.name, result, record)
    print(f"{total} crops in {result.seconds:.1f} s ({total / max(result.seconds, 1e-9):.1f} crops/s)")
    print(f"wrote {path}, -maps.png, -fri.png")
    return 130 if stopped else 0


def cmd_evolve(args: argparse.Namespace) -> int:
    from app.lenses.evolve import EvolveError

    path = args.out / "archive.json"
    target = class_arg(args.target)
    if args.resume and not path.exists():
        raise EvolveError(f"nothing to resume: {path} does not exist")
    with FolderLock(args.out, "evolution"):  # one writer of the archive at a time
        return _evolve(args, path, target)


def _evolve(args: argparse.Namespace, path: Path, target: int | None) -> int:
    """The evolution of ``cmd_evolve``, with its folder held."""
    from tqdm import tqdm

    from app.core.imagenet import class_names
    from app.lenses.evolve import EvolveError, evolve
    from app.lenses.gallery import write_gallery
    from app.vision import classifiers

    state = _evolve_state(args, path, target)
    clf = classifiers.load_classifier(state.model, args.weights, args.device, notify=notice)
    clf.freeze()
    engine_ready(clf)
    if clf.name != state.model:
        raise EvolveError(f"the archive was made with {state.model}, which is not available here ({clf.name} is)")
    pipe, evaluate = _evaluator(args, state, clf)
    names = class_names()
    bar = tqdm(total=args.generations, desc=f"evolve {state.kind} ({clf.name})", unit="gen", file=sys.stderr)

    def report(r) -> None:
        bar.update(1)
        shown = {"classes>=0.9": r.confident, "best": f"{names[r.best_class][:16]} {r.best_fitness:.2f}"}
        if r.target_fitness is not None:
            shown["target"] = f"{r.target_fitness:.3f}"
        bar.set_postfix(shown)

    stop = threading.Event()
    with ctrl_c_stops(stop, bar, "stopping after this generation; the archive and the gallery are kept"):
        evolve(state, evaluate, args.generations, args.batch, stop=stop, report=report,
               checkpoint=lambda s: s.save(path))  # fmt: skip
    bar.close()
    if not state.elites:
        print("stopped (Ctrl-C) before the first generation; nothing written", file=sys.stderr)
        return 130
    written = write_gallery(state, args.out, args.gallery, pipe)
    best = state.best(1)[0]
    n = len(state.best(minimum=0.9))
    line = f"generation {state.generation}: {n} class{'es' * (n != 1)} at >= 0.9"
    if state.target is not None:
        line += f"; target {names[state.target]} {state.target_fitness():.3f}"
    if stop.is_set():
        line = f"stopped (Ctrl-C); {line}"
    print(f"{line}; best {names[best[0]]} {best[1].fitness:.3f}")
    print(f"wrote {path} and {written}")
    return 130 if stop.is_set() else 0


def _evolve_state(args: argparse.Namespace, path: Path, target: int | None):
    """The archive to go on with (``--resume``; its settings must match those given) or a new one."""
    from app.lenses.evolve import EvolveError, EvolveState
    from app.vision import classifiers

    if args.resume:
        state = EvolveState.load(path)
        clash = [f"--{k} {v}" for k, v, have in (("kind", args.kind, state.kind), ("target", target, state.target),
                 ("object", args.object, state.object)) if v is not None and v != have]  # fmt: skip
        if clash:
            raise EvolveError(f"{path} was made with other settings than {', '.join(clash)}")
        return state
    if path.exists():
        raise EvolveError(f"{path} exists: pass --resume to go on with it, or choose another --out")
    kind = args.kind or ("object" if args.object else "image")
    obj, pose, _settings, doc = scene(args) if kind == "object" else (None, None, None, None)
    model = classifiers.resolve_name(model_name(args, doc), args.weights)
    return EvolveState(kind, model, target, args.seed, object=obj.name if obj else None,
                       pose=pose.to_dict() if pose else None)  # fmt: skip


def _evaluator(args: argparse.Namespace, state, clf):
    """(the pipeline skins are rendered with, or None for plain images; the evaluator of genomes)."""
    from app.core.params import Pose
    from app.lenses.evolve import image_evaluator, object_evaluator
    from app.pipeline.pipeline import Pipeline
    from app.scene.library import resolve_object

    if state.kind != "object":
        return None, image_evaluator(clf)
    args.object = state.object
    _obj, _pose, settings, _doc = scene(args)
    pipe = Pipeline(clf, settings=settings, batch=args.batch)
    pipe.set_object(resolve_object(state.object))
    return pipe, object_evaluator(clf, pipe.renderer, pipe.reader, Pose(state.pose), settings)
