"""Small ImGui widgets shared by the panel's sections."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

from imgui_bundle import imgui

from app.gui.panel_colours import GREY

T = TypeVar("T", bound=Hashable)


def combo(label: str, choices: Mapping[T, str], current: T, width: float, preview: str | None = None) -> T:
    """A combo box of ``choices`` (value -> text) ``width`` pixels wide, showing ``preview``
    (default: the current value's text) when closed; returns the value chosen, or ``current``."""
    imgui.set_next_item_width(width)
    if imgui.begin_combo(label, choices[current] if preview is None else preview):
        for value, text in choices.items():
            if imgui.selectable(f"{text}##{label}{value}", value == current)[0]:
                current = value
        imgui.end_combo()
    return current


def wrapped(text: str, color: imgui.ImVec4 | None = GREY) -> None:
    """Text wrapped at the panel's edge (a hint, a message, a notice, a line that holds a
    class or model name of any length); ``color`` None: the normal text colour."""
    imgui.push_text_wrap_pos(0.0)
    if color is None:
        imgui.text(text)
    else:
        imgui.text_colored(color, text)
    imgui.pop_text_wrap_pos()


def text_and_button(text: str, color: imgui.ImVec4 | None, label: str) -> bool:
    """``text`` with a small button after it on the same line when both fit, else the text
    wrapped and the button below it; returns whether the button was clicked."""
    style = imgui.get_style()
    button = imgui.calc_text_size(label.split("##")[0]).x + 2 * style.frame_padding.x
    fits = imgui.calc_text_size(text).x + style.item_spacing.x + button <= imgui.get_content_region_avail().x
    wrapped(text, color)
    if fits:
        imgui.same_line()
    return imgui.small_button(label)


def fitted(text: str, width: float, tail: str = "") -> str:
    """``text`` + ``tail``, with ``text`` cut short (ending in "..") so that the whole is at
    most ``width`` pixels wide: a long class name gives way, its ``tail`` (" 87%") stays."""
    if imgui.calc_text_size(text + tail).x <= width:
        return text + tail
    while text and imgui.calc_text_size(text + ".." + tail).x > width:
        text = text[:-1]
    return text.rstrip() + ".." + tail
