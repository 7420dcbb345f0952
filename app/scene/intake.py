"""Taking a user's mesh into a library folder: from a mesh file (with the MTL, textures and
buffers it names) or from a ``.zip`` as model sites hand them out.

Only the files the loader actually read are copied (:attr:`app.scene.mesh.Mesh.files`),
so a zip's previews, sources and read-me files stay behind.  A referenced file that lies
outside the mesh's folder (``../textures/wood.jpg``) is copied beside the mesh under its
own name, where the loader finds it too (it looks a file up by its base name).
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from app.core.files import not_a_file, special_file
from app.scene.mesh import MAX_FILE_BYTES, MESH_SUFFIXES, Mesh, MeshError

ACCEPTED = (*MESH_SUFFIXES, ".zip")
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_BYTES = 2 * MAX_FILE_BYTES  # uncompressed, all members together
_PREFERRED = (".glb", ".gltf", ".obj")  # in a zip with several formats of one model, these carry materials
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def object_name(text: str) -> str:
    """A library name from a file name: lower case, runs of other characters as ``_``."""
    name = re.sub(r"[^a-z0-9_.-]+", "_", text.lower()).strip("_.-")[:64]
    return name or "object"


def check_name(name: str) -> str:
    """A name that is also a safe folder name, or a :class:`MeshError` saying what a name may hold."""
    if not _NAME.match(name):
        raise MeshError(f"object name {name!r}: use 1-64 lower-case letters, digits, '_', '-' or '.', "
                        "starting with a letter or digit")  # fmt: skip
    return name


def unpack(source: Path, scratch: Path) -> Path:
    """The mesh file to load: ``source`` itself, or the one mesh inside a ``.zip``
    (unpacked into ``scratch``).  A zip with no mesh or several is a :class:`MeshError`."""
    if special_file(source):
        raise MeshError(not_a_file(source, "mesh"))
    if not source.is_file():
        raise MeshError(f"object file not found: {source}")
    suffix = source.suffix.lower()
    if suffix not in ACCEPTED:
        raise MeshError(f"{source.name}: unsupported format {suffix or '(none)'}; use one of {', '.join(ACCEPTED)}")
    if suffix != ".zip":
        return source
    try:
        with zipfile.ZipFile(source) as archive:
            members = _safe_members(archive, source)
            for info in members:
                target = scratch.joinpath(*PurePosixPath(info.filename).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, target.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as e:
        raise MeshError(f"{source.name}: not a readable zip file ({e})") from None
    meshes = [scratch / m.filename for m in members if _is_mesh(m.filename)]
    return _choose(meshes, source, scratch)


def _safe_members(archive: zipfile.ZipFile, source: Path) -> list[zipfile.ZipInfo]:
    """The zip's regular files, refusing what could write outside the folder or fill the disk."""
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise MeshError(f"{source.name}: {len(infos):,} files in the zip, more than {MAX_ZIP_MEMBERS:,}")
    members, total = [], 0
    for info in infos:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if info.is_dir() or stat.S_ISLNK(info.external_attr >> 16):
            continue
        if path.is_absolute() or ".." in path.parts or ":" in info.filename:
            raise MeshError(f"{source.name}: the zip names {info.filename!r}, outside its own folder; refused")
        if path.parts[0] == "__MACOSX" or path.name.startswith("._"):
            continue  # macOS's resource forks: never a mesh or a texture
        total += info.file_size
        if total > MAX_ZIP_BYTES:
            raise MeshError(f"{source.name}: unpacks to more than {MAX_ZIP_BYTES // 2**20} MiB; refused")
        members.append(info)
    return members


def _is_mesh(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in MESH_SUFFIXES


def _choose(meshes: list[Path], source: Path, scratch: Path) -> Path:
    if not meshes:
        raise MeshError(f"{source.name}: the zip holds no mesh ({', '.join(MESH_SUFFIXES)})")
    for suffix in _PREFERRED:
        if [m.suffix.lower() for m in meshes].count(suffix) == 1:
            return next(m for m in meshes if m.suffix.lower() == suffix)
    if len(meshes) == 1:
        return meshes[0]
    names = ", ".join(str(m.relative_to(scratch)) for m in meshes[:6])
    raise MeshError(f"{source.name}: the zip holds several meshes ({names}); unzip it and give the one to add")


def copy_files(mesh: Mesh, folder: Path) -> tuple[str, list[str]]:
    """Copy the files ``mesh`` was loaded from into ``folder``: (the mesh file's name there,
    every file written, relative to ``folder``)."""
    if mesh.source is None or not mesh.files:
        raise MeshError(f"{mesh.name}: this mesh was not loaded from a file")
    home = mesh.source.resolve().parent
    written: list[str] = []
    for path in mesh.files:
        path = path.resolve()
        try:
            relative = path.relative_to(home)
        except ValueError:  # above the mesh's folder: beside it, where the loader's base-name lookup finds it
            relative = Path(path.name)
        if str(relative) in written:
            continue
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written.append(str(relative))
    return written[0], written
