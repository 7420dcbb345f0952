"""What a sweep measured: fractions correct, wrong labels, transfer between models, heatmaps.

Everything here is computed from the rows in ``rows.csv`` (never from the plan's hopes):
:func:`summarise` gives the numbers, :func:`write_report` writes ``report.json``,
``report.md`` (plots linked) and ``report.html`` (plots embedded) and ``plots/*.png``.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.files import write_new
from app.core.params import PARAM_BY_NAME
from app.sweep.sweep import ROWS_FILE, SweepError, SweepPlan, read_plan
from app.sweep.table import RowTable

# The study's figures (Alcorn et al., CVPR 2019): Inception-v3 classified 3.09% of random 6D
# poses correctly; 99.9% / 99.4% of the poses that fooled it also fooled AlexNet / ResNet-50.
STUDY_CORRECT = 3.09
STUDY_TRANSFER = {"alexnet": 99.9, "resnet50": 99.4}
PAIRS: tuple[tuple[str, str], ...] = (("yaw", "pitch"), ("yaw", "roll"), ("pitch", "roll"), ("x", "y"), ("yaw", "z"))
ALL = "all objects"
PLOTS = "plots"
PANEL_INCHES = (4.0, 3.6)
DPI = 100


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n (sound near 0 and 1, where sweeps live)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class Fraction:
    """Top-1 / top-5 correctness of one object (or all) under one model."""

    n: int
    top1: int
    top5: int
    mean_true_prob: float
    wrong_labels: list[tuple[str, int]]  # most frequent wrong top-1 labels, with counts

    def to_dict(self) -> dict:
        lo1, hi1 = wilson(self.top1, self.n)
        lo5, hi5 = wilson(self.top5, self.n)
        return {
            "n": self.n,
            "top1": self.top1 / self.n if self.n else None,
            "top1_ci95": [lo1, hi1],
            "top5": self.top5 / self.n if self.n else None,
            "top5_ci95": [lo5, hi5],
            "mean_true_prob": self.mean_true_prob,
            "wrong_labels": [[label, count] for label, count in self.wrong_labels],
        }


def as_table(rows: RowTable | Iterable[dict]) -> RowTable:
    return rows if isinstance(rows, RowTable) else RowTable.from_rows(rows)


def fraction(rows: RowTable, top_wrong: int = 5) -> Fraction:
    wrong = rows.label[~rows.correct1]
    codes, first, counts = np.unique(wrong, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))[:top_wrong]  # most frequent first; ties: seen first
    return Fraction(
        n=len(rows),
        top1=int(rows.correct1.sum()),
        top5=int(rows.correct5.sum()),
        mean_true_prob=float(rows.true_prob.mean()) if len(rows) else float("nan"),
        wrong_labels=[(rows.labels[codes[k]], int(counts[k])) for k in order],
    )


def transfer(rows: RowTable | Iterable[dict], models: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``m[a, b]``: of the poses that fool model a (wrong top-1), the fraction that fool model b
    too, over the poses both models have rows for; and the number of such poses ``n[a, b]``."""
    table = as_table(rows).unique()
    keys = table.pose_keys()
    by_model = []
    for m in models:
        mask = table.model == (table.models.index(m) if m in table.models else -1)
        by_model.append((keys[mask], ~table.correct1[mask]))
    k = len(models)
    frac, count = np.full((k, k), np.nan), np.zeros((k, k), dtype=np.int64)
    for a, (keys_a, wrong_a) in enumerate(by_model):
        for b, (keys_b, wrong_b) in enumerate(by_model):
            _, ia, ib = np.intersect1d(keys_a, keys_b, assume_unique=True, return_indices=True)
            fooled = wrong_a[ia]
            count[a, b] = int(fooled.sum())
            if count[a, b]:
                frac[a, b] = wrong_b[ib][fooled].mean()
    return frac, count


def heatmap_bins(name: str, plan: SweepPlan, poses: int) -> int:
    """Grid steps for a gridded parameter; otherwise as many cells as give about 8 poses per
    cell of a pair (4 to 24 per axis: 15-degree cells at most)."""
    for n, count in plan.grid:
        if n == name:
            return count
    return int(np.clip(math.sqrt(poses / 8), 4, 24))


