"""Pose files in the window: loading one (from the panel or dropped), saving the pose shown.

Functions of the :class:`~app.gui.explorer.Explorer` rather than its methods, so that the
explorer keeps to the state and what runs beside it."""

from __future__ import annotations

from pathlib import Path

from app.core.files import claim_stem, write_new
from app.core.params import PoseDocument, load_pose_file
from app.render.settings import RenderSettings, resolve_quality
from app.scene.library import MESH_SUFFIXES
from app.scene.mesh import load_texture


def load_pose(ex, path: str | Path) -> None:
    """Show the pose, object, class and settings of a pose file; a bad file is a message."""
    try:
        doc = load_pose_file(path)
        settings = RenderSettings.from_file_dict(doc.settings, path)
        if settings is not None and settings.background_image:  # refused here, not by every frame after
            load_texture(Path(settings.background_image), "background image")
    except Exception as e:
        ex.notify(str(e), error=True)
        return
    s = ex.state
    if settings is not None:
        s.settings, s.quality = settings, resolve_quality(ex.ctx, settings.quality)
        ex.view.input_target(ex.input_size, s.quality)
    if doc.object and not s.shows(doc.object):
        ex.load_object(doc.object, doc.pose, doc.true_class)
    else:
        s.pose = doc.pose
        if doc.true_class is not None and doc.true_class != s.obj.imagenet_class:
            ex.set_true_class(doc.true_class)
    ex.notify(f"pose loaded from {path}")


def save_pose(ex) -> Path | None:
    """Write the pose shown as a new pose file in the captures folder (never over another)."""
    s = ex.state
    doc = PoseDocument(s.pose, object=s.object_ref, model=ex.classifier.name,
                       settings=s.render_settings().to_dict(), true_class=s.obj.imagenet_class)  # fmt: skip
    folder = ex.captures.directory
    try:
        _stem, path = claim_stem(folder, f"{s.obj.name}-pose", (".json",),
                                 lambda p: write_new(p, doc.to_json().encode()))  # fmt: skip
    except OSError as e:
        ex.notify(f"cannot save the pose: {e}", error=True)
        return None
    ex.notify(f"saved {path}")
    return path


def load_dropped(ex, paths: list[str]) -> None:
    """Files dropped on the window: pose files are loaded, meshes shown, anything else refused."""
    for p in paths:
        if p.lower().endswith(".json"):
            load_pose(ex, p)
        elif p.lower().endswith(MESH_SUFFIXES):
            ex.load_object(p)
        else:
            ex.notify(f"{p}: drop a pose .json or a mesh ({', '.join(MESH_SUFFIXES)})", error=True)
