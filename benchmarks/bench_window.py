"""The window under continuous live prediction: frame times and prediction latency.

    python benchmarks/bench_window.py [--objects teddy_bear,hen] [--seconds 20] [--size 1024x768]

For each object the real app runs on a fresh Xvfb display (or on $DISPLAY with
--use-display) in its benchmark mode: the object turns 1.5 degrees every frame, so
every frame is new and live prediction never rests.  Printed per object:

* frame interval p50/p95 (goal: p95 <= 33 ms), time spent in on_draw
* prediction latency p50 (render start of the model-input frame -> answer shown)
* classifier-only latency: the same frozen model, same threads, same 224/299 px frame,
  measured in this process before the app starts; and latency / classifier-only (goal <= 1.3)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def classifier_only_ms(model: str, threads: int, n: int = 40) -> float:
    import torch
    from bench_pipeline import timed  # this folder is on sys.path when a script here runs

    from app.pipeline.pipeline import Pipeline
    from app.vision.classifiers import load_classifier
    from app.vision.predictions import classify_image

    torch.set_num_threads(threads)
    clf = load_classifier(model)
    clf.freeze()
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", default="teddy_bear,hen,sports_car")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--size", default="1024x768")
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--use-display", action="store_true", help="use $DISPLAY instead of a new Xvfb")
    args = ap.parse_args()
    threads = max(1, (os.cpu_count() or 2) - 1)  # the app's default
    base = classifier_only_ms(args.model, threads)
    print(f"classifier-only ({args.model}, frozen, {threads} thread(s)): {base:.1f} ms median")
    xvfb, display = (None, os.environ["DISPLAY"]) if args.use_display else start_xvfb()
    env = {**os.environ, "DISPLAY": display, "STRIKE_OFFLINE": "1"}
    header = f"{'object':12s} {'frame p50':>9s} {'p95':>6s} {'on_draw p50':>11s} {'latency p50':>11s} {'p95':>6s}"
    print(header + f" {'latency/classifier':>18s}")
    try:
        for name in args.objects.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "bench.json"
                cmd = [sys.executable, "run.py", "--object", name, "--model", args.model, "--size", args.size,
                       "--captures", tmp, "--benchmark", str(args.seconds), "--benchmark-out", str(out)]  # fmt: skip
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
        print(f"({r['gl']}, window {r['window'][0]}x{r['window'][1]}, {len(intervals) + 1} frames per object)")
    finally:
        if xvfb is not None:
            xvfb.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
