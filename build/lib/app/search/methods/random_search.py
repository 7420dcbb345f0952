"""Random search: batches of uniformly random poses of the space (the study's baseline)."""

from __future__ import annotations

import numpy as np

from app.search.registry import Method, Option, register

POPULATION = Option("population", "poses per batch", int, 18, low=1, high=10_000)


@register
class RandomSearch(Method):
    name = "random"
    label = "random"
    summary = "batches of 18 uniformly random poses"
    order = 2
    options = (POPULATION,)

    def run(self, t, seed, stop_on_success, gradient, *, population: int) -> None:
        rng = np.random.default_rng(seed)
        t.score([t.space.base])
        while True:
            poses = [t.space.from_unit(rng.random(t.space.dim)) for _ in range(population)]
            t.score(poses)
            if t.step_done(t.best) or (stop_on_success and t.success):
                return
