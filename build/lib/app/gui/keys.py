"""pyglet's keys and mouse buttons, as ImGui and the action table (:mod:`app.gui.actions`) name them."""

from __future__ import annotations

from imgui_bundle import imgui
from pyglet.window import key, mouse

from app.gui.actions import ACTIONS

IMGUI_KEYS = {
    key.TAB: imgui.Key.tab, key.LEFT: imgui.Key.left_arrow, key.RIGHT: imgui.Key.right_arrow,
    key.UP: imgui.Key.up_arrow, key.DOWN: imgui.Key.down_arrow, key.HOME: imgui.Key.home,
    key.END: imgui.Key.end, key.DELETE: imgui.Key.delete, key.BACKSPACE: imgui.Key.backspace,
    key.RETURN: imgui.Key.enter, key.ENTER: imgui.Key.enter, key.NUM_ENTER: imgui.Key.keypad_enter,
    key.ESCAPE: imgui.Key.escape, key.A: imgui.Key.a, key.C: imgui.Key.c, key.V: imgui.Key.v,
    key.X: imgui.Key.x, key.Z: imgui.Key.z, key.Y: imgui.Key.y,
}  # fmt: skip
MOUSE_BUTTONS = {mouse.LEFT: 0, mouse.RIGHT: 1, mouse.MIDDLE: 2}  # pyglet -> ImGui


def key_actions() -> dict[int, tuple[str, float]]:
    """pyglet key symbol -> (action name, amount), from every action's bindings."""
    return {getattr(key, name): (a.name, amount) for a in ACTIONS for name, amount in a.bindings}


def send_modifiers(io: imgui.IO, mods: int) -> None:
    io.add_key_event(imgui.Key.mod_ctrl, bool(mods & key.MOD_CTRL))
    io.add_key_event(imgui.Key.mod_shift, bool(mods & key.MOD_SHIFT))
    io.add_key_event(imgui.Key.mod_alt, bool(mods & key.MOD_ALT))
