"""Objects a user brings (issue 39): ``--class`` for any mesh, ``add-object`` into the user's
library, and sweeps that know each object by one name.  Every mesh and zip here is built by
the test (:mod:`tests.built_objects`), none comes from ``models/``."""

import json
import os
import zipfile
from pathlib import Path

import pytest

from app.cli.main import main
from app.core.imagenet import class_names
from app.scene.library import resolve_object
from tests.built_objects import TENNIS_BALL, grey_ball, tennis_ball, zip_of

MODEL = ("--model", "efficientnet_lite0")


def library() -> Path:
    return Path(os.environ["STRIKE_LIBRARY"])


def test_a_mesh_file_told_its_class_gets_the_verdict_line(tmp_path, capsys):
    ball = tennis_ball(tmp_path / "ball")
    assert main(["classify", "--object", str(ball), *MODEL]) == 0
    assert "true class" not in capsys.readouterr().out  # a mesh file alone has no class
    assert main(["classify", "--object", str(ball), "--class", "tennis", "--set", "z=-7.5", *MODEL]) == 0
    out = capsys.readouterr().out
    assert f"true class: tennis ball ({TENNIS_BALL})\nverdict: CORRECT: top-1 is tennis ball" in out
    assert main(["classify", "--object", str(ball), "--class", "852", "--set", "z=-7.5", "--json", *MODEL]) == 0
    assert json.loads(capsys.readouterr().out)["true_rank"] == 1


