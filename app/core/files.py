"""Writing output files without ever replacing an existing one, and refusing inputs that
are not files before they are opened."""

from __future__ import annotations

import csv
import errno
import io
import itertools
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; folders are not guarded there
    fcntl = None

import numpy as np
from PIL import Image

T = TypeVar("T")


def special_file(path: Path) -> bool:
    """Whether ``path`` is there but is neither a file nor a folder (a named pipe, a device,
    a socket): opening a pipe waits for a writer forever, so readers ask this first."""
    return path.exists() and not path.is_file() and not path.is_dir()


def not_a_file(path: Path, kind: str) -> str:
    """The one-line refusal of a :func:`special_file`."""
    return f"{kind} {path} is not a regular file (a named pipe, a device or a socket); give a file"


class FileExists(FileExistsError):
    """The output path is taken and overwriting was not asked for."""


class FolderBusy(OSError):
    """Another process (or another holder in this one) is writing into the folder."""


class FolderLock:
    """One writer per output folder (a sweep, an evolution archive): an exclusive ``flock``
    on the folder itself, made if missing (and removed on release if it was made and is
    still empty: a writer that failed a check or was stopped early leaves nothing).  The
    lock goes with the process, so a killed writer never leaves a stale one, and no lock
    file is left behind.  Where the file system has no locks, the folder is not guarded."""

    def __init__(self, folder: Path, what: str):
        self.folder, self._fd, self._made = folder, None, False
        made = not folder.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OSError(e.errno, f"cannot make the folder {folder}: {e.strerror}") from None
        self._made = made
        if fcntl is None:
            return
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            self._made = False
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise FolderBusy(f"{folder} is in use by another {what}; wait for it to end or stop it first") from None
            return  # no locks on this file system
        self._fd = fd

    def release(self) -> None:
        if self._made:
            self._made = False
            with suppress(OSError):  # not empty: it holds what the writer wrote
                self.folder.rmdir()
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *_exc) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def png_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return buf.getvalue()


def csv_bytes(rows: list[dict]) -> bytes:
    """``rows`` (dicts with the same keys, in order) as CSV with a header line."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


@contextmanager
def new_file(path: Path, overwrite: bool = False, hint: str = "", keep_suffix: bool = False) -> Iterator[Path]:
    """``with new_file(path) as tmp:`` write to ``tmp``, a temporary file beside ``path``;
    on leaving the block it takes ``path``'s place, so ``path`` never holds a half-written
    file (after a crash, or for a reader that finds it while it is being written).

    A new file is hard-linked into place, which fails (:class:`FileExists`, ending with
    ``hint``) if the name is taken: the check and the write are one step, so two writers
    cannot both take the same name.  On a file system without hard links the file is
    copied into an exclusively created ``path`` instead.  ``overwrite`` renames it over
    the old one.  The temporary file is removed in every case.  Its hidden name ends in
    ``.tmp``, so that no ``*.json`` or ``*.png`` pattern takes it for a finished file, or
    with ``keep_suffix`` in ``path``'s suffix, for writers that pick the format by it (ffmpeg).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temporary(path, path.suffix if keep_suffix else "")
    try:
        yield tmp
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            _place_new(tmp, path)
        except FileExistsError:
            raise FileExists(f"{path} exists; choose another name{hint}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _create_temporary(path: Path, suffix: str) -> Path:
    """A new empty file beside ``path`` under a random hidden name, created with the
    permissions any new file gets (0666 less the umask; ``tempfile.mkstemp`` gives 0600,
    and the hard link would keep that, so captures were readable by their owner only)."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp{suffix}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
        except OSError as e:  # named for the file wanted, not for the hidden one
            raise OSError(e.errno, f"cannot write {path}: {e.strerror}") from None
    raise FileExists(f"cannot create a temporary file beside {path}")


def _place_new(tmp: Path, path: Path) -> None:
    """Hard-link ``tmp`` to ``path`` (FileExistsError if taken), or copy it into an
    exclusively created ``path`` where the file system has no hard links."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        with open(tmp, "rb") as src, open(path, "xb") as dst:
            shutil.copyfileobj(src, dst)


def write_new(path: Path, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` through :func:`new_file`: refuses an existing file unless
    ``overwrite``, and never leaves a half-written one."""
    with new_file(path, overwrite, hint=" (or pass --overwrite)") as tmp:
        tmp.write_bytes(data)
    return path


def claim_stem(
    directory: Path, stem: str, suffixes: tuple[str, ...], write_first: Callable[[Path], T], numbered: bool = False
) -> tuple[str, T]:
    """Files that belong together (``stem + suffix`` each) under the first free stem:
    ``stem``, ``stem-2``, ``stem-3``... (``stem-001``, ``stem-002``... when ``numbered``).

    ``write_first(directory / (stem + suffixes[0]))`` claims a stem: it must create that
    path exclusively, as :func:`write_new` does, and raise ``FileExistsError`` when another
    writer has just taken it; the next stem is then tried.  The caller writes the other
    files under the returned stem (with what ``write_first`` returned); a writer racing it
    finds the first file and passes the stem by, so two runs that end at the same moment
    both keep their files."""
    names = (f"{stem}-{n:03d}" if numbered else stem if n == 1 else f"{stem}-{n}" for n in itertools.count(1))
    for candidate in names:
        if any((directory / f"{candidate}{s}").exists() for s in suffixes):
            continue
        first = directory / f"{candidate}{suffixes[0]}"
        try:
            return candidate, write_first(first)
        except FileExistsError:
            if not first.exists():  # not a racing writer (the folder is a file, say): no other name helps
                raise
    raise AssertionError("unreachable")  # the names never run out
