"""Small ImGui widgets shared by the panel's sections."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

from imgui_bundle import imgui

from app.panel_colours import GREY

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


def hint(text: str) -> None:
    """Grey text wrapped at the panel's edge (a hint, a path, a goal)."""
    imgui.push_style_color(imgui.Col_.text, GREY)
    imgui.text_wrapped(text)
    imgui.pop_style_color()
