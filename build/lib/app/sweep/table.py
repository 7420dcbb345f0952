"""A sweep's rows as columns: what the report computes from.

``rows.csv`` read as a list of dicts costs about 5 KB a row (300,000 rows took 1.5 GB), so a
sweep of a few million rows could not be reported on a 24 GB machine.  :class:`RowTable`
keeps only the columns the report uses, as numpy arrays (about 150 bytes a row), and
:meth:`RowTable.read` streams the file in chunks.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.params import INDEX, NAMES
from app.sweep.sweep import ROW_FIELDS, SweepError, complete_lines

CHUNK = 65536


@dataclass
class RowTable:
    """Rows as columns; strings (object, model, top-1 label) as codes into name lists."""

    objects: list[str]
    models: list[str]
    labels: list[str]
    obj: np.ndarray  # int32 codes into objects
    model: np.ndarray  # int32 codes into models
    index: np.ndarray  # int64 pose index
    params: np.ndarray  # (n, len(NAMES)) float64; NaN where a row lacks the parameter
    true_prob: np.ndarray  # float64
    label: np.ndarray  # int32 codes into labels
    correct1: np.ndarray  # bool
    correct5: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.index)

    def take(self, rows: np.ndarray) -> RowTable:
        """The rows selected by a boolean mask or an index array, in that order."""
        return RowTable(
            self.objects, self.models, self.labels, self.obj[rows], self.model[rows], self.index[rows],
            self.params[rows], self.true_prob[rows], self.label[rows], self.correct1[rows], self.correct5[rows],
        )  # fmt: skip

    def where(self, obj: str | None = None, model: str | None = None) -> RowTable:
        """The rows of one object and/or one model (None: any)."""
        mask = np.ones(len(self), dtype=bool)
        if obj is not None:
            mask &= self.obj == (self.objects.index(obj) if obj in self.objects else -1)
        if model is not None:
            mask &= self.model == (self.models.index(model) if model in self.models else -1)
        return self.take(mask)

    def unique(self) -> RowTable:
        """One row per (object, index, model): the first, should the file hold a repeat."""
        if not len(self):
            return self
        key = (self.obj.astype(np.int64) * len(self.models) + self.model) * (int(self.index.max()) + 1) + self.index
        _, first = np.unique(key, return_index=True)
        return self.take(np.sort(first))

    def column(self, name: str) -> np.ndarray:
        return self.params[:, INDEX[name]]

    def pose_keys(self) -> np.ndarray:
        """One int64 per (object, index): the same pose of the same object under any model."""
        return self.obj.astype(np.int64) * (int(self.index.max(initial=0)) + 1) + self.index

    @classmethod
    def from_rows(cls, rows: Iterable[dict]) -> RowTable:
        """From row dicts as ``rows.csv`` holds them (strings) or as a sweep makes them."""
        builder = _Builder()
        for r in rows:
            builder.add(
                r["object"], r["model"], r["index"], [r.get(n, "nan") for n in NAMES], r["true_prob"],
                r["top1_label"], r["correct_top1"], r["correct_top5"],
            )  # fmt: skip
        return builder.table()

    @classmethod
    def read(cls, path: Path) -> RowTable:
        """The complete rows of a rows file, streamed (a torn last line is ignored)."""
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.reader(complete_lines(f))
            if tuple(next(reader, ())) != ROW_FIELDS:
                raise SweepError(f"{path}: unexpected columns; not a rows file of this version")
            at = {name: i for i, name in enumerate(ROW_FIELDS)}
            o, i, m, p, lab, c1, c5 = (at[k] for k in ("object", "index", "model", "true_prob", "top1_label",
                                                         "correct_top1", "correct_top5"))  # fmt: skip
            first = at[NAMES[0]]
            builder = _Builder()
            for line, r in enumerate(reader, start=2):
                if len(r) != len(ROW_FIELDS):
                    raise SweepError(f"{path}, line {line}: {len(r)} fields where a row has {len(ROW_FIELDS)}")
                try:
                    builder.add(r[o], r[m], r[i], r[first : first + len(NAMES)], r[p], r[lab], r[c1], r[c5])
                except ValueError as e:
                    raise SweepError(f"{path}, line {line}: {e}") from None
        return builder.table()


class _Builder:
    """Collects rows in Python lists and moves them to numpy every CHUNK rows."""

    def __init__(self) -> None:
        self.codes: tuple[dict[str, int], dict[str, int], dict[str, int]] = ({}, {}, {})
        self.parts: list[tuple[np.ndarray, ...]] = []
        self._reset()

    def _reset(self) -> None:
        self.cols: tuple[list, ...] = ([], [], [], [], [], [], [], [])

    def add(self, obj, model, index, params, true_prob, label, correct1, correct5) -> None:
        objects, models, labels = self.codes
        c = self.cols
        c[0].append(objects.setdefault(str(obj), len(objects)))
        c[1].append(models.setdefault(str(model), len(models)))
        c[2].append(int(index))
        c[3].append([float(v) for v in params])
        c[4].append(float(true_prob))
        c[5].append(labels.setdefault(str(label), len(labels)))
        c[6].append(str(correct1) == "1")
        c[7].append(str(correct5) == "1")
        if len(c[0]) >= CHUNK:
            self._flush()

    def _flush(self, always: bool = False) -> None:
        c = self.cols
        if c[0] or always:
            self.parts.append((
                np.array(c[0], np.int32), np.array(c[1], np.int32), np.array(c[2], np.int64),
                np.array(c[3], np.float64).reshape(-1, len(NAMES)), np.array(c[4], np.float64),
                np.array(c[5], np.int32), np.array(c[6], bool), np.array(c[7], bool),
            ))  # fmt: skip
        self._reset()

    def table(self) -> RowTable:
        self._flush(always=not self.parts)  # an empty table still has typed columns
        cols = [np.concatenate([p[k] for p in self.parts]) for k in range(8)]
        names = [list(d) for d in self.codes]  # dicts keep insertion order: code k is the k-th name
        return RowTable(*names, *cols)
