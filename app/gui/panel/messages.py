"""The message box at the top of the panel: the newest messages that fit, oldest first."""

from __future__ import annotations

from imgui_bundle import imgui

from app.gui.messages import Messages
from app.gui.panel.widgets import GREY, RED, wrapped

LINES = 6  # the box's height: a message arriving never moves the widgets below it


def draw_messages(messages: Messages) -> list[str]:
    """The newest messages that fit a box of fixed height, oldest first (the terminal keeps
    them all); the newest is shown even if it must be cut.  Returns the texts shown."""
    height = LINES * imgui.get_text_line_height_with_spacing()
    flags = imgui.WindowFlags_.no_scrollbar | imgui.WindowFlags_.no_scroll_with_mouse
    imgui.begin_child("messages", imgui.ImVec2(0, height), 0, flags)
    wrap, gap = imgui.get_content_region_avail().x, imgui.get_style().item_spacing.y
    shown, used = [], 0.0
    for m in reversed(messages):
        used += imgui.calc_text_size(m.text, wrap_width=wrap).y + gap
        if shown and used > height:
            break
        shown.insert(0, m)
    for m in shown:
        wrapped(m.text, RED if m.error else GREY)
    imgui.end_child()
    return [m.text for m in shown]
