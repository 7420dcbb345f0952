"""Mouse interaction as pure functions of a pose: arcball rotation, drag, zoom, light.

No window here: the window turns events into calls of these functions, and the tests call
them directly.  Screen coordinates are in pixels with the origin at the bottom left of the
3D view (pyglet's convention), y up, which matches camera space (x right, y up, z towards
the viewer).
"""

from __future__ import annotations

import enum
import math

import numpy as np

from app.core.params import Pose, euler_from_matrix, rotation_matrix

ZOOM_STEP = 0.9  # one wheel notch brings the object this factor nearer
LIGHT_DEG_PER_VIEW = 180.0  # dragging across the whole view turns the light this much


class DragMode(enum.Enum):
    ROTATE = "rotate"
    TRANSLATE = "translate"
    LIGHT = "light"


def drag_mode(left: bool, right: bool, middle: bool, shift: bool, ctrl: bool, alt: bool) -> DragMode | None:
    """Which drag a button/modifier combination starts.

    left: rotate; right, middle or shift+left: translate; ctrl+left or alt+left: light.
    """
    if left and (ctrl or alt):
        return DragMode.LIGHT
    if right or middle or (left and shift):
        return DragMode.TRANSLATE
    if left:
        return DragMode.ROTATE
    return None


def arcball_point(x: float, y: float, viewport: tuple[int, int, int, int]) -> np.ndarray:
    """The unit-sphere point under pixel (x, y) (Holroyd's arcball: sphere inside, hyperbola outside).

    The ball fills the view's smaller side, so a drag across it turns the object 180 degrees,
    and points outside it still turn smoothly (about the view axis near the rim).
    """
    vx, vy, w, h = viewport
    radius = max(min(w, h) / 2.0, 1.0)
    px = (x - (vx + w / 2.0)) / radius
    py = (y - (vy + h / 2.0)) / radius
    d2 = px * px + py * py
    pz = math.sqrt(1.0 - d2) if d2 <= 0.5 else 0.5 / math.sqrt(d2)
    v = np.array([px, py, pz])
    return v / np.linalg.norm(v)


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 3x3 rotation taking unit vector ``a`` to unit vector ``b`` by the shortest arc."""
    axis = np.cross(a, b)
    s = float(np.linalg.norm(axis))
    c = float(np.clip(np.dot(a, b), -1.0, 1.0))
    if s < 1e-12:
        return np.eye(3)
    k = axis / s
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * kx + (1.0 - c) * (kx @ kx)


def apply_rotation(pose: Pose, rotation: np.ndarray) -> Pose:
    """``pose`` turned by ``rotation`` in camera space (applied after the pose's own rotation)."""
    r = rotation @ rotation_matrix(pose.yaw, pose.pitch, pose.roll)
    yaw, pitch, roll = euler_from_matrix(r)
    return pose.fitted(yaw=yaw, pitch=pitch, roll=roll)


def arcball_drag(pose: Pose, start: tuple[float, float], end: tuple[float, float], viewport) -> Pose:
    """The pose after dragging the arcball from pixel ``start`` to pixel ``end``."""
    return apply_rotation(pose, rotation_between(arcball_point(*start, viewport), arcball_point(*end, viewport)))


def translate_drag(pose: Pose, dx: float, dy: float, viewport: tuple[int, int, int, int]) -> Pose:
    """Move the object's centre by (dx, dy) pixels in the image plane (it follows the mouse).

    x and y are fractions of the half view of the centred square that the angle of view
    spans, so one pixel is ``2 / min(w, h)`` of it; the result is clipped to the declared range.
    """
    _, _, w, h = viewport
    scale = 2.0 / max(min(w, h), 1)
    return pose.fitted(x=pose.x + dx * scale, y=pose.y + dy * scale)


def zoom(pose: Pose, notches: float) -> Pose:
    """Wheel up (positive notches) brings the object nearer; z stays in its declared range."""
    return pose.fitted(z=pose.z * ZOOM_STEP**notches)


def light_drag(pose: Pose, dx: float, dy: float, viewport: tuple[int, int, int, int]) -> Pose:
    """Drag the light direction: right/left turns its azimuth, up/down its elevation."""
    _, _, w, h = viewport
    per_px = LIGHT_DEG_PER_VIEW / max(min(w, h), 1)
    return pose.fitted(
        light_azimuth=pose.light_azimuth + dx * per_px, light_elevation=pose.light_elevation + dy * per_px
    )
