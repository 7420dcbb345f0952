"""The Captures and pose files section: capture, save and load poses, go back to a capture."""

from __future__ import annotations

from imgui_bundle import imgui

from app.core.verdict import CORRECT, FOOLED
from app.gui.actions import button
from app.gui.panel.widgets import wrapped
from app.gui.pose_files import load_pose


def draw(panel, ex) -> None:
    """``ex``: the explorer (its captures, and where poses are saved and loaded)."""
    if not panel.section("Captures and pose files", default_open=True):
        return
    if imgui.button(button("Capture", "capture")):
        ex.act("capture")
    imgui.same_line()
    if imgui.button(button("Save pose", "save_pose")):
        ex.act("save_pose")
    imgui.same_line()
    wrapped(f"to {ex.captures.directory}/")
    path, clicked = panel.field("##posepath", "pose .json path", "Load")
    if clicked and path.strip():
        load_pose(ex, path.strip())
    for i, c in enumerate(reversed(ex.captures.taken)):
        mark = {True: CORRECT, False: FOOLED, None: ""}[c.correct]
        if imgui.selectable(f"{c.stem}: {c.label} {mark}##cap{i}", False)[0]:
            ex.return_to(c)
