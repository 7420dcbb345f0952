"""Inference engines for forward-only passes on the CPU: OpenVINO beside torch.

torch is not the fastest way to run a fixed network on a CPU: OpenVINO ran
EfficientNet-Lite0 1.5x faster here at full precision, and faster still while the
software rasteriser shares the cores (docs/benchmarks.md).  Every forward-only pass (the
live view, sweeps, CMA-ES, random search, finite differences, the atlas, fragility maps,
evolution, ``classify``) goes through :meth:`Classifier.probabilities`, which hands
renderer frames to the engine once the classifier is frozen; gradients keep torch, on the
same weights.

The engine takes the renderer's frames as they are, (N, S, S, 4) uint8 RGBA: the channel
slice, the layout change, the normalisation and the softmax are part of the converted
model, so the frame buffer reaches it without a copy.  It runs at f32 unless asked
(OpenVINO's own default on a CPU with bfloat16 is bf16, which moved probabilities by up
to 0.056 here: set explicitly).  A converted model is cached in the user's cache folder,
keyed by architecture, weights, input size and engine version; an entry that does not
load is converted again, and a cache that cannot be written converts in memory.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import platformdirs
import torch

from app.vision.determinism import deterministic_kernels

ENGINES = ("auto", "torch", "openvino")
PRECISIONS = ("f32", "bf16")


class EngineUnavailable(RuntimeError):
    """The engine cannot run this model here (not installed, conversion failed, ...)."""


def cache_dir() -> Path:
    given = os.environ.get("STRIKE_ENGINE_CACHE")
    return Path(given) if given else platformdirs.user_cache_path("strike-a-pose") / "engines"


def openvino_version() -> str | None:
    try:
        import openvino
    except ImportError:
        return None
    return openvino.__version__


@functools.cache
def bf16_supported() -> bool:
    """The CPU runs bfloat16 natively (OpenVINO's bf16 is then fast, not emulated); asked once."""
    try:
        import openvino as ov

        return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:
        return False


class _Prepared(torch.nn.Module):
    """The classifier as the engine runs it: RGBA uint8 frames in, probabilities out."""

    def __init__(self, model: torch.nn.Module, scale: torch.Tensor, shift: torch.Tensor):
        super().__init__()
        self.model = model
        self.register_buffer("scale", scale.detach().cpu().float())
        self.register_buffer("shift", shift.detach().cpu().float())

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames[..., :3].permute(0, 3, 1, 2).float()
        return torch.softmax(self.model(x * self.scale + self.shift), dim=1)


def weights_key(model: torch.nn.Module) -> str:
    """A digest of the model's weights (the cache is never shared by other weights)."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class OpenVinoEngine:
    name = "openvino"

    def __init__(self, classifier, precision: str = "f32", threads: int | None = None,
                 notify: Callable[[str], None] | None = None):  # fmt: skip
        """Convert (or read from the cache) and compile ``classifier``'s model; raises
        :class:`EngineUnavailable` with the reason when it cannot."""
        version = openvino_version()
        if version is None:
            raise EngineUnavailable("OpenVINO is not installed (pip install openvino)")
        if precision not in PRECISIONS:
            raise EngineUnavailable(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if precision == "bf16" and not bf16_supported():
            raise EngineUnavailable("this CPU has no bfloat16 support")
        import openvino as ov

        notify = notify or (lambda _m: None)
        self.precision = precision
        self.shape = (classifier.input_size, classifier.input_size, 4)  # the frames it takes
        self._threads = threads or torch.get_num_threads()
        core = ov.Core()
        model = self._model(core, classifier, version, notify)
        config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": self._threads,
                  "PERFORMANCE_HINT": "LATENCY"}  # fmt: skip
        try:
            self._compiled = core.compile_model(model, "CPU", config)
        except Exception as e:
            raise EngineUnavailable(f"OpenVINO could not compile {classifier.name}: {_reason(e)}") from None
        self._local = threading.local()  # one infer request per thread: requests are not shared

    def _model(self, core, classifier, version: str, notify):
        key = f"{classifier.name}-{classifier.input_size}-{weights_key(classifier.model)}-ov{version}"
        folder = cache_dir() / re.sub(r"[^A-Za-z0-9._-]+", "_", key)  # OpenVINO's version holds slashes
        xml, weights = folder / "model.xml", folder / "model.bin"
        if xml.is_file() and not (weights.is_file() and xml.read_bytes()[:5] == b"<?xml"):
            shutil.rmtree(folder, ignore_errors=True)  # half-written or damaged: converted again
        if xml.is_file():
            try:
                return core.read_model(str(xml))
            except Exception:
                shutil.rmtree(folder, ignore_errors=True)  # broken or half-written: converted again
        start = time.perf_counter()
        model = self._convert(classifier)
        notify(f"notice: {classifier.name} converted for OpenVINO in {time.perf_counter() - start:.1f} s "
               f"(kept in {cache_dir()})")  # fmt: skip
        self._store(model, folder)
        return model

    @staticmethod
    def _convert(classifier):
        import openvino as ov

        size = classifier.input_size
        prepared = _Prepared(classifier.model, classifier._scale, classifier._shift).eval().float()
        example = torch.zeros(1, size, size, 4, dtype=torch.uint8)
        try:
            import warnings

            # the conversion traces the model: a gradient search in another thread, which turns
            # torch's deterministic kernels on for its backward pass, waits (tracing then failed)
            with warnings.catch_warnings(), torch.no_grad(), deterministic_kernels.settled():
                warnings.simplefilter("ignore")
                return ov.convert_model(prepared, example_input=example, input=[(-1, size, size, 4)])
        except Exception as e:
            raise EngineUnavailable(f"OpenVINO could not convert {classifier.name}: {_reason(e)}") from None

    @staticmethod
    def _store(model, folder: Path) -> None:
        """Into the cache through a temporary folder renamed into place; a cache that cannot
        be written is left alone (the model was converted in memory)."""
        import openvino as ov

        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=folder.parent))
            try:
                ov.save_model(model, str(tmp / "model.xml"), compress_to_fp16=False)
                os.rename(tmp, folder)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass

    def probabilities(self, frames: torch.Tensor) -> torch.Tensor:
        """(N, 1000) for (N, S, S, 4) uint8 frames on the CPU."""
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        array = frames.numpy() if frames.is_contiguous() else np.ascontiguousarray(frames.numpy())
        out = request.infer([array], share_inputs=True)[0]  # reads the frames' memory itself, not a copy
        return torch.from_numpy(out)  # a new array each call (share_outputs is off)


def _reason(error: Exception) -> str:
    """OpenVINO's message in one line: its reports run over several, with source paths."""
    text = str(error)
    missing = re.search(r"No conversion rule found for operations: ([^\n]+)", text)
    if missing:
        return f"it has no conversion for {missing.group(1).strip()}"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("Check '")]
    line = lines[-1] if lines else type(error).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def choose_engine(requested: str, device: torch.device) -> str:
    """``auto``: torch on CUDA; on the CPU OpenVINO when it is installed (the faster here), else torch."""
    if requested not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {requested!r}")
    if requested != "auto":
        return requested
    return "openvino" if device.type == "cpu" and openvino_version() is not None else "torch"
