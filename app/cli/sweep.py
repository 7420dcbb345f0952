"""``run.py sweep`` and ``run.py report``: classify many poses of objects with several
models into a resumable sweep folder, and write its report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli.args import engine_arg, parse_groups, seed_arg, whole, writable_folder
from app.cli.common import engine_ready, notice
from app.render.settings import RenderSettings
from app.scene.library import object_names, resolve_object
from app.vision import classifiers
from app.vision.classifiers import ModelUnavailable, WeightsMissing
from app.vision.streams import default_streams

SWEEP_EPILOG = """\
examples:
  python run.py sweep --object all --models efficientnet_lite0,efficientnet_lite1 --samples 1000 --out sweeps/a
  python run.py sweep --out sweeps/a --resume                 # go on after Ctrl-C or a crash
  python run.py sweep --out sweeps/a --resume --samples 5000  # grow a random sweep
  python run.py sweep --object hen --grid yaw=36,pitch=18 --out sweeps/hen-grid
  python run.py report sweeps/a

Random poses are uniform over the declared ranges of --params (angles over the full circle,
z over its range, the centre anywhere in the view); the other parameters keep each object's
canonical pose.  Rows are appended to rows.csv batch by batch; report.md / report.html / report.json
and plots/ are rewritten from the rows at the end (or by run.py report).
"""


def register(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="classify many poses of objects with several models; rows.csv + a report (resumable)",
        epilog=SWEEP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--object", help="library object(s) or mesh files: NAME, NAME,PATH... or all "
                                    "(default: all with --resume)")  # fmt: skip
    p.add_argument("--class", dest="true_class", metavar="NAME|INDEX[,...]",
                   help="the ImageNet class of the objects (one for all, or one per --object, in order); "
                        "mesh files need one")  # fmt: skip
    p.add_argument("--models", help="comma-separated classifiers (default auto; run.py models lists them)")
    p.add_argument("--weights", action="append", default=[], metavar="MODEL=PATH", help="state-dict file of a model")
    p.add_argument("--samples", type=whole(1), help="random poses per object (a --resume may raise it)")
    p.add_argument("--grid", help="a regular grid instead of random poses: NAME=STEPS,... e.g. yaw=36,pitch=18")
    p.add_argument("--params", help="groups sampled at random (default rotation,translation: the 6D pose)")
    seed_arg(p, "random seed (default 0): the same seed gives the same poses", default=None)
    p.add_argument("--out", type=writable_folder, required=True, help="sweep folder (sweep.json, rows.csv, report.*)")
    p.add_argument("--resume", action="store_true", help="go on with the sweep in --out where it stopped")
    p.add_argument(
        "--batch", type=whole(1, 1024), default=16, help="poses rendered and classified together (default 16)"
    )
    p.add_argument("--streams", type=whole(1, 16), help="batches classified at once (default 2 on the CPU, 1 on a GPU)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    engine_arg(p)
    p.add_argument("--no-texture", action="store_true", help="draw material colours only")
    p.add_argument("--quality", choices=["auto", "fast", "high"], help="fast: no MSAA; high: 4x MSAA (default auto)")
    p.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    p.set_defaults(run=cmd_sweep)
    p = sub.add_parser("report", help="(re)write the report of a sweep folder: fractions, transfer, heatmaps")
    p.add_argument("folder", type=Path, help="a folder written by run.py sweep")
    p.set_defaults(run=cmd_report)


def _sweep_models(names: list[str], weights: dict[str, Path], device: str, strict: bool) -> list:
    """Load the sweep's classifiers.  A model without weights here is left out with a notice
    (``strict``: an error, for a resumed sweep), never silently replaced by another."""
    loaded = []
    for name in names:
        name = classifiers.resolve_name(name, str(weights[name]) if name in weights else None)
        if name in [c.name for c in loaded]:
            continue
        try:
            clf = classifiers.load_classifier(name, weights.get(name), device, notify=lambda _m: None, fallback=False)
        except WeightsMissing:
            msg = f"{name}: no ImageNet weights here (pass --weights {name}=PATH)"
            if strict:
                raise ModelUnavailable(f"{msg}; this sweep was started with it") from None
            notice(f"notice: {msg}; left out of the sweep")
            continue
        clf.freeze()
        engine_ready(clf)
        loaded.append(clf)
    if not loaded:
        raise ModelUnavailable("none of the models can be loaded here")
    return loaded


def _parse_weights(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ModelUnavailable(f"--weights expects MODEL=PATH, got {item!r}")
        out[name.strip()] = Path(path)
    return out


def _objects(spec: str | None, classes: str | None) -> list:
    """``--object`` (names, mesh files or all) with ``--class`` (one class, or one per object)."""
    from app.cli.common import class_arg
    from app.sweep.sweep import SweepError

    names = object_names() if spec in (None, "all") else [n.strip() for n in spec.split(",") if n.strip()]
    objects = [resolve_object(n) for n in names]
    given = [c.strip() for c in classes.split(",")] if classes else []
    if len(given) > 1 and len(given) != len(objects):
        raise SweepError(f"--class gives {len(given)} classes for {len(objects)} objects: give one for all, "
                         "or one per object in the order of --object")  # fmt: skip
    if len(given) == 1:
        given *= len(objects)
    return [o.with_class(class_arg(c)) for o, c in zip(objects, given, strict=True)] if given else objects


def cmd_sweep(args: argparse.Namespace) -> int:
    from app.sweep.sweep import SweepError, SweepPlan, SweepStore, parse_grid, read_plan

    weights = _parse_weights(args.weights)
    if args.resume:
        plan = read_plan(args.out)
        held = args.object or ",".join(plan.sources.get(n, n) for n in plan.objects)
        given = {
            "--object": (args.object, lambda v: tuple(o.name for o in _objects(v, None)), plan.objects),
            "--class": (
                args.true_class,
                lambda v: {o.name: o.imagenet_class for o in _objects(held, v)},
                {n: plan.resolve(n).imagenet_class for n in plan.objects},
            ),
            "--seed": (args.seed, int, plan.seed),
            "--grid": (args.grid, parse_grid, plan.grid),
            "--params": (args.params, lambda v: tuple(parse_groups(v)), plan.groups),
            "--models": (args.models, lambda v: tuple(v.split(",")), plan.models),
            "--quality": (args.quality, str, plan.settings.get("quality")),
            "--no-texture": (args.no_texture or None, lambda _v: False, plan.settings.get("textures")),
        }
        for flag, (value, parse, have) in given.items():
            if value is not None and parse(value) != have:
                raise SweepError(f"{flag} differs from the sweep in {args.out} ({have}); leave it out to resume")
        store = SweepStore.open(args.out)  # held from here (a busy folder is refused before any model loads)
        try:
            models = _sweep_models(list(plan.models), weights, args.device, strict=True)
        except BaseException:
            store.close()
            raise
    else:
        SweepStore.check_free(args.out)
        objects = _objects(args.object, args.true_class)  # an unknown name fails before any model loads
        unknown = [o.ref for o in objects if o.imagenet_class is None]
        if unknown:
            raise SweepError(f"{', '.join(unknown)}: no ImageNet class, so a sweep cannot tell right from wrong; "
                             "give --class NAME (one for all, or one per object)")  # fmt: skip
        grid = parse_grid(args.grid) if args.grid else ()
        if not grid and not args.samples:
            raise SweepError("say how many poses: --samples N (random) or --grid NAME=STEPS,...")
        if grid and (args.samples or args.params):
            given = " and ".join(f for f, v in (("--samples", args.samples), ("--params", args.params)) if v)
            raise SweepError(f"{given} is for random poses; a --grid names its parameters and steps: leave one out")
        models = _sweep_models((args.models or "auto").split(","), weights, args.device, strict=False)
        settings = RenderSettings(textures=not args.no_texture, quality=args.quality or "auto")
        plan = SweepPlan.of_objects(
            objects, models=tuple(m.name for m in models), samples=args.samples or 0,
            seed=args.seed or 0, groups=tuple(parse_groups(args.params or "rotation,translation")), grid=grid,
            settings=settings.to_dict(),
        )  # fmt: skip
        store = SweepStore.create(args.out, plan)
    with store:
        if args.resume and args.samples:
            store.extend(args.samples)
        return _run_sweep(args, store, models)


def _run_sweep(args: argparse.Namespace, store, models: list) -> int:
    """Compute the rows ``store`` lacks, with a progress bar; then the report."""
    from tqdm import tqdm

    from app.sweep.report import write_report
    from app.sweep.sweep import run_sweep

    plan = store.plan
    objects = [plan.resolve(n) for n in plan.objects]
    todo = sum(len(store.missing(o.name, m.name)) for o in objects for m in models)
    print(f"sweep: {len(objects)} object(s) x {plan.samples} poses ({plan.mode}) x {len(models)} model(s) "
          f"[{', '.join(m.name for m in models)}]: {todo} rows to do in {args.out}", file=sys.stderr)  # fmt: skip
    bar = tqdm(total=todo, unit="row", desc="sweep", file=sys.stderr, smoothing=0.05)

    def report(p) -> None:
        bar.update(p.rows_done - bar.n)
        bar.set_postfix_str(
            p.object + " " + " ".join(f"{m}:{100 * g / max(n, 1):.1f}%" for m, (g, n) in p.correct.items())
        )

    try:
        streams = args.streams or default_streams(models[0].device)
        run_sweep(plan, objects, models, store.append, store.missing, batch=args.batch, report=report, streams=streams)
    except KeyboardInterrupt:
        bar.close()
        print(f"interrupted; the rows so far are in {store.rows_path}: go on with --resume", file=sys.stderr)
        return 130
    bar.close()
    if not args.no_report:
        path = write_report(args.out)
        print(f"report: {path} (and report.html, report.json, plots/)")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from app.sweep.report import write_report

    path = write_report(args.folder)
    data = json.loads((args.folder / "report.json").read_text())
    for key, f in data["fractions"].items():
        obj, model = key.split("|")
        if obj == "all objects" or len(data["plan"]["objects"]) == 1:
            print(f"{obj} / {model}: top-1 correct {100 * f['top1']:.2f}% of {f['n']} poses "
                  f"(95% CI {100 * f['top1_ci95'][0]:.2f}-{100 * f['top1_ci95'][1]:.2f}%)")  # fmt: skip
    if not data["complete"]:
        print(f"incomplete: {data['rows']} of {data['expected_rows']} rows")
    print(f"report: {path} (and report.html, report.json, plots/)")
    return 0
