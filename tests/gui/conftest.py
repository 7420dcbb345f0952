"""The window's app without a window: real EGL, real ImGui, the real bundled classifier.

The window is a thin layer over :class:`~app.gui.explorer.Explorer` and
:class:`~app.gui.screen.Screen`; here frames go to an offscreen framebuffer and ImGui gets
synthetic mouse input, so what the window does is checked on every machine.
"""

from __future__ import annotations

import numpy as np
import pytest
from imgui_bundle import imgui

from app.gui.explorer import Explorer
from app.gui.screen import Screen
from app.scene.library import resolve_object
from tests.conftest import wait_for

W, H = 1024, 768


class Stage:
    """An explorer and its screen, drawn into an offscreen framebuffer of the window's size."""

    def __init__(self, ctx, classifier, obj, tmp_path, size=(W, H), ui_scale: float = 1.0, **options):
        self.ctx, self.size = ctx, size
        self.ex = Explorer(ctx, classifier, obj if not isinstance(obj, str) else resolve_object(obj),
                           captures_dir=tmp_path / "captures", **options)  # fmt: skip
        self.screen = Screen(self.ex, ui_scale)
        w, h = int(size[0] * ui_scale), int(size[1] * ui_scale)
        self.fb_size = (w, h)
        self.fbo = ctx.framebuffer(
            color_attachments=[ctx.texture((w, h), 4)], depth_attachment=ctx.depth_renderbuffer((w, h))
        )
        self.window = (size[0] * ui_scale, size[1] * ui_scale)

    @property
    def panel(self):
        return self.screen.panel

    @property
    def state(self):
        return self.ex.state

    def draw(self, frames: int = 1) -> None:
        for _ in range(frames):
            self.screen.draw(self.fbo, self.window)

    def until(self, condition, what: str, timeout: float = 120.0) -> None:
        """Draw frames until ``condition()`` holds (the window's frames are what move the app on)."""
        wait_for(condition, what, timeout, step=self.draw)

    def image(self) -> np.ndarray:
        w, h = self.fb_size
        return np.frombuffer(self.fbo.read(components=3), np.uint8).reshape(h, w, 3)[::-1]

    def predicted(self) -> bool:
        """The live prediction is of the scene as it is now."""
        r = self.ex.result
        return r is not None and r.frame.key == self.ex.scene_key

    def click(self, x: float, y: float) -> None:
        """A left click at (x, y) in ImGui's coordinates (y down), a frame for each event."""
        io = imgui.get_io()
        io.add_mouse_pos_event(x, y)
        self.draw()
        io.add_mouse_button_event(0, True)
        self.draw()
        io.add_mouse_button_event(0, False)
        self.draw()

    def scroll_into_view(self, name: str) -> None:
        """Turn the mouse wheel over the panel until a recorded widget lies inside the window."""
        io, height = imgui.get_io(), self.size[1]
        for _ in range(200):
            self.draw()
            x0, y0, x1, y1 = self.panel.item_rects[name]
            if y0 >= 0 and y1 <= height:
                return
            io.add_mouse_pos_event((x0 + x1) / 2, height / 2)
            io.add_mouse_wheel_event(0.0, -1.0 if y1 > height else 1.0)
        raise AssertionError(f"{name} never came into view")

    def click_item(self, name: str, dx: float | None = None) -> None:
        """Click the middle of a recorded widget (``dx``: that far from its left edge instead),
        scrolled into view first."""
        self.scroll_into_view(name)
        x0, y0, x1, y1 = self.panel.item_rects[name]
        self.click(x0 + dx if dx is not None else (x0 + x1) / 2, (y0 + y1) / 2)

    def close(self, timeout: float = 60.0) -> bool:
        ended = self.ex.close(timeout)
        self.screen.release()
        self.fbo.release()
        return ended


@pytest.fixture
def stage_factory(ctx, frozen_classifier, tmp_path):
    """``stage_factory(obj="teddy_bear", classifier=None, **options)``: a :class:`Stage`, closed after the test."""
    stages: list[Stage] = []

    def make(obj="teddy_bear", classifier=None, **options) -> Stage:
        stages.append(Stage(ctx, classifier or frozen_classifier, obj, tmp_path, **options))
        return stages[-1]

    yield make
    for st in stages:
        assert st.close(), "the classifier worker did not stop"


@pytest.fixture
def stage(stage_factory) -> Stage:
    """The teddy bear in its canonical pose, with the frozen bundled classifier."""
    return stage_factory()
