"""Objects the tests build themselves, as a user brings them: a textured OBJ with its MTL and
texture, and zips of it.  A sphere with a tennis ball's felt and seam is taken for a tennis
ball by the bundled EfficientNet-Lite0 in almost every natural view (141 of 144 when this
was written); a plain grey sphere is never taken for a hen."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

TENNIS_BALL = 852  # ImageNet's "tennis ball"


def sphere(folder: Path, texture: np.ndarray, name: str = "ball", rings: int = 32) -> Path:
    """A UV sphere OBJ with ``texture`` (H, W, 3 uint8) in ``folder``: NAME.obj, .mtl and .png."""
    folder.mkdir(parents=True, exist_ok=True)
    theta = np.pi * np.arange(rings + 1) / rings
    phi = np.pi * np.arange(2 * rings + 1) / rings
    t, p = np.meshgrid(theta, phi, indexing="ij")
    xyz = np.stack([np.sin(t) * np.cos(p), np.cos(t), np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    uv = np.stack(np.meshgrid(np.arange(2 * rings + 1) / (2 * rings), 1 - np.arange(rings + 1) / rings), -1)
    lines = [f"mtllib {name}.mtl", "usemtl skin"]
    lines += [f"v {x:.5f} {y:.5f} {z:.5f}" for x, y, z in xyz]
    lines += [f"vt {u:.5f} {v:.5f}" for u, v in uv.reshape(-1, 2)]
    width = 2 * rings + 1
    for i in range(rings):
        for j in range(2 * rings):
            a = i * width + j + 1
            b, c, d = a + 1, a + width, a + width + 1
            lines.append(f"f {a}/{a} {c}/{c} {d}/{d} {b}/{b}")
    (folder / f"{name}.obj").write_text("\n".join(lines) + "\n")
    (folder / f"{name}.mtl").write_text(f"newmtl skin\nKd 1 1 1\nKs 0.1 0.1 0.1\nNs 20\nmap_Kd {name}.png\n")
    Image.fromarray(texture).save(folder / f"{name}.png")
    return folder / f"{name}.obj"


def tennis_ball(folder: Path, name: str = "ball") -> Path:
    """Yellow-green felt with a white seam."""
    rng = np.random.default_rng(0)
    h, w = 256, 512
    felt = Image.fromarray((rng.random((h, w)) * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.5))
    texture = np.array([200.0, 225.0, 40.0]) * (0.85 + 0.3 * np.asarray(felt, float)[..., None] / 255)
    u, v = np.linspace(0, 2 * np.pi, w)[None, :], np.linspace(0, 1, h)[:, None]
    texture[np.abs(v - 0.5 - 0.25 * np.sin(2 * u)) < 0.015] = 245
    return sphere(folder, np.clip(texture, 0, 255).astype(np.uint8), name)


def grey_ball(folder: Path, name: str = "grey") -> Path:
    return sphere(folder, np.full((16, 32, 3), 128, np.uint8), name)


def zip_of(mesh: Path, out: Path, leave_out: tuple[str, ...] = (), extra: dict[str, bytes] | None = None) -> Path:
    """The mesh's folder zipped under a top folder, as model sites hand them out, with
    ``extra`` files (a read-me, a preview) beside it and ``leave_out`` file names missing."""
    with zipfile.ZipFile(out, "w") as z:
        for f in sorted(mesh.parent.iterdir()):
            if f.name not in leave_out:
                z.write(f, f"{mesh.stem}-model/{f.name}")
        for name, data in (extra or {}).items():
            z.writestr(f"{mesh.stem}-model/{name}", data)
    return out
