"""The pose gradient through the pipeline: repeatable, with and without edge gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.scene.library import resolve_object
from tests.conftest import load_scene


def test_the_gradient_at_a_point_is_the_same_every_time(batch_pipeline):
    """Bit for bit: the re-shading's gathers sum their gradients in no fixed order on the
    CPU unless torch's deterministic kernels are on (this point gave gradients up to 1e-5
    apart in most of 11 calls), and a line search is sensitive to that."""
    _, space, goal = load_scene(batch_pipeline, "cellphone", ("rotation", "translation", "light"))
    gradient = batch_pipeline.gradient()
    u = space.to_unit(space.base)
    steps = [gradient(space, goal, u) for _ in range(6)]
    for s in steps[1:]:
        assert s.score == steps[0].score
        assert np.array_equal(s.gradient, steps[0].gradient)
    assert np.abs(steps[0].gradient).max() > 0
    assert not torch.are_deterministic_algorithms_enabled()  # the setting is given back


def test_edge_gradients_add_the_outline_and_keep_the_score(batch_pipeline):
    """Same image, so the same score and probabilities; the distance changes the outline
    most, so its derivative changes most, and the step is still deterministic."""
    _, space, goal = load_scene(batch_pipeline, "cellphone", ("rotation", "translation", "light"))
    u = space.to_unit(space.base)
    plain = batch_pipeline.gradient()(space, goal, u)
    edges = [batch_pipeline.gradient(edges=True)(space, goal, u) for _ in range(2)]
    assert edges[0].score == plain.score and torch.equal(edges[0].probabilities, plain.probabilities)
    z = [p.name for p in space.params].index("z")
    assert not np.isclose(edges[0].gradient[z], plain.gradient[z], rtol=0.05)
    assert np.array_equal(edges[0].gradient, edges[1].gradient)


@pytest.mark.slow
@pytest.mark.parametrize("name, target", [("teddy_bear", None), ("hen", 805)])  # 805: soccer ball
def test_the_pose_gradient_is_the_slope_of_the_rendered_classified_score(ctx, frozen_classifier, name, target):
    """End to end, in every parameter of the pose, the light and the camera: the gradient a
    search follows against central differences of the classified render's score, where no
    silhouette crosses a pixel within the step (the visibility of the pose is kept, as the
    re-shading keeps it).  The oracle runs in float64 (re-shading and the model), where the
    differences converge (to 1e-4 of the largest component between steps of 1e-6 and 1e-7);
    the search's gradient is float32 and sees the 8-bit image, so they agree in direction."""
    import copy

    from app.pipeline.pipeline import Pipeline
    from app.render.diffrender import DiffRenderer
    from app.search.space import Goal, SearchSpace

    obj = resolve_object(name)
    pose = obj.canonical_pose.replace(yaw=obj.canonical_pose.yaw + 30, pitch=10)
    space = SearchSpace(pose, ["rotation", "translation", "light", "camera"])
    goal = Goal(obj.imagenet_class, target)
    pipe = Pipeline(frozen_classifier, ctx=ctx)
    oracle = DiffRenderer(ctx, 224, dtype=torch.float64)
    try:
        pipe.set_object(obj)
        step = pipe.gradient()(space, goal, space.to_unit(pose))
        oracle.set_mesh(obj.load())
        vis = oracle.rasterize(pose)
        model = copy.deepcopy(frozen_classifier.model).double().eval()
        scale, shift = frozen_classifier._scale.double(), frozen_classifier._shift.double()

        def score(u: np.ndarray) -> float:
            vector = pose.vector.copy()
            vector[space.index] = space.low + u * space.span
            image = oracle.shade(vis, torch.tensor(vector, dtype=torch.float64))
            with torch.no_grad():
                log_p = torch.log_softmax(model(image.permute(2, 0, 1)[None] * 255 * scale + shift), dim=1)[0]
            return float(log_p[target]) if target is not None else -float(log_p[obj.imagenet_class])

        u, h = space.to_unit(pose), 1e-6
        slope = np.array([(score(u + h * e) - score(u - h * e)) / (2 * h) for e in np.eye(space.dim)])
        gl = pipe.probabilities([pose])[0].numpy()  # the OpenGL render, classified
    finally:
        oracle.release()
        pipe.release()
    assert step.score == pytest.approx(score(u), abs=0.05)  # the re-shaded render scores as the OpenGL one
    assert np.abs(step.probabilities.numpy() - gl).max() < 0.05
    cosine = step.gradient @ slope / np.linalg.norm(step.gradient) / np.linalg.norm(slope)
    assert cosine > 0.97, (cosine, step.gradient, slope)
    large = np.abs(slope) > 0.1 * np.abs(slope).max()
    assert (np.sign(step.gradient[large]) == np.sign(slope[large])).all(), (step.gradient, slope)


def test_a_gradient_search_with_a_model_of_another_input_size(ctx, frozen_classifier):
    """efficientnet_lite1 sees 240 px: the re-shading renders at that size, and the search runs."""
    from app.pipeline.pipeline import Pipeline
    from app.search.space import Budget
    from app.vision.classifiers import load_classifier

    lite1 = load_classifier("efficientnet_lite1", device="cpu")
    pipe = Pipeline(lite1, ctx=ctx, batch=18)
    try:
        _, space, goal = load_scene(pipe, "barrel")
        step = pipe.gradient()(space, goal, space.to_unit(space.base))
        assert pipe._diff.size == 240 and step.probabilities.shape == (1000,)
        assert np.isfinite(step.gradient).all() and np.abs(step.gradient).max() > 0
        result = pipe.search("grad", space, goal, Budget(iterations=2), seed=0)
        assert result.iterations <= 2 and result.evaluations > 0
        assert result.best_score == pytest.approx(goal.scores(pipe.probabilities([result.best]))[0], abs=1e-4)
    finally:
        pipe.release()
