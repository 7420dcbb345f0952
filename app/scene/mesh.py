"""Load 3D objects into a renderer-neutral form.

trimesh parses the geometry (OBJ with quads/n-gons and several materials, glTF/GLB, PLY,
STL, OFF); this module adds what trimesh leaves to the caller: strict validation with
clear messages, our own MTL reading (Kd, Ks, Ns, d/Tr, map_Kd with case-insensitive file
lookup), texture decoding, computed normals when the file has none, and normalisation of
every object to a centred [-1, 1] box so that a pose means the same for every object.

Texture coordinates are stored in image convention (v grows downwards, row 0 = top).
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image, UnidentifiedImageError

from app.core.files import not_a_file, special_file

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_TRIANGLES = 4_000_000
MAX_COORDINATE = 1e9
MAX_TEXTURE_SIZE = 4096
MESH_SUFFIXES = (".obj", ".glb", ".gltf", ".ply", ".stl", ".off")

logging.getLogger("trimesh").setLevel(logging.ERROR)


class MeshError(ValueError):
    """An object file that cannot be loaded; the message says why."""


@dataclass
class Material:
    name: str
    diffuse: tuple[float, float, float] = (0.7, 0.7, 0.7)
    specular: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shininess: float = 32.0
    alpha: float = 1.0
    texture: np.ndarray | None = None  # (H, W, 4) uint8, row 0 = top
    texture_file: str | None = None


@dataclass
class MeshPart:
    """Triangles sharing one material; arrays are float32 / uint32."""

    material: Material
    positions: np.ndarray  # (V, 3)
    normals: np.ndarray  # (V, 3), unit length
    uvs: np.ndarray | None  # (V, 2) or None when the file has none
    triangles: np.ndarray  # (T, 3)

    @property
    def textured(self) -> bool:
        return self.uvs is not None and self.material.texture is not None


@dataclass
class Mesh:
    name: str
    parts: list[MeshPart]
    source: Path | None = None
    warnings: list[str] = field(default_factory=list)
    original_extent: float = 1.0  # largest side of the bounding box before normalisation
    files: list[Path] = field(default_factory=list)  # every file the load read: the mesh, its MTL, textures, buffers

    @property
    def triangle_count(self) -> int:
        return sum(len(p.triangles) for p in self.parts)

    @property
    def vertex_count(self) -> int:
        return sum(len(p.positions) for p in self.parts)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        allp = np.concatenate([p.positions for p in self.parts])
        return allp.min(axis=0), allp.max(axis=0)


# ----------------------------------------------------------------- file access


def _file_key(name: str) -> str:
    """The base name of a file reference, lower-cased, whatever its path style."""
    return Path(name.strip().strip('"').replace("\\", "/")).name.lower()


def _find_file(directory: Path, name: str) -> Path | None:
    """Resolve a file name relative to ``directory``, tolerating case and path style."""
    name = name.strip().strip('"').replace("\\", "/")
    candidate = (directory / name).resolve()
    if candidate.is_file():
        return candidate
    wanted = _file_key(name)
    try:
        for entry in directory.iterdir():
            if entry.name.lower() == wanted and entry.is_file():
                return entry
    except OSError:
        return None
    return None


def _decode_text(data: bytes, path: Path) -> str:
    if b"\x00" in data[:65536]:
        raise MeshError(f"{path.name}: not a text file (binary data where OBJ text was expected)")
    try:
        return data.decode("utf-8-sig")  # a byte-order mark would make the first line unknown
    except UnicodeDecodeError:
        return data.decode("latin-1")


def check_image_file(path: Path, kind: str = "image") -> None:
    """A MeshError unless ``path`` is a file (its decoding is :func:`load_texture`'s)."""
    if path.is_dir():
        raise MeshError(f"{kind} {path} is a folder, not an image file")
    if not path.exists():
        raise MeshError(f"{kind} {path} not found")
    if special_file(path):
        raise MeshError(not_a_file(path, kind))


def load_texture(path: Path, kind: str = "texture") -> np.ndarray:
    """Decode an image file to (H, W, 4) uint8, scaled down to at most MAX_TEXTURE_SIZE.

    `kind` names the file in the error message ("texture", "image", "background image").
    """
    check_image_file(path, kind)
    try:
        with Image.open(path) as img:
            img.load()
            rgba = img.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise MeshError(f"{kind} {path.name} cannot be decoded: {e}") from None
    if max(rgba.size) > MAX_TEXTURE_SIZE:
        rgba.thumbnail((MAX_TEXTURE_SIZE, MAX_TEXTURE_SIZE), Image.Resampling.LANCZOS)
    return np.array(rgba, dtype=np.uint8)  # a writable copy (np.asarray of an image is read-only)


# ----------------------------------------------------------------------- MTL


def _floats(values: list[str], count: int, where: str) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values[:count])
    except ValueError:
        raise MeshError(f"{where}: expected numbers, got {' '.join(values)!r}") from None
    if len(out) == 1 and count == 3:
        out = out * 3
    if len(out) != count or not all(np.isfinite(out)):
        raise MeshError(f"{where}: expected {count} finite numbers, got {' '.join(values)!r}")
    return out


