import os

import numpy as np
import pytest
from PIL import Image

from app.scene.library import MODELS_DIR, list_objects, read_manifest, resolve_object
from app.scene.mesh import MeshError, load_mesh, load_texture

TRIANGLE = "v 0 0 0\nv 1 0 0\nv 0 1 0\n"
QUAD_MTL = """newmtl red
Kd 1 0 0
Ks 0.5 0.5 0.5
Ns 20
newmtl glass
Kd 0.2 0.3 0.4
d 0.25
newmtl tex
Kd 0.5 0.5 0.5
map_Kd Checker.PNG
"""
QUAD_OBJ = """mtllib parts.mtl
v 0 0 0
v 2 0 0
v 2 1 0
v 0 1 0
v 0 0 -1
v 2 0 -1
vt 0 0
vt 1 0
vt 1 1
vt 0 1
usemtl red
f 1 2 3 4
usemtl glass
f 1 5 6 2
usemtl tex
f 1/1 2/2 3/3 4/4
"""


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.fixture
def quad_object(tmp_path):
    write(tmp_path, "parts.mtl", QUAD_MTL)
    checker = np.indices((8, 8)).sum(axis=0) % 2 * 255
    Image.fromarray(np.stack([checker] * 3, axis=-1).astype(np.uint8)).save(tmp_path / "checker.png")
    return write(tmp_path, "parts.obj", QUAD_OBJ)


def test_quads_materials_transparency_and_case_insensitive_texture(quad_object):
    mesh = load_mesh(quad_object)
    assert mesh.warnings == []
    by_name = {p.material.name: p for p in mesh.parts}
    assert set(by_name) == {"red", "glass", "tex"}
    assert len(by_name["red"].triangles) == 2  # the quad became two triangles
    assert by_name["red"].material.diffuse == (1.0, 0.0, 0.0)
    assert by_name["red"].material.shininess == 20.0
    assert by_name["glass"].material.alpha == 0.25
    tex = by_name["tex"]
    assert tex.textured and tex.material.texture.shape == (8, 8, 4)  # found despite the case
    assert not by_name["red"].textured  # no UVs -> diffuse colour


def test_normalised_to_a_centred_unit_box(quad_object):
    lo, hi = load_mesh(quad_object).bounds()
    assert np.allclose((lo + hi) / 2, 0, atol=1e-6)
    assert np.isclose((hi - lo).max(), 2.0)


def test_missing_normals_are_computed(quad_object):
    for part in load_mesh(quad_object).parts:
        assert np.allclose(np.linalg.norm(part.normals, axis=1), 1.0, atol=1e-5)
    red = next(p for p in load_mesh(quad_object).parts if p.material.name == "red")
    assert np.allclose(np.abs(red.normals[:, 2]), 1.0, atol=1e-5)  # the quad lies in the xy plane


def test_file_normals_are_used(tmp_path):
    path = write(tmp_path, "n.obj", TRIANGLE + "vn 0 0 -1\nf 1//1 2//1 3//1\n")
    part = load_mesh(path).parts[0]
    assert np.allclose(part.normals, [0, 0, -1])


def test_gltf_via_trimesh(tmp_path):
    import trimesh

    box = trimesh.creation.box(extents=(2, 4, 1))
    path = tmp_path / "box.glb"
    box.export(path)
    mesh = load_mesh(path)
    assert mesh.triangle_count == 12
    lo, hi = mesh.bounds()
    assert np.isclose(hi[1] - lo[1], 2.0)


def test_every_library_object_loads_with_license_and_class():
    objects = list_objects()
    assert len(objects) >= 10
    classes = {o.imagenet_class for o in objects}
    assert len(classes) == len(objects), "library objects must be of distinct classes"
    total = sum(f.stat().st_size for f in MODELS_DIR.rglob("*") if f.is_file())
    assert total < 10 * 2**20, f"models/ is {total / 2**20:.1f} MiB"
    for obj in objects:
        mesh = obj.load()
        assert mesh.warnings == [], (obj.name, mesh.warnings)
        assert obj.license_file.is_file() and obj.author and obj.license
        assert any(p.textured for p in mesh.parts) or obj.name in {"grand_piano", "coffee_cup", "soccer_ball"}


