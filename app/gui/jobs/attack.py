"""Pixel attacks on the model-input image, beside the pose search's best (the Pixel attacks section).

An attack runs as a job on the classifier's worker (it needs the classifier for a few
seconds at most, and a running one is stopped after its step by its key or button).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from app.core.params import Pose
from app.gui.jobs.base import Job
from app.lenses.attacks import DEFAULT_STEPS, AttackResult, attack
from app.lenses.outputs import attack_tiles, pose_attack_record, pose_tile, write_attack
from app.vision.classifiers import Classifier, classify_image


class AttackJob(Job):
    name = "attack"

    def __init__(self, host, best_pose=lambda: None):
        """``best_pose()``: the pose search's best pose of the object shown, or None (shown beside the attack)."""
        super().__init__(host)
        self.best_pose = best_pose
        self.method = "pgd"
        self.eps = 2.0
        self.result: AttackResult | None = None
        self.record: dict = {}  # the scene it was made in (object, model, pose)
        self.change: np.ndarray | None = None  # the attack's change, amplified to be seen
        self.pose_attack: tuple[Pose, np.ndarray, np.ndarray] | None = None  # pose, image, probabilities
        self.attacking = False
        self._stop = threading.Event()  # ends a running PGD or DeepFool after its step

    @property
    def running(self) -> bool:
        return self.attacking

    def activity(self) -> str | None:
        return f"{self.method} attack" if self.attacking else None

    def toggle(self) -> None:
        """Attack the view's pixels as a job on the classifier worker; while one runs, stop it."""
        if self.attacking:
            self._stop.set()
            return
        self._stop.clear()
        h, s = self.host, self.host.state
        image = h.render_input()[..., :3].copy()
        label = s.obj.imagenet_class
        best = self.best_pose()
        pose_image = None if best is None else h.render_input(best)[..., :3].copy()
        method, eps, stop = self.method, self.eps, self._stop
        scene = {"object": s.obj.name, "model": h.classifier.name, "label": label, "pose": s.pose.to_dict(),
                 "settings": s.render_settings().to_dict()}  # fmt: skip

        def job(clf: Classifier):
            result = attack(clf, image, method, label=label, eps=eps, steps=DEFAULT_STEPS[method], stop=stop)
            pose = None if pose_image is None else (best, pose_image, classify_image(clf, pose_image))
            return result, pose

        def done(out) -> None:
            self.attacking = False
            if isinstance(out, Exception):
                self.notify(f"the attack failed: {out}", error=True)
                return
            self.result, self.pose_attack = out
            self.record, self.change = scene, self.result.perturbation_image()
            r = self.result
            self.notify(f"{method}: {r.outcome} with L-inf {r.linf}/255, L2 {r.l2:.0f}/255 in {r.seconds:.1f} s"
                        + (f" (stopped after {r.steps} steps)" if r.stopped else ""))  # fmt: skip

        self.attacking = True
        h.live.run_job(job, done)

    def save(self) -> None:
        """The attack sheet (original | change | adversarial | pose search's best), the
        adversarial image and a JSON record, under new names in the captures folder."""
        r, scene, pose, folder = self.result, self.record, self.pose_attack, self.host.captures_dir
        if r is None:
            return

        def job(_clf: Classifier) -> Path:
            tiles = attack_tiles(scene["model"], r.original, [r], scene["label"])
            record = {k: v for k, v in scene.items() if k != "label"} | {"attacks": [r.record()]}
            if pose is not None:
                best, image, probs = pose
                fooled = int(np.argmax(probs)) != scene["label"]
                tiles.append(pose_tile(image, probs, "pose search's best", fooled))
                record["pose_attack"] = pose_attack_record(Pose(scene["pose"]), best, probs, fooled)
            return write_attack(folder, scene["object"], tiles, [r], record)

        self.host.live.run_job(job, lambda out: saved(self, "attack", out), finish_on_close=True)

    def stop(self) -> None:
        self._stop.set()


def saved(job: Job, what: str, out: Path | Exception) -> None:
    """Say where a job's files went (or why they did not)."""
    if isinstance(out, Exception):
        job.notify(f"saving the {what} failed: {out}", error=True)
    else:
        job.notify(f"saved the {what}: {out}")