def parse_mtl(
    text: str, directory: Path, source: str, warnings: list[str], files: list[Path] | None = None
) -> dict[str, Material]:
    """Read the MTL fields the renderer uses; missing/corrupt textures become warnings;
    each texture file found is added to ``files``."""
    materials: dict[str, Material] = {}
    current: Material | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        parts = raw.split("#", 1)[0].split()
        if not parts:
            continue
        key, values = parts[0].lower(), parts[1:]
        where = f"{source} line {lineno}"
        if key == "newmtl":
            name = " ".join(values) or f"material{len(materials)}"
            current = materials[name] = Material(name)
            continue
        if current is None:
            continue
        if key == "kd":
            current.diffuse = _floats(values, 3, where)  # type: ignore[assignment]
        elif key == "ks":
            current.specular = _floats(values, 3, where)  # type: ignore[assignment]
        elif key == "ns":
            current.shininess = float(np.clip(_floats(values, 1, where)[0], 1.0, 1000.0))
        elif key == "d":
            current.alpha = float(np.clip(_floats(values[-1:], 1, where)[0], 0.0, 1.0))
        elif key == "tr":
            current.alpha = float(np.clip(1.0 - _floats(values[-1:], 1, where)[0], 0.0, 1.0))
        elif key == "map_kd" and values:
            # options such as "-s 1 1 1" may precede the file name, which comes last
            name = values[-1]
            current.texture_file = name
            found = _find_file(directory, name)
            if found is None:
                warnings.append(f"texture {name!r} of material {current.name!r} not found; using its diffuse colour")
                continue
            if files is not None:
                files.append(found)
            try:
                current.texture = load_texture(found)
            except MeshError as e:
                warnings.append(f"{e}; material {current.name!r} uses its diffuse colour")
    return materials


# ----------------------------------------------------------------------- OBJ

_SHORT_VERTEX = re.compile(r"^v(?:[ \t]+\S+){0,2}[ \t]*$", re.M)
_SHORT_FACE = re.compile(r"^f(?:[ \t]+\S+){0,2}[ \t]*$", re.M)
_ZERO_INDEX = re.compile(r"^f[ \t].*?(?<=[ \t])-?0+(?=[/ \t]|$)", re.M)
_MTLLIB = re.compile(r"^mtllib[ \t]+(.+?)[ \t]*$", re.M)
_VERTEX_OR_FACE = re.compile(r"^(v|f)[ \t]+(.*)$", re.M)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _prevalidate_obj(text: str, name: str) -> None:
    """Catch malformed OBJ statements that trimesh would silently drop or misread."""
    for pattern, what in (
        (_SHORT_VERTEX, "a vertex needs 3 coordinates"),
        (_SHORT_FACE, "a face needs at least 3 vertices"),
        (_ZERO_INDEX, "OBJ indices start at 1 (index 0 is invalid)"),
    ):
        m = pattern.search(text)
        if m:
            line = m.group(0).strip()[:60]
            raise MeshError(f"{name} line {_line_of(text, m.start())}: {what}: {line!r}")