# --------------------------------------------------------------- bad input

BAD_FILES = [
    ("truncated vertex", "v.obj", "v 0 0 0\nv 1 0 0\nv 0 1", "a vertex needs 3 coordinates"),
    ("truncated face", "f.obj", TRIANGLE + "f 1 2", "a face needs at least 3 vertices"),
    ("index out of range", "i.obj", TRIANGLE + "f 1 2 7\n", "the face names vertex 7, but only 3 vertices"),
    ("relative index out of range", "r.obj", TRIANGLE + "f -1 -2 -4\n", "names vertex -4, but only 3"),
    ("index zero", "z.obj", TRIANGLE + "f 0 1 2\n", "indices start at 1"),
    ("NaN vertex", "nan.obj", "v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n", "NaN or infinity"),
    ("infinite vertex", "inf.obj", "v 0 0 0\nv inf 0 0\nv 0 1 0\nf 1 2 3\n", "NaN or infinity"),
    ("huge coordinates", "huge.obj", "v 0 0 0\nv 1e300 0 0\nv 0 1e300 0\nf 1 2 3\n", "out of range"),
    ("empty file", "empty.obj", "", "the file is empty"),
    ("comments only", "c.obj", "# nothing here\n", "contains no triangles"),
    ("vertices only", "vo.obj", TRIANGLE, "contains no triangles"),
    ("text for numbers", "t.obj", TRIANGLE + "v a b c\nf 1 2 3\n", "line 4: a vertex coordinate is not a number"),
    ("binary garbage", "bin.obj", b"\x00\x01\x02\xff" * 64, "not a text file"),
    ("unsupported format", "model.fbx", "whatever", "unsupported format"),
    ("degenerate object", "deg.obj", "v 1 1 1\nv 1 1 1\nv 1 1 1\nf 1 2 3\n", "no size"),
    ("corrupt glb", "bad.glb", b"glTF\x02\x00\x00\x00garbage", "bad.glb: not a readable GLB file, cut short or broken"),
    ("bad MTL numbers", "m.obj", "mtllib m.mtl\n" + TRIANGLE + "usemtl a\nf 1 2 3\n", "expected numbers"),
]


