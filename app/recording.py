"""A search run as a GIF or MP4: the start, each iteration's pose and the best pose, each
with its top-1 label and probability.

The search itself only keeps the poses it visited (its history); the frames are rendered
and classified afterwards in batches, so recording never slows the search or changes
its timings.  Files are written under a new name (never over an existing file).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from app.files import new_file, write_new
from app.imagenet import class_names
from app.params import NAMES, Pose
from app.search import SearchResult

FORMATS = (".gif", ".mp4")


class RecordingError(ValueError):
    """A recording that cannot be written as asked (format, empty run)."""


def check_format(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise RecordingError(f"record to a .gif or .mp4 file, not {path.name!r}")


def history_poses(history: Sequence[dict]) -> list[Pose]:
    """The pose the method stood at after each iteration (``current_*`` columns)."""
    return [Pose({n: row[f"current_{n}"] for n in NAMES}) for row in history]


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


def write_recording(path: Path, frames: Sequence[np.ndarray], fps: float = 8.0, hold: float = 0.0) -> Path:
    """Write ``frames`` (equal-size RGB uint8) as a GIF or MP4 at ``path``, which must not
    exist yet, the last frame shown ``hold`` seconds longer; the file appears complete or
    not at all."""
    import imageio.v3 as iio

    check_format(path)
    if not frames:
        raise RecordingError("nothing to record: the run has no iterations")
    suffix = path.suffix.lower()
    if suffix == ".gif":
        durations = [1000.0 / fps] * len(frames)
        durations[-1] += 1000.0 * hold
        data = iio.imwrite("<bytes>", np.stack(frames), extension=".gif", duration=durations, loop=0)
        write_new(path, data)
        return path
    frames = list(frames) + [frames[-1]] * round(hold * fps)
    even = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]  # yuv420p needs even sizes
    with new_file(path, keep_suffix=True) as tmp:  # ffmpeg writes to a file (named for its format) beside it
        iio.imwrite(tmp, np.stack(even), extension=suffix, fps=fps, codec="libx264", macro_block_size=1)
    return path


def record_run(
    pipe, start: Pose, result: SearchResult, true_class: int | None, target: int | None, path: Path, hold: float = 1.5
) -> Path:
    """Render, classify and label a run with ``pipe`` (:class:`app.pipeline.Pipeline`) and
    write the recording to ``path``: the start pose, the pose after each iteration, and
    the best pose (the one the search keeps and captures), held ``hold`` seconds."""
    check_format(path)
    n = len(result.history)
    poses = [start, *history_poses(result.history), result.best]
    steps = [f"{result.method}  iteration {i}/{n}" for i in range(1, n + 1)]
    captions = ["start", *steps, f"{result.method}  best pose"]
    frames = []
    for first in range(0, len(poses), 16):
        chunk = poses[first : first + 16]
        probs = pipe.probabilities(chunk).float().cpu().numpy()
        for pose, p, caption in zip(chunk, probs, captions[first : first + 16], strict=True):
            frames.append(label_frame(pipe.render(pose), p, true_class, target, caption))
    return write_recording(path, frames, hold=hold)