def _obj_fault(text: str) -> str | None:
    """The first vertex that is not numbers or face that names a vertex not defined before it,
    described with its line (run only after trimesh failed, so large files pay nothing)."""
    count = 0
    for m in _VERTEX_OR_FACE.finditer(text):
        if m.group(1) == "v":
            try:
                [float(v) for v in m.group(2).split()[:3]]
            except ValueError:
                return f"line {_line_of(text, m.start())}: a vertex coordinate is not a number: {m.group(0)[:60]!r}"
            count += 1
            continue
        for corner in m.group(2).split():
            try:
                index = int(corner.split("/")[0])
            except ValueError:
                continue
            if not -count <= index <= count:
                line = m.group(0).strip()[:60]
                return (f"line {_line_of(text, m.start())}: the face names vertex {index}, but only {count} "
                        f"vertices are defined before it: {line!r}")  # fmt: skip
    return None


class _MtlResolver(trimesh.resolvers.Resolver):
    """Hands trimesh the MTL text only, so that it splits by material but loads no images."""

    def __init__(self, mtl_texts: dict[str, str]):
        self.mtl_texts = mtl_texts

    def get(self, name: str) -> bytes:
        key = _file_key(name)
        if key in self.mtl_texts:
            return self.mtl_texts[key].encode("utf-8")
        raise FileNotFoundError(name)

    def keys(self):  # pragma: no cover - required by the interface
        return iter(())

    def namespaced(self, namespace: str) -> _MtlResolver:  # pragma: no cover
        return self

    def write(self, name: str, data: bytes) -> None:  # pragma: no cover
        raise OSError("read-only resolver")


def _read_obj(
    path: Path, data: bytes, warnings: list[str], files: list[Path]
) -> tuple[trimesh.Scene, dict[str, Material]]:
    text = _decode_text(data, path)
    _prevalidate_obj(text, path.name)
    materials: dict[str, Material] = {}
    mtl_texts: dict[str, str] = {}
    for m in _MTLLIB.finditer(text):
        for lib in m.group(1).split():
            found = _find_file(path.parent, lib)
            if found is None:
                warnings.append(f"material library {lib!r} not found; surfaces are grey")
                continue
            mtl_text = _decode_text(found.read_bytes(), found)
            mtl_texts[_file_key(lib)] = mtl_text
            files.append(found)
            materials.update(parse_mtl(mtl_text, found.parent, found.name, warnings, files))
    try:
        scene = trimesh.load(
            io.BytesIO(text.encode("utf-8")),
            file_type="obj",
            force="scene",
            process=False,
            resolver=_MtlResolver(mtl_texts),
        )
    except Exception:
        fault = _obj_fault(text)  # trimesh's own message is an IndexError or a ValueError
        if fault:
            raise MeshError(f"{path.name}: {fault}") from None
        raise
    return scene, materials


def _material_from_trimesh(geom: trimesh.Trimesh, known: dict[str, Material], index: int) -> Material:
    visual = geom.visual
    mat = getattr(visual, "material", None)
    name = getattr(mat, "name", None) or f"part{index}"
    if name in known:
        return known[name]
    out = Material(name)
    if isinstance(mat, trimesh.visual.material.PBRMaterial):  # glTF
        factor = mat.baseColorFactor
        if factor is not None:
            f = np.asarray(factor, dtype=np.float64) / 255.0
            out.diffuse, out.alpha = tuple(f[:3]), float(f[3])
        if mat.baseColorTexture is not None:
            out.texture = np.ascontiguousarray(np.asarray(mat.baseColorTexture.convert("RGBA"), dtype=np.uint8))
    elif isinstance(mat, trimesh.visual.material.SimpleMaterial) and mat.diffuse is not None:
        out.diffuse = tuple(np.asarray(mat.diffuse[:3], dtype=np.float64) / 255.0)
    elif visual is not None and visual.kind == "vertex":
        colors = np.asarray(visual.vertex_colors, dtype=np.float64)
        out.diffuse = tuple(colors[:, :3].mean(axis=0) / 255.0)
    return out


# ------------------------------------------------------------------- loading


