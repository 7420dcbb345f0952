"""Shared fixtures and helpers: a real EGL context, the real bundled classifier (eager and
frozen, as separate fixtures), fresh renderers and pipelines for each test, golden images,
running ``run.py``, and waiting on a condition."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("STRIKE_OFFLINE", "1")  # no download attempts from the tests

GOLDEN_DIR = ROOT / "tests" / "golden"
ARTIFACTS = ROOT / "tests" / "artifacts"


def sigint_ignorer(ignored: bool):
    """A ``preexec_fn`` that starts a child with SIGINT ignored, as a script's background
    job is (a CI machine may run the tests so), or None."""
    import signal

    return (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignored else None


def wait_for(condition: Callable[[], object], what: str, timeout: float = 90.0,
             step: Callable[[], None] | None = None, interval: float = 0.01) -> None:  # fmt: skip
    """Until ``condition()`` holds, call ``step()`` (drawing a frame, say) or sleep
    ``interval``; after ``timeout`` seconds fail, saying what was awaited.  The one way the
    tests wait: never a fixed sleep."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        if step is not None:
            step()
        time.sleep(interval)


def started(args: list, ready: str, timeout: float = 120, sigint_ignored: bool = False) -> tuple[subprocess.Popen, str]:
    """Start ``run.py ARGS`` and wait until its stderr matches the regex ``ready``;
    (the running process, its stderr up to then).  ``sigint_ignored``: start it with
    SIGINT ignored, as a background job is (and as CI ran the tests).  A child that ends,
    or says nothing more, before ``ready`` fails the test after ``timeout`` seconds."""
    env = dict(os.environ, STRIKE_OFFLINE="1")
    cmd = [sys.executable, str(ROOT / "run.py"), *map(str, args)]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        preexec_fn=sigint_ignorer(sigint_ignored),
    )  # fmt: skip
    seen: list[str] = []
    ended = threading.Event()

    def read() -> None:  # on a thread: a read that blocks cannot hang the test
        while char := proc.stderr.read(1):
            seen.append(char)
            if re.search(ready, "".join(seen)):
                break
        ended.set()

    threading.Thread(target=read, daemon=True).start()
    if not ended.wait(timeout) or not re.search(ready, "".join(seen)):
        proc.kill()
        pytest.fail(f"run.py {' '.join(map(str, args))} ended or stalled before {ready!r}: {''.join(seen)}")
    return proc, "".join(seen)


def interrupted(
    args: list, ready: str, timeout: float = 120, sigint_ignored: bool = False
) -> tuple[subprocess.Popen, str, str, str]:
    """:func:`started`, then Ctrl-C (SIGINT); (the process, stderr up to the Ctrl-C, stdout,
    the rest of stderr).  A child that does not end after the Ctrl-C fails the test (its
    runs are given budgets far longer than the wait, so ending at all shows it stopped)."""
    proc, seen = started(args, ready, timeout, sigint_ignored)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"run.py {' '.join(map(str, args))} did not end after Ctrl-C")
    return proc, seen, out, err


def run(*args, env=None, check_ok=True) -> subprocess.CompletedProcess:
    """``run.py ARGS`` to the end: no traceback, no library warning, exit 0 unless ``check_ok`` is False."""
    full_env = dict(os.environ, STRIKE_OFFLINE="1", **(env or {}))
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=ROOT, timeout=300)  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    assert not re.search(r"\w+Warning: ", proc.stderr), proc.stderr  # a library's warning leaked to the user
    if check_ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def load_scene(pipe, name: str, groups=("rotation",)):
    """Put library object ``name`` into ``pipe``: (the object, the space of ``groups`` around
    its canonical pose, the untargeted goal)."""
    from app.scene.library import resolve_object
    from app.search.space import Goal, SearchSpace

    obj = resolve_object(name)
    pipe.set_object(obj)
    return obj, SearchSpace(obj.canonical_pose, groups), Goal(obj.imagenet_class)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite the golden images")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Say the random order's seed even under -q (pytest-randomly puts it in the header -q hides)."""
    seed = getattr(session.config.option, "randomly_seed", None)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if isinstance(seed, int) and reporter is not None:
        reporter.write_line(f"tests in random order: --randomly-seed={seed} repeats it")


