import numpy as np
import pytest
import torch
from PIL import Image

from app.core.params import Pose
from app.render.frames import FrameReader, render_batch
from app.render.settings import RenderSettings, resolve_quality
from app.render.targets import OffscreenTarget
from app.scene.library import resolve_object

GOLDEN_CASES = [
    ("teddy_bear", None, {}),
    ("sports_car", None, {}),
    ("hen", Pose(yaw=-120, pitch=-40, roll=25, x=0.3, y=-0.2, z=-12, light_azimuth=80, fov=20), {}),
    ("grand_piano", Pose(yaw=45, pitch=20, light_r=1.0, light_g=0.6, light_b=0.3, ambient=0.2), {}),
    ("barrel", None, {"textures": False, "background": (0.2, 0.4, 0.6)}),
]


@pytest.fixture
def draw(ctx, renderer):
    def _draw(name, pose=None, size=(224, 224), settings=None):
        obj = resolve_object(name)
        if renderer.mesh is None or renderer.mesh.name != name:
            renderer.set_mesh(obj.load())
        settings = settings or RenderSettings(quality="fast")
        target = OffscreenTarget(ctx, *size, settings.quality)
        try:
            renderer.render(pose or obj.canonical_pose, target, settings)
            return target.read()[..., :3].copy()
        finally:
            target.release()

    return _draw


@pytest.mark.parametrize("name, pose, settings", GOLDEN_CASES, ids=[c[0] for c in GOLDEN_CASES])
def test_golden_images(draw, golden, name, pose, settings):
    image = draw(name, pose, settings=RenderSettings(quality="fast", **settings))
    golden(f"{name}-224", image)


def test_golden_display_size_with_msaa(draw, golden):
    golden("teddy_bear-640x480-high", draw("teddy_bear", size=(640, 480), settings=RenderSettings(quality="high")))


def test_same_pose_gives_identical_pixels(draw):
    pose = Pose(yaw=33.3, pitch=-12.1, roll=5, x=0.1, z=-8)
    assert np.array_equal(draw("hen", pose), draw("hen", pose))


def test_pose_changes_change_pixels(draw):
    base = draw("hen", Pose())
    for change in ({"yaw": 90}, {"x": 0.5}, {"z": -20}, {"light_azimuth": 90}, {"ambient": 0.9}, {"fov": 30}):
        assert not np.array_equal(base, draw("hen", Pose(**change))), change


def test_image_rows_come_out_top_first(draw):
    # object pushed up in the view: its pixels are in the upper half of the array
    img = draw("basketball", Pose(y=0.8, z=-20))
    mask = (img < 250).any(axis=2)
    rows = np.nonzero(mask.any(axis=1))[0]
    assert rows.mean() < img.shape[0] / 2


def test_texture_and_culling_toggles(draw, tmp_path):
    pose = resolve_object("teddy_bear").canonical_pose
    textured = draw("teddy_bear", pose)
    plain = draw("teddy_bear", pose, settings=RenderSettings(quality="fast", textures=False))
    assert np.abs(textured.astype(int) - plain.astype(int)).mean() > 2
    # one triangle wound clockwise as the camera sees it: a back face
    away = tmp_path / "away.obj"
    away.write_text("v -1 -1 0\nv 1 -1 0\nv 0 1 0\nf 1 3 2\n")
    culled = draw(str(away), Pose(), settings=RenderSettings(quality="fast", cull_back_faces=True))
    shown = draw(str(away), Pose(), settings=RenderSettings(quality="fast"))
    assert (culled == 255).all()  # nothing but the white background
    assert (shown.sum(axis=2) < 600).mean() > 0.1
    # turned round, it is a front face and culling keeps it
    turned = draw(str(away), Pose(yaw=180.0), settings=RenderSettings(quality="fast", cull_back_faces=True))
    assert (turned.sum(axis=2) < 600).mean() > 0.1


def test_background_colour_and_image(draw, tmp_path):
    far = Pose(z=-28)
    img = draw("basketball", far, settings=RenderSettings(quality="fast", background=(0.0, 1.0, 0.0)))
    assert tuple(img[0, 0]) == (0, 255, 0)
    stripes = np.zeros((60, 90, 3), np.uint8)
    stripes[:30] = (255, 0, 0)  # top half red
    stripes[30:] = (0, 0, 255)
    Image.fromarray(stripes).save(tmp_path / "bg.png")
    img = draw("basketball", far, settings=RenderSettings(quality="fast", background_image=str(tmp_path / "bg.png")))
    assert tuple(img[2, 2]) == (255, 0, 0) and tuple(img[-3, -3]) == (0, 0, 255)


