"""The object libraries: the bundled ``models/`` (read-only) and the user's own
(:func:`app.core.resources.user_library_dir`), one folder per object with an ``object.json``.

A manifest names the mesh file, the object's ImageNet class, a canonical pose that the
bundled classifier recognises, and where the object came from (author, license file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from app.core.imagenet import class_names
from app.core.params import Pose, PoseError
from app.core.resources import models_dir, user_library_dir
from app.scene.mesh import MESH_SUFFIXES, Mesh, MeshError, load_mesh

MODELS_DIR = models_dir()
MANIFEST = "object.json"
LICENSE_FILE = "LICENSE.txt"  # what add-object writes: the licence, author and source it was told
DEFAULT_OBJECT = "teddy_bear"
_REQUIRED = ("display_name", "mesh", "imagenet_class", "canonical_pose", "license", "author", "license_file", "source")


class ObjectNotFound(LookupError):
    """No library object or mesh file by that name."""


@dataclass(frozen=True)
class LibraryObject:
    name: str
    display_name: str
    mesh_path: Path
    imagenet_class: int | None = None
    canonical_pose: Pose = Pose()
    license: str = ""
    author: str = ""
    source: str = ""
    license_file: Path | None = None
    orientation: tuple[tuple[float, ...], ...] | None = None

    @property
    def class_name(self) -> str | None:
        return None if self.imagenet_class is None else class_names()[self.imagenet_class]

    @property
    def in_library(self) -> bool:
        return self.license_file is not None

    @property
    def ref(self) -> str:
        """What ``--object`` needs to find it again (pose files, captures, sweep plans): its
        library name, or its mesh file's absolute path."""
        return self.name if self.in_library else str(self.mesh_path.resolve())

    def with_class(self, imagenet_class: int | None) -> LibraryObject:
        """The same object told its class (a mesh file has none; ``--class`` replaces a library object's)."""
        return self if imagenet_class is None else replace(self, imagenet_class=imagenet_class)

    def load(self) -> Mesh:
        orient = None if self.orientation is None else np.array(self.orientation, dtype=np.float64)
        mesh = load_mesh(self.mesh_path, orientation=orient)
        mesh.name = self.name
        return mesh


def read_manifest(folder: Path) -> LibraryObject:
    """Validate ``folder/object.json``; any problem raises :class:`MeshError` naming the file."""
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise MeshError(f"{path}: cannot read manifest ({e})") from None
    if not isinstance(data, dict):
        raise MeshError(f"{path}: the manifest must be a JSON object")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise MeshError(f"{path}: missing field(s) {', '.join(missing)}")
    cls = data["imagenet_class"]
    if not isinstance(cls, int) or not 0 <= cls < 1000:
        raise MeshError(f"{path}: imagenet_class must be an integer in 0..999")
    try:
        pose = Pose(data["canonical_pose"])
    except (PoseError, TypeError) as e:
        raise MeshError(f"{path}: canonical_pose: {e}") from None
    orientation = data.get("orientation")
    if orientation is not None:
        arr = np.asarray(orientation, dtype=np.float64)
        if arr.shape != (3, 3) or not np.allclose(arr @ arr.T, np.eye(3), atol=1e-6):
            raise MeshError(f"{path}: orientation must be a 3x3 rotation matrix")
        orientation = tuple(tuple(float(x) for x in row) for row in arr)
    return LibraryObject(
        name=folder.name,
        display_name=str(data["display_name"]),
        mesh_path=folder / data["mesh"],
        imagenet_class=cls,
        canonical_pose=pose,
        license=str(data["license"]),
        author=str(data["author"]),
        source=str(data["source"]),
        license_file=folder / data["license_file"],
        orientation=orientation,
    )


def library_dirs() -> list[Path]:
    """The bundled library first (its names win), then the user's own."""
    return [MODELS_DIR, user_library_dir()]


def _object_folders(library: Path) -> list[Path]:
    try:
        return [d for d in sorted(library.iterdir()) if (d / MANIFEST).is_file()] if library.is_dir() else []
    except OSError:  # an unreadable user library lists nothing, as an empty one
        return []


def list_objects(models_dir: Path | None = None, problems: list[str] | None = None) -> list[LibraryObject]:
    """The objects of ``models_dir``, or of every library (:func:`library_dirs`).  A broken
    manifest in the bundled library is an error; one in the user's library is left out and
    its message added to ``problems``, so one bad folder does not hide the others."""
    found: dict[str, LibraryObject] = {}
    for library in [models_dir] if models_dir else library_dirs():
        for folder in _object_folders(library):
            if folder.name in found:
                continue
            try:
                found[folder.name] = read_manifest(folder)
            except MeshError as e:
                if library == MODELS_DIR or problems is None:
                    raise
                problems.append(str(e))
    return list(found.values())


def object_names(models_dir: Path | None = None) -> list[str]:
    """Names of the objects of ``models_dir`` or of every library (manifests not read)."""
    names = (f.name for library in ([models_dir] if models_dir else library_dirs()) for f in _object_folders(library))
    return sorted(set(names))


def resolve_object(name_or_path: str, models_dir: Path | None = None) -> LibraryObject:
    """A library object by name (the bundled library's first), a folder with a manifest, or any mesh file."""
    if "/" not in name_or_path and name_or_path not in ("", ".", ".."):
        for library in [models_dir] if models_dir else library_dirs():
            if (library / name_or_path / MANIFEST).is_file():
                return read_manifest(library / name_or_path)
    path = Path(name_or_path).expanduser()
    if path.is_dir() and (path / MANIFEST).is_file():
        return read_manifest(path)
    if path.suffix.lower() in MESH_SUFFIXES or path.exists():
        if not path.exists():
            raise ObjectNotFound(f"object file not found: {path}")
        return LibraryObject(name=path.stem, display_name=path.stem, mesh_path=path)
    names = object_names(models_dir)
    raise ObjectNotFound(
        f"no object {name_or_path!r}: not in the library ({', '.join(names) or 'empty'}) and not a mesh file path"
    )


def write_manifest(folder: Path, obj: LibraryObject, license_text: str) -> None:
    """``object.json`` and the licence file of ``obj``, whose files lie in ``folder``."""
    assert obj.license_file is not None and obj.imagenet_class is not None
    (folder / obj.license_file.name).write_text(license_text, encoding="utf-8")
    data = {
        "display_name": obj.display_name,
        "mesh": obj.mesh_path.relative_to(folder).as_posix(),
        "imagenet_class": obj.imagenet_class,
        "canonical_pose": obj.canonical_pose.to_dict(),
        "license": obj.license,
        "author": obj.author,
        "license_file": obj.license_file.name,
        "source": obj.source,
    }
    if obj.orientation is not None:
        data["orientation"] = [list(row) for row in obj.orientation]
    (folder / MANIFEST).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def name_taken(name: str, library: Path) -> str | None:
    """Where an object called ``name`` already is (any library, or ``library``), or None."""
    for where in dict.fromkeys([*library_dirs(), library]):
        if (where / name).exists():
            return str(where / name)
    return None
