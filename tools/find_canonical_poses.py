"""Choose each library object's canonical pose with the bundled classifier.

Searches a small grid of natural views (yaw all round, mild pitch, three distances) and
writes the pose with the highest probability of the object's own class into its
manifest.  Prints the result per object; the object table of docs/guide/objects-and-models.md comes from it.

    python tools/find_canonical_poses.py [--write] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from app.core.imagenet import class_names
from app.core.params import Pose
from app.pipeline.pipeline import Pipeline
from app.scene.library import MANIFEST, MODELS_DIR, list_objects
from app.vision.classifiers import load_classifier

ROOT = Path(__file__).resolve().parent.parent

YAWS = range(-180, 180, 30)
PITCHES = (-15, 0, 15, 30)
DEPTHS = (-6.0, -7.5, -9.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="store the poses in the manifests")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    pipe = Pipeline(load_classifier("efficientnet_lite0"), batch=24)
    names = class_names()
    for obj in list_objects():
        if args.only and obj.name not in args.only:
            continue
        pipe.set_object(obj)
        poses = [Pose(yaw=y, pitch=p, z=z) for y, p, z in itertools.product(YAWS, PITCHES, DEPTHS)]
        probs = pipe.probabilities(poses)
        own = probs[:, obj.imagenet_class]
        top1 = (probs.argmax(dim=1) == obj.imagenet_class).float().mean().item()
        best = int(own.argmax())
        pose = poses[best]
        is_top1 = int(probs[best].argmax()) == obj.imagenet_class
        print(
            f"{obj.name:14s} {names[obj.imagenet_class]:22s} p={own[best]:.3f} top1={is_top1}"
            f" grid-top1={top1:.1%}  yaw={pose.yaw:.0f} pitch={pose.pitch:.0f} z={pose.z}"
        )
        if args.write:
            path = MODELS_DIR / obj.name / MANIFEST
            manifest = json.loads(path.read_text())
            manifest["canonical_pose"] = pose.to_dict()
            path.write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
