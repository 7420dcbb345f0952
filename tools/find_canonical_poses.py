"""Choose each library object's canonical pose with the bundled classifier.

Searches the grid of natural views of :mod:`app.pipeline.canonical` (yaw all round, mild
pitch, three distances) and writes the best view into the manifest.  Prints the result
per object; the object table of docs/guide/objects-and-models.md comes from it.

    python tools/find_canonical_poses.py [--write] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from app.core.imagenet import class_names
from app.pipeline.canonical import find_canonical_view
from app.pipeline.pipeline import Pipeline
from app.scene.library import MANIFEST, MODELS_DIR, list_objects
from app.vision.classifiers import load_classifier

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="store the poses in the manifests")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    pipe = Pipeline(load_classifier("efficientnet_lite0"), batch=16)
    names = class_names()
    for obj in list_objects(MODELS_DIR):
        if args.only and obj.name not in args.only:
            continue
        pipe.set_object(obj)
        view = find_canonical_view(pipe, obj.imagenet_class)  # the grid run.py add-object searches too
        pose = view.pose
        print(
            f"{obj.name:14s} {names[obj.imagenet_class]:22s} p={view.probability:.3f} "
            f"top1={view.top1 == obj.imagenet_class} grid-top1={view.top1_rate:.1%}  "
            f"yaw={pose.yaw:.0f} pitch={pose.pitch:.0f} z={pose.z}"
        )
        if args.write:
            path = MODELS_DIR / obj.name / MANIFEST
            manifest = json.loads(path.read_text())
            manifest["canonical_pose"] = pose.to_dict()
            path.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
