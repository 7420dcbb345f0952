"""Every action of the window, declared once: its keys, what it does, how the help says it.

The window binds the keys (:class:`Action` ``bindings``, pyglet key names), the panel's
buttons call the same actions and show their keys (:func:`button`), and the help lists
them; an action is one line of :data:`ACTIONS`.  A handler gets the
:class:`app.gui.explorer.Explorer` and the amount its key gives (-1 / +1 for paired keys,
the wheel's notches for zoom).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.gui import interaction
from app.gui.pose_files import save_pose

NUDGE_DEG = 5.0  # what an arrow key turns

Handler = Callable[[Any, float], None]  # (explorer, amount)


@dataclass(frozen=True)
class Action:
    name: str
    keys: str  # as shown to people
    description: str
    bindings: tuple[tuple[str, float], ...]  # (pyglet key name, amount passed to the handler)
    run: Handler


def _toggle(attribute: str) -> Handler:
    def run(ex, _amount: float) -> None:
        setattr(ex.state, attribute, not getattr(ex.state, attribute))

    return run


def _toggle_setting(attribute: str) -> Handler:
    def run(ex, _amount: float) -> None:
        setattr(ex.state.settings, attribute, not getattr(ex.state.settings, attribute))

    return run


def _nudge(name: str) -> Handler:
    def run(ex, amount: float) -> None:
        ex.state.set_param(name, ex.state.pose[name] + NUDGE_DEG * amount)

    return run


def _job(name: str) -> Handler:
    def run(ex, _amount: float) -> None:
        ex.jobs[name].toggle()

    return run


def _zoom(ex, amount: float) -> None:
    ex.state.pose = interaction.zoom(ex.state.pose, amount)


def _reset(ex, _amount: float) -> None:
    ex.state.pose = ex.state.obj.canonical_pose


def _quit(ex, _amount: float) -> None:
    ex.quit_requested = True


ACTIONS: tuple[Action, ...] = (
    Action("toggle_live", "L", "live prediction on/off", (("L", 1),), _toggle("live_enabled")),
    Action("capture", "C", "capture: model-input PNG + window PNG + JSON (never overwrites)", (("C", 1),),
           lambda ex, _a: ex.captures.request()),
    Action("toggle_texture", "X", "textures on/off", (("X", 1),), _toggle_setting("textures")),
    Action("toggle_culling", "F", "back-face culling on/off", (("F", 1),), _toggle_setting("cull_back_faces")),
    Action("cycle_background", "B", "background: white / grey / black", (("B", 1),),
           lambda ex, _a: ex.state.cycle_background()),
    Action("reset_pose", "R", "reset to the object's canonical pose", (("R", 1),), _reset),
    Action("save_pose", "S", "save the pose as JSON in the captures folder", (("S", 1),),
           lambda ex, _a: save_pose(ex)),
    Action("optimize", "O", "start / stop the pose search (Optimize pose section)", (("O", 1),), _job("optimize")),
    Action("atlas", "M", "start / stop the yaw x pitch map of this view (Atlas section)", (("M", 1),), _job("atlas")),
    Action("attack", "A", "attack the model-input pixels (Pixel attacks section)", (("A", 1),), _job("attack")),
    Action("fragility", "G", "start / stop the fragility map of this view's crops", (("G", 1),), _job("fragility")),
    Action("evolve", "V", "start / stop evolving fooling skins (Evolved fooling skins)", (("V", 1),), _job("evolve")),
    Action("add_to_library", "K", "keep the shown mesh file in your library, with its class and a canonical pose",
           (("K", 1),), _job("add_to_library")),
    Action("toggle_map", "W", "where the model looks: the class-activation overlay on/off (Prediction section)",
           (("W", 1),), _toggle("show_map")),
    Action("toggle_help", "H", "this help", (("H", 1), ("F1", 1)), _toggle("show_help")),
    Action("toggle_panel", "Tab", "show/hide the panel", (("TAB", 1),), _toggle("show_panel")),
    Action("yaw", "Left/Right", "yaw -/+ 5 degrees", (("LEFT", -1), ("RIGHT", 1)), _nudge("yaw")),
    Action("pitch", "Up/Down", "pitch -/+ 5 degrees", (("UP", -1), ("DOWN", 1)), _nudge("pitch")),
    Action("roll", "Q/E", "roll -/+ 5 degrees", (("Q", -1), ("E", 1)), _nudge("roll")),
    Action("zoom", "+/-", "nearer / farther",
           (("PLUS", 1), ("EQUAL", 1), ("NUM_ADD", 1), ("MINUS", -1), ("NUM_SUBTRACT", -1)), _zoom),
    Action("quit", "Esc", "quit", (("ESCAPE", 1),), _quit),
)  # fmt: skip
ACTION_BY_NAME: dict[str, Action] = {a.name: a for a in ACTIONS}

MOUSE_HELP: tuple[tuple[str, str], ...] = (
    ("left drag", "rotate (arcball)"),
    ("right drag / shift + left drag", "move in the image plane"),
    ("wheel", "nearer / farther"),
    ("ctrl + left drag (or alt)", "move the light"),
    ("ctrl + click on a slider", "type a value"),
    ("drop a .json / mesh file", "load a pose / an object"),
)


def run_action(ex, name: str, amount: float = 1.0) -> None:
    """Run action ``name`` on explorer ``ex``; an unknown name is a ValueError."""
    action = ACTION_BY_NAME.get(name)
    if action is None:
        raise ValueError(f"unknown action {name!r}")
    action.run(ex, amount)


def button(text: str, name: str) -> str:
    """A button's label with its action's key: ``button("Capture", "capture")`` -> "Capture (C)"."""
    return f"{text} ({ACTION_BY_NAME[name].keys})"
