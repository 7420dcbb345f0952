"""Rendered pixels -> torch tensors without copies on the CPU.

The framebuffer is read into a preallocated uint8 array that a torch tensor views
(``torch.from_numpy`` semantics).  With CUDA the host array is pinned and the upload is
non-blocking; an event per slot keeps the next read from overwriting pixels that are
still being copied.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from app.core.params import Pose
from app.render.renderer import Renderer
from app.render.settings import RenderSettings
from app.render.targets import OffscreenTarget


class FrameReader:
    """Reads an :class:`OffscreenTarget` into slots of a (N, H, W, 4) uint8 host tensor."""

    def __init__(self, target: OffscreenTarget, device: torch.device | str = "cpu", slots: int = 1):
        self.target = target
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        shape = (slots, target.height, target.width, 4)
        self.host = torch.empty(shape, dtype=torch.uint8, pin_memory=self.cuda)
        self._host_np = self.host.numpy()  # shares memory with self.host
        self._copied: list[torch.cuda.Event | None] = [None] * slots

    @property
    def slots(self) -> int:
        return self.host.shape[0]

    def read(self, slot: int = 0) -> torch.Tensor:
        """Read the target into ``slot``; returns the host tensor view (no copy)."""
        event = self._copied[slot]
        if event is not None:
            event.synchronize()
            self._copied[slot] = None
        self.target.read_into(self._host_np[slot])
        return self.host[slot]

    def upload(self, count: int | None = None) -> torch.Tensor:
        """The first ``count`` slots on the reader's device (the host view itself on the CPU)."""
        count = self.slots if count is None else count
        frames = self.host[:count]
        if not self.cuda:
            return frames
        out = frames.to(self.device, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        for i in range(count):
            self._copied[i] = event
        return out


def render_batch(
    renderer: Renderer,
    reader: FrameReader,
    poses: Sequence[Pose],
    settings: RenderSettings | None = None,
) -> torch.Tensor:
    """Render up to ``reader.slots`` poses into the reader's slots; (N, H, W, 4) uint8."""
    if len(poses) > reader.slots:
        raise ValueError(f"{len(poses)} poses for a reader with {reader.slots} slots")
    for i, pose in enumerate(poses):
        renderer.render(pose, reader.target, settings)
        reader.read(i)
    return reader.upload(len(poses))
