"""Classifying a batch on the CPU: images per forward pass, and glibc's malloc thresholds.

    python benchmarks/bench_batch.py [--model efficientnet_lite0] [--chunks 1,2,3,4,6,9,18]

Classifies 18 frames (as a CMA-ES generation does) at each number of images per forward
pass (``app.vision.classifiers.CPU_CHUNK``), in one stream with all of torch's threads and in two
one-thread streams of 9 frames each (as :class:`app.pipeline.pipeline.Pipeline` does on the CPU).
Each setting runs twice: in a process whose malloc thresholds are set
(:func:`app.vision.allocator.keep_freed_memory`, what the app does) and in one where they are
not.  Printed: milliseconds per image, page faults per forward pass, and each time's
ratio to the old way (18 images per pass in two streams of 9, thresholds not set).  Only
the timing matters, so models other than the bundled one run with random weights.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

FRAMES = 18


def measure(model: str, chunks: list[int], repeats: int) -> dict:
    """In this process: {"chunk,streams": [ms per image, page faults per forward pass]}."""
    import torch

    import app.vision.classifiers as classifiers
    from app.vision.classifiers import BUNDLED, Classifier, build_architecture, load_classifier, model_spec
    from app.vision.streams import StreamPool

    if model == BUNDLED:
        clf = load_classifier(model, device="cpu")
    else:
        clf = Classifier(model_spec(model), build_architecture(model), torch.device("cpu"))
    clf.freeze()
    size = clf.input_size
    seeded = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (FRAMES, size, size, 4), dtype=torch.uint8, generator=seeded)
    halves = frames.split(FRAMES // 2)
    pool = StreamPool(2, "cpu")

    def one_stream() -> None:
        clf.probabilities(frames)

    def two_streams() -> None:
        for f in [pool.submit(clf.probabilities, h) for h in halves]:
            f.result()

    out = {}
    for chunk in chunks:
        classifiers.CPU_CHUNK = chunk
        for streams, run in ((1, one_stream), (2, two_streams)):
            run()  # the first pass at a batch size pays for TorchScript's profiling
            times, faults = [], []
            for _ in range(repeats):
                f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
                run()
                times.append((time.perf_counter() - t0) / FRAMES * 1000)
                faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
            passes = -(-FRAMES // streams // chunk) * streams
            out[f"{chunk},{streams}"] = [statistics.median(times), statistics.median(faults) / passes]
    pool.shutdown()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="efficientnet_lite0")
    ap.add_argument("--chunks", default="1,2,3,4,6,9,18")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--child", choices=["tuned", "untuned"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    chunks = [int(c) for c in args.chunks.split(",")]
    if args.child:
        if args.child == "untuned":
            import app.vision.allocator

            app.vision.allocator._tuned = False  # as if already tried: the thresholds stay glibc's
        print(json.dumps(measure(args.model, chunks, args.repeats)))
        return 0
    results = {}
    for mode in ("tuned", "untuned"):
        cmd = [sys.executable, __file__, "--model", args.model, "--chunks", args.chunks,
               "--repeats", str(args.repeats), "--child", mode]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    base = results["untuned"][f"{max(chunks)},2"][0]
    print(f"{args.model}, {FRAMES} frames, ms per image (page faults per forward pass), "
          f"x = speed-up over {max(chunks)} per pass in 2 streams without the thresholds")  # fmt: skip
    print(f"{'per pass':>8s}  {'streams':>7s}  {'thresholds set':>24s}  {'glibc default':>24s}")
    for chunk in chunks:
        for streams in (1, 2):
            cells = []
            for mode in ("tuned", "untuned"):
                ms, faults = results[mode][f"{chunk},{streams}"]
                cells.append(f"{ms:6.1f} ({faults:6.0f}) {base / ms:4.1f}x")
            print(f"{chunk:8d}  {streams:7d}  {cells[0]:>24s}  {cells[1]:>24s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
