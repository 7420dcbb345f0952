"""The project installs the Python way: a wheel with the shaders and the object library, and
the ``strike-a-pose`` console script, working from outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
PACKAGES = ("app.shaders", "app.models")  # the top-level folders mapped into the package


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kwargs)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def test_every_package_of_app_is_declared_for_the_wheel():
    import tomllib

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "app").rglob("__init__.py")}
    assert declared == on_disk | set(PACKAGES)


def test_a_wheel_installs_into_a_fresh_venv_and_its_commands_run_outside_the_checkout(tmp_path):
    import shutil

    source = tmp_path / "source"  # the project's files, built apart (a build leaves build/ behind)
    for name in ("app", "shaders", "models"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", source, "--no-deps", "-q", "-w", tmp_path / "dist"])
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"app/shaders/mesh.frag", "app/models/teddy_bear/object.json", "app/models/teddy_bear/teddy.jpg"} <= names
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    py = venv / "bin" / "python"
    # the dependencies (torch and friends, gigabytes) are this environment's, seen through a .pth
    # file instead of downloaded; the venv's own old setuptools would shadow the newer one torch wants
    run([py, "-m", "pip", "uninstall", "-y", "-q", "setuptools"])
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "dependencies.pth").write_text("\n".join(p for p in sys.path if p.endswith("site-packages")) + "\n")
    run([py, "-m", "pip", "install", "--no-index", "-q", wheel])  # its declared dependencies must be satisfied
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"STRIKE_OFFLINE": "1"}
    where = run([py, "-c", "import app; print(app.__file__)"], cwd=elsewhere, env=env).stdout
    assert Path(where.strip()).is_relative_to(venv)  # the installed package, not the checkout
    script = venv / "bin" / "strike-a-pose"
    run([script, "render", "--object", "teddy_bear", "--out", "teddy.png"], cwd=elsewhere, env=env)
    installed = np.asarray(Image.open(elsewhere / "teddy.png"))
    run([sys.executable, "run.py", "render", "--object", "teddy_bear", "--out", tmp_path / "here.png"], cwd=ROOT)
    assert np.array_equal(installed, np.asarray(Image.open(tmp_path / "here.png")))  # the same shaders and mesh
    said = run([script, "classify", "--object", "teddy_bear"], cwd=elsewhere, env=env).stdout
    assert "true class: teddy (850)\nverdict: CORRECT" in said
