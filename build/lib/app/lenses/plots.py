"""Figures of a fragility run (matplotlib, Agg): the maps over the view, and FRI fractions
against crop size as in the paper's plot.  Both return PNG bytes."""

from __future__ import annotations

import io

import numpy as np

from app.lenses.fragility import KINDS, FragilityMap, FragilityResult

TITLES = {"correct": "correct", "loose_shift": "loose FRI, shift", "strict_shift": "strict FRI, shift",
          "loose_shrink": "loose FRI, shrink", "strict_shrink": "strict FRI, shrink"}  # fmt: skip


def _figure(rows: int, cols: int, inches: tuple[float, float]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.subplots(rows, cols, figsize=(inches[0] * cols, inches[1] * rows), squeeze=False,
                             layout="constrained")  # fmt: skip


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def map_extent(m: FragilityMap) -> tuple[float, float, float, float]:
    """Where a map's cells lie over the image (left, right, bottom, top), see FragilityMap.cells."""
    cx, cy, hx, hy = m.cells()
    return cx[0] - hx, cx[-1] + hx, cy[-1] + hy, cy[0] - hy


def layer(m: FragilityMap, what: str) -> np.ndarray:
    """(ny, nx) bool map: ``correct`` or an FRI kind."""
    return m.correct if what == "correct" else m.fri(what)


def plot_maps(result: FragilityResult) -> bytes:
    """One row per crop size: the correctness map and the four FRI maps over the view."""
    from matplotlib.colors import ListedColormap

    what = ["correct", *KINDS]
    h, w = result.image.shape[:2]
    plt, (fig, axes) = _figure(max(1, len(result.maps)), len(what), (3.2, 3.2 * h / w + 0.4))
    for row, m in enumerate(result.maps):
        for col, name in enumerate(what):
            ax = axes[row][col]
            ax.imshow(result.image)
            data = layer(m, name).astype(float)
            colours = ["#c0392b", "#27ae60"] if name == "correct" else ["#00000000", "#f1c40f"]
            ax.imshow(data, extent=map_extent(m), cmap=ListedColormap(colours), vmin=0, vmax=1, alpha=0.55,
                      interpolation="nearest")  # fmt: skip
            ax.set_xlim(0, w)
            ax.set_ylim(h, 0)
            ax.set_xticks([])
            ax.set_yticks([])
            frac = data.mean()
            ax.set_title(f"{TITLES[name]}: {100 * frac:.1f}%\ncrop {m.relative:.2f} ({m.size} px)", fontsize=9)
    if not result.maps:
        axes[0][0].text(0.5, 0.5, "no map (stopped)", ha="center")
    return _png(plt, fig)


def plot_fractions(result: FragilityResult) -> bytes:
    """FRI fraction (and correct fraction) against crop size."""
    plt, (fig, axes) = _figure(1, 2, (5.0, 3.6))
    sizes = [m.relative for m in result.maps]
    for kind, style in zip(KINDS, ("-o", "--o", "-s", "--s"), strict=True):
        axes[0][0].plot(sizes, [100 * m.fractions()[kind] for m in result.maps], style, label=TITLES[kind])
    axes[0][0].set_xlabel("crop size (fraction of the shorter image side)")
    axes[0][0].set_ylabel("FRIs (% of crop positions)")
    axes[0][0].legend(fontsize=8)
    axes[0][0].set_title(f"fragile recognition: {result.model}, {result.criterion}")
    axes[0][1].plot(sizes, [100 * m.fractions()["correct"] for m in result.maps], "-o", color="#27ae60")
    axes[0][1].set_xlabel("crop size (fraction of the shorter image side)")
    axes[0][1].set_ylabel("correct crops (%)")
    axes[0][1].set_ylim(-2, 102)
    return _png(plt, fig)
