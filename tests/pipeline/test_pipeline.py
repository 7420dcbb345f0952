"""The render -> classify pipeline: warming up an object changes no search."""

from __future__ import annotations

import pytest

from app.search.space import Budget
from tests.conftest import load_scene


def test_warming_up_an_object_changes_no_search(ctx, frozen_classifier):
    """The window warms a new object's renders and gradient beside the view (as the search
    benchmark does); a search then finds exactly what it finds on a pipeline never warmed."""
    from app.pipeline.pipeline import Pipeline

    pipes = [Pipeline(frozen_classifier, ctx=ctx, batch=18) for _ in range(2)]
    try:
        with pytest.raises(RuntimeError, match="no object"):
            pipes[0].warm_up()
        results = []
        for pipe, warm in zip(pipes, (True, False), strict=True):
            obj, space, goal = load_scene(pipe, "minivan")
            if warm:
                pipe.warm_up(gradient=True)
                assert pipe._diff is not None  # the re-shader made and used
            results.append(pipe.search("grad", space, goal, Budget(iterations=2), seed=0))
        a, b = results
        assert a.best == b.best and a.best_score == b.best_score and a.evaluations == b.evaluations
    finally:
        for pipe in pipes:
            pipe.release()
