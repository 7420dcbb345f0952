"""Argument types and argument groups shared by the ``run.py`` commands.

Each type checks its value before any work starts (a model load, a render), so a bad
number or an unwritable folder is one ``error:`` line from argparse.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from app.scene.library import DEFAULT_OBJECT


def parse_size(text: str) -> tuple[int, int]:
    """``N`` or ``WxH`` pixels: (width, height)."""
    try:
        if "x" in text.lower():
            w, h = text.lower().split("x", 1)
            return int(w), int(h)
        return int(text), int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be N or WxH, got {text!r}") from None


def window_size(text: str) -> tuple[int, int]:
    """A window's ``WxH`` (or ``N``): each side 1..MAX_SIZE pixels."""
    from app.render.targets import MAX_SIZE

    w, h = parse_size(text)
    if not (1 <= w <= MAX_SIZE and 1 <= h <= MAX_SIZE):
        raise argparse.ArgumentTypeError(f"window size must be 1..{MAX_SIZE} pixels a side, got {text!r}")
    return w, h


def parse_budget(text: str) -> tuple[int | None, float | None]:
    """``5s``, ``40`` (iterations), ``40it`` or both (``40,5s``): (iterations, seconds)."""
    iterations = seconds = None
    try:
        for part in (p.strip().lower() for p in text.split(",")):
            if part.endswith("s") and seconds is None:
                seconds = float(part[:-1])
            elif iterations is None and not part.endswith("s"):
                iterations = int(part.removesuffix("it"))
            else:
                raise ValueError(part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"budget must be like 5s, 40 (iterations) or 40,5s; got {text!r}") from None
    return iterations, seconds  # search.Budget checks that they are positive


def whole(low: int, high: int | None = None, name: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number in low..high (checked before any work starts);
    ``name`` starts the message ("seed must be ...")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            span = f">= {low:,}" if high is None else f"in {low:,}..{high:,}"
            raise argparse.ArgumentTypeError(f"{name + ' ' if name else ''}must be a whole number {span}, got {text!r}")
        return value

    return parse


def writable_folder(text: str) -> Path:
    """An argparse type for an output folder: refuses, before any work is done, a path that
    is a file, lies inside a file, or lies in a folder this user cannot write."""
    path = Path(text)
    _refuse_unwritable(path, folder=True)
    return path


def writable_file(text: str) -> Path:
    """An argparse type for an output file: as :func:`writable_folder`, and refuses a folder."""
    path = Path(text)
    _refuse_unwritable(path, folder=False)
    return path


def _refuse_unwritable(path: Path, folder: bool) -> None:
    if path.is_dir() != folder and path.exists():
        raise argparse.ArgumentTypeError(f"{path} is a {'file' if folder else 'folder'}; give a "
                                         f"{'folder' if folder else 'file name'}")  # fmt: skip
    parent = path if folder and path.is_dir() else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{parent} is a file, so {path} cannot be made")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {parent} (permission denied)")
    try:  # root passes os.access everywhere, and /proc or a read-only mount only fail a real write
        with tempfile.TemporaryFile(dir=parent, prefix=".strike-a-pose-probe-"):
            pass
    except OSError as e:
        why = "it takes no new files" if e.errno == errno.ENOENT else e.strerror or str(e)
        raise argparse.ArgumentTypeError(f"cannot write in {parent} ({why})") from None


