"""A search run as a GIF or MP4: the start, each iteration's pose and the best pose, each
with its top-1 label and probability.

The search itself only keeps the poses it visited (its history); the frames are rendered
and classified afterwards in batches, so recording never slows the search or changes
its timings.  A long run shows at most :data:`MAX_STEP_FRAMES` of its iterations, evenly
spaced, so that its recording stays short to watch and quick to write.  Between two
poses far apart (a gradient search's first step is often a turn of 100-180 degrees)
in-between frames are added, each classified too, so the step reads as a turn and shows
where along it the label changes.  Files are written under a new name (never over an
existing file).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.core.files import new_file, write_new
from app.core.glide import Glide
from app.core.imagenet import class_names
from app.core.params import NAMES, Pose, largest_change
from app.search.result import SearchResult

FORMATS = (".gif", ".mp4")
FPS = 8.0
MAX_STEP_FRAMES = 240  # iterations shown at most: 30 s at 8 frames a second
TURN_STEP = 0.05  # in-between frames: at most this fraction of a range (18 degrees) from one frame to the next
MAX_TURN_FRAMES = 8  # in-between frames between two poses at most (1 s)
MAX_TURN_TOTAL = 120  # in-between frames in a recording at most (15 s); fewer per step beyond


class RecordingError(ValueError):
    """A recording that cannot be written as asked (format, empty run)."""


def check_format(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise RecordingError(f"record to a .gif or .mp4 file, not {path.name!r}")


def history_poses(history: Sequence[dict]) -> list[Pose]:
    """The pose the method stood at after each iteration (``current_*`` columns)."""
    return [Pose({n: row[f"current_{n}"] for n in NAMES}) for row in history]


def shown_iterations(n: int, limit: int = MAX_STEP_FRAMES) -> list[int]:
    """The iterations (1..n) a recording shows: all of them, or ``limit`` evenly spaced
    ones from the first to the last."""
    if n <= limit:
        return list(range(1, n + 1))
    return sorted({round(1 + i * (n - 1) / (limit - 1)) for i in range(limit)})


def in_between(a: Pose, b: Pose, count: int) -> list[Pose]:
    """``count`` poses from ``a`` to ``b`` (neither included), eased as the window glides."""
    glide = Glide(a, b, 0.0, seconds=1.0)
    return [glide.pose((i + 1) / (count + 1)) for i in range(count)]


def recording_plan(start: Pose, result: SearchResult, limit: int = MAX_STEP_FRAMES) -> list[tuple[Pose, str]]:
    """The poses of a run's recording with their captions: the start, the iterations shown,
    the best pose, and in-between poses where two of them lie far apart."""
    n = len(result.history)
    visited = history_poses(result.history)
    method = result.method
    keys = [(start, "start"), *((visited[i - 1], f"iteration {i}/{n}") for i in shown_iterations(n, limit)),
            (result.best, "best pose")]  # fmt: skip
    gaps = [min(MAX_TURN_FRAMES, math.ceil(largest_change(a, b) / TURN_STEP - 1e-9) - 1)
            for (a, _), (b, _) in zip(keys, keys[1:], strict=False)]  # fmt: skip
    gaps = [max(g, 0) for g in gaps]
    total = sum(gaps)
    if total > MAX_TURN_TOTAL:  # fewer in each gap, in proportion
        gaps = [g * MAX_TURN_TOTAL // total for g in gaps]
    plan = [(start, "start")]
    for ((a, _), (b, what)), count in zip(zip(keys, keys[1:], strict=False), gaps, strict=True):
        plan += [(p, f"{method}  to {what}") for p in in_between(a, b, count)]
        plan.append((b, f"{method}  {what}"))
    return plan


def frame_count(start: Pose, result: SearchResult, limit: int = MAX_STEP_FRAMES) -> int:
    """The frames of the recording of a run from ``start`` (:func:`recording_plan`)."""
    return len(recording_plan(start, result, limit))


def label_frame(
    image: np.ndarray, probs: np.ndarray, true_class: int | None, target: int | None, caption: str, scale: int = 2
) -> np.ndarray:
    """``image`` enlarged ``scale`` times with a band: caption, top-1 label and probability,
    red when the top-1 is wrong (or the target), green when right."""
    names = class_names()
    top = int(np.argmax(probs))
    fooled = top == target if target is not None else top != true_class
    h, w = image.shape[:2]
    band = 18 * scale
    out = Image.new("RGB", (w * scale, h * scale + band), (0, 0, 0))
    out.paste(Image.fromarray(image[..., :3]).resize((w * scale, h * scale), Image.Resampling.BILINEAR), (0, band))
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=7 * scale)
    color = (255, 80, 80) if fooled else (90, 220, 90)
    draw.text((4, 1), caption, fill=(230, 230, 230), font=font)
    line = f"{names[top][:40]} {probs[top]:.2f}"
    if true_class is not None and top != true_class:
        line += f"  ({names[true_class][:18]} {probs[true_class]:.2f})"
    draw.text((4, band // 2), line, fill=color, font=font)
    return np.asarray(out)


def gif_bytes(frames: Sequence[np.ndarray], durations: Sequence[float]) -> bytes:
    """An endlessly looping GIF, each frame with its own palette.  Fast-octree quantising
    encodes a recording's frame in 5-8 ms where Pillow's default (median cut) took 33-380
    ms (the most for textured objects' many colours), with a mean error of 1.3-1.8 of 255
    instead of 0.2-0.9 (the 99th percentile about 8 either way) and smaller files."""
    images = [Image.fromarray(f[..., :3]).quantize(256, method=Image.Quantize.FASTOCTREE) for f in frames]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=list(durations), loop=0)
    return out.getvalue()


def write_recording(path: Path, frames: Sequence[np.ndarray], fps: float = FPS, hold: float = 0.0) -> Path:
    """Write ``frames`` (equal-size RGB uint8) as a GIF or MP4 at ``path``, which must not
    exist yet, the last frame shown ``hold`` seconds longer; the file appears complete or
    not at all."""
    check_format(path)
    if not frames:
        raise RecordingError("nothing to record: the run has no iterations")
    suffix = path.suffix.lower()
    if suffix == ".gif":
        durations = [1000.0 / fps] * len(frames)
        durations[-1] += 1000.0 * hold
        write_new(path, gif_bytes(frames, durations))
        return path
    import imageio.v3 as iio

    frames = list(frames) + [frames[-1]] * round(hold * fps)
    even = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]  # yuv420p needs even sizes
    with new_file(path, keep_suffix=True) as tmp:  # ffmpeg writes to a file (named for its format) beside it
        iio.imwrite(tmp, np.stack(even), extension=suffix, fps=fps, codec="libx264", macro_block_size=1)
    return path


def record_run(
    pipe,
    start: Pose,
    result: SearchResult,
    true_class: int | None,
    target: int | None,
    path: Path,
    hold: float = 1.5,
    limit: int = MAX_STEP_FRAMES,
    report: Callable[[int, int], None] | None = None,
) -> Path:
    """Render, classify and label a run with ``pipe`` (:class:`app.pipeline.pipeline.Pipeline`) and
    write the recording to ``path``: the start pose, the pose after each iteration (at most
    ``limit`` of them, evenly spaced), and the best pose (the one the search
    keeps and captures), held ``hold`` seconds, with in-between poses where two lie far
    apart (:func:`recording_plan`).  Each pose is rendered once.  ``report(done, total)``
    follows the frames as they are made."""
    check_format(path)
    poses, captions = zip(*recording_plan(start, result, limit), strict=True)
    frames = []
    for first in range(0, len(poses), 16):
        images = pipe.frames(poses[first : first + 16])
        probs = pipe.classifier.probabilities(images).float().cpu().numpy()
        for image, p, caption in zip(images[..., :3].cpu().numpy(), probs, captions[first : first + 16], strict=True):
            frames.append(label_frame(image, p, true_class, target, caption))
        if report is not None:
            report(len(frames), len(poses))
    return write_recording(path, frames, hold=hold)
