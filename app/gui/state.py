"""What the window shows: one object in one pose with its render settings, and the window's switches.

Plain state, read by the panel, the jobs and the window, and changed through
:class:`app.gui.explorer.Explorer` and its actions.  The parameters a slider, a search or
a pose file touches are the declared ones of :mod:`app.core.params`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.core.params import Pose
from app.render.settings import RenderSettings
from app.scene.library import LibraryObject
from app.scene.mesh import Mesh
from app.vision.cam import explained_class

BACKGROUNDS = ((1.0, 1.0, 1.0), (0.5, 0.5, 0.5), (0.0, 0.0, 0.0))  # what B cycles through


@dataclass
class ViewState:
    obj: LibraryObject
    mesh: Mesh
    pose: Pose
    settings: RenderSettings
    quality: str  # settings.quality resolved for this OpenGL (auto -> fast or high)
    target_class: int | None = None
    live_enabled: bool = True
    show_help: bool = False
    show_panel: bool = True
    skin: tuple[int, str] | None = None  # (class, model) of the evolved elite the object wears
    asking_class: bool = False  # a mesh file came without a class: the panel asks for it
    show_map: bool = False  # the class-activation overlay (where the model looks)
    map_for: str = "top1"  # which class it explains: top1, true or target (top-1 when that one is unset)

    def map_class(self, top1: int) -> int:
        """The class the overlay explains, given the prediction's top-1."""
        return explained_class(self.map_for, top1, self.obj.imagenet_class, self.target_class)

    def set_param(self, name: str, value: float) -> None:
        """Set one declared parameter (clipped to its range, circular ones wrapped); NaN is ignored."""
        if math.isfinite(value):
            self.pose = self.pose.fitted(**{name: value})

    def cycle_background(self) -> None:
        s = self.settings
        i = BACKGROUNDS.index(s.background) if s.background in BACKGROUNDS else -1
        s.background = BACKGROUNDS[(i + 1) % len(BACKGROUNDS)]

    @property
    def object_ref(self) -> str:
        """What ``run.py --object`` needs to find the object again: its library name or its file."""
        return self.obj.ref

    def shows(self, name: str) -> bool:
        """Is ``name`` (an object name or reference, as a capture or pose file holds it) the object shown?"""
        return name in (self.obj.name, self.object_ref)

    def render_settings(self) -> RenderSettings:
        """The settings with the quality resolved, as written into captures and given to searches."""
        s = RenderSettings.from_dict(self.settings.to_dict())
        s.quality = self.quality
        return s

    def scene_key(self, input_size: int) -> tuple:
        """Identifies what the model-input image shows; a change means a new prediction is due."""
        s = self.settings
        return (
            self.obj.name, str(self.obj.mesh_path), self.pose, s.textures, s.cull_back_faces, s.background,
            s.background_image, input_size, self.skin,
        )  # fmt: skip
