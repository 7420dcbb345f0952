"""The Pose, light, camera section: a slider for every declared parameter, by group."""

from __future__ import annotations

from collections.abc import Callable

from imgui_bundle import imgui

from app.core.params import GROUPS, PARAMS, params_in_groups
from app.gui.actions import button
from app.gui.state import ViewState


def draw(panel, s: ViewState, reset: Callable[[], None]) -> None:
    """``reset()``: the Reset pose action."""
    if not panel.section("Pose, light, camera", default_open=True):
        return
    if imgui.button(button("Reset pose", "reset_pose")):
        reset()
    imgui.same_line()
    if imgui.button("Reset light"):
        s.pose = s.pose.replace(**{p.name: s.obj.canonical_pose[p.name] for p in params_in_groups(["light"])})
    for group in GROUPS:
        imgui.separator_text(group)
        for p in PARAMS:
            if p.group != group:
                continue
            fmt = "%.1f" if p.unit == "deg" else "%.3f"
            width = imgui.get_content_region_avail().x - 110 * panel.ui_scale
            imgui.set_next_item_width(width)
            changed, value = imgui.slider_float(f"{p.label}##{p.name}", s.pose[p.name], p.low, p.high, fmt)
            panel.remember(p.name, width)
            if changed:
                s.set_param(p.name, value)
