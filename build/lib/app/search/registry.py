"""The search methods, each declared once in a file of :mod:`app.search.methods`.

A method is a subclass of :class:`Method` decorated with :func:`register`: its name, the
label the panel shows, a one-line summary for the command line's help and the docs, and
its own :class:`Option` s.  The command line's ``--method`` choices and flags, the panel's
method combo and option widgets, and the defaults all read this registry, so adding a
method is adding one file to ``app/search/methods/``.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from app.search.space import Goal, SearchError, SearchSpace

if TYPE_CHECKING:
    from app.search.tracker import Tracker

METHODS_PACKAGE = "app.search.methods"  # every module in it is a method
GRADIENT_GL = 400  # the gradient's visibility pass reads texture levels with textureQueryLod (OpenGL 4.0)
Gradient = Callable[[SearchSpace, Goal, np.ndarray], Any]  # app.pipeline.gradient.PoseGradient


@dataclass(frozen=True)
class Option:
    """One of a method's own options, declared once for the command line, the panel and the defaults.

    ``kind`` bool: a switch; float: a number in ``low..high`` (``above``: more than
    ``low``).  ``optional`` numbers may be None, the method's own default, which may
    depend on the goal: :meth:`suggested` is the value a panel starts its slider from."""

    name: str  # the keyword of :func:`app.search.run.search` and :meth:`Pipeline.search`
    help: str
    kind: type = float
    default: bool | float | None = None
    flag: str | None = None  # the command line's flag; None: not offered there
    label: str | None = None  # the panel's label; None: not offered there
    metavar: str = "VALUE"  # the command line's name for a number
    low: float = 0.0
    high: float = 1.0
    above: bool = False
    optional: bool = False
    panel_range: tuple[float, float] | None = None  # the panel slider's range (default low..high)
    suggest: Callable[[bool], float] | None = None  # optional numbers: the default for (targeted)

    def check(self, value: Any, method: str) -> Any:
        """``value`` if it is valid for this option, else a :class:`SearchError` naming it."""
        if value is None and (self.optional or self.default is None):
            return None
        if self.kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise SearchError(f"{method} option {self.name} must be true or false, got {value!r}")
            return bool(value)
        numbers = (int, np.integer) if self.kind is int else (int, float, np.integer, np.floating)
        ok = isinstance(value, numbers) and not isinstance(value, (bool, np.bool_))
        if ok:
            value = self.kind(value)
            ok = (value > self.low if self.above else value >= self.low) and value <= self.high
        if not ok:
            span = f"in ({self.low:g}, {self.high:g}]" if self.above else f"in {self.low:g}..{self.high:g}"
            raise SearchError(f"{method} option {self.name} must be a number {span}, got {value!r}")
        return value

    def suggested(self, targeted: bool) -> Any:
        return self.suggest(targeted) if self.suggest is not None else self.default


class Method:
    """A search method: subclasses set the class attributes and :meth:`run`."""

    name: ClassVar[str]
    label: ClassVar[str]  # as the panel shows it
    summary: ClassVar[str]  # one line for --help and the docs
    order: ClassVar[int] = 50  # where it is listed
    needs_gradient: ClassVar[bool] = False  # takes the re-shaded render's gradient (OpenGL 4.0)
    uses_cma: ClassVar[bool] = False  # imports the cma package (before the budget's clock starts)
    options: ClassVar[tuple[Option, ...]] = ()

    def run(self, t: Tracker, seed: int, stop_on_success: bool, gradient: Gradient | None, **options: Any) -> None:
        """Search until the tracker says to end (budget, stop) or, with ``stop_on_success``, the first success."""
        raise NotImplementedError

    @classmethod
    def option(cls, name: str) -> Option:
        for o in cls.options:
            if o.name == name:
                return o
        raise KeyError(name)

    @classmethod
    def resolve_options(cls, given: dict[str, Any]) -> dict[str, Any]:
        """Every option of the method: ``given`` (checked) over the defaults; an option the
        method does not have is a :class:`SearchError`."""
        unknown = set(given) - {o.name for o in cls.options}
        if unknown:
            known = ", ".join(o.name for o in cls.options) or "none"
            raise SearchError(f"the {cls.name} method has no option {', '.join(sorted(unknown))} (it has: {known})")
        return {o.name: o.check(given.get(o.name, o.default), cls.name) for o in cls.options}


_REGISTRY: dict[str, type[Method]] = {}
_DISCOVERED = threading.Lock()
_discovered = False


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: make ``cls`` a search method under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two search methods are named {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def _discover() -> None:
    """Import every module of :mod:`app.search.methods` once (each registers its method)."""
    global _discovered
    with _DISCOVERED:
        if _discovered:
            return
        methods = importlib.import_module(METHODS_PACKAGE)  # by name: the methods import this module
        for info in pkgutil.iter_modules(methods.__path__):
            importlib.import_module(f"{METHODS_PACKAGE}.{info.name}")
        _discovered = True


def methods() -> dict[str, type[Method]]:
    """The registered methods by name, in listing order."""
    _discover()
    return dict(sorted(_REGISTRY.items(), key=lambda item: (item[1].order, item[0])))


def method_names() -> tuple[str, ...]:
    return tuple(methods())


def get_method(name: str) -> type[Method]:
    found = methods().get(name)
    if found is None:
        raise SearchError(f"unknown method {name!r}; choose from {', '.join(method_names())}")
    return found


def default_method(device: torch.device | str, gl_version: int) -> str:
    """The method that fooled fastest in ``benchmarks/bench_search.py`` on this kind of
    machine: ``grad`` on the CPU (one gradient costs a few renders there, and it reaches
    targets at least as often as CMA-ES), ``cmaes`` with CUDA (a batch of 18 renders and
    classifications takes about 20 ms, a gradient step several times that) or below
    OpenGL 4.0."""
    return "grad" if torch.device(device).type == "cpu" and gl_version >= GRADIENT_GL else "cmaes"
