"""The study's finite-difference baseline: central differences per parameter, gradient ascent.

Angles are handled as (cos, sin) pairs by differentiating in the unit cube where a
circular parameter wraps, which is the same local geometry.
"""

from __future__ import annotations

import numpy as np

from app.search.registry import Method, Option, register


@register
class FiniteDifferences(Method):
    name = "fd"
    label = "finite differences"
    summary = "the study's finite differences, then gradient ascent"
    order = 3
    options = (
        Option("step", "the difference step in the unit cube", float, 0.001, above=True),
        Option("lr", "the ascent's learning rate", float, 0.001, above=True, high=1e6),
    )

    def run(self, t, seed, stop_on_success, gradient, *, step: float, lr: float) -> None:
        x = t.space.to_unit(t.space.base)
        while True:
            probes = []
            for i in range(t.space.dim):
                for sign in (1.0, -1.0):
                    y = x.copy()
                    y[i] += sign * step
                    probes.append(t.space.from_unit(y))
            scores = t.score(probes)
            with np.errstate(invalid="ignore"):  # -inf - -inf where the classifier gave no answer
                grad = (scores[0::2] - scores[1::2]) / (2 * step)
            grad = np.where(np.isfinite(grad), grad, 0.0)
            x = t.space.to_unit(t.space.from_unit(x + lr * grad))
            t.score([t.space.from_unit(x)])
            if t.step_done(t.space.from_unit(x)) or (stop_on_success and t.success):
                return
