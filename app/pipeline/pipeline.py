"""Render -> tensor -> prediction, headless: the piece the CLI, tools and searches share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future

import moderngl
import numpy as np
import torch

from app.core.params import Pose
from app.pipeline.gradient import PoseGradient
from app.render.diffrender import DiffRenderer
from app.render.frames import FrameReader, render_batch
from app.render.glcontext import create_headless_context
from app.render.renderer import Renderer
from app.render.settings import RenderSettings
from app.render.targets import OffscreenTarget
from app.scene.library import LibraryObject
from app.scene.mesh import Mesh
from app.search.registry import default_method, get_method
from app.search.result import SearchResult
from app.search.run import search
from app.search.space import Budget, Goal, SearchSpace
from app.vision.classifiers import CPU_CHUNK, Classifier, Prediction
from app.vision.streams import StreamPool


class Pipeline:
    """One object, one classifier, an offscreen target at the classifier's input size."""

    def __init__(
        self,
        classifier: Classifier,
        ctx: moderngl.Context | None = None,
        settings: RenderSettings | None = None,
        batch: int = 1,
        streams: int = 1,
    ):
        """``streams`` > 1 on the CPU: :meth:`probabilities` splits each batch of more than
        ``CPU_CHUNK`` poses evenly among that many one-thread classification workers
        (:mod:`app.vision.streams`), and renders the next part while the last is classified."""
        if streams < 1:
            raise ValueError(f"streams must be >= 1, got {streams}")
        self.ctx = ctx or create_headless_context()
        self.classifier = classifier
        self.settings = settings or RenderSettings()
        self.renderer = Renderer(self.ctx)
        size = classifier.input_size
        self.target = OffscreenTarget(self.ctx, size, size, self.settings.quality)
        self.reader = FrameReader(self.target, classifier.device, slots=batch)
        self.streams = streams if classifier.device.type == "cpu" and batch > 1 else 1
        part = -(-batch // self.streams)
        self._stream_readers = (  # one per stream (self.reader serves a single stream)
            [FrameReader(self.target, classifier.device, slots=part) for _ in range(self.streams)]
            if self.streams > 1
            else []
        )
        self._pool: StreamPool | None = None
        self.object: LibraryObject | None = None
        self.mesh: Mesh | None = None
        self._diff: DiffRenderer | None = None

    def set_object(self, obj: LibraryObject, mesh: Mesh | None = None) -> list[str]:
        """Load and upload ``obj`` (``mesh``: it already loaded); returns the loader's warnings."""
        mesh = mesh if mesh is not None else obj.load()
        self.set_mesh(mesh)
        self.object = obj
        return mesh.warnings

    def set_mesh(self, mesh: Mesh) -> None:
        """Upload a mesh already loaded (by the window, say)."""
        self.renderer.set_mesh(mesh)
        self.mesh = mesh
        if self._diff is not None:
            self._diff.set_mesh(mesh)

    def gradient(self, edges: bool = False) -> PoseGradient:
        """The goal gradient for the current object (its differentiable renderer is made
        on first use and follows :meth:`set_object`); ``edges``: with edge gradients."""
        if self.mesh is None:
            raise RuntimeError("no object: call set_object first")
        if self._diff is None:
            self._diff = DiffRenderer(self.ctx, self.classifier.input_size, self.settings, self.classifier.device)
            self._diff.set_mesh(self.mesh)
        return PoseGradient(self.classifier, self._diff, edges)

    def warm_up(self, gradient: bool = False) -> None:
        """Run once what a search on this object pays for the first time, beside the view,
        before any search is asked for (:meth:`app.background.station.SearchStation.prepare`; the
        search benchmark does the same): a batch of renders and classifications and, with
        ``gradient``, one gradient.  The first visibility raster of an object took up to 7 ms
        more than later ones and its first gradient about 5 ms more, a twentieth of a search
        that fools in one step.  The poses are half a turn of yaw from the object's canonical
        pose, and nothing computed is kept: no search's answer is found ahead."""
        if self.mesh is None:
            raise RuntimeError("no object: call set_object first")
        base = self.object.canonical_pose if self.object is not None else Pose()
        poses = [base.replace(yaw=(base.yaw + 360.0 + 20.0 * i) % 360.0 - 180.0) for i in range(self.reader.slots)]
        self.probabilities(poses)
        if gradient:
            space = SearchSpace(poses[0], ["rotation"])
            self.gradient()(space, Goal(None, target=0), space.to_unit(poses[0]))

    def render(self, pose: Pose) -> np.ndarray:
        """The model-input image as (H, W, 3) uint8 (a copy)."""
        self.renderer.render(pose, self.target, self.settings)
        return self.reader.read(0)[..., :3].numpy().copy()

    def _batches(self, poses: Sequence[Pose]) -> Iterator[torch.Tensor]:
        """Render ``poses`` ``reader.slots`` at a time; each batch is valid until the next is made."""
        for start in range(0, len(poses), self.reader.slots):
            yield render_batch(self.renderer, self.reader, poses[start : start + self.reader.slots], self.settings)

    def frames(self, poses: Sequence[Pose]) -> torch.Tensor:
        """(N, H, W, 4) uint8 frames on the classifier's device, rendered in batches."""
        chunks = [b.clone() if b.device.type == "cpu" else b for b in self._batches(poses)]
        return torch.cat(chunks) if len(chunks) > 1 else chunks[0]

    def classify(self, pose: Pose, k: int = 5) -> Prediction:
        frames = render_batch(self.renderer, self.reader, [pose], self.settings)
        return self.classifier.predict(frames, k)[0]

    def probabilities(self, poses: Sequence[Pose]) -> torch.Tensor:
        """(N, 1000) class probabilities, rendering and classifying ``reader.slots`` at a time."""
        if self.streams == 1 or len(poses) <= CPU_CHUNK:  # one pass: all threads on it beat a hand-off
            return torch.cat([self.classifier.probabilities(frames) for frames in self._batches(poses)])
        if self._pool is None:
            self._pool = StreamPool(self.streams, self.classifier.device)
        out: list[Future] = []
        part = min(self._stream_readers[0].slots, -(-len(poses) // self.streams))  # an even split
        group = part * self.streams
        for start in range(0, len(poses), group):
            for reader, first in zip(self._stream_readers, range(start, start + group, part), strict=True):
                chunk = poses[first : first + part]
                if chunk:
                    frames = render_batch(self.renderer, reader, chunk, self.settings)
                    out.append(self._pool.submit(self.classifier.probabilities, frames))
            for f in out[-self.streams :]:
                f.result()  # the readers are free again
        return torch.cat([f.result() for f in out])

    def default_method(self) -> str:
        """The search method for this classifier's device and this GL (:func:`app.search.registry.default_method`)."""
        return default_method(self.classifier.device, self.ctx.version_code)

    def search(self, method: str, space: SearchSpace, goal: Goal, budget: Budget, **options) -> SearchResult:
        """:func:`app.search.run.search` over this pipeline's renders.  A method that needs the
        gradient gets the object's (with edge gradients if its option ``edges`` is set), made
        before the search's clock starts."""
        gradient = self.gradient(bool(options.get("edges"))) if get_method(method).needs_gradient else None
        return search(method, self.probabilities, space, goal, budget, gradient=gradient, **options)

    def release(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        if self._diff is not None:
            self._diff.release()
        self.renderer.release()
        self.target.release()
