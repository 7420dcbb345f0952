"""Retake the docs' pictures of the explorer (docs/window-*.png), headless.

    STRIKE_OFFLINE=1 python scripts/docs_screenshots.py [--only correct,help,fooled,atlas,optimize,attack,
        fragility,evolve]
        [--out docs]

Each picture is the real explorer (:class:`app.gui.explorer.Explorer` drawn by
:class:`app.gui.screen.Screen`, what the window draws: the 3D view and the panel) drawn
into an offscreen framebuffer of the window's default size, 1024x768, and driven through
the actions its keys and buttons call.  The model is chosen as ``run.py`` chooses it
(Inception-v3, which falls back to the bundled EfficientNet-Lite0 with its notice where
the weights are missing).  The atlas, the pose search and the lenses run for real, so
this takes a few minutes.  Pictures that are already there are replaced: they are the
docs, not captures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from app.gui.explorer import Explorer
from app.gui.screen import Screen
from app.gui.window import COMPUTING_INPUT_INTERVAL
from app.render.glcontext import create_headless_context
from app.scene.library import resolve_object
from app.vision.classifiers import load_classifier

ROOT = Path(__file__).resolve().parent.parent

SIZE = (1024, 768)  # the window's default size
SHOTS = ("correct", "help", "fooled", "atlas", "optimize", "attack", "fragility", "evolve")


class Stage:
    """An explorer on an offscreen framebuffer, drawn until a condition holds."""

    def __init__(self, ctx, classifier, obj: str, captures: Path):
        self.ctx = ctx
        self.fbo = ctx.framebuffer(
            color_attachments=[ctx.texture(SIZE, 4)], depth_attachment=ctx.depth_renderbuffer(SIZE)
        )
        self.ex = Explorer(ctx, classifier, resolve_object(obj), captures_dir=captures)
        self.screen = Screen(self.ex)

    def until(self, condition: Callable[[], bool], what: str, timeout: float = 300.0) -> None:
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise SystemExit(f"timed out waiting for {what}")
            self.screen.draw(self.fbo, SIZE)
            time.sleep(COMPUTING_INPUT_INTERVAL if self.ex.computing else 0.02)  # as the window paces its frames

    def predicted(self) -> None:
        """Draw until the live prediction is of the scene as it is now."""
        ex = self.ex
        self.until(lambda: ex.result is not None and ex.result.frame.key == ex.scene_key, "a prediction")

    def settle(self, seconds: float = 5.0) -> None:
        """Draw for ``seconds``: the live model is frozen about 2 s after its first prediction,
        and a search is prepared beside the view after that, as in a window left open a moment."""
        end = time.monotonic() + seconds
        self.until(lambda: time.monotonic() > end, "the time to pass")

    def save(self, path: Path) -> None:
        for _ in range(3):  # the panel settles (scrolling, sizes) over a few frames
            self.screen.draw(self.fbo, SIZE)
        pixels = np.frombuffer(self.fbo.read(components=3), np.uint8).reshape(SIZE[1], SIZE[0], 3)[::-1]
        Image.fromarray(pixels).save(path)
        print(f"wrote {path}")

    def close(self) -> None:
        self.ex.close(timeout=60)
        self.screen.release()
        self.fbo.release()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(SHOTS), help="which pictures")
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()
    wanted = set(args.only.split(","))
    if wanted - set(SHOTS):
        ap.error(f"unknown pictures {sorted(wanted - set(SHOTS))}; choose from {', '.join(SHOTS)}")
    ctx = create_headless_context()
    classifier = load_classifier("inception_v3", notify=print)
    with tempfile.TemporaryDirectory() as captures:
        if wanted & {"correct", "help", "fooled", "atlas", "evolve"}:
            teddy(Stage(ctx, classifier, "teddy_bear", Path(captures)), wanted, args.out)
        if wanted & {"optimize", "attack", "fragility"}:
            hen(Stage(ctx, classifier, "hen", Path(captures)), wanted, args.out)
    return 0


def teddy(stage: Stage, wanted: set[str], out: Path) -> None:
    """The teddy bear in its canonical pose: the panel, help, a pose search (then back to
    the start), its atlas, evolved skins."""
    ex = stage.ex
    try:
        stage.predicted()
        if "correct" in wanted:
            stage.save(out / "window-correct.png")
        if "help" in wanted:
            ex.act("toggle_help")
            stage.save(out / "window-help.png")
            ex.act("toggle_help")
        if "fooled" in wanted:
            stage.settle()
            ex.act("optimize")
            stage.until(lambda: not ex.jobs.optimize.active and ex.captures.taken, "the pose search and its capture")
            stage.predicted()
            stage.save(out / "window-fooled.png")
            ex.jobs.optimize.revert()
            stage.until(lambda: ex.state.pose == ex.jobs.optimize.start, "the glide back")
            stage.predicted()
        if "atlas" in wanted:
            ex.jobs.atlas.resolution = "medium"
            ex.act("atlas")
            stage.until(lambda: not ex.jobs.atlas.running, "the atlas")
            stage.predicted()
            stage.save(out / "window-atlas.png")
        if "evolve" in wanted:
            ex.act("evolve")
            stage.until(lambda: ex.jobs.evolve.run.state.generation >= 15, "15 generations")
            ex.act("evolve")  # stop
            stage.until(lambda: not ex.jobs.evolve.running, "the evolution to stop")
            stage.save(out / "window-evolve.png")
    finally:
        stage.close()


def hen(stage: Stage, wanted: set[str], out: Path) -> None:
    """The hen: a pose search (recorded as a GIF), back to the start, a PGD attack beside
    the search's best, then crops."""
    ex, attack, fragility = stage.ex, stage.ex.jobs.attack, stage.ex.jobs.fragility
    try:
        stage.predicted()
        stage.settle()
        ex.jobs.optimize.options.record = "gif"
        ex.act("optimize")
        stage.until(lambda: not ex.jobs.optimize.active and ex.captures.taken, "the pose search and its capture")
        stage.predicted()
        if "optimize" in wanted:
            stage.save(out / "window-optimize.png")
        ex.jobs.optimize.revert()
        stage.predicted()
        attack.method, attack.eps = "pgd", 2.0
        ex.act("attack")
        stage.until(lambda: attack.result is not None and not attack.attacking, "the attack")
        stage.predicted()  # the attack held the classifier: the label may still be an older pose's
        stage.screen.panel.section_seen.pop("attack")  # scroll the section to the top again (the lines above changed)
        if "attack" in wanted:
            stage.save(out / "window-attack.png")
        if "fragility" in wanted:
            fragility.size, fragility.grid = 0.5, "coarse"
            ex.act("fragility")
            stage.until(lambda: fragility.run is not None and not fragility.running, "the crops")
            stage.save(out / "window-fragility.png")
    finally:
        stage.close()


if __name__ == "__main__":
    raise SystemExit(main())
