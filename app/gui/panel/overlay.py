"""Over the 3D view: the classifier's square outlined, and the headline of the live prediction."""

from __future__ import annotations

from imgui_bundle import imgui

from app.gui.panel.verdicts import fools, verdict
from app.gui.panel.widgets import AMBER, GREY

HEADLINE_PX = 28.0


def draw(ex, view: tuple[int, int, int, int], textures) -> None:
    """``ex``: the explorer (its live result, state and busy line); ``view``: the 3D view (x, y, w, h);
    ``textures``: the panel's picture textures (the class-activation map is one)."""
    s = ex.state
    _, _, vw, vh = view
    side = min(vw, vh)
    x0, y0 = (vw - side) / 2, (vh - side) / 2
    dl = imgui.get_background_draw_list()
    grey = imgui.IM_COL32(128, 128, 128, 160)
    live_map = ex.beside.live_map(ex.classifier.name) if s.show_map else None
    if live_map is not None:  # what the model saw is the square: its map lies on it
        dl.add_image(textures.ref("map", live_map.rgba), imgui.ImVec2(x0, y0), imgui.ImVec2(x0 + side, y0 + side))
    dl.add_rect(imgui.ImVec2(x0 + 1, y0 + 1), imgui.ImVec2(x0 + side - 1, y0 + side - 1), grey)
    dl.add_text(imgui.ImVec2(x0 + 6, y0 + 4), grey, f"classifier view ({ex.input_size} px)")
    result = ex.result
    if result is None or not s.live_enabled:
        text, color = ("live prediction off (L)" if not s.live_enabled else "classifying ..."), GREY
    else:
        top = result.top(1)
        text = f"{top.labels()[0]} {top.probabilities[0] * 100:.0f}%"
        headline = verdict(result, s.obj.imagenet_class, s.target_class)
        if headline is not None:
            v, color = headline
            text = f"{text}   {v.word}"
            counted = fools(ex)
            if counted is not None:
                text += f"   fools {counted[0]} of {counted[1]} models"
        else:
            color = imgui.ImVec4(1, 1, 1, 1)
    imgui.push_font(None, HEADLINE_PX)
    extent = imgui.calc_text_size(text)
    font, font_size = imgui.get_font(), imgui.get_font_size()
    imgui.pop_font()
    pos = imgui.ImVec2(x0 + 8, y0 + side - extent.y - 14)
    dl.add_rect_filled(pos, imgui.ImVec2(pos.x + extent.x + 12, pos.y + extent.y + 6), imgui.IM_COL32(0, 0, 0, 150))
    dl.add_text(font, font_size, imgui.ImVec2(pos.x + 6, pos.y + 3), imgui.get_color_u32(color), text)
    if ex.busy:
        dl.add_text(font, font_size * 0.7, imgui.ImVec2(x0 + 8, y0 + 24), imgui.get_color_u32(AMBER), ex.busy)
