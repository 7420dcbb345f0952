"""Adding a user's mesh to a library: copy, validate, find its canonical pose, write its manifest.

The object is built in a hidden folder inside the library and renamed into place only when
it is complete, so a failure, a Ctrl-C or a second program adding the same name never
leaves half an object, and an existing object is never overwritten.  The command line
(``run.py add-object``) and the window's "Add to library" both call :func:`add_object`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.core.files import FileExists
from app.core.imagenet import class_names
from app.pipeline.canonical import CanonicalView, find_canonical_view
from app.pipeline.pipeline import Pipeline
from app.scene.intake import check_name, copy_files, object_name, unpack
from app.scene.library import LICENSE_FILE, LibraryObject, name_taken, read_manifest, write_manifest
from app.scene.mesh import load_mesh
from app.vision.classifiers import Classifier

Z_UP = ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0), (0.0, -1.0, 0.0))  # a Z-up file's axes into ours (y up, front +z)
UPS = {"y": None, "z": Z_UP}


@dataclass
class AddRequest:
    source: Path  # a mesh file or a .zip
    true_class: int
    library: Path
    name: str | None = None  # default: from the file's name
    display_name: str | None = None
    author: str = ""
    license: str = ""
    source_url: str = ""
    up: str = "auto"  # y, z, or auto: y, and z when the model never recognises it y-up

    def object_name(self) -> str:
        return check_name(self.name) if self.name else object_name(self.source.stem)


@dataclass
class Added:
    object: LibraryObject
    view: CanonicalView
    files: list[str]
    warnings: list[str] = field(default_factory=list)


class AddStopped(Exception):
    """Asked to stop before the object was in place; nothing was added."""


def add_object(
    request: AddRequest,
    classifier: Classifier,
    report: Callable[[str, int, int], None] | None = None,
    stop: threading.Event | None = None,
    ctx=None,
) -> Added:
    """Add ``request.source`` to ``request.library`` (see the module's note).  ``report(stage,
    done, total)`` tells progress; ``stop`` ends it with :class:`AddStopped`.  Errors are
    :class:`app.scene.mesh.MeshError` (the file), :class:`FileExists` (the name) or OSError."""
    name = request.object_name()
    refuse_taken(name, request.library)
    request.library.mkdir(parents=True, exist_ok=True)
    staging = request.library / f".adding-{name}-{secrets.token_hex(4)}"
    staging.mkdir()  # with the umask, as any folder (mkdtemp's would stay private once renamed into place)
    try:
        with tempfile.TemporaryDirectory(prefix="strike-a-pose-unzip-") as scratch:
            mesh_file = unpack(request.source, Path(scratch))
            loaded = load_mesh(mesh_file)  # validates before anything is copied
            mesh_name, files = copy_files(loaded, staging)
        obj, view, warnings = _place_in_view(request, staging / mesh_name, classifier, report, stop, ctx)
        obj = LibraryObject(name=name, display_name=request.display_name or name.replace("_", " ").capitalize(),
                            mesh_path=staging / mesh_name, imagenet_class=request.true_class,
                            canonical_pose=view.pose, license=request.license or "unknown",
                            author=request.author or "unknown", source=request.source_url or str(request.source),
                            license_file=staging / LICENSE_FILE, orientation=obj.orientation)  # fmt: skip
        write_manifest(staging, obj, _license_text(request))
        read_manifest(staging)  # what the library will read, read once before it is in place
        refuse_taken(name, request.library)
        final = request.library / name
        try:
            os.rename(staging, final)  # onto a folder made meanwhile (not empty) this fails: never overwritten
        except OSError:
            if final.exists():
                raise FileExists(f"an object named {name!r} appeared in {request.library} meanwhile; "
                                 "nothing added") from None  # fmt: skip
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Added(read_manifest(final), view, files, [*loaded.warnings, *warnings])


def refuse_taken(name: str, library: Path) -> None:
    where = name_taken(name, library)
    if where:
        raise FileExists(f"an object named {name!r} is already in the library ({where}); give another --name")


def _place_in_view(request: AddRequest, mesh_path: Path, classifier: Classifier, report, stop, ctx):
    """The canonical view, trying the file's axes as y-up and then (``up`` auto, when the
    model never recognises it so) as z-up: (object with its orientation, view, warnings)."""
    ups = ["y", "z"] if request.up == "auto" else [request.up]
    if ups[0] not in UPS:
        raise ValueError(f"up must be y, z or auto, got {request.up!r}")
    pipe = Pipeline(classifier, ctx=ctx, batch=16)
    best: tuple[LibraryObject, CanonicalView] | None = None
    try:
        for up in ups:
            obj = LibraryObject(name=mesh_path.stem, display_name=mesh_path.stem, mesh_path=mesh_path,
                                imagenet_class=request.true_class, orientation=UPS[up])  # fmt: skip
            pipe.set_object(obj)
            stage = f"views ({up} up)"
            told = None if report is None else lambda done, total, s=stage: report(s, done, total)
            view = find_canonical_view(pipe, request.true_class, told, stop)
            if view is None:
                raise AddStopped("stopped before the canonical pose was found; nothing was added")
            if best is None or (view.recognised, view.probability) > (best[1].recognised, best[1].probability):
                best = (obj, view)
            if view.recognised:
                break
    finally:
        pipe.release()
        if ctx is None:
            pipe.ctx.release()
    obj, view = best
    warnings = []
    if not view.recognised:
        label = class_names()[view.top1]
        warnings.append(f"{classifier.name} never took it for a {class_names()[request.true_class]} in "
                        f"{view.views} natural views (best: {100 * view.probability:.1f}%, seen as {label}); "
                        "it is added, but every pose will count as wrong")  # fmt: skip
    return obj, view, warnings


def _license_text(request: AddRequest) -> str:
    return (f"Object added with run.py add-object from {request.source.name}.\n"
            f"Licence: {request.license or 'unknown'}\nAuthor: {request.author or 'unknown'}\n"
            f"Source: {request.source_url or 'unknown'}\n")  # fmt: skip
