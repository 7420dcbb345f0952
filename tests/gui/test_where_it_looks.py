"""The class-activation overlay in the window (issue 41): computed beside the view on the
newest prediction's frame, for the class asked for, and drawn over the classifier's square."""

import numpy as np

from app.core.imagenet import class_names


def test_the_map_follows_the_newest_prediction_and_the_class_asked_for(stage):
    ex, s = stage.ex, stage.state
    stage.until(stage.predicted, "the first prediction")
    assert ex.beside.live_map(ex.classifier.name) is None
    ex.act("toggle_map")
    assert s.show_map
    stage.until(lambda: ex.beside.live_map(ex.classifier.name) is not None, "the first map")
    first = ex.beside.live_map(ex.classifier.name)
    assert first.rgba.shape == (224, 224, 4) and first.class_index == int(ex.result.top(1).indices[0])
    assert first.key == ex.result.frame.key and first.rgba[..., 3].max() > 100  # something is highlighted
    s.target_class = 409  # analog clock
    s.map_for = "target"
    stage.until(lambda: ex.beside.live_map(ex.classifier.name).class_index == 409, "the map of the target")
    assert not np.array_equal(ex.beside.live_map(ex.classifier.name).rgba, first.rgba)
    s.map_for = "true"
    stage.until(
        lambda: ex.beside.live_map(ex.classifier.name).class_index == s.obj.imagenet_class, "the map of the true class"
    )
    s.pose = s.pose.replace(yaw=s.pose.yaw + 40)  # a new pose: a new prediction, then its map
    stage.until(
        lambda: stage.predicted() and ex.beside.live_map(ex.classifier.name).key == ex.result.frame.key,
        "the map of the new pose",
    )
    stage.draw()
    assert "where it looks" in stage.panel.item_rects
    said = [m for m in ex.messages if m.error]
    assert not said, said
    assert class_names()[ex.beside.live_map(ex.classifier.name).class_index] == "teddy"
