"""The object library in ``models/``: one folder per object with an ``object.json`` manifest.

A manifest names the mesh file, the object's ImageNet class, a canonical pose that the
bundled classifier recognises, and where the object came from (author, license file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.imagenet import class_names
from app.core.params import Pose, PoseError
from app.core.resources import models_dir
from app.scene.mesh import MESH_SUFFIXES, Mesh, MeshError, load_mesh

MODELS_DIR = models_dir()
MANIFEST = "object.json"
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


def list_objects(models_dir: Path = MODELS_DIR) -> list[LibraryObject]:
    if not models_dir.is_dir():
        return []
    return [read_manifest(d) for d in sorted(models_dir.iterdir()) if (d / MANIFEST).is_file()]


def object_names(models_dir: Path = MODELS_DIR) -> list[str]:
    return sorted(d.name for d in models_dir.iterdir() if (d / MANIFEST).is_file()) if models_dir.is_dir() else []


def resolve_object(name_or_path: str, models_dir: Path = MODELS_DIR) -> LibraryObject:
    """A library object by name, a folder with a manifest, or any mesh file."""
    folder = models_dir / name_or_path
    if "/" not in name_or_path and (folder / MANIFEST).is_file():
        return read_manifest(folder)
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
