"""The help window (H): every key and mouse gesture, from the action table."""

from __future__ import annotations

from imgui_bundle import imgui

from app.gui.actions import ACTIONS, MOUSE_HELP
from app.gui.state import ViewState


def draw(panel, s: ViewState, width: float, height: float) -> None:
    imgui.set_next_window_pos(imgui.ImVec2(width * 0.5, height * 0.5), imgui.Cond_.appearing, imgui.ImVec2(0.5, 0.5))
    opened, keep = imgui.begin("Help (H)", True, imgui.WindowFlags_.always_auto_resize)
    panel.remember_window()
    if opened:
        for title, rows in (("Keys", [(a.keys, a.description) for a in ACTIONS]), ("Mouse", MOUSE_HELP)):
            imgui.separator_text(title)
            if imgui.begin_table(title, 2):
                for a, b in rows:
                    imgui.table_next_row()
                    imgui.table_next_column()
                    imgui.text(a)
                    imgui.table_next_column()
                    imgui.text(b)
                imgui.end_table()
    imgui.end()
    if not keep:
        s.show_help = False
