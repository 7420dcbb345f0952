"""The failure lenses' output files, shared by ``run.py attack|fragility`` and the window's
Save buttons: an attack sheet with its JSON, fragility maps with their JSON.  Every file
gets a new name; nothing is ever written over."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from app.core.files import claim_stem, png_bytes, write_new
from app.core.imagenet import class_names
from app.core.params import NAMES, Pose
from app.lenses.attacks import AttackResult
from app.lenses.fragility import FragilityResult

GREEN, RED, GREY = (90, 220, 90), (255, 80, 80), (200, 200, 200)


def tile(image: np.ndarray, caption: str, line: str, color: tuple[int, int, int], scale: int = 2) -> np.ndarray:
    """``image`` enlarged (nearest) under a caption and a coloured line of text."""
    from PIL import Image, ImageDraw, ImageFont

    h, w = image.shape[:2]
    band = 36
    out = Image.new("RGB", (w * scale, h * scale + band), (0, 0, 0))
    out.paste(Image.fromarray(image[..., :3]).resize((w * scale, h * scale), Image.Resampling.NEAREST), (0, band))
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=14)
    draw.text((4, 1), caption, fill=(230, 230, 230), font=font)
    draw.text((4, 18), line, fill=color, font=font)
    return np.asarray(out)


def side_by_side(tiles: list[np.ndarray], gap: int = 6) -> np.ndarray:
    height = max(t.shape[0] for t in tiles)
    padded = [np.pad(t, ((0, height - t.shape[0]), (0, gap), (0, 0))) for t in tiles]
    return np.concatenate(padded, axis=1)[:, :-gap]


def attack_tiles(model: str, image: np.ndarray, results: list[AttackResult], label: int | None) -> list[np.ndarray]:
    """original | per attack: its change (amplified) and its adversarial image."""
    names = class_names()
    before = results[0].before
    top = int(np.argmax(before))
    line = f"{names[top][:28]} {before.max():.2f}"
    tiles = [tile(image, f"original ({model})", line, GREEN if top == label else RED)]
    for r in results:
        t = r.top()
        tiles.append(tile(r.perturbation_image(), f"{r.method} change x{127 / max(1, r.linf):.0f}",
                          f"L-inf {r.linf}/255  L2 {r.l2:.0f}/255", GREY))  # fmt: skip
        line = f"{names[t.indices[0]][:28]} {t.probabilities[0]:.2f}"
        tiles.append(tile(r.adversarial, f"{r.method} image", line, RED if r.fooled else GREEN))
    return tiles


def pose_tile(image: np.ndarray, probabilities: np.ndarray, caption: str, fooled: bool) -> np.ndarray:
    top = int(np.argmax(probabilities))
    return tile(image, caption[:40], f"{class_names()[top][:28]} {probabilities[top]:.2f}", RED if fooled else GREEN)


def pose_attack_record(start: Pose, best: Pose, probabilities: np.ndarray, fooled: bool,
                       seconds: float | None = None) -> dict:  # fmt: skip
    """The pose attack beside the pixel attacks, as the attack JSON holds it."""
    top = int(np.argmax(probabilities))
    changed = {n: round(best[n] - start[n], 2) for n in NAMES if abs(best[n] - start[n]) > 1e-6}
    top1 = {"index": top, "label": class_names()[top], "probability": round(float(probabilities[top]), 6)}
    record = {"fooled": fooled, "pose": best.to_dict(), "changed": changed, "top1": top1}
    if seconds is not None:
        record["seconds"] = round(seconds, 3)
    return record


def write_attack(folder: Path, prefix: str, tiles: list[np.ndarray], results: list[AttackResult], record: dict) -> Path:
    """PREFIX-attack.png (the sheet), PREFIX-attack-METHOD.png (each adversarial image, exactly
    what was classified) and PREFIX-attack.json; returns the sheet's path."""
    suffixes = (".png", ".json", *(f"-{r.method}.png" for r in results))
    sheet_png = png_bytes(side_by_side(tiles))
    stem, sheet = claim_stem(folder, f"{prefix}-attack", suffixes, lambda p: write_new(p, sheet_png))
    for r in results:
        write_new(folder / f"{stem}-{r.method}.png", png_bytes(r.adversarial))
    write_new(folder / f"{stem}.json", json.dumps(record, indent=2).encode())
    return sheet


def write_fragility(folder: Path, prefix: str, result: FragilityResult, record: dict) -> Path:
    """PREFIX-fragility.json (``record`` plus every map), -maps.png (the maps over the view) and
    -fri.png (FRI fraction against crop size); returns the JSON's path."""
    from app.lenses.plots import plot_fractions, plot_maps

    doc = {**record, "model": result.model, "criterion": result.criterion, "seconds": round(result.seconds, 2),
           "maps": [m.to_dict() for m in result.maps]}  # fmt: skip
    data = json.dumps(doc).encode()
    stem, path = claim_stem(folder, f"{prefix}-fragility", (".json", "-maps.png", "-fri.png"),
                            lambda p: write_new(p, data))  # fmt: skip
    write_new(folder / f"{stem}-maps.png", plot_maps(result))
    write_new(folder / f"{stem}-fri.png", plot_fractions(result))
    return path