def heatmap(rows: RowTable | Iterable[dict], a: str, b: str, bins: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 correctness binned over parameters a (columns) and b (rows): (fraction, count),
    both (bins_b, bins_a); cells without poses are NaN."""
    table = as_table(rows)
    pa, pb = PARAM_BY_NAME[a], PARAM_BY_NAME[b]
    va, vb = table.column(a), table.column(b)
    ok = table.correct1.astype(np.float64)
    ia = np.clip(((va - pa.low) / pa.span * bins[0]).astype(int), 0, bins[0] - 1)
    ib = np.clip(((vb - pb.low) / pb.span * bins[1]).astype(int), 0, bins[1] - 1)
    count = np.zeros((bins[1], bins[0]))
    good = np.zeros((bins[1], bins[0]))
    np.add.at(count, (ib, ia), 1)
    np.add.at(good, (ib, ia), ok)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, good / np.maximum(count, 1), np.nan), count


@dataclass
class Summary:
    plan: SweepPlan
    rows: int
    expected: int
    fractions: dict[tuple[str, str], Fraction]  # (object or ALL, model)
    transfer: np.ndarray
    transfer_n: np.ndarray
    pairs: list[tuple[str, str]]

    @property
    def complete(self) -> bool:
        return self.rows >= self.expected


def summarise(plan: SweepPlan, rows: RowTable | Iterable[dict]) -> Summary:
    """The numbers of the report; a repeated (object, index, model) row counts once."""
    rows = as_table(rows).unique()
    fractions: dict[tuple[str, str], Fraction] = {}
    for model in rows.models:
        of_model = rows.where(model=model)
        for obj in rows.objects:
            group = of_model.where(obj=obj)
            if len(group):
                fractions[(obj, model)] = fraction(group)
        fractions[(ALL, model)] = fraction(of_model)
    frac, count = transfer(rows, list(plan.models))
    varied = set(plan.varied)
    pairs = [(a, b) for a, b in PAIRS if a in varied and b in varied]
    expected = plan.samples * len(plan.objects) * len(plan.models)
    return Summary(plan, len(rows), expected, fractions, frac, count, pairs)


# ------------------------------------------------------------------ plots


def heatmaps(rows: RowTable, plan: SweepPlan, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple]:
    """Per parameter pair: (fraction, count) of :func:`heatmap` at the report's bins."""
    return {(a, b): heatmap(rows, a, b, (heatmap_bins(a, plan, len(rows)), heatmap_bins(b, plan, len(rows))))
            for a, b in pairs}  # fmt: skip


def plot_heatmaps(grids: dict[tuple[str, str], tuple], title: str, path: Path) -> Path:
    """One panel per parameter pair (:func:`heatmaps`): top-1 correctness per cell (grey: no poses there)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = (PANEL_INCHES[0] * len(grids), PANEL_INCHES[1])
    fig, axes = plt.subplots(1, len(grids), figsize=size, dpi=DPI, layout="constrained")
    axes = np.atleast_1d(axes)
    image = None
    for ax, ((a, b), (grid, _count)) in zip(axes, grids.items(), strict=True):
        pa, pb = PARAM_BY_NAME[a], PARAM_BY_NAME[b]
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#cccccc")
        image = ax.imshow(grid, origin="lower", extent=(pa.low, pa.high, pb.low, pb.high), aspect="auto",
                          vmin=0.0, vmax=1.0, cmap=cmap, interpolation="nearest")  # fmt: skip
        ax.set_xlabel(f"{a} ({pa.unit})" if pa.unit else a)
        ax.set_ylabel(f"{b} ({pb.unit})" if pb.unit else b)
    fig.suptitle(title, fontsize=10)
    fig.colorbar(image, ax=list(axes), fraction=0.03, pad=0.01, label="top-1 correct")
    buf = _png(fig)
    plt.close(fig)
    write_new(path, buf, overwrite=True)
    return path


def _cells(frac: np.ndarray, count: np.ndarray) -> dict:
    """A heatmap's numbers for report.json: rows are the second parameter's bins, from its low end."""
    return {"correct": [[None if math.isnan(v) else float(v) for v in row] for row in frac],
            "poses": count.astype(int).tolist()}  # fmt: skip


def plot_size(pairs: int) -> tuple[int, int]:
    """(height, width) in pixels of a heatmap figure with ``pairs`` panels."""
    return round(PANEL_INCHES[1] * DPI), round(PANEL_INCHES[0] * pairs * DPI)


def _png(fig) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


# ------------------------------------------------------------------ documents


def _pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _blocks(s: Summary, plots: dict[tuple[str, str], Path]) -> list[tuple]:
    """The report as blocks (heading / text / table / image) that both writers render."""
    plan = s.plan
    what = (
        f"grid over {', '.join(f'{n} ({c} steps)' for n, c in plan.grid)}"
        if plan.grid
        else f"{plan.samples} random poses per object over {', '.join(plan.varied)} (seed {plan.seed})"
    )
    state = "complete" if s.complete else f"**incomplete**: {s.rows} of {s.expected} rows (run sweep --resume)"
    out: list[tuple] = [
        ("h", 1, "Pose-space sweep"),
        (
            "p",
            f"{what}; other parameters at each object's canonical pose. {len(plan.objects)} object(s), "
            f"model(s) {', '.join(plan.models)}. {s.rows} rows, {state}.",
        ),  # fmt: skip
        ("h", 2, "Fraction of the pose space classified correctly"),
        ("p", "Top-1 and top-5 with 95% Wilson intervals, computed from the rows."),
    ]
    out.append(("table", ["object", "model", "poses", "top-1 correct", "top-5 correct", "mean true-class p"],
                _fraction_rows(s)))  # fmt: skip
    out.append(("h", 2, "Next to the study"))
    out.append(("table", ["measure", "study", "this sweep"], _study_rows(s)))
    out.append(("h", 2, "Most frequent wrong labels"))
    out.append(("table", ["object", "model", "wrong top-1 labels (share of the wrong poses)"], _wrong_rows(s)))
    if len(plan.models) > 1:
        out.append(("h", 2, "Transfer"))
        out.append(("p", "Row A, column B: of the poses that fool A (wrong top-1), the fraction that fool B too "
                         "(all objects; number of such poses in brackets)."))  # fmt: skip
        matrix = [
            [ma, *(f"{_pct(float(s.transfer[a, b]))} ({s.transfer_n[a, b]})" for b in range(len(plan.models)))]
            for a, ma in enumerate(plan.models)
        ]
        out.append(("table", ["fooled A \\ also fools B", *plan.models], matrix))
    if plots:
        out.append(("h", 2, "Where the model is right"))
        out.append(("p", "Top-1 correctness per cell of each parameter pair (yellow: always right, purple: never; "
                         "grey: no poses in the cell)."))  # fmt: skip
        for (obj, model), path in plots.items():
            out.append(("img", path, f"{obj} / {model}"))
    return out


def _fraction_rows(s: Summary) -> list[list[str]]:
    """Per object (and all objects) and model: poses, top-1 and top-5 with their intervals, mean true-class p."""
    rows = []
    for obj in [*s.plan.objects, ALL]:
        for model in s.plan.models:
            f = s.fractions.get((obj, model))
            if f is None:
                continue
            d = f.to_dict()
            rows.append([
                obj, model, str(f.n),
                f"{_pct(d['top1'])} [{_pct(d['top1_ci95'][0])}, {_pct(d['top1_ci95'][1])}]",
                f"{_pct(d['top5'])} [{_pct(d['top5_ci95'][0])}, {_pct(d['top5_ci95'][1])}]",
                f"{f.mean_true_prob:.3f}",
            ])  # fmt: skip
    return rows


def _study_rows(s: Summary) -> list[list[str]]:
    """This sweep's figures next to the study's."""
    plan = s.plan
    rows = [["Inception-v3, random 6D poses, top-1 correct", f"{STUDY_CORRECT:.2f}%", ""]]
    for model in plan.models:
        f = s.fractions.get((ALL, model))
        if f is not None:
            rows.append([f"{model}, this sweep, top-1 correct (all objects)", "", _pct(f.top1 / f.n if f.n else None)])
    for a, ma in enumerate(plan.models):
        for b, mb in enumerate(plan.models):
            if a != b and s.transfer_n[a, b]:
                rows.append([f"poses fooling {ma} that also fool {mb}", "", _pct(float(s.transfer[a, b]))])
    rows.append(["Inception-v3 failures that also fool AlexNet / ResNet-50", "99.9% / 99.4%", ""])
    return rows


def _wrong_rows(s: Summary) -> list[list[str]]:
    """Per object and model, the most frequent wrong top-1 labels with their share of the wrong poses."""
    rows = []
    for obj in [*s.plan.objects, ALL]:
        for model in s.plan.models:
            f = s.fractions.get((obj, model))
            if f is not None and f.n > f.top1:
                labels = ", ".join(f"{label} {100 * c / (f.n - f.top1):.0f}%" for label, c in f.wrong_labels)
                rows.append([obj, model, labels])
    return rows


def _markdown(blocks: list[tuple], folder: Path) -> str:
    lines = []
    for b in blocks:
        if b[0] == "h":
            lines += ["#" * b[1] + " " + b[2], ""]
        elif b[0] == "p":
            lines += [b[1], ""]
        elif b[0] == "table":
            lines.append("| " + " | ".join(b[1]) + " |")
            lines.append("|" + "---|" * len(b[1]))
            lines += ["| " + " | ".join(row) + " |" for row in b[2]]
            lines.append("")
        elif b[0] == "img":
            lines += [f"![{b[2]}]({b[1].relative_to(folder).as_posix()})", ""]
    return "\n".join(lines)


def _html(blocks: list[tuple]) -> str:
    parts = ["<!doctype html><meta charset='utf-8'><title>Pose-space sweep</title>",
             "<style>body{font-family:sans-serif;max-width:1400px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}img{max-width:100%}</style>"]  # fmt: skip
    for b in blocks:
        if b[0] == "h":
            parts.append(f"<h{b[1]}>{html.escape(b[2])}</h{b[1]}>")
        elif b[0] == "p":
            parts.append(f"<p>{html.escape(b[1]).replace('**', '')}</p>")
        elif b[0] == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b[1])
            body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in b[2])
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
        elif b[0] == "img":
            data = base64.b64encode(b[1].read_bytes()).decode()
            parts.append(
                f"<h3>{html.escape(b[2])}</h3><img alt='{html.escape(b[2])}' src='data:image/png;base64,{data}'>"
            )
    return "\n".join(parts) + "\n"


def write_report(folder: Path, plots: bool = True) -> Path:
    """Summarise the sweep in ``folder`` into report.json / .md / .html and plots/ (rewritten
    each time: they are derived from the rows).  Returns the Markdown file."""
    plan = read_plan(folder)  # only read: the sweep may be running and appending rows
    if not (folder / ROWS_FILE).is_file():
        raise SweepError(f"{folder} holds no rows ({ROWS_FILE} is missing)")
    rows = RowTable.read(folder / ROWS_FILE).unique()
    s = summarise(plan, rows)
    written: dict[tuple[str, str], Path] = {}
    cells: dict[tuple[str, str], dict] = {}
    if plots and s.pairs and len(rows):
        for obj in [*plan.objects, ALL]:
            for model in plan.models:
                group = rows.where(obj=None if obj == ALL else obj, model=model)
                if not len(group) or (obj == ALL and len(plan.objects) == 1):
                    continue
                f = s.fractions[(obj, model)]
                title = f"{obj} / {model}: top-1 correct {_pct(f.top1 / f.n)} of {f.n} poses"
                stem = "all" if obj == ALL else obj
                grids = heatmaps(group, plan, s.pairs)
                written[(obj, model)] = plot_heatmaps(grids, title, folder / PLOTS / f"{stem}-{model}.png")
                cells[(obj, model)] = {f"{a}|{b}": _cells(frac, count) for (a, b), (frac, count) in grids.items()}
    data = {
        "plan": plan.to_dict(),
        "rows": s.rows,
        "expected_rows": s.expected,
        "complete": s.complete,
        "fractions": {f"{obj}|{model}": f.to_dict() for (obj, model), f in s.fractions.items()},
        "transfer": {
            "models": list(plan.models),
            "fraction": [[None if math.isnan(x) else float(x) for x in row] for row in s.transfer],
            "poses": s.transfer_n.tolist(),
        },
        "heatmaps": {
            f"{o}|{m}": {"png": p.relative_to(folder).as_posix(), "pairs": s.pairs, "cells": cells[(o, m)]}
            for (o, m), p in written.items()
        },
        "study": {"correct_percent": STUDY_CORRECT, "transfer_percent": STUDY_TRANSFER},
    }
    blocks = _blocks(s, written)
    write_new(folder / "report.json", (json.dumps(data, indent=2) + "\n").encode(), overwrite=True)
    write_new(folder / "report.html", _html(blocks).encode(), overwrite=True)
    return write_new(folder / "report.md", _markdown(blocks, folder).encode(), overwrite=True)
