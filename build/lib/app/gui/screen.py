"""Drawing an :class:`~app.gui.explorer.Explorer` into a framebuffer: the 3D view, the panel, a capture.

The pyglet window passes its screen; the tests and the docs' screenshots pass an
offscreen framebuffer on a headless context.  ImGui is drawn with the project's own
moderngl renderer (:mod:`app.gui.imgui_gl`).
"""

from __future__ import annotations

import time
from pathlib import Path

import imgui_bundle
import moderngl
import numpy as np
from imgui_bundle import imgui

from app.gui.explorer import Explorer
from app.gui.imgui_gl import ImageTextures, ImGuiRenderer
from app.gui.panel.panel import Panel
from app.render.targets import OffscreenTarget

FONT_PX = 15.0
BACKDROP = (0.16, 0.16, 0.18, 1.0)  # the window behind the view and the panel


def create_imgui_context(ui_scale: float = 1.0) -> imgui.internal.Context:
    """A new current ImGui context with a scalable TTF font and sizes scaled by ``ui_scale``."""
    context = imgui.create_context()
    io = imgui.get_io()
    io.set_ini_filename(None)  # no imgui.ini litter in the working directory
    font = Path(imgui_bundle.__file__).parent / "assets" / "fonts" / "Roboto" / "Roboto-Regular.ttf"
    if font.is_file():
        io.fonts.add_font_from_file_ttf(str(font), FONT_PX)
    style = imgui.get_style()
    style.font_size_base = FONT_PX
    style.font_scale_main = ui_scale
    if ui_scale > 1.0:
        style.scale_all_sizes(ui_scale)
    return context


class Screen:
    """What the window draws of an explorer; ``ui_scale`` scales the panel and its text."""

    def __init__(self, explorer: Explorer, ui_scale: float = 1.0):
        self.ex = explorer
        self.ui_scale = ui_scale
        self.imgui_context = create_imgui_context(ui_scale)
        self.imgui_renderer = ImGuiRenderer(explorer.ctx)
        self.textures = ImageTextures(explorer.ctx, self.imgui_renderer)  # the panel's images (thumbnail, lenses)
        self.panel = Panel(explorer, self.textures, ui_scale)

    def view_rect(self, width: float, height: float) -> tuple[int, int, int, int]:
        """The 3D view's rectangle (x, y, w, h), bottom-left origin, in the given units."""
        panel = self.panel.width if self.ex.state.show_panel else 0
        return (0, 0, max(int(width - panel), 1), max(int(height), 1))

    def drawn_state(self) -> tuple:
        return self.ex.drawn_state()

    def _scaled_view(self, width: int, height: int) -> OffscreenTarget:
        return self.ex.view.scaled_target(width, height, self.ex.state.quality, self.imgui_renderer.unregister)

    def draw(self, framebuffer: moderngl.Framebuffer, window_size: tuple[float, float],
             framebuffer_size: tuple[int, int] | None = None) -> None:  # fmt: skip
        """Draw one frame: the 3D view, the panel, and a pending capture.

        ``window_size`` is in window units (what mouse events use); the framebuffer may be
        larger (HiDPI), by the ratio of the two."""
        ex, s = self.ex, self.ex.state
        now = time.perf_counter()
        ex.stats.frame(now)
        ex.update()
        fb_w, fb_h = framebuffer_size or framebuffer.size
        ww, wh = window_size
        sx, sy = fb_w / max(ww, 1), fb_h / max(wh, 1)
        vx, vy, vw, vh = self.view_rect(ww, wh)
        viewport = (int(vx * sx), int(vy * sy), max(int(vw * sx), 1), max(int(vh * sy), 1))
        ex.view.view_pixels = viewport[2:]
        ex.view.saw(ex.scene_key, now)
        scale = ex.view.scale(now, capturing=ex.captures.pending)
        framebuffer.use()
        framebuffer.viewport = (0, 0, fb_w, fb_h)
        framebuffer.clear(*BACKDROP, viewport=(0, 0, fb_w, fb_h))
        scaled = None
        if scale < 1.0:
            scaled = self._scaled_view(max(int(viewport[2] * scale), 1), max(int(viewport[3] * scale), 1))
            ex.view.renderer.render(s.pose, scaled, s.settings)
            scaled.resolve()
        else:
            ex.view.renderer.render(s.pose, framebuffer, s.settings, viewport=viewport)
        imgui.set_current_context(self.imgui_context)
        io = imgui.get_io()
        io.display_size = (ww, wh)
        io.display_framebuffer_scale = (sx, sy)
        imgui.new_frame()
        if scaled is not None:  # drawn first, under the overlay and the panel; ImGui is y-down, so top = wh - vy - vh
            top = wh - vy - vh
            imgui.get_background_draw_list().add_image(
                self.imgui_renderer.register(scaled.texture), imgui.ImVec2(vx, top), imgui.ImVec2(vx + vw, top + vh)
            )
        self.panel.draw(ww, wh, self.view_rect(ww, wh))
        imgui.render()
        self.imgui_renderer.render(imgui.get_draw_data(), framebuffer, (fb_w, fb_h))
        if ex.captures.pending:
            pixels = framebuffer.read(viewport=(0, 0, fb_w, fb_h), components=3, alignment=1)
            window = np.frombuffer(pixels, np.uint8).reshape(fb_h, fb_w, 3)[::-1]
            ex.capture_window(np.ascontiguousarray(window))

    def release(self) -> None:
        """Free the ImGui context and its GPU resources (the explorer is closed on its own)."""
        imgui.set_current_context(self.imgui_context)
        self.textures.release()
        self.imgui_renderer.release()
        imgui.destroy_context(self.imgui_context)
