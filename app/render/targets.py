"""Framebuffers a render goes into: the classifier's input or an image (:class:`OffscreenTarget`),
and the visibility pass's float buffers (:class:`VisibilityTarget`)."""

from __future__ import annotations

import moderngl
import numpy as np

from app.render.settings import QUALITY, resolve_quality

MAX_SIZE = 8192  # the widest or tallest offscreen render, in pixels


def _checked_size(width: int, height: int) -> tuple[int, int]:
    if not (1 <= int(width) <= MAX_SIZE and 1 <= int(height) <= MAX_SIZE):
        raise ValueError(f"render size {width}x{height} is out of range (1..{MAX_SIZE})")
    return int(width), int(height)


class OffscreenTarget:
    """An MSAA framebuffer resolved into a readable one, read back top row first.

    Rendering into it uses a y-flipped projection, so GL's bottom-up rows come out in
    image order and the read needs no flip and no copy.
    """

    flip_y = True

    def __init__(self, ctx: moderngl.Context, width: int, height: int, quality: str = "auto"):
        self.ctx, (self.width, self.height) = ctx, _checked_size(width, height)
        self.quality = resolve_quality(ctx, quality)
        samples = QUALITY[self.quality][0]
        self.samples = min(samples, ctx.max_samples) if samples > 1 else 0
        size = (self.width, self.height)
        self._resolved_color = ctx.texture(size, 4)
        self.resolved = ctx.framebuffer(color_attachments=[self._resolved_color])
        self._own = [self._resolved_color, self.resolved]
        if self.samples:
            color = ctx.renderbuffer(size, 4, samples=self.samples)
            depth = ctx.depth_renderbuffer(size, samples=self.samples)
            self.framebuffer = ctx.framebuffer(color_attachments=[color], depth_attachment=depth)
            self._own += [color, depth, self.framebuffer]
        else:
            depth = ctx.depth_renderbuffer(size)
            self.framebuffer = ctx.framebuffer(color_attachments=[self._resolved_color], depth_attachment=depth)
            self._own += [depth, self.framebuffer]

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def texture(self) -> moderngl.Texture:
        """The resolved colour texture (call :meth:`resolve` after rendering), top row first."""
        return self._resolved_color

    def resolve(self) -> None:
        if self.samples:
            self.ctx.copy_framebuffer(self.resolved, self.framebuffer)

    def read_into(self, buffer: np.ndarray) -> np.ndarray:
        """Resolve and read RGBA pixels into a preallocated (H, W, 4) uint8 array."""
        if buffer.shape != (self.height, self.width, 4) or buffer.dtype != np.uint8 or not buffer.flags.c_contiguous:
            raise ValueError(f"buffer must be contiguous uint8 ({self.height}, {self.width}, 4)")
        self.resolve()
        self.resolved.read_into(buffer, components=4, alignment=1)
        return buffer

    def read(self) -> np.ndarray:
        return self.read_into(np.empty((self.height, self.width, 4), dtype=np.uint8))

    def release(self) -> None:
        for obj in self._own:
            obj.release()
        self._own = []


class VisibilityTarget:
    """Float framebuffers for :meth:`Renderer.render_visibility` (no MSAA), rows top first.

    Each pixel gets (triangle number + 1, mipmap level), 0 where nothing was drawn: one
    buffer for the opaque parts and one per layer of blended (transparent) fragments.
    """

    EMPTY_PEEL = 3.0e38  # "no fragment yet" for the MIN-blended peel
    OPAQUE, PEEL_A, PEEL_B, LAYER = range(4)  # the framebuffers

    def __init__(self, ctx: moderngl.Context, width: int, height: int):
        self.ctx, (self.width, self.height) = ctx, _checked_size(width, height)
        size = (self.width, self.height)
        self.depth = ctx.depth_renderbuffer(size)
        self.textures = [ctx.texture(size, 2, dtype="f4") for _ in range(4)]  # opaque, peel a/b, layer
        for t in self.textures:
            t.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.framebuffers = [ctx.framebuffer(color_attachments=[t], depth_attachment=self.depth) for t in self.textures]
        for fbo in self.framebuffers[1:]:
            fbo.depth_mask = False  # moderngl applies a framebuffer's own mask on use(); layers test depth only
        # colour-only twins: clearing them leaves the shared depth buffer alone
        self.clearers = [ctx.framebuffer(color_attachments=[t]) for t in self.textures]
        self._list: tuple[moderngl.Buffer, moderngl.Buffer] | None = None

    def fragment_list(self, capacity: int) -> tuple[moderngl.Buffer, moderngl.Buffer]:
        """The blended-fragment list's buffers: a count (one uint) and ``capacity`` rows
        of 4 floats (made on first use: 6.4 MB at 224 x 224 and 8 per pixel)."""
        if self._list is None or self._list[1].size < 16 * capacity:
            if self._list is not None:
                for b in self._list:
                    b.release()
            self._list = self.ctx.buffer(reserve=4), self.ctx.buffer(reserve=16 * capacity)
        return self._list

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    def clear(self, index: int, value: float) -> None:
        self.clearers[index].clear(value, 0.0, 0.0, 0.0)

    def read(self, index: int) -> np.ndarray:
        data = self.textures[index].read()
        return np.frombuffer(data, dtype=np.float32).reshape(self.height, self.width, 2).copy()  # writable

    def release(self) -> None:
        for obj in (*self.clearers, *self.framebuffers, *self.textures, self.depth, *(self._list or ())):
            obj.release()
        self.clearers = self.framebuffers = self.textures = []
        self._list = None
