"""The window under continuous live prediction: frame times and prediction latency.

    python benchmarks/bench_window.py [--objects teddy_bear,hen] [--seconds 20] [--size 1024x768]
                                      [--beside efficientnet_lite1,efficientnet_lite2]
                                      [--engine auto|torch|openvino] [--precision f32|bf16]

For each object the real window runs on a fresh Xvfb display (or on $DISPLAY with
--use-display), in a child of this script (``--child``) that drives it through the
window's frame hooks: the object turns 1.5 degrees every frame, so every frame is new
and live prediction never rests.  Printed per object:

* frame interval p50/p95 (goal: p95 <= 33 ms), time spent in on_draw
* prediction latency p50 (render start of the model-input frame -> answer shown)
* classifier-only latency: the same frozen model on the same engine, same threads, same 224/299 px frame,
  measured in this process before the app starts; and latency / classifier-only (goal <= 1.3)

With ``--beside`` each object runs twice in turn, as it is and with the class-activation
overlay on and those models judging beside the live one (issue 41): the second row adds
the time per map, each other model's answer time and how often each came (goal: frame
p95 <= 33 ms still; the maps and answers may come less often than predictions).
``--precision bf16`` starts the window in the fast preview and adds the share of
predictions answered in bf16 (the others were near a boundary and answered at f32).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def classifier_only_ms(model: str, threads: int, engine: str, n: int = 40) -> float:
    import torch
    from bench_pipeline import timed  # this folder is on sys.path when a script here runs

    from app.pipeline.pipeline import Pipeline
    from app.vision.classifiers import classify_image, load_classifier

    torch.set_num_threads(threads)
    clf = load_classifier(model, engine=engine)
    clf.freeze()  # and starts the engine, as the window does
    pipe = Pipeline(clf)
    from app.scene.library import resolve_object

    obj = resolve_object("teddy_bear")
    pipe.set_object(obj)
    image = pipe.render(obj.canonical_pose)
    ms = timed(lambda: classify_image(clf, image), n, warmup=5)
    pipe.release()
    return ms


def start_xvfb() -> tuple[subprocess.Popen, str]:
    read, write = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as f:
        return proc, f":{f.readline().strip()}"


def child(name: str, model: str, size: str, seconds: float, out: Path, beside: str = "", engine: str = "auto",
          precision: str = "f32") -> int:  # fmt: skip
    """The window on ``name``, spun and timed for ``seconds`` once the classifier is warm; the report to ``out``."""
    import torch

    from app.gui.launch import open_window
    from app.render.settings import RenderSettings
    from app.scene.library import resolve_object
    from app.vision.classifiers import load_classifier

    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))  # the app's default
    obj, clf = resolve_object(name), load_classifier(model, engine=engine)
    w, h = (int(v) for v in size.split("x"))
    bench: dict = {"frames": [], "draw": [], "start": None, "maps": {}, "answers": {}, "precisions": {}}
    others = tuple(m for m in beside.split(",") if m)

    def frame(window, now: float) -> None:
        ex = window.explorer
        if others and not ex.beside.jury.wanted:
            ex.state.show_map = True
            ex.beside.jury.want(others)
        if bench["start"] is None:
            warm = ex.result is not None and ex.classifier.freeze_tried
            if not warm or (others and (ex.beside.maps.latest() is None or ex.beside.jury.latest() is None)):
                return  # wait until the classifier (and the map and the other models) are warm
            bench["start"] = now
            ex.stats.reset()
        if ex.result is not None:
            bench["precisions"][id(ex.result)] = ex.result.precision
        for kind, latest in (("maps", ex.beside.maps.latest()), ("answers", ex.beside.jury.latest())):
            if latest is not None:
                bench[kind][id(latest)] = latest.seconds
        ex.state.set_param("yaw", ex.state.pose.yaw + 1.5)
        if now - bench["start"] >= seconds:
            report = ex.stats.summary()
            report.update(
                window=[window.window.width, window.window.height],
                draw_ms=[round(d * 1000, 3) for d in bench["draw"]],
                interval_ms=[round((b - a) * 1000, 3) for a, b in itertools.pairwise(bench["frames"])],
                model=ex.classifier.name,
                map_ms=[round(v * 1000, 1) for v in bench["maps"].values()],
                answer_ms=[round(v * 1000, 1) for v in bench["answers"].values()],
                bf16_share=sum(p == "bf16" for p in bench["precisions"].values()) / max(1, len(bench["precisions"])),
                seconds=seconds,
                gl=window.ctx.info.get("GL_RENDERER"),
            )
            out.write_text(json.dumps(report))
            window.shutdown()

    def drawn(start: float, took: float) -> None:
        if bench["start"] is not None:
            bench["frames"].append(start)
            bench["draw"].append(took)

    with tempfile.TemporaryDirectory() as captures:
        return open_window(clf, obj, obj.canonical_pose, RenderSettings(), captures_dir=Path(captures), size=(w, h),
                           preview=precision == "bf16", frame_hook=frame, drawn_hook=drawn)  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", metavar="OBJECT", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--objects", default="teddy_bear,hen,sports_car")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--size", default="1024x768")
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--use-display", action="store_true", help="use $DISPLAY instead of a new Xvfb")
    ap.add_argument("--beside", default="", help="also run each object with the overlay and these models beside")
    ap.add_argument("--engine", default="auto", help="the engine of the forward passes, as --engine of run.py")
    ap.add_argument("--precision", default="f32", help="bf16: the live view in the fast preview (run.py window's)")
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.model, args.size, args.seconds, args.out, args.beside, args.engine,
                     args.precision)  # fmt: skip
    threads = max(1, (os.cpu_count() or 2) - 1)  # the app's default
    base = classifier_only_ms(args.model, threads, args.engine)
    print(f"classifier-only ({args.model}, frozen, engine {args.engine}, {threads} thread(s)): {base:.1f} ms median")
    xvfb, display = (None, os.environ["DISPLAY"]) if args.use_display else start_xvfb()
    env = {**os.environ, "DISPLAY": display, "STRIKE_OFFLINE": "1"}
    header = f"{'object':12s} {'frame p50':>9s} {'p95':>6s} {'on_draw p50':>11s} {'latency p50':>11s} {'p95':>6s}"
    print(header + f" {'latency/classifier':>18s}")
    modes = ("", args.beside) if args.beside else ("",)  # as it is, then with the overlay and the models
    runs = [(name, beside) for name in args.objects.split(",") for beside in modes]
    try:
        for name, beside in runs:
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "bench.json"
                cmd = [sys.executable, __file__, "--child", name, "--model", args.model, "--size", args.size,
                       "--seconds", str(args.seconds), "--out", str(out), "--beside", beside,
                       "--engine", args.engine, "--precision", args.precision]  # fmt: skip
                subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True, timeout=args.seconds + 300)
                r = json.loads(out.read_text())
            intervals = sorted(r["interval_ms"])
            draw = statistics.median(r["draw_ms"])

            def pct(values, q):
                return values[min(len(values) - 1, int(q * len(values)))]

            print(
                f"{name:12s} {pct(intervals, 0.5):9.1f} {pct(intervals, 0.95):6.1f} {draw:11.1f} "
                f"{r['latency_p50_ms']:11.1f} {r['latency_p95_ms']:6.1f} {r['latency_p50_ms'] / base:18.2f}"
            )
            if args.precision == "bf16":
                print(f"{'':12s} ^ fast preview: {r['bf16_share'] * 100:.0f}% of the predictions answered in bf16")
            if beside:
                maps, answers = r["map_ms"], r["answer_ms"]
                print(f"{'':12s} ^ with the overlay and {beside}: map {statistics.median(maps):.0f} ms each, "
                      f"{len(maps) / r['seconds']:.1f}/s; other models {statistics.median(answers):.0f} ms per "
                      f"answer (both), {len(answers) / r['seconds']:.1f}/s")  # fmt: skip
        print(f"({r['gl']}, window {r['window'][0]}x{r['window'][1]}, {len(intervals) + 1} frames per object)")
    finally:
        if xvfb is not None:
            xvfb.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
