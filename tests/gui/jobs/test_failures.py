"""A job whose thread fails: the window says so (in red, in the message box), keeps drawing,
keeps predicting, and the same job starts again.  The failures are injected where each job's
work starts (the rest runs for real)."""

from __future__ import annotations

import pytest

import app.gui.jobs.atlas
import app.gui.jobs.evolve
import app.gui.jobs.fragility
from app.pipeline.pipeline import Pipeline


def fail(*_args, **_kwargs):
    raise RuntimeError("the disk caught fire")


@pytest.mark.parametrize(
    "name, where, said",
    [
        ("optimize", (Pipeline, "search"), "the pose search failed: the disk caught fire"),
        ("atlas", (app.gui.jobs.atlas, "run_sweep"), "the atlas failed: the disk caught fire"),
        ("fragility", (app.gui.jobs.fragility, "fragility"), "the fragility map failed: the disk caught fire"),
        ("evolve", (app.gui.jobs.evolve, "evolve"), "the evolution failed: the disk caught fire"),
    ],
)
def test_a_job_that_fails_is_reported_and_the_window_goes_on(stage, monkeypatch, name, where, said):
    ex, s, job = stage.ex, stage.state, stage.ex.jobs[name]
    stage.draw()  # the view's size is known once drawn (the fragility map's view)
    with monkeypatch.context() as patch:
        patch.setattr(*where, fail)
        ex.act(name)
        stage.until(lambda: not job.running, f"the {name} job to fail")
        stage.draw(2)
    assert said in stage.panel.shown_messages and any(m.error and m.text == said for m in ex.messages)
    s.pose = s.pose.replace(yaw=s.pose.yaw + 40)  # still usable: the view and the live prediction follow
    stage.until(stage.predicted, "a prediction after the failure")
    posted = ex.messages.posted
    ex.act(name)  # and the job starts again, for real this time
    assert job.running, ex.messages[-1].text
    if name != "optimize":
        ex.act(name)  # stop it
    stage.until(lambda: ex.messages.posted > posted, f"the {name} job to say how it ended")
    assert not ex.messages[-1].error and said not in ex.messages[-1].text, ex.messages[-1].text


def test_a_pixel_attack_that_fails_is_reported(stage, monkeypatch):
    import app.gui.jobs.attack

    ex, job = stage.ex, stage.ex.jobs.attack
    monkeypatch.setattr(app.gui.jobs.attack, "attack", fail)
    ex.act("attack")
    stage.until(lambda: not job.attacking, "the attack to fail")
    stage.draw()
    assert "the attack failed: the disk caught fire" in stage.panel.shown_messages
    assert job.result is None