def _check_stl(data: bytes, name: str) -> None:
    """A binary STL is an 84-byte header (80 free bytes, then the triangle count) and 50
    bytes a triangle; one of another size is cut short or padded.  An ASCII STL starts
    with ``solid`` (some binary headers do too, so the size is asked first).  trimesh
    would try such a file as text and fail on a missing optional package."""
    if len(data) >= 84:
        count = int.from_bytes(data[80:84], "little")
        if 84 + 50 * count == len(data):
            return
    if data.lstrip()[:5].lower() == b"solid":
        return
    if len(data) < 84:
        raise MeshError(f"{name}: a binary STL cut short ({len(data)} bytes, less than its 84-byte header)")
    raise MeshError(f"{name}: a binary STL cut short or broken: its header counts {count:,} triangles, "
                    f"which take {84 + 50 * count:,} bytes, and the file has {len(data):,}")  # fmt: skip


class _Beside(trimesh.resolvers.FilePathResolver):
    """The files a glTF names (its ``.bin`` buffers, its images) in its folder or below it,
    read only when they are regular files of a bounded size: a pipe there would hang the
    load, a device would never end, and trimesh's own message for a missing buffer is a
    ``TypeError``.  ``read``: the files it gave."""

    def __init__(self, source: Path):
        super().__init__(source)
        self.read: list[Path] = []

    def get(self, name: str) -> bytes:
        owner = Path(self.file_name).name
        for candidate in dict.fromkeys((name.strip(), name.strip().lstrip("/"), Path(name).name)):
            try:
                path = self.absolute(candidate)
            except ValueError:  # above the glTF's folder
                continue
            if not path.exists():
                continue
            if not path.is_file():
                raise MeshError(f"{owner}: {name}, which it names, is not a regular file")
            if path.stat().st_size > MAX_FILE_BYTES:
                raise MeshError(f"{owner}: {name}, which it names, is larger than {MAX_FILE_BYTES // 2**20} MiB")
            self.read.append(path)
            return path.read_bytes()
        raise MeshError(f"{owner}: it names {name}, which is not in its folder (keep a .gltf's files beside it)")


def load_mesh(path: str | Path, max_triangles: int = MAX_TRIANGLES, orientation: np.ndarray | None = None) -> Mesh:
    """Load, validate and normalise an object file.  Raises :class:`MeshError`.

    ``orientation`` (3x3) turns the file's axes into ours (y up, front towards +z).
    """
    path = Path(path)
    if not path.exists():
        raise MeshError(f"object file not found: {path}")
    if not path.is_file():
        raise MeshError(f"not a file: {path}")
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise MeshError(f"{path.name}: unsupported format {suffix or '(none)'}; use one of {', '.join(MESH_SUFFIXES)}")
    size = path.stat().st_size
    if size == 0:
        raise MeshError(f"{path.name}: the file is empty")
    if size > MAX_FILE_BYTES:
        raise MeshError(f"{path.name}: {size / 2**20:.0f} MiB is larger than the {MAX_FILE_BYTES // 2**20} MiB limit")
    warnings: list[str] = []
    files = [path]
    data = path.read_bytes()
    try:
        if suffix == ".obj":
            scene, materials = _read_obj(path, data, warnings, files)
        else:
            if suffix == ".stl":
                _check_stl(data, path.name)
            beside = _Beside(path)
            scene = trimesh.load(io.BytesIO(data), file_type=suffix[1:], force="scene", process=False,
                                 resolver=beside)  # fmt: skip
            materials = {}
            files += beside.read
    except MeshError:
        raise
    except Exception as e:  # trimesh raises many kinds on malformed input
        detail, kind = str(e).strip().rstrip("!.") or "its structure is not as the format says", suffix[1:].upper()
        if isinstance(e, ImportError):  # trimesh tried the bytes as text of an unknown encoding
            detail = "damaged bytes where text or numbers were expected"
        raise MeshError(f"{path.name}: not a readable {kind} file, cut short or broken ({detail})") from None
    mesh = mesh_from_scene(scene, materials, path.stem, max_triangles, warnings, orientation)
    mesh.source, mesh.files = path, list(dict.fromkeys(files))
    return mesh


