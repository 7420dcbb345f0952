"""The ImGui panel: its window, the sections in order, and what tests and the window read back.

Immediate mode: every frame the widgets show the explorer's state, so sliders and mouse
drags can never disagree.  Each section is a module of its own that gets what it draws
(the view's state, a job); this frame lays them out, records widget rectangles
(:attr:`Panel.item_rects`, read by the tests and the window's hit test) and opens a
section when something new arrives in it (:meth:`Panel.section`).
"""

from __future__ import annotations

from imgui_bundle import imgui

from app.gui.explorer import Explorer
from app.gui.imgui_gl import ImageTextures
from app.gui.panel import (
    atlas,
    attack,
    captures,
    evolve,
    fragility,
    help_window,
    optimize,
    overlay,
    pose,
    prediction,
    scene,
)
from app.gui.panel.messages import draw_messages
from app.scene.library import list_objects

WIDTH = 390.0
FLAGS = (imgui.WindowFlags_.no_move | imgui.WindowFlags_.no_resize | imgui.WindowFlags_.no_collapse
         | imgui.WindowFlags_.no_saved_settings)  # fmt: skip


class Panel:
    def __init__(self, explorer: Explorer, textures: ImageTextures, ui_scale: float = 1.0):
        self.ex, self.textures, self.ui_scale = explorer, textures, ui_scale
        self.width = WIDTH * ui_scale
        self.fields: dict[str, str] = {}  # text fields' contents (target query, paths)
        self.objects = list_objects(problems=[])
        self.listed = 0  # the objects added when they were listed (the add-to-library job counts them)
        self.item_rects: dict[str, tuple[float, float, float, float]] = {}  # widget -> (x0, y0, x1, y1)
        self.window_rects: list[tuple[float, float, float, float]] = []
        self.popup_open = False
        self.mouse_at_frame = (-1.0, -1.0)
        self.section_seen: dict[str, object] = {}  # section -> the run (or result) it last opened for
        self.open_all = False  # open every section (tests and screenshots check the whole panel)
        self.content_right = 0.0  # the right edge of the panel's widest line in the last frame
        self.shown_messages: list[str] = []  # the messages the box showed in the last frame
        self.optimize_status = ""  # the pose search's state and figures, as last shown

    def hit(self, x: float, y: float) -> bool:
        """Is (x, y) (ImGui coordinates, y down) over one of the panel's windows in the last frame?"""
        return any(x0 <= x < x1 and y0 <= y < y1 for x0, y0, x1, y1 in self.window_rects)

    def remember_window(self) -> None:
        pos, size = imgui.get_window_pos(), imgui.get_window_size()
        self.window_rects.append((pos.x, pos.y, pos.x + size.x, pos.y + size.y))

    def remember(self, name: str, width: float | None = None) -> None:
        """Record the last widget's rectangle (``width``: its frame only, without the label)."""
        a, b = imgui.get_item_rect_min(), imgui.get_item_rect_max()
        self.item_rects[name] = (a.x, a.y, b.x if width is None else a.x + width, b.y)

    def field(self, ident: str, hint: str, button: str) -> tuple[str, bool]:
        """A text field with a button after it; returns the text and whether the button was clicked."""
        imgui.set_next_item_width(-60 * self.ui_scale)
        name = ident.strip("#")
        _, self.fields[name] = imgui.input_text_with_hint(ident, hint, self.fields.get(name, ""))
        self.remember(name)
        imgui.same_line()
        return self.fields[name], imgui.button(f"{button}{ident}")

    def section(self, label: str, key: str = "", thing: object = None, default_open: bool = False) -> bool:
        """A collapsing header that opens, and scrolls into view, when ``thing`` (a run, a
        result) is new: a map started with its key, an attack that came back."""
        fresh = thing is not None and self.section_seen.get(key) is not thing
        if fresh:
            imgui.set_next_item_open(True)
            self.section_seen[key] = thing
        elif self.open_all:
            imgui.set_next_item_open(True)
        if not imgui.collapsing_header(label, imgui.TreeNodeFlags_.default_open if default_open else 0):
            return False
        if fresh:
            imgui.set_scroll_here_y(0.0)
        return True

    def draw(self, width: float, height: float, view: tuple[int, int, int, int]) -> None:
        """The overlay over the ``view`` rectangle, the panel at the right edge, the help."""
        ex, s, jobs = self.ex, self.ex.state, self.ex.jobs
        self.window_rects = []
        pos = imgui.get_io().mouse_pos
        self.mouse_at_frame = (pos.x, pos.y)
        overlay.draw(ex, view, self.textures)
        if s.show_panel:
            imgui.set_next_window_pos(imgui.ImVec2(width - self.width, 0))
            imgui.set_next_window_size(imgui.ImVec2(self.width, height))
            imgui.begin("Strike-a-Pose Explorer", None, FLAGS)
            self.remember_window()
            self.shown_messages = draw_messages(ex.messages)
            prediction.draw(self, ex)
            optimize.draw(self, jobs.optimize, s)
            atlas.draw(self, jobs.atlas, s, ex.classifier.name)
            attack.draw(self, jobs.attack, s)
            fragility.draw(self, jobs.fragility)
            evolve.draw(self, jobs.evolve, s)
            pose.draw(self, s, lambda: ex.act("reset_pose"))
            scene.draw(self, ex)
            captures.draw(self, ex)
            self.content_right = imgui.internal.get_current_window().dc.cursor_max_pos.x
            imgui.end()
        if s.show_help:
            help_window.draw(self, s, width, height)
        self.popup_open = imgui.is_popup_open("", imgui.PopupFlags_.any_popup_id | imgui.PopupFlags_.any_popup_level)
