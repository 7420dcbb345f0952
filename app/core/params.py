"""The parameter space, declared once.

Every parameter that sliders, optimizers, sweeps and pose files touch is listed in
``PARAMS`` with its group, range, default and unit.  A :class:`Pose` is one point of that
space.  Conventions (docs/design/rendering.md, "The scene and its parameters"):

* The camera sits at the origin looking down -z.  The object is normalised to the box
  [-1, 1]^3 and placed at depth ``z`` (negative, world units).
* ``x`` and ``y`` are the object's centre in the image as a fraction of the half view:
  -1 is the left/bottom edge, +1 the right/top edge.  Whatever ``z`` and the angle of
  view, every value in range keeps the centre in view (the study's frustum constraint).
* Rotation is ``Rz(roll) @ Rx(pitch) @ Ry(yaw)`` in degrees: yaw about the object's
  up axis, then pitch about the camera's horizontal axis, then roll about the view axis.
* The light is directional and fixed to the camera: ``light_azimuth``/``light_elevation``
  give the direction towards the light (0, 0 = from the camera).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.files import not_a_file, special_file

POSE_FORMAT = "strike-a-pose/pose"
POSE_VERSION = 1


class PoseError(ValueError):
    """A pose or pose file that does not fit the declared parameter space."""


@dataclass(frozen=True)
class Param:
    """One declared parameter."""

    name: str
    group: str
    low: float
    high: float
    default: float
    unit: str
    label: str
    circular: bool = False

    @property
    def span(self) -> float:
        return self.high - self.low


GROUPS: tuple[str, ...] = ("rotation", "translation", "light", "camera")

PARAMS: tuple[Param, ...] = (
    Param("yaw", "rotation", -180.0, 180.0, 0.0, "deg", "Yaw", circular=True),
    Param("pitch", "rotation", -180.0, 180.0, 0.0, "deg", "Pitch", circular=True),
    Param("roll", "rotation", -180.0, 180.0, 0.0, "deg", "Roll", circular=True),
    Param("x", "translation", -1.0, 1.0, 0.0, "half-view", "X (in view)"),
    Param("y", "translation", -1.0, 1.0, 0.0, "half-view", "Y (in view)"),
    Param("z", "translation", -28.0, -3.0, -9.0, "units", "Z (depth)"),
    Param("light_azimuth", "light", -180.0, 180.0, -30.0, "deg", "Light azimuth", circular=True),
    Param("light_elevation", "light", -90.0, 90.0, 30.0, "deg", "Light elevation"),
    Param("ambient", "light", 0.0, 1.0, 0.45, "", "Ambient"),
    Param("diffuse", "light", 0.0, 1.5, 0.75, "", "Diffuse"),
    Param("specular", "light", 0.0, 1.0, 0.25, "", "Specular"),
    Param("light_r", "light", 0.0, 1.0, 1.0, "", "Light red"),
    Param("light_g", "light", 0.0, 1.0, 1.0, "", "Light green"),
    Param("light_b", "light", 0.0, 1.0, 1.0, "", "Light blue"),
    Param("fov", "camera", 5.0, 60.0, 16.426, "deg", "Angle of view"),
)

PARAM_BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}
NAMES: tuple[str, ...] = tuple(p.name for p in PARAMS)
INDEX: dict[str, int] = {n: i for i, n in enumerate(NAMES)}
LOWS = np.array([p.low for p in PARAMS])
HIGHS = np.array([p.high for p in PARAMS])
DEFAULTS = np.array([p.default for p in PARAMS])
CIRCULAR = np.array([p.circular for p in PARAMS])


def params_in_groups(groups: Iterable[str]) -> tuple[Param, ...]:
    """The declared parameters of the named groups, in declaration order."""
    wanted = set(groups)
    unknown = wanted - set(GROUPS)
    if unknown:
        raise PoseError(f"unknown parameter group(s) {sorted(unknown)}; known: {', '.join(GROUPS)}")
    return tuple(p for p in PARAMS if p.group in wanted)


def _check_value(name: str, value: Any) -> float:
    if name not in PARAM_BY_NAME:
        raise PoseError(f"unknown pose parameter {name!r}; known: {', '.join(NAMES)}")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise PoseError(f"pose parameter {name!r} must be a number, got {type(value).__name__} {value!r}")
    try:
        value = float(value)
    except OverflowError:  # an int of hundreds of digits
        digits = len(str(abs(value)))
        raise PoseError(f"pose parameter {name!r} is a {digits}-digit number, far outside its range") from None
    if not math.isfinite(value):
        raise PoseError(f"pose parameter {name!r} must be finite, got {value}")
    p = PARAM_BY_NAME[name]
    if not p.low <= value <= p.high:
        raise PoseError(f"pose parameter {name!r} = {value:g} is outside its range [{p.low:g}, {p.high:g}]")
    return value


class Pose:
    """An immutable, validated point of the parameter space.

    Values are read as attributes (``pose.yaw``) or by name (``pose["yaw"]``); a new pose
    is made with :meth:`replace`.  ``vector`` gives the values in ``PARAMS`` order.
    """

    __slots__ = ("_v",)

    def __init__(self, values: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        merged = dict(values or {}, **kwargs)
        v = DEFAULTS.copy()
        for name, value in merged.items():
            checked = _check_value(name, value)
            v[INDEX[name]] = checked
        v.setflags(write=False)
        self._v = v

    @classmethod
    def from_vector(cls, vector: Iterable[float], fit: bool = False) -> Pose:
        """A pose from values in ``PARAMS`` order; ``fit`` wraps angles and clips the rest."""
        v = np.array(vector, dtype=np.float64).reshape(-1)
        if v.shape != DEFAULTS.shape:
            raise PoseError(f"a pose vector has {len(PARAMS)} values, got {v.shape[0]}")
        if not np.all(np.isfinite(v)):
            raise PoseError("pose vector holds non-finite values")
        if fit:
            v = fit_vector(v)
        return cls(dict(zip(NAMES, v.tolist(), strict=True)))

    @property
    def vector(self) -> np.ndarray:
        return self._v.copy()

    def __getitem__(self, name: str) -> float:
        try:
            return float(self._v[INDEX[name]])
        except KeyError:
            raise KeyError(f"unknown pose parameter {name!r}") from None

    def __getattr__(self, name: str) -> float:
        if name in INDEX:
            return float(self._v[INDEX[name]])
        raise AttributeError(name)

    def replace(self, **changes: float) -> Pose:
        return Pose(self.to_dict(), **changes)

    def fitted(self, **changes: float) -> Pose:
        """Like :meth:`replace`, but out-of-range values are brought in: circular ones
        wrap, the others are clipped (what mouse drags and sliders need)."""
        v = self.vector
        for name, value in changes.items():
            if name not in INDEX:
                raise PoseError(f"unknown pose parameter {name!r}; known: {', '.join(NAMES)}")
            v[INDEX[name]] = value
        return Pose.from_vector(v, fit=True)

    def to_dict(self) -> dict[str, float]:
        return {n: float(x) for n, x in zip(NAMES, self._v, strict=True)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pose) and bool(np.array_equal(self._v, other._v))

    def __hash__(self) -> int:
        return hash(self._v.tobytes())

    def __repr__(self) -> str:
        changed = {n: round(x, 4) for n, x in self.to_dict().items() if x != PARAM_BY_NAME[n].default}
        return f"Pose({changed})"


def fit_vector(v: np.ndarray) -> np.ndarray:
    """Wrap circular values into [-180, 180) and clip the others to their ranges."""
    v = np.asarray(v, dtype=np.float64).copy()
    v[CIRCULAR] = (v[CIRCULAR] + 180.0) % 360.0 - 180.0
    return np.clip(v, LOWS, HIGHS)


def pose_change(a: Pose, b: Pose) -> np.ndarray:
    """``b - a`` per parameter, circular parameters along the shorter arc (values in their units)."""
    d = b.vector - a.vector
    span = HIGHS - LOWS
    wrapped = (d + span / 2.0) % span - span / 2.0
    return np.where(CIRCULAR, wrapped, d)


def change_fractions(change: np.ndarray) -> np.ndarray:
    """The size of each parameter's change (a :func:`pose_change`) as a fraction of its
    range (of a full turn for the angles): how changes of different units compare."""
    return np.abs(change) / (HIGHS - LOWS)


def largest_first(change: np.ndarray) -> np.ndarray:
    """Parameter indices of ``change`` ordered by :func:`change_fractions`, largest first
    (ties in declaration order)."""
    return np.argsort(-change_fractions(change), kind="stable")


def largest_change(a: Pose, b: Pose) -> float:
    """The largest change of any one parameter from ``a`` to ``b``, as a fraction of its
    range (of a full turn for the angles)."""
    return float(np.max(change_fractions(pose_change(a, b))))


def describe_change(a: Pose, b: Pose, most: int = 3) -> str:
    """The largest changes from ``a`` to ``b`` in words, largest (as a fraction of its
    range) first: "yaw +12°, pitch -3°, z +0.4"; "no change" when none is visible at that precision."""
    change = pose_change(a, b)
    parts = []
    for i in largest_first(change)[:most]:
        p = PARAMS[i]
        text = f"{change[i]:+.0f}°" if p.unit == "deg" else f"{change[i]:+.2f}"
        if text.strip("+-0.°"):
            parts.append(f"{p.name} {text}")
    return ", ".join(parts) or "no change"


def view_half_extent(z: float, fov_deg: float) -> float:
    """Half the height of the view at depth ``z`` for the given vertical angle of view."""
    return -z * math.tan(math.radians(fov_deg) / 2.0)


def world_translation(pose: Pose, aspect: float = 1.0) -> tuple[float, float, float]:
    """The object's centre in camera space.

    ``aspect`` is width/height of the *classifier* view the translation is defined in
    (square), so a wider display shows the same placement with extra margin.
    """
    h = view_half_extent(pose.z, pose.fov)
    return pose.x * h * aspect, pose.y * h, pose.z


def rotation_matrix(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """3x3 rotation ``Rz(roll) @ Rx(pitch) @ Ry(yaw)``, angles in degrees."""
    a, b, c = (math.radians(t) for t in (yaw, pitch, roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ rx @ ry


def euler_from_matrix(r: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees with ``rotation_matrix(*result) == r``."""
    r = np.asarray(r, dtype=np.float64)
    # r = Rz Rx Ry:  r[2,1] = sin(pitch); r[2,0] = -cos(p) sin(yaw); r[2,2] = cos(p) cos(yaw)
    #                r[0,1] = -sin(roll) cos(p); r[1,1] = cos(roll) cos(p)
    sp = float(np.clip(r[2, 1], -1.0, 1.0))
    pitch = math.asin(sp)
    if abs(sp) < 1.0 - 1e-9:
        yaw = math.atan2(-r[2, 0], r[2, 2])
        roll = math.atan2(-r[0, 1], r[1, 1])
    else:  # gimbal lock: put everything into yaw
        roll = 0.0
        yaw = math.atan2(r[0, 2], r[0, 0])
    return tuple(math.degrees(t) for t in (yaw, pitch, roll))  # type: ignore[return-value]


