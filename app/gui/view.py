"""The GL side of the view: the renderer, the model-input image, and the 3D view's resolution.

On a software rasteriser (Mesa llvmpipe) a large window cannot be filled at 30 FPS, so
while the scene moves the 3D view is drawn at half resolution into an offscreen target
and scaled up (:meth:`SceneView.scale`); it is drawn in full again once it rests.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import moderngl
import numpy as np

from app.core.params import Pose
from app.render.renderer import Renderer
from app.render.settings import RenderSettings, is_software
from app.render.targets import MAX_SIZE, OffscreenTarget

MOTION_HOLD = 0.4  # seconds after the last change that count as "moving"
MOVING_VIEW_SCALE = 0.5  # the 3D view's resolution while moving on software GL
SMALLEST_VIEW = 64  # a fragility map's view is at least this many pixels a side


class SceneView:
    def __init__(self, ctx: moderngl.Context, view_scale: float | None = None):
        """``view_scale``: the 3D view's resolution; None = full, but half while the scene
        moves on a software rasteriser."""
        self.ctx = ctx
        self.renderer = Renderer(ctx)
        self.view_scale = view_scale
        self.software_gl = is_software(ctx)
        self.view_pixels = (640, 480)  # the 3D view in framebuffer pixels, as last drawn
        self._input: OffscreenTarget | None = None
        self._buffer: np.ndarray | None = None
        self._scaled: OffscreenTarget | None = None
        self._last_key: object = None
        self._last_change = 0.0

    def input_target(self, size: int, quality: str) -> None:
        """Keep a model-input target of ``size`` pixels a side at ``quality``."""
        t = self._input
        if t is not None and t.width == size and t.quality == quality:
            return
        if t is not None:
            t.release()
        self._input = OffscreenTarget(self.ctx, size, size, quality)
        self._buffer = np.empty((size, size, 4), np.uint8)

    def render_input(self, pose: Pose, settings: RenderSettings) -> np.ndarray:
        """The model-input image of ``pose`` (a fresh (S, S, 4) array)."""
        assert self._input is not None and self._buffer is not None
        self.renderer.render(pose, self._input, settings)
        return self._input.read_into(self._buffer).copy()

    def render_at(self, pose: Pose, settings: RenderSettings, size: int, quality: str) -> np.ndarray:
        """The model-input image of ``pose`` for another model's input ``size`` (a capture's
        other models), as (S, S, 4)."""
        target = OffscreenTarget(self.ctx, size, size, quality)
        try:
            self.renderer.render(pose, target, settings)
            return target.read().copy()
        finally:
            target.release()

    def render_view(self, pose: Pose, settings: RenderSettings, quality: str) -> np.ndarray:
        """The 3D view at the size it was last drawn (at least ``SMALLEST_VIEW``), as (H, W, 3)."""
        w, h = (max(v, SMALLEST_VIEW) for v in self.view_pixels)
        target = OffscreenTarget(self.ctx, w, h, quality)
        try:
            self.renderer.render(pose, target, settings)
            return target.read()[..., :3].copy()
        finally:
            target.release()

    def saw(self, key: object, now: float) -> None:
        """Note what the view shows now (a change starts a moment of "moving")."""
        if key != self._last_key:
            self._last_key, self._last_change = key, now

    def scale(self, now: float | None = None, capturing: bool = False) -> float:
        """The 3D view's resolution now: full for a capture, ``view_scale`` if set, else half
        while moving on software GL."""
        if capturing:
            return 1.0
        if self.view_scale is not None:
            return self.view_scale
        now = time.perf_counter() if now is None else now
        moving = now - self._last_change < MOTION_HOLD
        return MOVING_VIEW_SCALE if self.software_gl and moving else 1.0

    def scaled_target(self, width: int, height: int, quality: str,
                      forget: Callable[[moderngl.Texture], None]) -> OffscreenTarget:  # fmt: skip
        """The offscreen target of a view drawn at reduced resolution (at most MAX_SIZE a
        side, so a very wide window or framebuffer draws a coarser view, not an error).
        ``forget(texture)`` is called for a target that is replaced."""
        shrink = min(1.0, MAX_SIZE / max(width, height))
        width, height = max(int(width * shrink), 1), max(int(height * shrink), 1)
        t = self._scaled
        if t is None or t.size != (width, height) or t.quality != quality:
            if t is not None:
                forget(t.texture)
                t.release()
            t = self._scaled = OffscreenTarget(self.ctx, width, height, quality)
        return t

    def release(self) -> None:
        for t in (self._input, self._scaled):
            if t is not None:
                t.release()
        self.renderer.release()
