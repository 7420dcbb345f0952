"""Opening the window for a scene and a classifier the command line has made ready."""

from __future__ import annotations

from pathlib import Path

from app.core.params import Pose
from app.gui.explorer import Explorer
from app.gui.window import Window, WindowOptions
from app.render.settings import RenderSettings
from app.scene.library import LibraryObject
from app.vision.classifiers import Classifier


def open_window(classifier: Classifier, obj: LibraryObject, pose: Pose, settings: RenderSettings, *,
                captures_dir: Path, device: str = "auto", weights: dict[str, Path] | None = None,
                size: tuple[int, int] = (1024, 768), ui_scale: float = 1.0, view_scale: float | None = None,
                preview: bool = False, frame_hook=None, drawn_hook=None) -> int:  # fmt: skip
    """Run the explorer in a window until it is closed; the exit code (0, or 130 after Ctrl-C).
    ``frame_hook`` and ``drawn_hook``: see :class:`Window` (the window benchmark's)."""

    def explorer(ctx) -> Explorer:
        return Explorer(ctx, classifier, obj, pose, settings, captures_dir=captures_dir, device=device,
                        view_scale=view_scale, weights=weights, echo=True, preview=preview)  # fmt: skip

    options = WindowOptions(size=size, ui_scale=ui_scale)
    return Window(explorer, options, frame_hook=frame_hook, drawn_hook=drawn_hook).run()