_SESSION_GL: list = []  # the session's context, once made


@pytest.fixture(autouse=True)
def _own_library(tmp_path_factory, monkeypatch):
    """Each test has a user object library of its own (not made until it is written), so
    the tests never see or change the user's own objects."""
    monkeypatch.setenv("STRIKE_LIBRARY", str(tmp_path_factory.mktemp("library") / "objects"))


@pytest.fixture(scope="session")
def ctx():
    from app.render.glcontext import create_headless_context

    _SESSION_GL.append(create_headless_context())
    return _SESSION_GL[0]


@pytest.fixture(autouse=True)
def _session_context_current():
    """A test that makes and releases a context of its own (``run_sweep`` without one, say)
    leaves no context current on its thread; the next test's GL calls on the session's
    context then crash Mesa.  Each test starts with the session's context current."""
    if _SESSION_GL:
        _SESSION_GL[0].__enter__()


@pytest.fixture
def renderer(ctx):
    """A fresh renderer on the session's context (no mesh, no skin), released after the test."""
    from app.render.renderer import Renderer

    r = Renderer(ctx)
    yield r
    r.release()


@pytest.fixture(scope="session")
def _eager():
    from app.vision.classifiers import load_classifier

    return load_classifier("efficientnet_lite0", device="cpu")


@pytest.fixture
def eager_classifier(_eager):
    """The bundled classifier as loaded, never frozen: a test that freezes it (hands it to
    the window, to ``Classifier.freeze``) fails, so every test sees the same eager model."""
    yield _eager
    assert not _eager.freeze_tried, "a test froze the shared eager classifier: use frozen_classifier"


@pytest.fixture(scope="session")
def frozen_classifier():
    """The bundled classifier frozen (TorchScript), as the window, ``optimize`` and sweeps run it."""
    from app.vision.classifiers import load_classifier

    clf = load_classifier("efficientnet_lite0", device="cpu")
    assert clf.freeze()
    return clf


@pytest.fixture
def pipeline(ctx, eager_classifier):
    """A fresh pipeline of the eager classifier (batches of 8) on the session's context."""
    from app.pipeline.pipeline import Pipeline

    pipe = Pipeline(eager_classifier, ctx=ctx, batch=8)
    yield pipe
    pipe.release()


@pytest.fixture
def batch_pipeline(ctx, frozen_classifier):
    """A fresh pipeline of the frozen classifier in batches of 18, as searches run it."""
    from app.pipeline.pipeline import Pipeline

    pipe = Pipeline(frozen_classifier, ctx=ctx, batch=18)
    yield pipe
    pipe.release()


@pytest.fixture
def golden(request):
    """``golden(name, image)``: compare with tests/golden/NAME.png within a tolerance.

    On a mismatch the actual image and an amplified diff go to tests/artifacts/.
    """
    update = request.config.getoption("--update-golden")

    def check(name: str, image: np.ndarray, max_bad_fraction: float = 0.005, pixel_tol: int = 8) -> None:
        path = GOLDEN_DIR / f"{name}.png"
        if update or not path.exists():
            if not update:
                pytest.fail(f"golden image {path} is missing; run pytest --update-golden")
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path)
            return
        expected = np.asarray(Image.open(path).convert("RGB"))
        assert expected.shape == image.shape, f"{name}: shape {image.shape} != golden {expected.shape}"
        diff = np.abs(expected.astype(np.int16) - image.astype(np.int16)).max(axis=2)
        bad = float((diff > pixel_tol).mean())
        if bad > max_bad_fraction:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(ARTIFACTS / f"{name}-actual.png")
            Image.fromarray(np.clip(diff * 8, 0, 255).astype(np.uint8)).save(ARTIFACTS / f"{name}-diff.png")
            pytest.fail(f"{name}: {bad:.2%} of pixels differ by more than {pixel_tol}; see {ARTIFACTS}")

    return check
