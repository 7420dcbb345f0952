"""``run.py optimize``: search the pose space of one or several objects, with a progress
bar, and write each best pose (JSON + PNG), its trajectory and optionally a recording.
"""

from __future__ import annotations

import argparse
import sys
import threading

from app.cli.args import (
    method_option_args,
    method_options,
    model_args,
    parse_budget,
    parse_groups,
    positive,
    scene_args,
    seed_arg,
    whole,
    writable_folder,
)
from app.cli.common import (
    EPILOG,
    class_arg,
    ctrl_c_interrupts,
    ctrl_c_stops,
    engine_ready,
    load_models,
    model_name,
    note_own_class,
    notice,
    scene,
)
from app.core.files import csv_bytes, png_bytes, write_new
from app.core.params import PoseDocument, describe_change
from app.pipeline.jury import Jury
from app.scene.library import object_names
from app.search.registry import methods
from app.search.space import SearchError
from app.vision import classifiers
from app.vision.streams import default_streams


def register(sub) -> None:
    p = sub.add_parser(
        "optimize",
        help="search for a pose the classifier gets wrong (or takes for --target)",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scene_args(p, several=True)
    model_args(p)
    found = methods()
    p.add_argument("--method", choices=list(found),
                   help="; ".join(f"{name}: {m.summary}" for name, m in found.items()))  # fmt: skip
    p.add_argument("--target", help="class name or index to aim for (default: any wrong class)")
    p.add_argument("--models", metavar="A,B,C",
                   help="up to 3 models: a pose that fools every one (or hits the target in every one); "
                        "instead of --model; methods that only classify (default cmaes)")  # fmt: skip
    p.add_argument("--params", default="rotation", help="groups to search: rotation,translation,light,camera")
    p.add_argument("--budget", type=parse_budget, help="5s (wall time), 40 (iterations) or both: 40,5s")
    p.add_argument("--iterations", type=whole(1), help="iterations (batches) at most (default 100 unless --seconds)")
    p.add_argument("--seconds", type=positive, help="wall-time budget in seconds")
    seed_arg(p, "random seed (same seed, same machine: same result)")
    p.add_argument("--until-fooled", action="store_true", help="stop at the first success")
    p.add_argument("--nearest", action="store_true",
                   help="once the goal is met, move the best pose back toward the start: the nearest pose on the "
                   "line between them that still meets it, then its three largest changes shrunk one at a time "
                   "(12-24 renders more)")  # fmt: skip
    method_option_args(p)
    p.add_argument(
        "--out", type=writable_folder, required=True, help="folder for the best pose JSON, its PNG, the trajectory CSV"
    )
    p.add_argument(
        "--record",
        choices=["gif", "mp4"],
        help="also write the run as an animation: the start, each iteration (at most 240, evenly spaced) "
        "and the best pose, with frames turning between poses far apart, each labelled",
    )

    p.set_defaults(run=cmd_optimize)


def cmd_optimize(args: argparse.Namespace) -> int:
    from app.pipeline.pipeline import Pipeline
    from app.search.space import Budget

    many = args.object is not None and (args.object == "all" or "," in args.object)
    if many and args.pose:
        raise SearchError("--pose is one object's pose; with several objects each starts at its canonical pose")
    names = [args.object] if not many else object_names() if args.object == "all" else args.object.split(",")
    scenes = [scene(argparse.Namespace(**{**vars(args), "object": name and name.strip()})) for name in names]
    target = class_arg(args.target)
    groups = parse_groups(args.params)
    if args.budget is not None:
        if args.iterations is not None or args.seconds is not None:
            raise SearchError("give --budget or --iterations/--seconds, not both")
        args.iterations, args.seconds = args.budget
    unset = args.iterations is None and args.seconds is None
    budget = Budget(100 if unset else args.iterations, args.seconds)  # 0 is refused, not read as "unset"
    if target is None and (nameless := [o for o, *_ in scenes if o.imagenet_class is None]):
        for o in nameless:
            o.load()  # a broken mesh file is reported before anything else about it
        raise SearchError(
            f"{', '.join(o.name for o in nameless)} has no ImageNet class to get wrong: give --target CLASS"
        )
    if args.models:
        models = load_models(args.models, args.device, args.weights)
        clf = models[0]
    else:
        clf = classifiers.load_classifier(model_name(args, scenes[0][3]), args.weights, args.device, notify=notice)
        clf.freeze()  # as the window's model: faster, and every search runs the same (frozen) model
        engine_ready(clf)
    pipe = Pipeline(clf, settings=scenes[0][2], batch=18, streams=default_streams(clf.device))
    jury = Jury(pipe, models[1:]) if args.models else None
    args.method = args.method or ("cmaes" if jury is not None else pipe.default_method())
    try:
        options = method_options(args, args.method)
    except argparse.ArgumentTypeError as e:
        raise SearchError(str(e)) from None
    rows = []
    for obj, pose, settings, _doc in scenes:
        rows.append(_optimize_one(args, pipe, obj, pose, settings, groups, target, budget, options, jury))
        if rows[-1]["stopped"]:
            break
    if many:
        _optimize_summary(args, rows, len(scenes), target)
    if rows[-1]["stopped"]:
        return 130
    return 0 if all(r["success"] for r in rows) else 1


def _optimize_one(args, pipe, obj, pose, settings, groups, target, budget, options, jury=None) -> dict:
    """One object's search for ``run.py optimize``: progress bar, files, a line of result;
    returns the row of the summary."""
    from app.search.space import Goal, SearchSpace

    for w in pipe.set_object(obj):
        notice(f"warning: {w}")
    space, goal = SearchSpace(pose, groups), Goal(obj.imagenet_class, target)
    note_own_class(obj, target)
    result = _search(args, jury or pipe, obj, space, goal, budget, options)
    stem, extra = _write_result(args, pipe, obj, settings, space, goal, result, jury)
    wrote = ".json, .png, -trajectory.csv"
    top = extra["prediction"]["top5"][0]
    verdict = ("stopped (Ctrl-C), " if result.stopped else "") + goal.outcome(result.success)
    first = "" if result.time_to_success is None else f" (first success at {result.time_to_success:.1f} s)"
    print(f"{verdict}: {extra['prediction']['says']}; after {result.effort}{first}", flush=True)
    for m in extra.get("models", [])[1:]:  # the first model's verdict is the line above
        print(f"  {m['model']}: {m['verdict'] or ''}: {m['says']}")
    change = describe_change(space.base, result.best)
    print(f"change from the start: {change}")
    if result.first_success_elsewhere:
        print(f"the first success's change from the start: {extra['first_success']['change_from_start']}")
    row = {"object": obj.name, "success": result.success, "top1": top["label"],
           "top1_probability": round(top["probability"], 6),
           "first_success_s": None if result.time_to_success is None else round(result.time_to_success, 3),
           "seconds": round(result.elapsed, 3), "iterations": result.iterations, "stopped": result.stopped,
           "change_from_start": change, "files": stem}  # fmt: skip
    if args.record:  # after the result line: a Ctrl-C while recording ends the recording only
        if not _record(args, pipe, obj, space, goal, result, args.out / f"{stem}.{args.record}"):
            print(f"wrote {args.out / stem}{wrote}; the recording was interrupted (Ctrl-C)")
            return {**row, "stopped": True}  # as a Ctrl-C in the search: this object's files kept, the rest skipped
        wrote += f", .{args.record}"
    print(f"wrote {args.out / stem}{wrote}")
    return row


def _search(args, pipe, obj, space, goal, budget, options):
    """The search with a progress bar; the first Ctrl-C stops it after its iteration.
    ``pipe``: the pipeline, or a :class:`Jury` of several models."""
    from tqdm import tqdm

    from app.core.imagenet import class_names

    target = goal.target
    what = f"target {class_names()[target]}" if target is not None else "any wrong class"
    bar = tqdm(total=budget.iterations, desc=f"{args.method} on {obj.name} ({what})", unit="it", file=sys.stderr)

    def report(p) -> None:
        bar.update(p.iteration - bar.n)  # the last iteration may be reported twice
        shown = p.best_target if target is not None else p.best_true
        outcome = "target hit" if target is not None else "fooled"  # a targeted search's success is hitting it
        bar.set_postfix({"best": f"{shown:.3f}" if shown is not None else "-", outcome: "yes" if p.success else "no"})

    stop = threading.Event()
    with ctrl_c_stops(stop, bar, "stopping after this iteration; the best pose so far is kept"):
        result = pipe.search(args.method, space, goal, budget, seed=args.seed, report=report, stop=stop,
                             stop_on_success=args.until_fooled, nearest=args.nearest, **options)  # fmt: skip
    bar.close()
    return result


def _write_result(args, pipe, obj, settings, space, goal, result, jury=None) -> tuple[str, dict]:
    """The best pose's JSON (with its prediction and where the goal was first met; with a
    ``jury``, each model's), its PNG and the trajectory CSV, under a new stem; (the stem,
    the JSON's extra fields)."""
    from app.core.files import claim_stem
    from app.vision.predictions import prediction_record

    clf = pipe.classifier
    image = pipe.render(result.best)
    probs = pipe.probabilities([result.best])[0].float().cpu().numpy()
    suffixes = (".json", ".png", "-trajectory.csv") + ((f".{args.record}",) if args.record else ())
    extra = {"prediction": prediction_record(clf.name, clf.input_size, probs, obj.imagenet_class, goal.target),
             "note": f"{args.method} search, seed {args.seed}, {result.effort}, success {result.success}"
                     + (", then the nearest success to the start" if args.nearest else "")
                     + (", stopped by Ctrl-C" if result.stopped else "")}  # fmt: skip
    if jury is not None:
        every = jury.probabilities([result.best])[0].numpy()
        extra["models"] = [prediction_record(m.name, m.input_size, p, obj.imagenet_class, goal.target)
                           for m, p in zip(jury.models, every, strict=True)]  # fmt: skip
        extra["prediction"] = extra["models"][0]
    if result.first_success is not None:  # where the search first met the goal (a pull-back moves on from it)
        extra["first_success"] = {"seconds": round(result.time_to_success, 3), "pose": result.first_success.to_dict(),
                                  "change_from_start": describe_change(space.base, result.first_success)}  # fmt: skip
    best_doc = PoseDocument(result.best, object=obj.ref, model=clf.name, settings=settings.to_dict(), extra=extra,
                            true_class=obj.imagenet_class)  # fmt: skip
    stem, _ = claim_stem(args.out, f"{obj.name}-{args.method}", suffixes,
                         lambda p: write_new(p, best_doc.to_json().encode()))  # fmt: skip
    write_new(args.out / f"{stem}.png", png_bytes(image))
    write_new(args.out / f"{stem}-trajectory.csv", csv_bytes(result.history))
    return stem, extra


def _record(args, pipe, obj, space, goal, result, path) -> bool:
    """The run as a GIF or MP4 with a progress bar; False if Ctrl-C interrupted it."""
    from tqdm import tqdm

    from app.search.recording import frame_count, record_run

    frames = frame_count(space.base, result)
    try:
        with ctrl_c_interrupts(), tqdm(total=frames, desc="recording the run", unit="frame", file=sys.stderr) as bar:
            record_run(pipe, space.base, result, obj.imagenet_class, goal.target, path,
                       report=lambda done, _total: bar.update(done - bar.n))  # fmt: skip
    except KeyboardInterrupt:
        return False
    return True


def _optimize_summary(args, rows: list[dict], objects: int, target: int | None) -> None:
    """The table of a several-object run, printed and written as optimize-summary[-N].csv."""
    from app.core.files import claim_stem
    from app.core.imagenet import class_names

    column = "fooled" if target is None else "hit"
    print(f"\n{'object':14s} {column:7s} {'top-1':28s} {'first success':>13s}  files")
    for r in rows:
        first = "-" if r["first_success_s"] is None else f"{r['first_success_s']:.1f} s"
        print(f"{r['object']:14s} {'yes' if r['success'] else 'no':7s} "
              f"{r['top1'][:22]:22s} {r['top1_probability']:.3f} {first:>13s}  {r['files']}")  # fmt: skip
    done = sum(r["success"] for r in rows)
    left = f"; stopped by Ctrl-C, {objects - len(rows)} not searched" if rows[-1]["stopped"] else ""
    _, path = claim_stem(args.out, "optimize-summary", (".csv",), lambda p: write_new(p, csv_bytes(rows)))
    what = "fooled" if target is None else f"target {class_names()[target]} hit on"
    print(f"{what} {done} of {len(rows)} objects{left}; wrote {path}")
