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


def wrapped(text: str, color: imgui.ImVec4 = GREY) -> None:
    """Coloured text wrapped at the panel's edge (a hint, a message, a notice)."""
    imgui.push_text_wrap_pos(0.0)
    imgui.text_colored(color, text)
    imgui.pop_text_wrap_pos()
