"""Malformed meshes, pose files and weights files, made from a seed, through the real
command line (in this process): each must end well (exit 0) or with one ``error:`` line
that names the file (exit 2), never a traceback or a hang (issue 43).

The cases are mutations of small valid files (cut short, bytes flipped, numbers swapped
for huge, negative, NaN or non-numbers, lines repeated, structure nested or emptied), so
that most get past the first check and reach the parser's inner corners.  The seed is
printed; ``FUZZ_SEED=N pytest tests/test_fuzz.py`` replays or widens the search.
"""

from __future__ import annotations

import io
import json
import os
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh

from app.cli.main import main
from app.vision.classifiers import bundled_weights_path

SEED = int(os.environ.get("FUZZ_SEED", "43"))
CASES = 80  # of each kind: 240 in all
ODD_NUMBERS = ["1e309", "-1e309", "nan", "NaN", "inf", "-0", "1" + "0" * 400, "-99999999999", "0x1F", "", "1,5", "٣"]
ODD_JSON = [None, True, "yaw", [], {}, [[[[1]]]], 1e308, -1e308, 10**400, 0.5, -7, "nan", {"a": {"b": {}}}]


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """One of: cut short, flip bytes, repeat a slice, drop a slice, insert noise."""
    data = bytearray(data)
    how = rng.randrange(5)
    at = rng.randrange(max(len(data), 1))
    if how == 0:
        return bytes(data[:at])
    if how == 1:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(data))
            data[i] = rng.randrange(256)
        return bytes(data)
    if how == 2:
        return bytes(data[:at] + data[at : at + rng.randint(1, 64)] * rng.randint(2, 50) + data[at:])
    if how == 3:
        return bytes(data[:at] + data[at + rng.randint(1, 200) :])
    return bytes(data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) + data[at:])


def _mutate_text(rng: random.Random, text: str) -> str:
    """Swap numbers for odd ones, repeat or drop lines, or add keywords with odd arguments."""
    lines = text.splitlines()
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(lines))
        words = lines[i].split()
        how = rng.randrange(5)
        if how == 0 and len(words) > 1:
            words[rng.randrange(1, len(words))] = rng.choice(ODD_NUMBERS)
            lines[i] = " ".join(words)
        elif how == 1:
            lines.insert(i, lines[i])
        elif how == 2:
            del lines[i]
            lines = lines or [""]
        elif how == 3:
            key = rng.choice(["v", "vt", "vn", "f", "usemtl", "mtllib", "o", "g", "s", "l", "p"])
            lines.insert(i, " ".join([key] + [rng.choice(ODD_NUMBERS + ["1/2/3", "-1", "0", "a/b"])
                                              for _ in range(rng.randint(0, 5))]))  # fmt: skip
        else:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
    return "\n".join(lines) + rng.choice(["", "\n", "\r\n", "\x00"])


def _box() -> trimesh.Trimesh:
    box = trimesh.creation.box()
    box.visual = trimesh.visual.TextureVisuals(uv=np.random.default_rng(0).random((len(box.vertices), 2)))
    return box


def _mesh_case(rng: random.Random, folder: Path) -> Path:
    box = _box()
    kind = rng.choice(["obj", "obj", "stl", "ply", "glb", "gltf", "off"])
    if kind == "obj":
        text = trimesh.exchange.obj.export_obj(box, include_texture=False)
        path = folder / "case.obj"
        path.write_text(_mutate_text(rng, text)) if rng.random() < 0.7 else path.write_bytes(
            _mutate_bytes(rng, text.encode())
        )
        return path
    if kind == "gltf":
        files = trimesh.exchange.gltf.export_gltf(trimesh.Scene(box))
        doc = json.loads(files.pop("model.gltf"))
        for name, data in files.items():
            (folder / name).write_bytes(_mutate_bytes(rng, data) if rng.random() < 0.3 else data)
        _mutate_json(rng, doc, depth=0)
        path = folder / "case.gltf"
        path.write_text(json.dumps(doc))
        return path
    data = {
        "stl": lambda: trimesh.exchange.stl.export_stl(box),
        "ply": lambda: trimesh.exchange.ply.export_ply(box),
        "glb": lambda: trimesh.exchange.gltf.export_glb(trimesh.Scene(box)),
        "off": lambda: trimesh.exchange.off.export_off(box).encode(),
    }[kind]()
    path = folder / f"case.{kind}"
    path.write_bytes(_mutate_bytes(rng, data))
    return path


def _mutate_json(rng: random.Random, node, depth: int) -> None:
    """Replace, drop or add a value somewhere in a decoded JSON document."""
    if isinstance(node, dict) and node:
        key = rng.choice(list(node))
        if depth > 3 or rng.random() < 0.4 or not isinstance(node[key], (dict, list)):
            how = rng.randrange(3)
            if how == 0:
                node[key] = rng.choice(ODD_JSON)
            elif how == 1:
                del node[key]
            else:
                node[rng.choice(["extra", "pose", "version", "settings", "yaw", "byteLength"])] = rng.choice(ODD_JSON)
        else:
            _mutate_json(rng, node[key], depth + 1)
    elif isinstance(node, list) and node:
        i = rng.randrange(len(node))
        if depth > 3 or rng.random() < 0.4 or not isinstance(node[i], (dict, list)):
            node[i] = rng.choice(ODD_JSON)
        else:
            _mutate_json(rng, node[i], depth + 1)