def mesh_from_scene(
    scene: trimesh.Scene,
    materials: dict[str, Material],
    name: str,
    max_triangles: int = MAX_TRIANGLES,
    warnings: list[str] | None = None,
    orientation: np.ndarray | None = None,
) -> Mesh:
    """Validate a trimesh scene, flatten its transforms, orient and normalise it."""
    warnings = [] if warnings is None else warnings
    geoms: list[trimesh.Trimesh] = []
    for node in scene.graph.nodes_geometry:
        transform, geom_name = scene.graph[node]
        geom = scene.geometry[geom_name]
        if not isinstance(geom, trimesh.Trimesh) or len(geom.faces) == 0:
            continue
        if not np.allclose(transform, np.eye(4)):
            geom = geom.copy()
            geom.apply_transform(transform)
        geoms.append(geom)
    if not geoms:
        raise MeshError(f"{name}: the file contains no triangles")
    total = sum(len(g.faces) for g in geoms)
    if total > max_triangles:
        raise MeshError(f"{name}: {total:,} triangles is more than the {max_triangles:,} this viewer accepts")

    parts: list[MeshPart] = []
    for i, geom in enumerate(geoms):
        vertices = np.asarray(geom.vertices, dtype=np.float64)
        faces = np.asarray(geom.faces, dtype=np.int64)
        if not np.all(np.isfinite(vertices)):
            raise MeshError(f"{name}: vertex coordinates include NaN or infinity")
        if np.abs(vertices).max() > MAX_COORDINATE:
            raise MeshError(
                f"{name}: coordinates up to {np.abs(vertices).max():.3g} are out of range (|v| <= {MAX_COORDINATE:g})"
            )
        if faces.min() < 0 or faces.max() >= len(vertices):
            raise MeshError(f"{name}: face indices refer to vertices that do not exist")
        normals = _vertex_normals(geom, vertices, faces)
        uv = getattr(geom.visual, "uv", None)
        uvs = None
        if uv is not None and len(uv) == len(vertices):
            uvs = np.asarray(uv, dtype=np.float64).copy()
            if not np.all(np.isfinite(uvs)):
                warnings.append(f"{name}: texture coordinates include NaN; part {i} is drawn untextured")
                uvs = None
            else:
                uvs[:, 1] = 1.0 - uvs[:, 1]
        if orientation is not None:
            vertices, normals = vertices @ orientation.T, normals @ orientation.T
        material = _material_from_trimesh(geom, materials, i)
        parts.append(MeshPart(material, vertices, normals, uvs, faces))

    extent = _normalise(parts)
    if extent <= 0:
        raise MeshError(f"{name}: all vertices coincide; the object has no size")
    for p in parts:
        p.positions = p.positions.astype(np.float32)
        p.normals = p.normals.astype(np.float32)
        p.uvs = None if p.uvs is None else p.uvs.astype(np.float32)
        p.triangles = p.triangles.astype(np.uint32)
    return Mesh(name=name, parts=parts, warnings=warnings, original_extent=extent)


def _vertex_normals(geom: trimesh.Trimesh, vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """The file's normals when present and sane, else area-weighted smooth normals."""
    cached = geom._cache.cache.get("vertex_normals") if hasattr(geom, "_cache") else None
    if cached is not None and len(cached) == len(vertices):
        n = np.asarray(cached, dtype=np.float64)
        norms = np.linalg.norm(n, axis=1)
        if np.all(np.isfinite(n)) and np.all(norms > 1e-8):
            return n / norms[:, None]
    tri = vertices[faces]
    face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 * area
    n = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(n, faces[:, k], face_n)
    norms = np.linalg.norm(n, axis=1)
    n[norms < 1e-20] = (0.0, 0.0, 1.0)
    norms[norms < 1e-20] = 1.0
    return n / norms[:, None]


def _normalise(parts: list[MeshPart]) -> float:
    """Centre the object's bounding box at the origin and scale its largest side to 2."""
    allp = np.concatenate([p.positions for p in parts])
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    extent = float((hi - lo).max())
    if not extent > 0:
        return 0.0
    centre, scale = (lo + hi) / 2.0, 2.0 / extent
    for p in parts:
        p.positions = (p.positions - centre) * scale
    return extent
