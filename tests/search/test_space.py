"""What every search shares: the space, the result's words, the default method."""

from __future__ import annotations

import math

import pytest
import torch

from app.core.params import PARAM_BY_NAME, Pose
from app.search.registry import default_method
from app.search.result import SearchResult
from app.search.space import Budget, SearchError, SearchSpace


def test_space_wraps_angles_and_clips_the_rest():
    space = SearchSpace(Pose(), ["rotation", "translation"])
    u = space.to_unit(Pose())
    u[0] = 1.25  # yaw a quarter turn past the end: wraps
    u[3] = 7.0  # x far outside: clipped to the edge of the view
    p = space.from_unit(u)
    assert p.yaw == pytest.approx(-90.0) and p.x == PARAM_BY_NAME["x"].high
    with pytest.raises(SearchError):
        SearchSpace(Pose(), [])
    with pytest.raises(Exception, match="unknown parameter group"):
        SearchSpace(Pose(), ["colour"])
    with pytest.raises(SearchError):
        Budget()
    for bad in (lambda: Budget(iterations=0), lambda: Budget(seconds=0.0), lambda: Budget(seconds=math.nan)):
        with pytest.raises(SearchError):
            bad()


def test_effort_reads_as_english():
    def result(iterations, renders):
        return SearchResult("random", Pose(), 0.0, True, iterations, renders, 1.04, 1.0, False)

    assert result(1, 19).effort == "1 iteration, 19 renders, 1.0 s"
    assert result(2, 1).effort == "2 iterations, 1 render, 1.0 s"


def test_default_method_is_the_gradient_on_the_cpu_and_cmaes_with_cuda_or_old_gl():
    assert default_method("cpu", 450) == "grad"
    assert default_method(torch.device("cuda", 0), 460) == "cmaes"  # batches of 18 take ~20 ms on a GPU
    assert default_method("cpu", 330) == "cmaes"  # the visibility pass needs OpenGL 4.0