def _pose_case(rng: random.Random, folder: Path) -> Path:
    doc = {
        "format": "strike-a-pose/pose", "version": 1, "object": "teddy_bear",
        "pose": {"yaw": 30.0, "pitch": -10.0, "z": -6.0, "light_azimuth": 40.0},
        "settings": {"textures": True, "background": [1, 1, 1], "quality": "standard"},
    }  # fmt: skip
    path = folder / "pose.json"
    how = rng.randrange(4)
    if how <= 1:
        for _ in range(rng.randint(1, 3)):
            _mutate_json(rng, doc, depth=0)
        path.write_text(json.dumps(doc))
    elif how == 2:
        path.write_bytes(_mutate_bytes(rng, json.dumps(doc).encode()))
    else:
        deep = rng.choice([10, 1000, 100_000])
        path.write_text(rng.choice(['{"pose": ', "[", '{"a":']) * 0 + "[" * deep + "]" * deep)
    return path


_STATE: dict[str, torch.Tensor] = {}


def _weights_case(rng: random.Random, folder: Path) -> Path:
    if not _STATE:
        _STATE.update(torch.load(bundled_weights_path(), map_location="cpu", weights_only=True))
    path = folder / "weights.pth"
    how = rng.randrange(5)
    if how == 0:  # the file's bytes
        buffer = io.BytesIO()
        small = dict(list(_STATE.items())[:3])
        torch.save(small, buffer)
        path.write_bytes(_mutate_bytes(rng, buffer.getvalue()))
        return path
    state = dict(_STATE)
    key = rng.choice(list(state))
    if how == 1:
        state[key] = state[key].reshape(-1)[: max(1, state[key].numel() // 2)].clone()
    elif how == 2:
        key = rng.choice([k for k, v in state.items() if v.is_floating_point()])
        state[key] = state[key].clone().contiguous()
        state[key].view(-1)[0] = rng.choice([float("nan"), float("inf")])
    elif how == 3:
        state[rng.choice([7, "renamed", ""])] = state.pop(key)
    else:
        state = rng.choice([[1, 2, 3], {"state_dict": rng.choice(ODD_JSON)}, {"x": "text"}, torch.zeros(3), {}])
    torch.save(state, path)
    return path


def _command(kind: str, path: Path, out: Path) -> list[str]:
    if kind == "mesh":
        return ["render", "--object", str(path), "--size", "32x32", "--out", str(out)]
    if kind == "pose":
        return ["render", "--pose", str(path), "--size", "32x32", "--out", str(out)]
    return [
        "classify",
        "--model",
        "efficientnet_lite0",
        "--weights",
        str(path),
        "--image",
        str(out.parent.parent / "i.png"),
    ]


MAKERS: dict[str, Callable[[random.Random, Path], Path]] = {"mesh": _mesh_case, "pose": _pose_case,
                                                            "weights": _weights_case}  # fmt: skip


@pytest.mark.parametrize("kind", list(MAKERS))
def test_malformed_inputs_end_well_or_with_one_error_line(kind, tmp_path, capsys):
    """Each case: exit 0, or exit 2 and one ``error:`` line naming the file; an exception
    other than the expected ones leaves main() and fails the test with its traceback."""
    from PIL import Image

    Image.new("RGB", (16, 16), (90, 120, 30)).save(tmp_path / "i.png")
    print(f"fuzz seed {SEED} (FUZZ_SEED={SEED} replays it)")
    outcomes = {0: 0, 2: 0}
    for case in range(CASES):
        rng = random.Random(f"{SEED}-{kind}-{case}")
        folder = tmp_path / f"{case}"
        folder.mkdir()
        path = MAKERS[kind](rng, folder)
        code = main(_command(kind, path, folder / "out.png"))
        err = capsys.readouterr().err
        where = f"{kind} case {case} (seed {SEED}): {path.name}"
        assert code in outcomes, f"{where}: exit {code}\n{err}"
        outcomes[code] += 1
        if code == 2:
            lines = [line for line in err.splitlines() if not line.startswith(("notice:", "warning:"))]
            assert len(lines) == 1 and lines[0].startswith("error: "), f"{where}: {err}"
            assert path.name in lines[0] or path.stem in lines[0], f"{where}: the error does not name the file: {err}"
            assert not (folder / "out.png").exists()
    print(f"{kind}: {outcomes[0]} ended well, {outcomes[2]} refused")
    assert outcomes[2] >= CASES // 4, outcomes  # the mutations mostly break the files