def number(low: float, high: float, *, above: bool = False, name: str = "") -> Callable[[str], float]:
    """An argparse type: a finite number in low..high (``above``: strictly more than low)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (math.isfinite(value) and (value > low if above else value >= low) and value <= high):
            span = f"in ({low:g}, {high:g}]" if above else f"in {low:g}..{high:g}"
            raise argparse.ArgumentTypeError(f"{name + ' ' if name else ''}must be a number {span}, got {text!r}")
        return value

    return parse


def positive(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def parse_color(text: str) -> tuple[float, float, float]:
    """``#rrggbb`` or ``r,g,b`` in [0, 1]: an RGB triple in [0, 1]."""
    t = text.strip().lstrip("#")
    try:
        if len(t) == 6 and "," not in t:
            return tuple(int(t[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]
        parts = [float(p) for p in t.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"colour must be #rrggbb or r,g,b in [0, 1], got {text!r}") from None
    if len(parts) != 3 or not all(0 <= p <= 1 for p in parts):
        raise argparse.ArgumentTypeError(f"colour must be #rrggbb or r,g,b in [0, 1], got {text!r}")
    return tuple(parts)  # type: ignore[return-value]


def parse_groups(text: str) -> list[str]:
    """``rotation,translation`` (or ``rot,trans``): parameter group names, checked by their users."""
    short = {"rot": "rotation", "trans": "translation"}
    return [short.get(g.strip(), g.strip()) for g in text.split(",") if g.strip()]


def seed_arg(p: argparse.ArgumentParser, help: str, default: int | None = 0) -> None:
    p.add_argument("--seed", type=whole(0, name="seed"), default=default, help=help)


def scene_args(p: argparse.ArgumentParser, several: bool = False) -> None:
    g = p.add_argument_group("scene")
    more = "; several: NAME,NAME... or all, each searched in turn" if several else ""
    g.add_argument("--object", help=f"library object name or mesh file path (default: {DEFAULT_OBJECT}){more}")
    g.add_argument("--class", dest="true_class", metavar="NAME|INDEX",
                   help="the object's ImageNet class, for a mesh file (which has none) or to replace a library "
                        "object's; a name as --target takes it (run.py objects lists the library's)")  # fmt: skip
    g.add_argument("--pose", type=Path, help="pose JSON file (default: the object's canonical pose)")
    g.add_argument("--set", nargs="+", metavar="NAME=VALUE", default=[], help="override pose parameters")
    g.add_argument("--no-texture", action="store_true", help="draw material colours only")
    g.add_argument("--cull", action="store_true", help="cull back faces")
    g.add_argument("--background", type=parse_color, help="background colour, #rrggbb or r,g,b (default white)")
    g.add_argument("--background-image", type=Path, help="image drawn behind the object (cover-cropped)")
    g.add_argument("--quality", choices=["auto", "fast", "high"], help="fast: no MSAA; high: 4x MSAA (default auto)")


def model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("classifier")
    g.add_argument("--model", help="auto (default), efficientnet_lite0, or a torchvision model name")
    g.add_argument("--weights", type=Path, help="state-dict file for --model (default: torch hub cache)")
    g.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    engine_arg(g)


def engine_arg(g) -> None:
    g.add_argument("--engine", choices=["auto", "torch", "openvino"], default="auto",
                   help="what runs the forward passes: auto (OpenVINO on the CPU when installed, torch on CUDA), "
                        "torch or openvino; gradients always use torch")  # fmt: skip


def method_option_args(p: argparse.ArgumentParser) -> None:
    """Each search method's own options that have a flag, as the method declares them
    (:mod:`app.search.registry`); :func:`method_options` reads them back."""
    from app.search.registry import methods

    g = p.add_argument_group("the search methods' own options")
    for m in methods().values():
        for o in m.options:
            if o.flag is None:
                continue
            dest = f"method_option:{m.name}:{o.name}"
            if o.kind is bool:
                g.add_argument(o.flag, dest=dest, action="store_true", default=None, help=f"{m.name}: {o.help}")
            else:
                parse = number(o.low, o.high, above=o.above, name=o.flag)
                g.add_argument(o.flag, dest=dest, type=parse, metavar=o.metavar, help=f"{m.name}: {o.help}")


def method_options(args: argparse.Namespace, method: str) -> dict:
    """The options of ``method`` given on the command line (:func:`method_option_args`); an
    option of another method is an ``argparse.ArgumentTypeError`` naming its flag."""
    from app.search.registry import methods

    given = {}
    for m in methods().values():
        for o in m.options:
            value = getattr(args, f"method_option:{m.name}:{o.name}", None)
            if value is None:
                continue
            if m.name != method:
                raise argparse.ArgumentTypeError(f"{o.flag} is for --method {m.name}, not {method}")
            given[o.name] = value
    return given
