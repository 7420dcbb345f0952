"""CUDA paths: classifier on the GPU, pinned frame uploads, frozen model.  Skipped without CUDA.

Run them where a GPU is: ``python -m pytest -q tests/test_gpu.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import wait_for

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.fixture(scope="module")
def cuda_classifier():
    from app.vision.classifiers import load_classifier

    return load_classifier("efficientnet_lite0", device="cuda")


@pytest.fixture
def teddy(renderer):
    from app.scene.library import resolve_object

    obj = resolve_object("teddy_bear")
    renderer.set_mesh(obj.load())
    return obj


def render(ctx, renderer, pose, size=224) -> np.ndarray:
    from app.render.targets import OffscreenTarget

    target = OffscreenTarget(ctx, size, size)
    renderer.render(pose, target)
    image = target.read()
    target.release()
    return image


def test_cuda_classifier_matches_cpu(ctx, renderer, teddy, eager_classifier, cuda_classifier):
    image = torch.from_numpy(render(ctx, renderer, teddy.canonical_pose))
    on_gpu = cuda_classifier.probabilities(image)
    assert on_gpu.device.type == "cuda"
    on_cpu = eager_classifier.probabilities(image)
    assert torch.allclose(on_gpu.cpu(), on_cpu, atol=2e-3)
    assert int(on_gpu.argmax()) == teddy.imagenet_class


def test_pinned_batches_arrive_intact(ctx, renderer, teddy, cuda_classifier):
    """Rendering the next batch into the same pinned slots never corrupts the previous upload."""
    from app.render.frames import FrameReader, render_batch
    from app.render.targets import OffscreenTarget

    target = OffscreenTarget(ctx, 224, 224)
    reader = FrameReader(target, "cuda", slots=4)
    assert reader.host.is_pinned()
    poses_a = [teddy.canonical_pose.replace(yaw=float(y)) for y in (0, 40, 80, 120)]
    poses_b = [teddy.canonical_pose.replace(pitch=float(p)) for p in (-60, -20, 20, 60)]
    expected_a = [render(ctx, renderer, p) for p in poses_a]
    a = render_batch(renderer, reader, poses_a)
    b = render_batch(renderer, reader, poses_b)  # overwrites the host slots right away
    torch.cuda.synchronize()
    assert a.device.type == "cuda" and b.device.type == "cuda"
    for i, img in enumerate(expected_a):
        assert torch.equal(a[i].cpu(), torch.from_numpy(img))
    assert not torch.equal(a[0], b[0])
    target.release()


def test_frozen_model_on_cuda_matches_eager(ctx, renderer, teddy, cuda_classifier):
    image = torch.from_numpy(render(ctx, renderer, teddy.canonical_pose.replace(yaw=70.0)))
    eager = cuda_classifier.probabilities(image)
    assert cuda_classifier.freeze()
    frozen = cuda_classifier.probabilities(image)
    assert torch.allclose(eager, frozen, atol=1e-3)


def test_live_worker_on_cuda(ctx, renderer, teddy, cuda_classifier):
    import time

    from app.background.live import Frame, LiveClassifier

    live = LiveClassifier(cuda_classifier)
    try:
        image = render(ctx, renderer, teddy.canonical_pose)
        live.submit(Frame(image, teddy.canonical_pose, key="k", stamp=time.perf_counter()))
        wait_for(lambda: live.latest() is not None, "the first answer on CUDA")
        assert live.latest().top(1).indices[0] == teddy.imagenet_class
    finally:
        assert live.close(timeout=60)  # the first answer starts a TorchScript freeze: slow on a busy machine