def test_an_ambiguous_or_unknown_class_lists_what_it_could_be(tmp_path, capsys):
    ball = tennis_ball(tmp_path / "ball")
    assert main(["classify", "--object", str(ball), "--class", "dog", *MODEL]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 'dog' matches") and "Maltese dog" in err and err.count("\n") == 1
    assert main(["render", "--object", str(ball), "--class", "1000", "--out", str(tmp_path / "a.png")]) == 2
    assert "outside 0..999" in capsys.readouterr().err
    assert not (tmp_path / "a.png").exists()


@pytest.mark.slow  # a gradient search
def test_optimize_fools_the_model_on_a_mesh_told_its_class_and_the_pose_file_keeps_it(tmp_path, capsys):
    ball = tennis_ball(tmp_path / "ball")
    out = tmp_path / "runs"
    assert (
        main(["optimize", "--object", str(ball), "--budget", "30", "--set", "z=-7.5", "--out", str(out), *MODEL]) == 2
    )
    assert "no ImageNet class" in capsys.readouterr().err  # without --class there is nothing to get wrong
    assert main(["optimize", "--object", str(ball), "--class", "tennis ball", "--budget", "30", "--set", "z=-7.5",
                 "--out", str(out), *MODEL]) == 0  # fmt: skip
    assert "FOOLED: top-1 is no longer tennis ball" in capsys.readouterr().out
    (pose_file,) = out.glob("ball-*.json")
    doc = json.loads(pose_file.read_text())
    assert doc["object"] == str(ball.resolve()) and doc["class"] == TENNIS_BALL
    # the pose file alone brings the object and its class back: the verdict is the search's
    assert main(["classify", "--pose", str(pose_file), "--json", *MODEL]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["true_class"] == TENNIS_BALL and result["true_rank"] != 1


def test_a_pose_file_class_must_be_a_class_index(tmp_path, capsys):
    path = tmp_path / "pose.json"
    for bad in ('"tennis ball"', "1000", "true", "8.5"):
        path.write_text(f'{{"format": "strike-a-pose/pose", "version": 1, "class": {bad}, "pose": {{}}}}')
        assert main(["render", "--pose", str(path), "--out", str(tmp_path / "x.png")]) == 2
        err = capsys.readouterr().err
        assert err == f"error: {path}: 'class' must be an ImageNet class index, a whole number in 0..999\n"


@pytest.mark.slow  # 144 views rendered and classified
def test_add_object_from_a_zip_finds_a_recognised_canonical_pose(tmp_path, capsys):
    ball = tennis_ball(tmp_path / "src", "tennis")
    archive = zip_of(ball, tmp_path / "tennis.zip", extra={"README.txt": b"a ball", "preview.jpg": b"not needed"})
    assert main(["add-object", str(archive), "--class", "tennis ball", "--author", "Tests", "--license", "CC0-1.0",
                 "--source", "https://example.org/ball", *MODEL]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "added tennis (Tennis, tennis ball)" in out
    folder = library() / "tennis"
    assert sorted(p.name for p in folder.iterdir()) == [
        "LICENSE.txt",
        "object.json",
        "tennis.mtl",
        "tennis.obj",
        "tennis.png",
    ]  # fmt: skip  (no read-me, no preview)
    manifest = json.loads((folder / "object.json").read_text())
    assert manifest["imagenet_class"] == TENNIS_BALL and manifest["author"] == "Tests"
    assert not list(library().glob(".adding-*"))
    # the canonical pose is one the model recognises, checked by a separate classify of the library object
    assert main(["classify", "--object", "tennis", "--json", *MODEL]) == 0
    assert json.loads(capsys.readouterr().out)["true_rank"] == 1
    assert main(["objects"]) == 0
    listed = capsys.readouterr()
    assert any(line.startswith("tennis ") and line.endswith("[yours]") for line in listed.out.splitlines())
    assert str(library()) in listed.err
    assert resolve_object("tennis").class_name == "tennis ball"


@pytest.mark.slow  # 144 views
def test_add_object_takes_a_gltf_with_its_buffers_and_leaves_the_rest(tmp_path, capsys):
    import trimesh

    folder = tmp_path / "gltf"
    folder.mkdir()
    files = trimesh.load(tennis_ball(tmp_path / "src"), force="scene").export(file_type="gltf")
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "notes.txt").write_text("not part of the model")
    assert main(["add-object", str(folder / "model.gltf"), "--class", "tennis ball", "--name", "gl_ball", *MODEL]) == 0
    assert "added gl_ball" in capsys.readouterr().out
    assert sorted(p.name for p in (library() / "gl_ball").iterdir()) == sorted(
        ["LICENSE.txt", "object.json", *files]
    )  # the .gltf and every buffer it names, not the notes
    assert main(["classify", "--object", "gl_ball", "--json", *MODEL]) == 0
    assert json.loads(capsys.readouterr().out)["true_rank"] == 1


@pytest.mark.slow  # 144 views, twice
def test_add_object_never_replaces_an_object(tmp_path, capsys):
    ball = tennis_ball(tmp_path / "src")
    assert main(["add-object", str(ball), "--class", "tennis ball", "--name", "hen", *MODEL]) == 2
    assert capsys.readouterr().err.startswith("error: an object named 'hen' is already in the library")
    assert main(["add-object", str(ball), "--class", "tennis ball", *MODEL]) == 0
    before = {p.name: p.read_bytes() for p in (library() / "ball").iterdir()}
    capsys.readouterr()
    assert main(["add-object", str(grey_ball(tmp_path / "g")), "--class", "hen", "--name", "ball", *MODEL]) == 2
    assert "already in the library" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (library() / "ball").iterdir()} == before
    assert main(["add-object", str(ball), "--class", "tennis ball", "--name", "../up", *MODEL]) == 2
    assert "object name '../up'" in capsys.readouterr().err


@pytest.mark.slow  # 144 views, twice (y up, then z up)
def test_a_zip_missing_a_texture_is_added_with_a_warning_and_an_unrecognised_object_warns(tmp_path, capsys):
    ball = tennis_ball(tmp_path / "src")
    archive = zip_of(ball, tmp_path / "ball.zip", leave_out=("ball.png",))
    assert main(["add-object", str(archive), "--class", "hen", "--name", "bald", *MODEL]) == 0
    err = capsys.readouterr().err
    assert "warning: texture 'ball.png' of material 'skin' not found" in err
    assert f"warning: efficientnet_lite0 never took it for a {class_names()[8]} in 144 natural views" in err
    assert sorted(p.name for p in (library() / "bald").iterdir()) == ["LICENSE.txt", "ball.mtl", "ball.obj",
                                                                      "object.json"]  # fmt: skip


def test_zips_that_are_not_one_mesh_are_refused_before_the_model_loads(tmp_path, capsys):
    ball = tennis_ball(tmp_path / "src")
    cases = {
        "none.zip": {"readme.txt": b"x"},
        "two.zip": {"a/one.ply": b"ply", "b/two.ply": b"ply"},
        "escape.zip": {"../evil.obj": ball.read_bytes()},
    }
    said = {
        "none.zip": "the zip holds no mesh (.obj, .glb, .gltf, .ply, .stl, .off)",
        "two.zip": "the zip holds several meshes (a/one.ply, b/two.ply); unzip it and give the one to add",
        "escape.zip": "the zip names '../evil.obj', outside its own folder; refused",
    }
    for name, members in cases.items():
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            for member, data in members.items():
                z.writestr(member, data)
        assert main(["add-object", str(tmp_path / name), "--class", "hen", *MODEL]) == 2
        assert capsys.readouterr().err == f"error: {name}: {said[name]}\n"
    (tmp_path / "cut.zip").write_bytes(zip_of(ball, tmp_path / "whole.zip").read_bytes()[:300])
    assert main(["add-object", str(tmp_path / "cut.zip"), "--class", "hen", *MODEL]) == 2
    assert capsys.readouterr().err.startswith("error: cut.zip: not a readable zip file")
    assert not library().exists() or not any(library().iterdir())


@pytest.mark.slow  # a sweep
def test_a_sweep_of_mesh_files_reports_each_object_by_its_name(tmp_path, capsys):
    a, b = tennis_ball(tmp_path / "one", "felt"), grey_ball(tmp_path / "two", "plain")
    out = tmp_path / "sweep"
    objects = f"{a},{b}"
    models = ("--models", "efficientnet_lite0")
    assert main(["sweep", "--object", objects, "--samples", "6", "--out", str(out), *models]) == 2
    assert "no ImageNet class" in capsys.readouterr().err and not out.exists()
    assert main(["sweep", "--object", objects, "--class", "tennis ball,852", "--samples", "6", "--out", str(out),
                 "--models", "efficientnet_lite0"]) == 0  # fmt: skip
    plan = json.loads((out / "sweep.json").read_text())
    assert plan["objects"] == ["felt", "plain"] and plan["sources"] == {"felt": str(a.resolve()),
                                                                        "plain": str(b.resolve())}  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    assert {k.split("|")[0] for k in report["fractions"]} == {"felt", "plain", "all objects"}
    assert all(f["n"] == 6 for k, f in report["fractions"].items() if not k.startswith("all"))
    # resumed without --object, it finds both files and their classes again
    assert main(["sweep", "--out", str(out), "--resume", "--samples", "8"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["fractions"]["felt|efficientnet_lite0"]["n"] == 8


def test_a_plan_written_with_mesh_paths_reads_as_names_and_sources(tmp_path):
    """Sweeps started before the names were one identity listed a mesh file by its path and
    wrote rows under its stem: such a plan reads with the stem as the name."""
    from app.sweep.sweep import SweepPlan

    ball = tennis_ball(tmp_path / "one", "felt")
    plan = SweepPlan(objects=("hen",), models=("efficientnet_lite0",), samples=3).to_dict()
    plan["objects"] = ["hen", str(ball)]
    del plan["sources"], plan["classes"]
    read = SweepPlan.from_dict(plan)
    assert read.objects == ("hen", "felt") and read.sources == {"felt": str(ball)}
    assert read.resolve("felt").mesh_path == ball and read.resolve("hen").class_name == "hen"
