"""CMA-ES (population 18) from the start pose: the study's strongest optimiser."""

from __future__ import annotations

from app.search.cma import cma_strategy, generation
from app.search.methods.random_search import POPULATION
from app.search.registry import Method, Option, register


@register
class CmaEs(Method):
    name = "cmaes"
    label = "CMA-ES"
    summary = "CMA-ES, population 18 (the default with CUDA)"
    order = 1
    uses_cma = True
    options = (POPULATION, Option("sigma", "the first step size, a fraction of the unit cube", float, 0.2, above=True))

    def run(self, t, seed, stop_on_success, gradient, *, population: int, sigma: float) -> None:
        es = cma_strategy(t.space.to_unit(t.space.base), sigma, population, seed)
        t.score([t.space.base])
        while not (generation(t, es) or (stop_on_success and t.success)):
            pass
