"""Where the shaders and the bundled object library are, installed or in a checkout.

In a wheel, ``shaders/`` and ``models/`` are installed inside the package (as
``app/shaders`` and ``app/models``, see ``pyproject.toml``), so :mod:`importlib.resources`
finds them wherever the package lies.  In a source checkout (or an editable install)
they stay at the top of the project, beside ``app/``, where the project keeps them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]


def data_dir(name: str) -> Path:
    """The folder ``name`` (``shaders`` or ``models``) of the installed package, else of the checkout."""
    installed = Path(str(files("app").joinpath(name)))
    return installed if installed.is_dir() else CHECKOUT / name


def shader_dir() -> Path:
    return data_dir("shaders")


def models_dir() -> Path:
    return data_dir("models")
