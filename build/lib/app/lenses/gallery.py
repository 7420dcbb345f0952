"""Pictures of an evolution archive: each elite as a PNG and a gallery sheet of the best."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.core.files import png_bytes, write_new
from app.core.imagenet import class_names
from app.lenses.cppn import Genome
from app.lenses.evolve import EvolveState, genome_image, genome_skin


def genome_picture(state: EvolveState, genome: Genome, pipe=None, size: int = 224) -> np.ndarray:
    """What the classifier sees for a genome of this run: the CPPN image, or (``pipe``: an
    :class:`app.pipeline.pipeline.Pipeline` holding the object) the object wearing the skin."""
    if state.kind == "image":
        return genome_image(genome, size)
    from app.core.params import Pose

    pipe.renderer.set_skin(genome_skin(genome))
    try:
        return pipe.render(Pose(state.pose))
    finally:
        pipe.renderer.set_skin(None)


def fitted(draw, text: str, font, width: float) -> str:
    """``text`` as drawn in ``width`` pixels: whole, or cut at a character with "..." after it."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text.rstrip() + "...", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "..."


def write_gallery(state: EvolveState, folder: Path, count: int, pipe=None, pictures: dict | None = None) -> Path:
    """elites/NNN-label.png for the ``count`` best elites and gallery.png (a grid with labels);
    existing files of earlier runs are kept: this run's names get a generation suffix.
    ``pictures``: the elites' pictures by class, already made (the window's gallery); only
    those are written, and no ``pipe`` is needed."""
    from PIL import Image, ImageDraw, ImageFont

    names = class_names()
    if pictures is None:
        best = state.best(count)
        size = pipe.classifier.input_size if pipe is not None else 224
    else:
        best = [(c, e) for c, e in state.best() if c in pictures][:count]
        size = next(iter(pictures.values())).shape[0] if pictures else 224
    tile, band, cols = size, 30, 6
    rows = max(1, -(-len(best) // cols))
    sheet = Image.new("RGB", (cols * tile, rows * (tile + band)), (20, 20, 20))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    elites = folder / "elites"
    for n, (c, e) in enumerate(best):
        picture = pictures[c] if pictures is not None else genome_picture(state, e.genome, pipe, size)
        label = names[c].replace("/", "-").replace(" ", "_")
        path = elites / f"{c:03d}-{label}-gen{state.generation}.png"
        if not path.exists():
            write_new(path, png_bytes(picture))
        x, y = (n % cols) * tile, (n // cols) * (tile + band)
        sheet.paste(Image.fromarray(picture), (x, y + band))
        draw.text((x + 3, y + 1), fitted(draw, names[c], font, tile - 6), fill=(230, 230, 230), font=font)
        draw.text((x + 3, y + 15), f"p {e.fitness:.3f} (gen {e.generation})", fill=(120, 220, 120), font=font)
    out = folder / f"gallery-gen{state.generation}.png"
    if not out.exists():
        write_new(out, png_bytes(np.asarray(sheet)))
    return out