def light_direction(pose: Pose) -> np.ndarray:
    """Unit vector towards the light, in camera space."""
    az, el = math.radians(pose.light_azimuth), math.radians(pose.light_elevation)
    return np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])


# ---------------------------------------------------------------- pose files

_EXTRA_KEYS = ("prediction", "models", "note", "created", "first_success")  # kept as they are
_DOC_KEYS = {"format", "version", "pose", "object", "class", "model", "settings", *_EXTRA_KEYS}


@dataclass
class PoseDocument:
    """A pose file: the pose plus what it was captured with (all optional)."""

    pose: Pose
    object: str | None = None
    model: str | None = None
    settings: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None
    true_class: int | None = None  # "class": the object's ImageNet class, so a mesh file keeps the one it was given

    def to_json(self) -> str:
        doc: dict[str, Any] = {"format": POSE_FORMAT, "version": POSE_VERSION}
        if self.object is not None:
            doc["object"] = self.object
        if self.true_class is not None:
            doc["class"] = self.true_class
        if self.model is not None:
            doc["model"] = self.model
        doc["pose"] = self.pose.to_dict()
        if self.settings is not None:
            doc["settings"] = self.settings
        doc.update(self.extra or {})
        return json.dumps(doc, indent=2) + "\n"


def parse_pose_document(data: Any, source: str = "pose") -> PoseDocument:
    """Validate a decoded pose file.

    Accepts the full document (``{"format": ..., "pose": {...}}``) or a bare mapping of
    parameter names.  Parameters left out take their defaults.
    """
    if not isinstance(data, dict):
        raise PoseError(f"{source}: expected a JSON object, got {type(data).__name__}")
    if "pose" not in data and "format" not in data:
        return PoseDocument(pose=_pose_from_mapping(data, source))
    unknown = set(data) - _DOC_KEYS
    if unknown:
        raise PoseError(f"{source}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_DOC_KEYS)}")
    if data.get("format", POSE_FORMAT) != POSE_FORMAT:
        raise PoseError(f"{source}: format is {data['format']!r}, expected {POSE_FORMAT!r}")
    version = data.get("version", POSE_VERSION)
    if isinstance(version, bool) or version != POSE_VERSION:  # True == 1 in Python
        raise PoseError(f"{source}: version {version!r} is not supported (this program reads {POSE_VERSION})")
    if "pose" not in data:
        raise PoseError(f"{source}: missing the 'pose' object")
    for key in ("object", "model"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise PoseError(f"{source}: {key!r} must be a string")
    if data.get("settings") is not None and not isinstance(data["settings"], dict):
        raise PoseError(f"{source}: 'settings' must be an object")
    true_class = data.get("class")
    if true_class is not None and (type(true_class) is not int or not 0 <= true_class < 1000):
        raise PoseError(f"{source}: 'class' must be an ImageNet class index, a whole number in 0..999")
    extra = {k: data[k] for k in _EXTRA_KEYS if k in data}
    return PoseDocument(
        pose=_pose_from_mapping(data["pose"], source),
        object=data.get("object"),
        model=data.get("model"),
        settings=data.get("settings"),
        extra=extra or None,
        true_class=true_class,
    )


def _pose_from_mapping(mapping: Any, source: str) -> Pose:
    if not isinstance(mapping, dict):
        raise PoseError(f"{source}: 'pose' must be an object of parameter values")
    try:
        return Pose(mapping)
    except PoseError as e:
        raise PoseError(f"{source}: {e}") from None


def load_pose_file(path: str | Path) -> PoseDocument:
    """Read and validate a pose JSON file (clear :class:`PoseError` on any problem)."""
    path = Path(path)
    if special_file(path):
        raise PoseError(not_a_file(path, "pose file"))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PoseError(f"pose file not found: {path}") from None
    except UnicodeDecodeError as e:
        raise PoseError(
            f"{path}: not a pose file (not UTF-8 text: byte {e.object[e.start]:#04x} at {e.start})"
        ) from None
    except OSError as e:
        raise PoseError(f"cannot read pose file {path}: {e.strerror or e}") from None
    try:
        data = json.loads(text, parse_constant=lambda c: float(c))
    except json.JSONDecodeError as e:
        raise PoseError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except ValueError:  # Python refuses to read integers of more than 4,300 digits
        raise PoseError(f"{path}: not a pose file (it holds a number of more than 4,300 digits)") from None
    except RecursionError:
        raise PoseError(f"{path}: not a pose file (JSON nested too deeply to read)") from None
    return parse_pose_document(data, str(path))
