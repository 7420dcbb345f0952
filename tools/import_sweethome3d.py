"""Rebuild the object library in models/ from Debian's sweethome3d-furniture package.

    apt-get download sweethome3d-furniture && dpkg -x sweethome3d-furniture_*.deb root
    python tools/import_sweethome3d.py root/usr/share/sweethome3d/furniture

Copies each chosen model folder (mesh, MTL, textures, per-model license) out of the
``.sh3f`` zip libraries, adds the library's own LICENSE.TXT where the model has no license
file of its own, and writes an ``object.json`` manifest.  Canonical poses are filled in
afterwards by tools/find_canonical_poses.py; an existing manifest keeps its pose.
"""

from __future__ import annotations

import argparse
import json
import re
import zipfile
from pathlib import Path

from app.core.params import Pose

ROOT = Path(__file__).resolve().parent.parent

PACKAGE = "Debian package sweethome3d-furniture 1.8-1"
LICENSES = {
    "Scopia": "CC-BY-3.0 (Emmanuel Puybaret / eTeks and Scopia Visual Interfaces Systems)",
    "KatorLegaz": "CC-BY-3.0-US (Andrew Kator & Jennifer Legaz)",
    "BlendSwap-CC-0": "CC0-1.0",
    "BlendSwap-CC-BY": "CC-BY-3.0",
}

# slug, library, folder in the library, ImageNet class index, display name, orientation
OBJECTS = [
    ("sports_car", "Scopia", "scopia/chevrolet", 817, "Sports car (Chevrolet)", None),
    ("teddy_bear", "BlendSwap-CC-0", "blendswap-cc-0/teddyBear", 850, "Teddy bear", None),
    ("basketball", "BlendSwap-CC-0", "blendswap-cc-0/basketball", 430, "Basketball", None),
    ("power_drill", "Scopia", "scopia/perceuse-electrique", 740, "Power drill", None),
    ("barrel", "BlendSwap-CC-0", "blendswap-cc-0/barrel", 427, "Barrel", None),
    ("grand_piano", "BlendSwap-CC-0", "blendswap-cc-0/pianoAQueue", 579, "Grand piano", None),
    ("minivan", "Scopia", "scopia/renault-scenic", 656, "Minivan (Renault Scenic)", None),
    ("hen", "BlendSwap-CC-0", "blendswap-cc-0/chicken", 8, "Hen", None),
    ("wine_bottle", "KatorLegaz", "katorlegaz/red-wine-bottle-01", 907, "Wine bottle", None),
    (
        "cellphone",
        "BlendSwap-CC-0",
        "blendswap-cc-0/iphone",
        487,
        "Cellphone (iPhone)",
        [[1, 0, 0], [0, 0, 1], [0, -1, 0]],
    ),
    ("running_shoe", "Scopia", "scopia/sneakers", 770, "Running shoe", None),
    ("reflex_camera", "Scopia", "scopia/reflex_camera", 759, "Reflex camera", None),
    ("beer_bottle", "BlendSwap-CC-BY", "blendswap-cc-by/beer_bottle", 440, "Beer bottle", None),
    ("coffee_cup", "BlendSwap-CC-0", "blendswap-cc-0/caffe_final", 968, "Coffee cup", None),
    ("soccer_ball", "BlendSwap-CC-BY", "blendswap-cc-by/ballonFoot", 805, "Soccer ball", None),
    ("umbrella", "BlendSwap-CC-0", "blendswap-cc-0/umbrella", 879, "Umbrella", None),
]


def catalog_entry(zf: zipfile.ZipFile, folder: str) -> dict[str, str]:
    """name/creator/... of the catalog entry whose model lies in ``folder``."""
    text = zf.read("PluginFurnitureCatalog.properties").decode("utf-8", "replace")
    m = re.search(rf"^model#(\d+)=/{re.escape(folder)}/", text, re.M)
    if not m:
        return {}
    n = m.group(1)
    return dict(re.findall(rf"^(\w+)#{n}=(.*)$", text, re.M))


def import_object(furniture: Path, out_dir: Path, spec: tuple) -> Path:
    slug, library, folder, cls, display, orientation = spec
    dest = out_dir / slug
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(furniture / f"{library}.sh3f") as zf:
        entry = catalog_entry(zf, folder)
        license_file = None
        for info in zf.infolist():
            if not info.filename.startswith(folder + "/") or info.is_dir():
                continue
            name = Path(info.filename).name
            if "license" in name.lower():
                name = "LICENSE" + Path(name).suffix.lower()
                license_file = name
            (dest / name).write_bytes(zf.read(info))
        if license_file is None:
            license_file = "LICENSE.txt"
            (dest / license_file).write_bytes(zf.read("LICENSE.TXT"))
    meshes = sorted(dest.glob("*.obj"))
    manifest_path = dest / "object.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest = {
        "display_name": display,
        "mesh": meshes[0].name,
        "imagenet_class": cls,
        "canonical_pose": old.get("canonical_pose", Pose().to_dict()),
        "license": LICENSES[library],
        "author": entry.get("creator", library),
        "license_file": license_file,
        "source": f"{PACKAGE}, {library}.sh3f: {folder} (catalog name {entry.get('name', '?')!r})",
    }
    if orientation is not None:
        manifest["orientation"] = orientation
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("furniture", type=Path, help="folder holding the .sh3f libraries")
    parser.add_argument("--out", type=Path, default=ROOT / "models")
    parser.add_argument("--only", nargs="*", help="slugs to import (default: all)")
    args = parser.parse_args()
    for spec in OBJECTS:
        if args.only and spec[0] not in args.only:
            continue
        print("imported", import_object(args.furniture, args.out, spec))


if __name__ == "__main__":
    main()
