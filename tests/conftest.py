"""Shared fixtures: a real EGL context, the real bundled classifier, artifact folders."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("STRIKE_OFFLINE", "1")  # no download attempts from the tests

GOLDEN_DIR = ROOT / "tests" / "golden"
ARTIFACTS = ROOT / "tests" / "artifacts"


def sigint_ignorer(ignored: bool):
    """A ``preexec_fn`` that starts a child with SIGINT ignored, as a script's background
    job is (a CI machine may run the tests so), or None."""
    import signal

    return (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignored else None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite the golden images")


@pytest.fixture(scope="session")
def ctx():
    from app.render.glcontext import create_headless_context

    return create_headless_context()


@pytest.fixture(scope="session")
def renderer(ctx):
    from app.render.renderer import Renderer

    return Renderer(ctx)


@pytest.fixture(scope="session")
def classifier():
    from app.vision.classifiers import load_classifier

    return load_classifier("efficientnet_lite0", device="cpu")


@pytest.fixture(scope="session")
def pipeline(ctx, classifier):
    from app.pipeline.pipeline import Pipeline

    return Pipeline(classifier, ctx=ctx, batch=8)


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