def test_display_size_keeps_the_classifier_square_in_the_middle(draw):
    pose = Pose(yaw=20, z=-12)
    square = draw("hen", pose, size=(300, 300))
    wide = draw("hen", pose, size=(500, 300))
    diff = np.abs(wide[:, 100:400].astype(int) - square.astype(int)).max(axis=2)
    assert (diff <= 2).mean() >= 0.999 and diff.max() <= 8  # texture LOD may differ by a level


def test_screen_framebuffer_path_matches_offscreen(ctx, renderer):
    """The window renders into a plain framebuffer without the y flip; same picture, rows reversed."""
    renderer.set_mesh(resolve_object("hen").load())
    pose = Pose(yaw=40, pitch=10)
    target = OffscreenTarget(ctx, 128, 128, "fast")
    renderer.render(pose, target, RenderSettings(quality="fast"))
    offscreen = target.read()
    color = ctx.texture((128, 128), 4)
    fbo = ctx.framebuffer(color_attachments=[color], depth_attachment=ctx.depth_renderbuffer((128, 128)))
    renderer.render(pose, fbo, RenderSettings(quality="fast"))
    screen = np.frombuffer(fbo.read(components=4), np.uint8).reshape(128, 128, 4)[::-1]
    assert np.abs(screen.astype(int) - offscreen.astype(int)).max() <= 1
    for obj in (fbo, color):
        obj.release()


def test_quality_resolution(ctx):
    software = "llvmpipe" in ctx.info["GL_RENDERER"].lower()
    assert resolve_quality(ctx, "auto") == ("fast" if software else "high")
    assert OffscreenTarget(ctx, 8, 8, "high").samples == 4
    with pytest.raises(ValueError, match="quality"):
        resolve_quality(ctx, "ultra")
    with pytest.raises(ValueError, match="out of range"):
        OffscreenTarget(ctx, 0, 10)
    with pytest.raises(ValueError, match="unknown render setting"):
        RenderSettings.from_dict({"shadows": True})


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"background": 5}, "background must be three numbers in [0, 1], got 5"),  # was a TypeError traceback
        ({"background": "red"}, "background must be three numbers in [0, 1], got 'red'"),
        ({"background": [1, 1, True]}, "background must be three numbers"),
        ({"background": [0.5, 0.5]}, "background must be three numbers"),
        ({"textures": "no"}, "render setting textures must be true or false, got 'no'"),  # was read as true
        ({"cull_back_faces": 2}, "render setting cull_back_faces must be true or false, got 2"),
        ({"background_image": 5}, "background_image must be a file path or null, got 5"),  # was a TypeError
        ({"quality": None}, "quality must be auto, fast or high, got None"),
    ],
)
def test_a_pose_files_bad_render_settings_are_named_with_the_file(tmp_path, settings, message):
    from app.core.params import PoseError

    assert RenderSettings.from_dict({"background": [0, 0.5, 1], "textures": False}).background == (0.0, 0.5, 1.0)
    with pytest.raises(PoseError) as e:
        RenderSettings.from_file_dict(settings, tmp_path / "p.json")
    assert str(e.value).startswith(f"{tmp_path / 'p.json'}: ") and message in str(e.value), str(e.value)


def test_frame_reader_views_its_buffer_without_copies(ctx, renderer):
    renderer.set_mesh(resolve_object("hen").load())
    target = OffscreenTarget(ctx, 64, 64, "fast")
    reader = FrameReader(target, "cpu", slots=3)
    frame = reader.read(1)
    assert frame.data_ptr() == reader.host[1].data_ptr()
    assert reader._host_np.ctypes.data == reader.host.data_ptr()  # numpy and torch share memory
    batch = render_batch(renderer, reader, [Pose(yaw=0), Pose(yaw=90)], RenderSettings(quality="fast"))
    assert batch.shape == (2, 64, 64, 4) and batch.dtype == torch.uint8
    assert batch.data_ptr() == reader.host.data_ptr()
    assert not torch.equal(batch[0], batch[1])
    with pytest.raises(ValueError, match="slots"):
        render_batch(renderer, reader, [Pose()] * 4)