@pytest.mark.parametrize("label, name, content, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_object_files_give_clear_errors(tmp_path, label, name, content, message):
    write(tmp_path, "m.mtl", "newmtl a\nKd a b c\n")
    with pytest.raises(MeshError, match=message):
        load_mesh(write(tmp_path, name, content))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(MeshError, match="not found"):
        load_mesh(tmp_path / "nope.obj")
    (tmp_path / "dir.obj").mkdir()
    with pytest.raises(MeshError, match="not a file"):
        load_mesh(tmp_path / "dir.obj")


def test_too_many_triangles_is_refused(tmp_path):
    with pytest.raises(MeshError, match="more than the 1 this viewer accepts"):
        load_mesh(write(tmp_path, "q.obj", "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n"), max_triangles=1)


@pytest.mark.parametrize(
    "mtl, files, message",
    [
        (None, {}, "material library 'parts.mtl' not found"),
        (QUAD_MTL, {}, "texture 'Checker.PNG' of material 'tex' not found"),
        (QUAD_MTL, {"checker.png": b"not a png at all"}, "texture checker.png cannot be decoded"),
    ],
    ids=["missing MTL", "missing texture", "corrupt texture"],
)
def test_missing_or_broken_materials_load_with_a_warning(tmp_path, mtl, files, message):
    if mtl:
        write(tmp_path, "parts.mtl", mtl)
    for name, data in files.items():
        write(tmp_path, name, data)
    mesh = load_mesh(write(tmp_path, "parts.obj", QUAD_OBJ))
    assert any(message in w for w in mesh.warnings), mesh.warnings
    assert mesh.triangle_count == 6 and not any(p.textured for p in mesh.parts)


def test_broken_manifest_and_unknown_object(tmp_path):
    from app.scene.library import ObjectNotFound

    folder = tmp_path / "thing"
    folder.mkdir()
    write(folder, "object.json", '{"display_name": "x"}')
    with pytest.raises(MeshError, match="missing field"):
        read_manifest(folder)
    write(folder, "object.json", "{not json")
    with pytest.raises(MeshError, match="cannot read manifest"):
        read_manifest(folder)
    with pytest.raises(ObjectNotFound, match="not in the library"):
        resolve_object("unicorn")
    with pytest.raises(ObjectNotFound, match="not found"):
        resolve_object(str(tmp_path / "nope.obj"))


def _gltf_with_buffers(folder):
    """A box exported the common way: ``model.gltf`` with its ``.bin`` buffers beside it."""
    import trimesh

    files = trimesh.exchange.gltf.export_gltf(trimesh.Scene(trimesh.creation.box()))
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder / "model.gltf", sorted(n for n in files if n.endswith(".bin"))


def test_a_gltf_with_its_buffers_beside_it_loads_and_a_missing_or_piped_buffer_is_named(tmp_path):
    """Issue 43: the .gltf was read from bytes with nothing to find its .bin by, so the
    common export layout was refused with "TypeError: 'NoneType' object is not subscriptable"."""
    path, buffers = _gltf_with_buffers(tmp_path / "ok")
    mesh = load_mesh(path)
    assert mesh.triangle_count == 12 and mesh.name == "model"
    path, buffers = _gltf_with_buffers(tmp_path / "missing")
    (path.parent / buffers[-1]).unlink()
    with pytest.raises(MeshError, match=f"^model.gltf: it names {buffers[-1]}, which is not in its folder"):
        load_mesh(path)
    path, buffers = _gltf_with_buffers(tmp_path / "piped")
    (path.parent / buffers[-1]).unlink()
    os.mkfifo(path.parent / buffers[-1])  # opening it would wait for a writer forever
    with pytest.raises(MeshError, match=f"^model.gltf: {buffers[-1]}, which it names, is not a regular file"):
        load_mesh(path)
    path, buffers = _gltf_with_buffers(tmp_path / "above")
    path.write_text(path.read_text().replace(buffers[-1], "../../../etc/hostname"))
    with pytest.raises(MeshError, match="^model.gltf: it names ../../../etc/hostname, which is not in its folder"):
        load_mesh(path)


def test_an_obj_with_a_byte_order_mark_loads_like_one_without(tmp_path):
    """Issue 43: the mark glued to the first line made its vertex unknown, and the faces
    then named a vertex that "is not defined"."""
    plain = load_mesh(write(tmp_path, "plain.obj", QUAD_OBJ.replace("mtllib parts.mtl\n", "")))
    marked = load_mesh(
        write(tmp_path, "marked.obj", b"\xef\xbb\xbf" + QUAD_OBJ.replace("mtllib parts.mtl\n", "").encode())
    )
    assert marked.triangle_count == plain.triangle_count
    for a, b in zip(plain.parts, marked.parts, strict=True):
        assert np.array_equal(a.positions, b.positions) and np.array_equal(a.triangles, b.triangles)


def test_a_truncated_binary_stl_is_named_for_what_it_is(tmp_path):
    """Issue 43: trimesh tried the cut file as text and failed with "No module named
    'charset_normalizer'"."""
    import trimesh

    data = trimesh.exchange.stl.export_stl(trimesh.creation.icosphere(subdivisions=1))
    assert load_mesh(write(tmp_path, "whole.stl", data)).triangle_count == 80
    with pytest.raises(MeshError, match=r"^cut.stl: a binary STL cut short or broken: its header counts 80 triangles, "
                       r"which take 4,084 bytes, and the file has 2,042$"):  # fmt: skip
        load_mesh(write(tmp_path, "cut.stl", data[: len(data) // 2]))
    with pytest.raises(MeshError, match="tiny.stl: a binary STL cut short"):
        load_mesh(write(tmp_path, "tiny.stl", data[:40]))


def test_a_named_pipe_as_an_image_is_refused_without_opening_it(tmp_path):
    """Issue 43: as --image, --background-image or a pose file's background_image, a FIFO
    hung in open()."""
    fifo = tmp_path / "picture.png"
    os.mkfifo(fifo)
    for kind in ("image", "background image"):
        with pytest.raises(MeshError, match=f"^{kind} {fifo} is not a regular file"):
            load_texture(fifo, kind)
