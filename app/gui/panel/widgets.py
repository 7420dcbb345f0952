"""The panel's colours and the small ImGui widgets its sections share."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

import numpy as np
from imgui_bundle import imgui

from app.core.imagenet import class_names

GREEN = imgui.ImVec4(0.35, 0.85, 0.4, 1.0)  # right: the true class, a success
RED = imgui.ImVec4(1.0, 0.38, 0.35, 1.0)  # wrong, fooled, an error
AMBER = imgui.ImVec4(1.0, 0.75, 0.25, 1.0)  # in between: still searching, top-5
GREY = imgui.ImVec4(0.6, 0.6, 0.6, 1.0)  # hints
BLUE = imgui.ImVec4(0.35, 0.6, 1.0, 1.0)  # the target class

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


def verdict_line(probs: np.ndarray, true_class: int | None) -> tuple[tuple[str, str], imgui.ImVec4]:
    top = int(np.argmax(probs))
    colour = GREEN if top == true_class else RED
    return (class_names()[top], f" {100 * probs[top]:.0f}%"), colour


def image_column(panel, name: str, image: np.ndarray, caption: str, line: tuple[str, str], colour, side: float) -> None:
    """An image ``side`` wide with its caption above and ``line`` (text, figure) below, both
    cut to the column (a long class name would push the next column off the panel)."""
    imgui.begin_group()
    imgui.text(fitted(caption, side))
    imgui.image(panel.textures.ref(name, image), imgui.ImVec2(side, side))
    imgui.text_colored(colour, fitted(line[0], side, line[1]))
    imgui.end_group()
