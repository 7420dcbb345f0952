"""Pose-space sweeps: render many poses in batches, classify them with several models, keep every row.

A :class:`SweepPlan` says what to sample: random poses uniform over the declared ranges of
some parameter groups (angles over the full circle, depth over its range, the centre
anywhere inside the view), or a regular grid over chosen parameters.  Parameters that are
not sampled keep the object's canonical pose.  Pose ``i`` of an object depends only on
the plan, the object's name and ``i`` (and, for random plans, the first ``n`` poses of a
longer plan are the same), so a sweep can stop at any time and go on where it stopped.

:class:`SweepStore` keeps a sweep on disk: ``sweep.json`` (the plan) and ``rows.csv``
(one row per pose and model, appended batch by batch).  :func:`run_sweep` does the work
for whatever rows are missing; it renders each pose once per input size and runs every
model of that size on the same frames.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from app.core.files import FolderLock, write_new
from app.core.imagenet import class_names
from app.core.params import INDEX, NAMES, PARAM_BY_NAME, Pose, params_in_groups
from app.render.frames import FrameReader, render_batch
from app.render.renderer import Renderer
from app.render.settings import RenderSettings
from app.render.targets import OffscreenTarget
from app.scene.library import LibraryObject, ObjectNotFound, resolve_object
from app.scene.mesh import MESH_SUFFIXES, Mesh, MeshError
from app.vision.classifiers import Classifier
from app.vision.streams import StreamPool

SWEEP_FORMAT = "strike-a-pose/sweep"
SWEEP_VERSION = 1
PLAN_FILE = "sweep.json"
ROWS_FILE = "rows.csv"
TOPK = 5
MAX_POSES = 10_000_000  # per object: 1.8 GB of rows.csv per model, about 2 days per model at 50 poses/s
ROW_FIELDS: tuple[str, ...] = (
    "object", "index", "model", *NAMES, "true_class", "true_prob", "true_rank",
    *(f"top{k}" for k in range(1, TOPK + 1)), *(f"p{k}" for k in range(1, TOPK + 1)),
    "top1_label", "correct_top1", "correct_top5",
)  # fmt: skip


class SweepError(ValueError):
    """A sweep that cannot start or go on (bad plan, a folder that holds another sweep...)."""


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep samples.  ``grid`` (name, count) pairs make it a grid sweep; otherwise
    ``samples`` random poses over the parameters of ``groups``."""

    objects: tuple[str, ...]  # names: what rows, the report and the random streams call each object
    models: tuple[str, ...]
    samples: int = 0
    seed: int = 0
    groups: tuple[str, ...] = ("rotation", "translation")
    grid: tuple[tuple[str, int], ...] = ()
    settings: dict = field(default_factory=lambda: RenderSettings().to_dict())
    sources: dict = field(default_factory=dict)  # name -> mesh file, for objects not in the library
    classes: dict = field(default_factory=dict)  # name -> ImageNet class given with --class

    def __post_init__(self) -> None:
        if not self.objects:
            raise SweepError("a sweep needs at least one object")
        if len(set(self.objects)) != len(self.objects):
            raise SweepError(f"objects listed twice: {list(self.objects)}")
        for key, table in (("sources", self.sources), ("classes", self.classes)):
            stray = set(table) - set(self.objects)
            if stray:
                raise SweepError(f"{key} names object(s) the sweep does not hold: {sorted(stray)}")
        if not self.models:
            raise SweepError("a sweep needs at least one model")
        if len(set(self.models)) != len(self.models):
            raise SweepError(f"models listed twice: {list(self.models)}")
        if self.grid:
            for name, count in self.grid:
                if name not in PARAM_BY_NAME:
                    raise SweepError(f"unknown grid parameter {name!r}; known: {', '.join(NAMES)}")
                if not isinstance(count, int) or count < 1:
                    raise SweepError(f"grid parameter {name} needs a whole number of steps >= 1, got {count!r}")
            if len({n for n, _ in self.grid}) != len(self.grid):
                raise SweepError("a grid parameter is listed twice")
            object.__setattr__(self, "samples", math.prod(c for _, c in self.grid))
        else:
            if not isinstance(self.samples, int) or self.samples < 1:
                raise SweepError(f"a random sweep needs --samples >= 1, got {self.samples!r}")
            try:
                params_in_groups(self.groups)
            except ValueError as e:
                raise SweepError(str(e)) from None
        if self.samples > MAX_POSES:
            raise SweepError(
                f"{self.samples:,} poses per object is more than a sweep holds ({MAX_POSES:,}: rows.csv takes "
                f"about 180 bytes a row); split the grid or the samples into several sweeps"
            )
        RenderSettings.from_dict(dict(self.settings))  # validates

    @classmethod
    def of_objects(cls, objects: Sequence[LibraryObject], **fields) -> SweepPlan:
        """A plan over these objects, each known by its name, with where each mesh file lies
        and each class given on the command line, so a resumed sweep finds them again.
        Two objects of one name (``a/chair.obj`` and ``b/chair.obj``) would share rows: refused."""
        names = [o.name for o in objects]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            same = ", ".join(o.ref for o in objects if o.name in twice)
            raise SweepError(f"two objects are named {twice[0]!r} ({same}): rows and reports know an object by "
                             "its name; rename a file or add it to the library under another name")  # fmt: skip
        return cls(objects=tuple(names), sources={o.name: o.ref for o in objects if not o.in_library},
                   classes={o.name: o.imagenet_class for o in objects if o.imagenet_class is not None
                            and (not o.in_library or o.imagenet_class != _library_class(o.name))},
                   **fields)  # fmt: skip

    def resolve(self, name: str) -> LibraryObject:
        """Object ``name`` of this plan: from its mesh file or the library, with its class."""
        return resolve_object(self.sources.get(name, name)).with_class(self.classes.get(name))

    @property
    def mode(self) -> str:
        return "grid" if self.grid else "random"

    @property
    def varied(self) -> tuple[str, ...]:
        """The parameters that change from pose to pose, in declaration order."""
        names = {n for n, c in self.grid if c > 1} if self.grid else {p.name for p in params_in_groups(self.groups)}
        return tuple(n for n in NAMES if n in names)

    def render_settings(self) -> RenderSettings:
        return RenderSettings.from_dict(dict(self.settings))

    def vectors(self, base: Pose, indices: Sequence[int] | None = None, stream: str = "") -> np.ndarray:
        """Poses ``indices`` (default: all) of this plan as (n, len(NAMES)) vectors; the
        parameters the plan does not vary come from ``base``.  Random poses are drawn from
        the seed and ``stream`` (the object's name), so objects do not share poses."""
        idx = np.arange(self.samples) if indices is None else np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.samples):
            raise SweepError(f"pose index out of range 0..{self.samples - 1}")
        out = np.tile(base.vector, (idx.size, 1))
        if not idx.size:
            return out
        if self.grid:
            cells = np.unravel_index(idx, [c for _, c in self.grid])  # C order == itertools.product order
            for (name, count), cell in zip(self.grid, cells, strict=True):
                out[:, INDEX[name]] = grid_values(name, count, base)[cell]
            return out
        params = params_in_groups(self.groups)
        # Pose i is draws i*k .. i*k+k-1 of one stream (k parameters), whichever poses are asked
        # for: jump to the first pose asked for and draw from there to the last.
        rng = np.random.default_rng([self.seed, zlib.crc32(stream.encode())])
        lo, hi = int(idx.min()), int(idx.max())
        rng.bit_generator.advance(lo * len(params))
        u = rng.random((hi - lo + 1, len(params)))[idx - lo]
        for j, p in enumerate(params):
            out[:, INDEX[p.name]] = p.low + u[:, j] * p.span
        return out

    def poses(self, base: Pose, indices: Sequence[int] | None = None, stream: str = "") -> list[Pose]:
        return [Pose.from_vector(v) for v in self.vectors(base, indices, stream)]

    def to_dict(self) -> dict:
        return {
            "format": SWEEP_FORMAT,
            "version": SWEEP_VERSION,
            "objects": list(self.objects),
            "models": list(self.models),
            "mode": self.mode,
            "samples": self.samples,
            "seed": self.seed,
            "groups": list(self.groups),
            "grid": [[n, c] for n, c in self.grid],
            "settings": dict(self.settings),
            "sources": dict(self.sources),
            "classes": dict(self.classes),
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "sweep") -> SweepPlan:
        if not isinstance(data, dict) or data.get("format") != SWEEP_FORMAT:
            raise SweepError(f"{source}: not a sweep plan (format {SWEEP_FORMAT!r} expected)")
        if data.get("version") != SWEEP_VERSION:
            raise SweepError(f"{source}: sweep version {data.get('version')!r} is not supported")
        try:
            objects, sources = _named(data["objects"], dict(data.get("sources", {})))
            return cls(
                objects=objects,
                sources=sources,
                classes={str(k): int(v) for k, v in dict(data.get("classes", {})).items()},
                models=tuple(data["models"]),
                samples=int(data["samples"]),
                seed=int(data["seed"]),
                groups=tuple(data["groups"]),
                grid=tuple((str(n), int(c)) for n, c in data["grid"]),
                settings=dict(data["settings"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise SweepError(f"{source}: broken sweep plan ({e})") from None


def _library_class(name: str) -> int | None:
    try:
        return resolve_object(name).imagenet_class
    except (ObjectNotFound, MeshError):
        return None


def _named(objects: Iterable[str], sources: dict) -> tuple[tuple[str, ...], dict]:
    """Plans written before 0.3 listed a mesh file by its path, while rows named it by its
    stem: the path becomes a source and the stem the name."""
    names = []
    for entry in objects:
        entry = str(entry)
        if "/" in entry or entry.lower().endswith(MESH_SUFFIXES):
            name = Path(entry).stem
            sources.setdefault(name, entry)
            entry = name
        names.append(entry)
    return tuple(names), sources


def grid_values(name: str, count: int, base: Pose) -> np.ndarray:
    """``count`` evenly spaced values of one parameter: over the full circle for angles
    (no duplicate end point), end to end for the others, the base value for ``count`` 1."""
    p = PARAM_BY_NAME[name]
    if count == 1:
        return np.array([base[name]])
    if p.circular:
        return p.low + p.span * np.arange(count) / count
    return np.linspace(p.low, p.high, count)


def parse_grid(text: str) -> tuple[tuple[str, int], ...]:
    """``yaw=36,pitch=18`` -> (("yaw", 36), ("pitch", 18))."""
    out = []
    for part in (t.strip() for t in text.split(",")):
        if not part:
            continue
        name, sep, count = part.partition("=")
        if not sep or not count.strip().isdigit():
            raise SweepError(f"grid entries are NAME=STEPS (e.g. yaw=36,pitch=18), got {part!r}")
        out.append((name.strip(), int(count)))
    if not out:
        raise SweepError("an empty grid")
    return tuple(out)


# ------------------------------------------------------------------ rows


def prediction_rows(
    obj: str, model: str, indices: Sequence[int], vectors: np.ndarray, probs: torch.Tensor, true_class: int
) -> list[dict]:
    """One row per pose from (N, 1000) probabilities."""
    top = torch.topk(probs, TOPK, dim=1)
    true_p = probs[:, true_class]
    ranks = (probs > true_p[:, None]).sum(dim=1) + 1
    top_i, top_p = top.indices.cpu().numpy(), top.values.float().cpu().numpy()
    true_p, ranks = true_p.float().cpu().numpy(), ranks.cpu().numpy()
    names = class_names()
    rows = []
    for n, index in enumerate(indices):
        row = {"object": obj, "index": int(index), "model": model}
        row.update({name: f"{v:.10g}" for name, v in zip(NAMES, vectors[n], strict=True)})
        row.update(true_class=true_class, true_prob=f"{true_p[n]:.6g}", true_rank=int(ranks[n]))
        row.update({f"top{k + 1}": int(top_i[n, k]) for k in range(TOPK)})
        row.update({f"p{k + 1}": f"{top_p[n, k]:.6g}" for k in range(TOPK)})
        row.update(
            top1_label=names[top_i[n, 0]],
            correct_top1=int(top_i[n, 0] == true_class),
            correct_top5=int(true_class in top_i[n]),
        )
        rows.append(row)
    return rows


def rows_csv(rows: Iterable[dict], header: bool = False) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=ROW_FIELDS, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def complete_lines(f: Iterable[str]) -> Iterator[str]:
    """The lines of a text file that end in a newline (a writer killed mid-row leaves a torn last one)."""
    for line in f:
        if line.endswith("\n"):
            yield line


def read_rows(path: Path) -> list[dict]:
    """The complete rows of a rows file as dicts (a torn last line, from a killed writer, is
    ignored).  About 5 KB a row: the report reads :class:`app.sweep.table.RowTable` instead."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(complete_lines(f))
        if tuple(reader.fieldnames or ()) != ROW_FIELDS:
            raise SweepError(f"{path}: unexpected columns; not a rows file of this version")
        return list(reader)


def read_row_keys(path: Path) -> Iterator[tuple[str, int, str]]:
    """(object, index, model) of each complete row, streamed."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(complete_lines(f))
        if tuple(next(reader, ())) != ROW_FIELDS:
            raise SweepError(f"{path}: unexpected columns; not a rows file of this version")
        for line, r in enumerate(reader, start=2):
            try:
                yield r[0], int(r[1]), r[2]
            except (IndexError, ValueError):
                raise SweepError(f"{path}, line {line}: not a row of a sweep") from None


# ------------------------------------------------------------------ store


def read_plan(folder: Path) -> SweepPlan:
    """The plan of the sweep in ``folder``, read without touching anything (a report reads
    a sweep while it runs)."""
    plan_path = folder / PLAN_FILE
    if not folder.is_dir():
        raise SweepError(f"no folder {folder}" if not folder.exists() else f"{folder} is a file, not a sweep folder")
    if not plan_path.is_file():
        raise SweepError(f"{folder} holds no sweep ({PLAN_FILE} is missing)")
    try:
        return SweepPlan.from_dict(json.loads(plan_path.read_text(encoding="utf-8")), str(plan_path))
    except json.JSONDecodeError as e:
        raise SweepError(f"{plan_path}: not JSON ({e})") from None


class SweepStore:
    """A sweep folder that this process writes: the plan and the rows so far; rows are
    appended, never rewritten.  The folder is held (:class:`app.core.files.FolderLock`) until
    :meth:`close`, so a second sweep cannot append the same rows beside this one."""

    def __init__(self, folder: Path, plan: SweepPlan, done: dict[tuple[str, str], set[int]], lock: FolderLock):
        self.folder, self.plan, self.done, self._lock = folder, plan, done, lock

    def close(self) -> None:
        """Let go of the folder."""
        self._lock.release()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    @property
    def rows_path(self) -> Path:
        return self.folder / ROWS_FILE

    @staticmethod
    def check_free(folder: Path) -> None:
        """Refuse a folder that holds a sweep already (it is never overwritten)."""
        if (folder / PLAN_FILE).exists() or (folder / ROWS_FILE).exists():
            raise SweepError(f"{folder} already holds a sweep; add --resume to go on with it, or choose another --out")

    @classmethod
    def create(cls, folder: Path, plan: SweepPlan) -> SweepStore:
        cls.check_free(folder)
        lock = FolderLock(folder, "sweep")
        try:
            cls.check_free(folder)  # again, now that no other sweep can start here
            write_new(folder / PLAN_FILE, (json.dumps(plan.to_dict(), indent=2) + "\n").encode())
            write_new(folder / ROWS_FILE, rows_csv([], header=True).encode())
        except BaseException:
            lock.release()
            raise
        return cls(folder, plan, {}, lock)

    @classmethod
    def open(cls, folder: Path) -> SweepStore:
        """An existing sweep, to go on with; a torn last row (the writer was killed) is cut off."""
        read_plan(folder)  # "holds no sweep" before the folder is held
        lock = FolderLock(folder, "sweep")
        try:
            plan, rows_path = read_plan(folder), folder / ROWS_FILE
            if not rows_path.is_file():
                write_new(rows_path, rows_csv([], header=True).encode())
            cut_torn_line(rows_path)
            done: dict[tuple[str, str], set[int]] = {}
            for obj, index, model in read_row_keys(rows_path):
                done.setdefault((obj, model), set()).add(index)
        except BaseException:
            lock.release()
            raise
        return cls(folder, plan, done, lock)

    def extend(self, samples: int) -> None:
        """Grow a random sweep to ``samples`` poses (the poses it has keep their indices)."""
        if samples == self.plan.samples:
            return
        if self.plan.grid or samples < self.plan.samples:
            raise SweepError(f"this sweep has {self.plan.samples} poses; it can only grow, and only a random one")
        self.plan = replace(self.plan, samples=samples)
        write_new(self.folder / PLAN_FILE, (json.dumps(self.plan.to_dict(), indent=2) + "\n").encode(), overwrite=True)

    def missing(self, obj: str, model: str) -> np.ndarray:
        """The pose indices of ``obj`` that ``model`` has no row for, ascending."""
        todo = np.ones(self.plan.samples, dtype=bool)
        have = self.done.get((obj, model), set())
        if have:
            done = np.fromiter(have, dtype=np.int64, count=len(have))
            todo[done[done < self.plan.samples]] = False
        return np.flatnonzero(todo)

    def append(self, rows: list[dict]) -> None:
        """Append whole rows in one write, flushed, so a kill loses at most a torn last line."""
        with open(self.rows_path, "a", encoding="utf-8", newline="") as f:
            f.write(rows_csv(rows))
            f.flush()
            os.fsync(f.fileno())
        for row in rows:
            self.done.setdefault((row["object"], row["model"]), set()).add(int(row["index"]))


def _ascending(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending.  (np.unique hashes in numpy 2.4: 9.6 s for 10 million
    indices here, against 0.2 s to sort.)"""
    if len(values) > 1 and not np.all(values[1:] > values[:-1]):
        values = np.sort(values)
        values = values[np.concatenate(([True], values[1:] != values[:-1]))]
    return values


def _among(indices: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Which of ``indices`` are in the ascending array ``sorted_set`` (O(n log N), not O(N))."""
    at = np.minimum(np.searchsorted(sorted_set, indices), max(len(sorted_set) - 1, 0))
    return sorted_set[at] == indices if len(sorted_set) else np.zeros(len(indices), dtype=bool)


def cut_torn_line(path: Path) -> None:
    """Truncate ``path`` after its last newline (a row half-written when a sweep was killed)."""
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


# ------------------------------------------------------------------ running


@dataclass
class SweepProgress:
    object: str
    rows_done: int
    rows_total: int
    correct: dict[str, tuple[int, int]]  # model -> (top-1 correct, rows) so far in this run


class _SizeGroup:
    """Offscreen targets at one input size (one is rendered while the others' frames are
    classified: one per stream, plus one) and the models that read them."""

    def __init__(
        self, ctx, size: int, quality: str, device: torch.device, batch: int, models: list[Classifier], count: int
    ):
        self.targets = [OffscreenTarget(ctx, size, size, quality) for _ in range(count)]
        self.readers = [FrameReader(t, device, slots=batch) for t in self.targets]
        self.models = models

    def release(self) -> None:
        for t in self.targets:
            t.release()


def _take(waiting: tuple[_Batch, Future]) -> tuple[_Batch, list[list[dict]]]:
    return waiting[0], waiting[1].result()


@dataclass
class _Batch:
    """Rendered frames of some poses of one object, per input size, waiting for their models."""

    obj: LibraryObject
    indices: np.ndarray  # int64, ascending
    vectors: np.ndarray
    frames: list[tuple[torch.Tensor, list[Classifier]]]


def run_sweep(
    plan: SweepPlan,
    objects: Sequence[LibraryObject],
    models: Sequence[Classifier],
    sink: Callable[[list[dict]], None],
    missing: Callable[[str, str], list[int]],
    ctx=None,
    batch: int = 32,
    report: Callable[[SweepProgress], None] | None = None,
    stop: threading.Event | None = None,
    worker_init: Callable[[], None] | None = None,
    streams: int = 1,
    meshes: Mapping[str, Mesh] | None = None,
) -> int:
    """Render and classify the missing rows of ``plan``; ``sink`` receives each batch's rows.

    ``missing(object, model)`` lists the pose indices still to do.  Each pose is rendered
    once per input size and the models of that size share the frames.  The next batch is
    rendered (on this thread, which owns the GL context) while ``streams`` worker threads
    classify the last ones, each batch on one worker, and rows are sunk in pose order
    (``worker_init`` runs first on each worker).  On the CPU, several streams share torch's
    threads out among them (:class:`app.vision.streams.StreamPool`).
    ``stop`` ends the run between batches; every row computed is sunk.  ``meshes``: objects
    already loaded, by name (the window's atlas maps the mesh it shows), the rest are loaded.
    Returns the number of rows made.
    """
    from app.render.glcontext import create_headless_context

    for obj in objects:
        if obj.imagenet_class is None:
            raise SweepError(f"{obj.name} has no ImageNet class, so correctness cannot be measured")
    if streams < 1:
        raise SweepError(f"streams must be >= 1, got {streams}")
    own_ctx = ctx is None
    ctx = ctx or create_headless_context()
    try:
        run = _SweepRun(ctx, plan, objects, models, missing, batch, streams, meshes)
        try:
            return run.run(sink, report, stop, worker_init)
        finally:
            run.release()
    finally:
        if own_ctx:
            ctx.release()


class _SweepRun:
    """One call of :func:`run_sweep`: the rows to do, rendered in batches and classified beside."""

    def __init__(self, ctx, plan: SweepPlan, objects, models, missing, batch: int, streams: int, meshes):
        self.plan, self.objects, self.models, self.meshes = plan, objects, models, meshes
        self.batch, self.streams, self.slots = batch, streams, streams + 1
        self.settings = plan.render_settings()
        self.renderer = Renderer(ctx)
        by_size: dict[int, list[Classifier]] = {}
        for clf in models:
            by_size.setdefault(clf.input_size, []).append(clf)
        self.groups = [_SizeGroup(ctx, s, self.settings.quality, models[0].device, batch, m, self.slots)
                       for s, m in by_size.items()]  # fmt: skip
        self.todo = {(o.name, m.name): _ascending(np.asarray(missing(o.name, m.name), dtype=np.int64))
                     for o in objects for m in models}  # fmt: skip
        self.total = sum(len(v) for v in self.todo.values())
        self.made = 0
        self.correct = {m.name: (0, 0) for m in models}

    def run(self, sink, report, stop, worker_init) -> int:
        with StreamPool(self.streams, self.models[0].device, worker_init) as pool:
            waiting: list[tuple[_Batch, Future]] = []
            try:
                for b in self.render(stop):  # rendering this batch overlapped the classification of the last
                    if len(waiting) == self.streams:
                        self.deliver(*_take(waiting.pop(0)), sink, report)
                    waiting.append((b, pool.submit(self.classify, b)))
            finally:  # also on Ctrl-C or an error: the batches being classified are kept
                while waiting:
                    self.deliver(*_take(waiting.pop(0)), sink, report)
        return self.made

    def render(self, stop: threading.Event | None) -> Iterator[_Batch]:
        slot = 0
        for obj in self.objects:
            pending = _ascending(np.concatenate([self.todo[obj.name, m.name] for m in self.models]))
            if not len(pending):
                continue
            meshes = self.meshes
            self.renderer.set_mesh(meshes[obj.name] if meshes and obj.name in meshes else obj.load())
            for start in range(0, len(pending), self.batch):
                if stop is not None and stop.is_set():
                    return
                indices = pending[start : start + self.batch]
                vectors = self.plan.vectors(obj.canonical_pose, indices, stream=obj.name)
                poses = [Pose.from_vector(v) for v in vectors]
                frames = []
                for group in self.groups:
                    wanted = [m for m in group.models if _among(indices, self.todo[obj.name, m.name]).any()]
                    if wanted:
                        frames.append((render_batch(self.renderer, group.readers[slot], poses, self.settings), wanted))
                slot = (slot + 1) % self.slots
                yield _Batch(obj, indices, vectors, frames)

    def classify(self, b: _Batch) -> list[list[dict]]:
        out = []
        for frames, wanted in b.frames:
            for clf in wanted:
                keep = _among(b.indices, self.todo[b.obj.name, clf.name])
                probs = clf.probabilities(frames)[np.flatnonzero(keep).tolist()]
                out.append(
                    prediction_rows(b.obj.name, clf.name, b.indices[keep], b.vectors[keep], probs, b.obj.imagenet_class)
                )
        return out

    def deliver(self, b: _Batch, results: list[list[dict]], sink, report) -> None:
        for rows in results:
            sink(rows)
            self.made += len(rows)
            name = rows[0]["model"]
            good, seen = self.correct[name]
            self.correct[name] = (good + sum(r["correct_top1"] for r in rows), seen + len(rows))
        if report is not None:
            report(SweepProgress(b.obj.name, self.made, self.total, dict(self.correct)))

    def release(self) -> None:
        for group in self.groups:
            group.release()
        self.renderer.release()
