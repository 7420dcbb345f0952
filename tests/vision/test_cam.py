"""Grad-CAM (issue 41): the map of the object's class lies on the object, checked for every
library object at its canonical pose against the object's silhouette, rendered separately
on a magenta background (an oracle the map does not see)."""

import numpy as np
import pytest
import torch
from PIL import Image

from app.cli.main import main
from app.render.settings import RenderSettings
from app.scene.library import list_objects
from app.vision.cam import ActivationMaps, CamUnavailable, blend, spatial_layer


@pytest.fixture(scope="module")
def maps(_eager):
    return ActivationMaps(_eager)


def test_the_map_of_the_class_lies_on_the_object_for_every_library_object(maps, pipeline, ctx):
    from app.pipeline.pipeline import Pipeline

    silhouette = Pipeline(pipeline.classifier, ctx=ctx, settings=RenderSettings(background=(1.0, 0.0, 1.0),
                                                                                textures=False))  # fmt: skip
    try:
        for obj in list_objects():
            pipeline.set_object(obj)
            silhouette.set_object(obj)
            image = pipeline.render(obj.canonical_pose)
            mask = np.abs(silhouette.render(obj.canonical_pose).astype(int) - (255, 0, 255)).sum(-1) > 30
            heat = maps(image, obj.imagenet_class)
            assert heat.shape == mask.shape and heat.max() == 1.0 and heat.min() >= 0
            ys, xs = np.nonzero(mask)
            peak = np.unravel_index(heat.argmax(), heat.shape)
            assert np.hypot(ys - peak[0], xs - peak[1]).min() <= 8, f"{obj.name}: the peak is off the object"
            inside, cover = (heat * mask).sum() / heat.sum(), mask.mean()
            if cover < 0.8:  # the barrel and the balls fill the view: no background to compare with
                assert inside > 1.3 * cover, f"{obj.name}: {inside:.2f} of the map on {cover:.2f} of the view"
    finally:
        silhouette.release()


def test_the_map_follows_the_class_it_is_asked_for(maps, pipeline):
    """Two classes of one image get different maps (the class is not ignored)."""
    obj = next(o for o in list_objects() if o.name == "hen")
    pipeline.set_object(obj)
    image = pipeline.render(obj.canonical_pose)
    hen, other = maps(image, 8), maps(image, 409)  # 409: analog clock, nothing like it in view
    assert np.abs(hen - other).mean() > 0.05


def test_a_model_without_a_feature_map_has_no_class_activation_map():
    flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 10))
    with pytest.raises(CamUnavailable, match="no convolutional feature map"):
        spatial_layer(flat, 8)


def test_blend_keeps_the_picture_where_the_model_does_not_look():
    image = np.full((4, 4, 3), 90, np.uint8)
    heat = np.zeros((4, 4), np.float32)
    heat[0, 0] = 1.0
    out = blend(image, heat)
    assert (out[1:, 1:] == 90).all() and (out[0, 0] != 90).any()


def test_classify_writes_the_overlay_and_never_over_a_file(tmp_path, capsys):
    out = tmp_path / "cam.png"
    args = ["classify", "--object", "hen", "--model", "efficientnet_lite0", "--cam", str(out)]
    assert main([*args, "--cam-for", "true"]) == 0
    assert "where efficientnet_lite0 finds hen (Grad-CAM)" in capsys.readouterr().err
    assert Image.open(out).size == (224, 224)
    before = out.read_bytes()
    assert main(args) == 2 and "never writes over a file" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main([*args[:-1], str(tmp_path / "t.png"), "--cam-for", "target"]) == 2
    assert capsys.readouterr().err == "error: --cam-for target needs --target CLASS\n"
