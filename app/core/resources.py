"""Where the shaders and the bundled object library are, installed or in a checkout, and
where the user's own objects go.

In a wheel, ``shaders/`` and ``models/`` are installed inside the package (as
``app/shaders`` and ``app/models``, see ``pyproject.toml``), so :mod:`importlib.resources`
finds them wherever the package lies.  In a source checkout (or an editable install)
they stay at the top of the project, beside ``app/``, where the project keeps them.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import platformdirs

CHECKOUT = Path(__file__).resolve().parents[2]


def data_dir(name: str) -> Path:
    """The folder ``name`` (``shaders`` or ``models``) of the installed package, else of the checkout."""
    installed = Path(str(files("app").joinpath(name)))
    return installed if installed.is_dir() else CHECKOUT / name


def shader_dir() -> Path:
    return data_dir("shaders")


def models_dir() -> Path:
    return data_dir("models")


def user_library_dir() -> Path:
    """The user's own object library (``run.py add-object``): the platform's user data folder
    (``~/.local/share/strike-a-pose/objects`` on Linux, following ``XDG_DATA_HOME``), or
    ``STRIKE_LIBRARY``.  The bundled ``models/`` stays read-only beside it."""
    given = os.environ.get("STRIKE_LIBRARY")
    return Path(given).expanduser() if given else platformdirs.user_data_path("strike-a-pose") / "objects"
