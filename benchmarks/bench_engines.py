"""Forward passes on the CPU: torch (frozen, as the app ran them) against OpenVINO at f32 and bf16.

    python benchmarks/bench_engines.py [--models efficientnet_lite0,inception_v3] [--rounds 3]

Per model, quiet and busy (another process spinning on one core, as the software
rasteriser does in the window): batch-1 latency and batch-16 images/s, medians of
``--rounds`` rounds of 11 after warm-up, engines alternating within each round, and the
ratios to torch.  Models without weights here (Inception-v3) run with random weights:
their speed does not depend on them.  Threads: the app's (all cores but one).
Goals (issue 40, at f32): batch 1 at least 1.5x torch for efficientnet_lite0 and 1.3x for
Inception-v3 when quiet, 2x for both when busy; bf16 at least 2.5x.
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
