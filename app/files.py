"""Writing output files without ever replacing an existing one."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image


class FileExists(FileExistsError):
    """The output path is taken and overwriting was not asked for."""


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return buf.getvalue()


def write_new(path: Path, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path``; refuses an existing file unless ``overwrite``.

    Exclusive creation (O_EXCL) makes the check and the write one step, so two writers
    cannot both take the same name.  An overwrite goes through a temporary file and a
    rename, so a crash never leaves a half-written file in place of a good one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if overwrite:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path
    try:
        with open(path, "xb") as f:
            f.write(data)
    except FileExistsError:
        raise FileExists(f"{path} exists; choose another name (or pass --overwrite)") from None
    return path


def next_free_stem(directory: Path, stem: str, suffixes: tuple[str, ...]) -> str:
    """``stem``, or ``stem-2``, ``stem-3``... : the first for which no ``stem+suffix`` exists."""
    candidate, n = stem, 1
    while any((directory / f"{candidate}{s}").exists() for s in suffixes):
        n += 1
        candidate = f"{stem}-{n}"
    return candidate
