"""Writing output files without ever replacing an existing one."""

from __future__ import annotations

import io
import os
import tempfile
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

    The data goes to a temporary file beside ``path`` first, so ``path`` never holds a
    half-written file (after a crash, or for a reader that finds it while it is being
    written).  A new file is then hard-linked into place, which fails if the name is
    taken: the check and the write are one step, so two writers cannot both take the same
    name.  An overwrite renames the temporary file over the old one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as f:
        f.write(data)
        tmp = Path(f.name)
    try:
        if overwrite:
            os.replace(tmp, path)
            return path
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise FileExists(f"{path} exists; choose another name (or pass --overwrite)") from None
        except OSError:  # a file system without hard links: exclusive creation, then the write
            _write_exclusive(path, data)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_exclusive(path: Path, data: bytes) -> None:
    try:
        with open(path, "xb") as f:
            f.write(data)
    except FileExistsError:
        raise FileExists(f"{path} exists; choose another name (or pass --overwrite)") from None


def next_free_stem(directory: Path, stem: str, suffixes: tuple[str, ...]) -> str:
    """``stem``, or ``stem-2``, ``stem-3``... : the first for which no ``stem+suffix`` exists."""
    candidate, n = stem, 1
    while any((directory / f"{candidate}{s}").exists() for s in suffixes):
        n += 1
        candidate = f"{stem}-{n}"
    return candidate
