"""What a render looks like beyond the pose: textures, culling, background, quality.

These switches are not part of the pose (they are not optimised or swept); pose files and
captures keep them beside the pose, as ``RenderSettings.to_dict()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import moderngl

from app.core.params import PoseError

SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software")
QUALITY = {"fast": (0, 1.0), "high": (4, 8.0)}  # quality -> (MSAA samples, texture anisotropy)


def is_software(ctx: moderngl.Context) -> bool:
    """True on a software rasteriser (Mesa llvmpipe and friends)."""
    renderer = str(ctx.info.get("GL_RENDERER", "")).lower()
    return any(s in renderer for s in SOFTWARE_RENDERERS)


def check_quality(quality: object) -> None:
    """ValueError unless ``quality`` is auto, fast or high."""
    if quality not in ("auto", *QUALITY):
        raise ValueError(f"quality must be auto, fast or high, got {quality!r}")


def resolve_quality(ctx: moderngl.Context, quality: str) -> str:
    """``auto`` is ``high`` on a GPU and ``fast`` on a software rasteriser (llvmpipe)."""
    check_quality(quality)
    if quality == "auto":
        return "fast" if is_software(ctx) else "high"
    return quality


@dataclass
class RenderSettings:
    """Switches that are not part of the pose (they are not optimised or swept)."""

    textures: bool = True
    cull_back_faces: bool = False
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    background_image: str | None = None
    quality: str = "auto"  # fast: no MSAA, no anisotropic filtering; high: 4x MSAA, 8x anisotropy

    def to_dict(self) -> dict:
        return {
            "textures": self.textures,
            "cull_back_faces": self.cull_back_faces,
            "background": list(self.background),
            "background_image": self.background_image,
            "quality": self.quality,
        }

    @classmethod
    def from_dict(cls, data: dict) -> RenderSettings:
        """Settings from their JSON form (a pose file's "settings"); ValueError names what is wrong."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown render setting(s) {sorted(unknown)}; known: {sorted(known)}")
        for name in ("textures", "cull_back_faces"):
            if name in data and not isinstance(data[name], bool):
                raise ValueError(f"render setting {name} must be true or false, got {data[name]!r}")
        bg = data.get("background", cls.background)
        numbers = isinstance(bg, (list, tuple)) and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in bg
        )
        if not (numbers and len(bg) == 3 and all(0.0 <= c <= 1.0 for c in bg)):
            raise ValueError(f"background must be three numbers in [0, 1], got {bg!r}")
        image = data.get("background_image")
        if image is not None and not (isinstance(image, str) and image):
            raise ValueError(f"background_image must be a file path or null, got {image!r}")
        check_quality(data.get("quality", "auto"))
        return cls(**{**data, "background": tuple(float(c) for c in bg)})

    @classmethod
    def from_file_dict(cls, data: dict | None, path: str | Path) -> RenderSettings | None:
        """A pose file's settings (None when it has none); a bad one is a PoseError naming the file."""
        if not data:
            return None
        try:
            return cls.from_dict(data)
        except ValueError as e:
            raise PoseError(f"{path}: {e}") from None
