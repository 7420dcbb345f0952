"""The panel's text colours, shared by its sections (:mod:`app.gui.panel`, :mod:`app.gui.panel_lenses`)."""

from imgui_bundle import imgui

GREEN = imgui.ImVec4(0.35, 0.85, 0.4, 1.0)  # right: the true class, a success
RED = imgui.ImVec4(1.0, 0.38, 0.35, 1.0)  # wrong, fooled, an error
AMBER = imgui.ImVec4(1.0, 0.75, 0.25, 1.0)  # in between: still searching, top-5
GREY = imgui.ImVec4(0.6, 0.6, 0.6, 1.0)  # hints
BLUE = imgui.ImVec4(0.35, 0.6, 1.0, 1.0)  # the target class
