"""What the window draws: the 3D view, the panel, the live prediction; HiDPI and huge windows."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.conftest import ARTIFACTS
from tests.gui.conftest import H, W


def test_frame_shows_the_object_the_panel_and_a_correct_live_prediction(stage):
    stage.until(stage.predicted, "the first prediction")
    stage.draw()
    img = stage.image()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(ARTIFACTS / "explorer-frame.png")
    view_w = stage.screen.view_rect(W, H)[2]
    assert view_w == W - int(stage.panel.width)
    view, panel = img[:, :view_w], img[:, view_w + 2 :]
    assert (view.astype(int).sum(axis=2) < 600).mean() > 0.1  # the teddy covers part of the white view
    assert panel.mean() < 90  # the dark panel
    result = stage.ex.result
    assert result.top(5).indices[0] == 850  # teddy: the object's canonical pose is classified correctly
    assert result.rank_of(850) == 1
    assert result.frame.image.shape == (224, 224, 4)


def test_hidpi_framebuffer_twice_the_window(ctx, stage):
    """A HiDPI window: the framebuffer has 2x the pixels of the window's units."""
    w2, h2 = 2 * W, 2 * H
    size = (w2, h2)
    fbo = ctx.framebuffer(color_attachments=[ctx.texture(size, 4)], depth_attachment=ctx.depth_renderbuffer(size))
    try:
        stage.state.live_enabled = False
        stage.screen.draw(fbo, (W, H))
        img = np.frombuffer(fbo.read(components=3), np.uint8).reshape(h2, w2, 3)[::-1]
        panel_px = 2 * int(stage.panel.width)
        assert img[:, w2 - panel_px + 4 :].mean() < 90  # the panel, at twice the size
        view = img[:, : w2 - panel_px]
        dark = view.sum(axis=2) < 600
        ys, xs = np.nonzero(dark)
        # the object is centred in the 3D view, at full pixel density
        assert abs(xs.mean() - view.shape[1] / 2) < 0.1 * view.shape[1]
        assert abs(ys.mean() - h2 / 2) < 0.1 * h2
        assert dark.mean() > 0.1
    finally:
        fbo.release()


def test_a_view_wider_than_the_largest_render_is_drawn_coarser_not_refused(stage):
    """A framebuffer over 2 x 8192 pixels wide (a huge or HiDPI window) while the view moves
    at half resolution: before, "render size 49805x50 is out of range (1..8192)" ended the app."""
    assert stage.screen._scaled_view(18000, 100).size == (8192, 45)
    assert stage.screen._scaled_view(300, 200).size == (300, 200)
