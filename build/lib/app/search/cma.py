"""CMA-ES from the ``cma`` package, shared by the ``cmaes`` method and ``grad``'s restarts."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from app.search.tracker import Tracker


def import_cma():
    """The ``cma`` package.  Its first import takes about 0.4 s (it imports matplotlib's
    pyplot), so :func:`app.search.run.search` makes it before the clock starts, and the
    window beside the view before the first search (:meth:`app.background.station.SearchStation.prepare`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not import matplotlib": plotting is not used
        import cma
    return cma


def cma_strategy(x0: np.ndarray, sigma: float, popsize: int, seed: int):
    """A CMA-ES (the ``cma`` package) at unit point ``x0``, seeded for repeatable runs."""
    opts = {"popsize": popsize, "seed": seed + 1, "verbose": -9, "bounds": [None, None]}  # cma: seed 0 = clock
    return import_cma().CMAEvolutionStrategy(x0, sigma, opts)


def generation(t: Tracker, es) -> bool:
    """Score one CMA-ES generation and tell it the scores; True when the search must end."""
    xs = es.ask()
    scores = t.score([t.space.from_unit(x) for x in xs])
    es.tell(xs, [-s if np.isfinite(s) else 1e9 for s in scores])  # cma minimises
    return t.step_done(t.space.from_unit(es.mean))
