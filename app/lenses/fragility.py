"""Fragile recognition maps (Srivastava, Ben-Yosef & Boix, "Minimal images in deep neural
networks", ICLR 2019) for a rendered view.

Square crops of one size (a fraction of the image's shorter side) are taken on a grid of
positions over the full-resolution view, resized to the classifier's input (bilinear,
antialiased) and classified; a crop is *correct* when the object's class is top-1 (or in
the top-5).  Around every grid position the crop is also taken

- shifted by one pixel left, right, up and down (the four *shift* neighbours), and
- shrunk by two pixels, anchored at each of its four corners (the four *shrink* neighbours).

A correct crop is a fragile recognisable image (FRI) of a kind when its neighbours of that
kind flip to wrong: *loose* when at least one does, *strict* when all four do.  The four
maps (loose/strict x shift/shrink) and their fractions (FRIs / grid positions) are derived
from the correctness arrays alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from app.vision.classifiers import Classifier

SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (dx, dy) of the shift neighbours
SHRINKS = ((0, 0), (2, 0), (0, 2), (2, 2))  # offsets of the (size - 2) crops inside the crop
KINDS = ("loose_shift", "strict_shift", "loose_shrink", "strict_shrink")
CROPS_PER_POSITION = 1 + len(SHIFTS) + len(SHRINKS)


class FragilityError(ValueError):
    """A map that cannot be made as asked (crop size, grid, image)."""


@dataclass
class FragilityMap:
    """Correctness of every crop of one size on a grid of positions, and its neighbours."""

    relative: float  # crop side / the image's shorter side
    size: int  # crop side in pixels
    xs: np.ndarray  # (nx,) left edges of the crops
    ys: np.ndarray  # (ny,) top edges
    correct: np.ndarray  # (ny, nx) bool: the crop itself
    shift_correct: np.ndarray  # (ny, nx, 4) bool, in SHIFTS order
    shrink_correct: np.ndarray  # (ny, nx, 4) bool, in SHRINKS order
    top1: np.ndarray  # (ny, nx, 9) top-1 class of the crop, its 4 shifts, its 4 shrinks
    top1_prob: np.ndarray  # (ny, nx, 9)
    true_prob: np.ndarray  # (ny, nx, 9) probability of the true class

    def fri(self, kind: str) -> np.ndarray:
        """(ny, nx) bool map of one kind of FRI (see the module docstring)."""
        if kind not in KINDS:
            raise FragilityError(f"unknown FRI kind {kind!r}; one of {', '.join(KINDS)}")
        strictness, what = kind.split("_")
        flipped = ~(self.shift_correct if what == "shift" else self.shrink_correct)
        return self.correct & (flipped.all(axis=2) if strictness == "strict" else flipped.any(axis=2))

    def fractions(self) -> dict[str, float]:
        """Share of grid positions that are correct, and that are FRIs of each kind."""
        out = {"correct": float(self.correct.mean())}
        out.update({k: float(self.fri(k).mean()) for k in KINDS})
        return out

    def box(self, row: int, col: int, neighbour: int = 0) -> tuple[int, int, int]:
        """(x, y, side) of a crop: 0 the crop, 1-4 its shifts, 5-8 its shrinks."""
        x, y, s = int(self.xs[col]), int(self.ys[row]), self.size
        if 1 <= neighbour <= 4:
            dx, dy = SHIFTS[neighbour - 1]
            return x + dx, y + dy, s
        if 5 <= neighbour <= 8:
            dx, dy = SHRINKS[neighbour - 5]
            return x + dx, y + dy, s - 2
        return x, y, s

    def correct_at(self, row: int, col: int) -> list[bool]:
        """Correctness of the crop (0), its shifts (1-4) and its shrinks (5-8)."""
        return [bool(self.correct[row, col]), *map(bool, self.shift_correct[row, col]),
                *map(bool, self.shrink_correct[row, col])]  # fmt: skip

    def flipping_neighbour(self, row: int, col: int) -> int | None:
        """The first neighbour (1-8) whose correctness differs from the crop's, if any."""
        ok = self.correct_at(row, col)
        return next((n for n in range(1, 9) if ok[n] != ok[0]), None)

    def cells(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Where the map's cells lie over the image: the crop centres (x, y) and half the
        grid spacing across and down (each cell is as wide as the spacing)."""
        cx, cy = self.xs + self.size / 2, self.ys + self.size / 2
        hx = (cx[1] - cx[0]) / 2 if len(cx) > 1 else self.size / 2
        hy = (cy[1] - cy[0]) / 2 if len(cy) > 1 else self.size / 2
        return cx, cy, float(hx), float(hy)

    def to_dict(self) -> dict:
        return {
            "relative": self.relative,
            "size": self.size,
            "xs": self.xs.tolist(),
            "ys": self.ys.tolist(),
            "fractions": self.fractions(),
            "correct": self.correct.astype(int).tolist(),
            **{k: self.fri(k).astype(int).tolist() for k in KINDS},
            "top1": self.top1[..., 0].tolist(),
        }


@dataclass
class FragilityProgress:
    relative: float
    crops_done: int
    crops_total: int
    elapsed: float


@dataclass
class FragilityResult:
    image: np.ndarray  # (H, W, 3) uint8: the view the crops were taken from
    true_class: int
    model: str
    criterion: str
    maps: list[FragilityMap] = field(default_factory=list)
    seconds: float = 0.0  # mapping the kept maps (not a crop size that was stopped midway)


def crop_side(relative: float, image_shape: tuple[int, ...]) -> int:
    side = round(relative * min(image_shape[:2]))
    if not 0 < relative <= 1 or side < 8:
        raise FragilityError(f"crop size {relative} of {min(image_shape[:2])} px gives {side} px; use 0 < size <= 1")
    return side


def grid_positions(extent: int, side: int, steps: int) -> np.ndarray:
    """``steps`` left/top edges spread evenly so that every crop, shifted by a pixel, stays inside."""
    last = extent - side - 1
    if last < 1:
        raise FragilityError(f"a {side} px crop shifted by a pixel does not fit in {extent} px; use a smaller size")
    return np.unique(np.round(np.linspace(1, last, steps)).astype(np.int64))


def _resized_crops(image: torch.Tensor, boxes: list[tuple[int, int, int]], size: int) -> torch.Tensor:
    """(N, size, size, 4) uint8 crops of a (3, H, W) float image; boxes all of one side.

    Each crop is rounded to 8 bits, as a picture of it would be saved, and laid out as the
    renderer's frames are, so an inference engine takes it (app.vision.engines)."""
    side = boxes[0][2]
    crops = torch.stack([image[:, y : y + side, x : x + side] for x, y, _ in boxes])
    crops = F.interpolate(crops, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    rgb = crops.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
    return torch.cat([rgb, rgb.new_full((*rgb.shape[:3], 1), 255)], dim=3)


def fragility_map(
    classifier: Classifier,
    image: np.ndarray,
    true_class: int,
    relative: float,
    steps: int = 10,
    criterion: str = "top1",
    batch: int = 32,
    stop: threading.Event | None = None,
    report: Callable[[FragilityProgress], None] | None = None,
    done_before: int = 0,
    crops_total: int | None = None,
) -> FragilityMap | None:
    """The map of one crop size over ``image`` (H, W, 3|4 uint8); None if stopped."""
    if criterion not in ("top1", "top5"):
        raise FragilityError(f"criterion is top1 or top5, not {criterion!r}")
    if steps < 2:
        raise FragilityError("the grid needs at least 2 positions per axis")
    side = crop_side(relative, image.shape)
    xs, ys = grid_positions(image.shape[1], side, steps), grid_positions(image.shape[0], side, steps)
    picture = torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1).float()
    base = [(int(x), int(y)) for y in ys for x in xs]
    same_side = [(x + dx, y + dy, side) for x, y in base for dx, dy in ((0, 0), *SHIFTS)]
    shrunk = [(x + dx, y + dy, side - 2) for x, y in base for dx, dy in SHRINKS]
    total = crops_total if crops_total is not None else len(same_side) + len(shrunk)
    probs: list[torch.Tensor] = []
    started = time.perf_counter()
    done = done_before
    for group in (same_side, shrunk):
        for start in range(0, len(group), batch):
            if stop is not None and stop.is_set():
                return None
            chunk = group[start : start + batch]
            probs.append(classifier.probabilities(_resized_crops(picture, chunk, classifier.input_size)).float().cpu())
            done += len(chunk)
            if report is not None:
                report(FragilityProgress(relative, done, total, time.perf_counter() - started))
    p = torch.cat(probs).numpy()
    n = len(base)
    # reorder to (position, 9): the crop, its 4 shifts, its 4 shrinks
    per = np.concatenate([p[: 5 * n].reshape(n, 5, -1), p[5 * n :].reshape(n, 4, -1)], axis=1)
    true_prob = per[..., true_class]
    if criterion == "top1":
        ok = per.argmax(axis=2) == true_class
    else:
        ok = (per > true_prob[..., None]).sum(axis=2) < 5
    shape = (len(ys), len(xs))
    return FragilityMap(
        relative=relative,
        size=side,
        xs=xs,
        ys=ys,
        correct=ok[:, 0].reshape(shape),
        shift_correct=ok[:, 1:5].reshape(*shape, 4),
        shrink_correct=ok[:, 5:9].reshape(*shape, 4),
        top1=per.argmax(axis=2).reshape(*shape, 9),
        top1_prob=per.max(axis=2).reshape(*shape, 9),
        true_prob=true_prob.reshape(*shape, 9),
    )


def crops_for(image_shape: tuple[int, ...], relatives: list[float], steps: int) -> int:
    """How many crops the maps of ``relatives`` take (for progress bars)."""
    total = 0
    for r in relatives:
        side = crop_side(r, image_shape)
        n = len(grid_positions(image_shape[1], side, steps)) * len(grid_positions(image_shape[0], side, steps))
        total += n * CROPS_PER_POSITION
    return total


def fragility(
    classifier: Classifier,
    image: np.ndarray,
    true_class: int,
    relatives: list[float],
    steps: int = 10,
    criterion: str = "top1",
    batch: int = 32,
    stop: threading.Event | None = None,
    report: Callable[[FragilityProgress], None] | None = None,
    on_map: Callable[[FragilityMap], None] | None = None,
) -> FragilityResult:
    """Maps for several crop sizes (stopping keeps the maps already finished)."""
    started = time.perf_counter()
    total = crops_for(image.shape, relatives, steps)
    result = FragilityResult(np.ascontiguousarray(image[..., :3]).copy(), true_class, classifier.name, criterion)
    done = 0
    for r in relatives:
        m = fragility_map(classifier, image, true_class, r, steps, criterion, batch, stop, report, done, total)
        if m is None:
            break
        done += m.correct.size * CROPS_PER_POSITION
        result.maps.append(m)
        result.seconds = time.perf_counter() - started  # the kept maps' time: not a stopped size's
        if on_map is not None:
            on_map(m)
    return result


def crop_image(image: np.ndarray, box: tuple[int, int, int], size: int) -> np.ndarray:
    """One crop exactly as the classifier saw it, (size, size, 3) uint8 (for display)."""
    picture = torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1).float()
    return _resized_crops(picture, [box], size)[0, ..., :3].numpy()
