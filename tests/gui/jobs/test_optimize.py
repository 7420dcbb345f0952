"""The pose search in the window: it fools, animates, keeps and captures its best pose, and gives way."""

from __future__ import annotations

import re

import numpy as np
import pytest

from app.background.station import SearchStation
from app.core.params import describe_change
from app.core.params import largest_change as moved
from app.pipeline.pipeline import Pipeline
from app.render.settings import RenderSettings
from app.scene.library import resolve_object
from app.search.recording import frame_count
from app.search.space import Budget
from app.vision.classifiers import load_classifier
from app.vision.streams import default_streams
from tests.conftest import ROOT, wait_for

pytestmark = pytest.mark.slow  # real searches, maps and lenses, or run.py in a process of its own


def test_optimize_pose_in_the_app_fools_animates_keeps_best_and_captures(stage):
    """The gradient method (the default on the CPU), with the run recorded as a GIF."""
    import imageio.v3 as iio

    ex, s, job = stage.ex, stage.state, stage.ex.jobs.optimize
    start = s.pose
    assert job.options.method == "grad"
    job.options.iterations, job.options.seconds, job.options.record = 10, 600.0, "gif"
    ex.act("optimize")
    assert job.active
    shown = []  # the pose of every frame drawn
    stage.until(lambda: shown.append(s.pose) or not job.active, "the search")
    assert not ex.captures.taken  # the search ended, and its best pose was captured once the view was there
    stage.until(lambda: len(ex.captures.taken) == 1, "the capture of the best pose")
    result = job.run.result
    assert result is not None and result.success
    assert s.pose == result.best != start
    # the view turned into the fooling pose (the search got there in one long step): no frame
    # moved it by more than half the way
    assert result.iterations <= 2 and shown[-1] == result.best
    frame_steps = [moved(p, q) for p, q in zip(shown, shown[1:], strict=False)]
    assert 0.0 < max(frame_steps) < 0.5 * moved(start, result.best), (max(frame_steps), moved(start, result.best))
    assert ex.captures.taken[0].correct is False  # the captured best pose fools the classifier
    # "then nearest" (on by default) pulled the success back toward the start
    assert job.options.nearest and moved(start, result.best) < 0.2
    said = f"{describe_change(start, result.best)} from the start, pulled back from "
    said += describe_change(start, result.first_success, most=2)  # the first success, more than 100 degrees off
    assert moved(start, result.first_success) > 0.3 and any(said in m.text for m in ex.messages)
    gif = job.run.recording
    assert gif is not None and gif.parent == ex.captures.directory and gif.suffix == ".gif"
    frames = iio.imread(gif, index=None)
    assert len(frames) == frame_count(start, result) > 1 + result.iterations + 1  # turning into the far pose
    assert frames.shape[1] > ex.classifier.input_size
    assert job.run.frames == (len(frames), len(frames))  # the panel followed them
    assert any("recorded the run" in m.text for m in ex.messages)
    job.revert()
    stage.until(lambda: s.pose == start, "the glide back to the start", timeout=5)
    assert not ex.announce_closing()  # nothing running: nothing to say
    # from a pose that fools already, the nearest success is that pose, and the message says so
    s.pose, job.options.record = result.best, None
    ex.act("optimize")
    stage.until(lambda: not job.active, "the search from a fooling pose")
    assert job.run.result.best == result.best == s.pose
    assert "best pose kept (the start itself" in [m.text for m in ex.messages if "done:" in m.text][-1]


def test_revert_glides_back_and_a_hand_on_the_pose_takes_over(stage):
    s, job, motion = stage.state, stage.ex.jobs.optimize, stage.ex.motion
    start, away = s.pose, s.pose.replace(yaw=s.pose.yaw + 150.0, pitch=40.0)
    job.start = start
    s.pose = away
    job.revert()
    shown = []
    stage.until(lambda: shown.append(s.pose) or s.pose == start, "the glide")
    assert len(shown) > 3 and all(0.0 < moved(p, start) < moved(away, start) for p in shown[1:-1])
    s.pose = away
    job.revert()
    stage.draw()
    s.set_param("roll", 30.0)  # a slider moved during the glide
    held = s.pose
    stage.draw()
    assert not motion.gliding  # the glide gave way at once
    stage.draw(5)
    assert s.pose == held
    motion.glides = False
    job.revert()
    assert s.pose == start  # at once


def start_long_search(stage, record: str | None = None) -> None:
    """A 120 s random search (recorded as ``record``) that has finished its first iteration."""
    job = stage.ex.jobs.optimize
    o = job.options
    o.seconds, o.until_fooled, o.method, o.record = 120, False, "random", record
    stage.ex.act("optimize")
    stage.until(lambda: job.run.progress is not None, "the first iteration")


def test_another_object_or_model_stops_the_search_whose_poses_are_then_neither_shown_nor_captured(stage):
    """Before, a search went on moving the new object to the old one's poses, and captured
    the new object in the old one's best pose at its end."""
    ex, s, job = stage.ex, stage.state, stage.ex.jobs.optimize
    start_long_search(stage)
    run = job.run
    ex.load_object("hen")
    stage.until(lambda: s.obj.name == "hen", "the hen")
    assert run.join(60) and run.result.stopped
    assert any("the pose search on teddy_bear was stopped" in m.text for m in ex.messages)
    stage.draw(5)
    assert s.pose == s.obj.canonical_pose and not ex.captures.taken and not job.active
    assert job.start is None  # nothing to revert to on this object
    ex.act("optimize")  # and a search against a model that is replaced
    stage.until(lambda: job.run.progress is not None, "the first iteration")
    run, run_classifier = job.run, ex.classifier
    ex.load_model("efficientnet_lite0")
    stage.until(lambda: ex.classifier is not run_classifier, "the new model")
    pose = s.pose
    assert run.join(60) and run.result.stopped
    assert any(m.text == "the pose search on hen was stopped: the model is now efficientnet_lite0"
               for m in ex.messages)  # fmt: skip
    stage.draw(5)
    assert s.pose == pose and not ex.captures.taken and not job.active


def test_stopping_the_search_keeps_a_valid_best_pose_and_records_it_as_mp4(stage):
    import imageio.v3 as iio

    ex, s, job = stage.ex, stage.state, stage.ex.jobs.optimize
    start = s.pose
    start_long_search(stage, "mp4")
    assert ex.announce_closing()  # closing the window now would say why it waits
    assert ex.messages[-1].text.startswith("closing: the pose search stops and its recording is written")
    ex.act("optimize")  # stop
    stage.until(lambda: not job.active, "the stop and the recording")
    stage.draw()
    result = job.run.result
    assert result.stopped
    assert s.pose == result.best
    mp4 = job.run.recording
    assert mp4 is not None and mp4.name == f"{s.obj.name}-random-run.mp4"
    assert len(iio.imread(mp4, index=None)) == frame_count(start, result) + 12  # start, steps, best held 1.5 s


def test_closing_while_a_slow_recording_is_written_still_captures_the_best_pose(stage, monkeypatch):
    """Closing waits for a search's recording only so long (here not at all); the best pose
    is then captured without it, once, and the recording goes on being written."""
    import app.gui.jobs.optimize

    ex, s, job = stage.ex, stage.state, stage.ex.jobs.optimize
    monkeypatch.setattr(app.gui.jobs.optimize, "RECORDING_WAIT", 0.0)
    start_long_search(stage, "gif")
    assert ex.wind_down()  # a capture is due
    run = job.run
    assert not run.done and run.result is not None and run.result.stopped  # stopped, still recording
    assert "left unfinished; best pose captured" in ex.messages[-1].text
    stage.draw()  # the search is over: its outcome and best, and the recording's frames
    assert re.fullmatch(r"(FOOLED|not fooled), recording(: frame \d+ of \d+)?; best true class p 0\.\d{3}",
                        stage.panel.optimize_status), stage.panel.optimize_status  # fmt: skip
    stage.until(lambda: len(ex.captures.taken) == 1, "the capture of the best pose")
    assert ex.captures.taken[0].pose == run.result.best == s.pose
    assert run.join(60) and run.recording is not None and run.recording.exists()
    stage.draw(3)
    assert len(ex.captures.taken) == 1  # the run's end is not reported (and captured) a second time


def test_optimize_without_groups_is_a_message(stage):
    ex, job = stage.ex, stage.ex.jobs.optimize
    for g in job.options.groups:
        job.options.groups[g] = False
    ex.act("optimize")
    assert not job.active
    assert any(m.error and "no parameters" in m.text for m in ex.messages)


def test_the_search_station_keeps_its_pipeline_between_searches(frozen_classifier):
    """Searches reuse the station's pipeline while the model and the render settings stay
    (another object is uploaded into it); other settings or a failed search make a new one."""
    station = SearchStation()
    hen, teddy = resolve_object("hen"), resolve_object("teddy_bear")
    meshes = {o.name: o.load() for o in (hen, teddy)}
    got, images = [], []

    def ask(settings, obj, fail=False):
        done = []

        def job(st):
            try:
                got.append(st.pipeline(frozen_classifier, settings, obj, meshes[obj.name]))
                images.append(got[-1].render(obj.canonical_pose))  # on the station's thread, in its context
                if fail:
                    raise RuntimeError("a search that failed")
            finally:
                done.append(True)

        station.submit(job)
        wait_for(lambda: done, "the station's job")

    try:
        ask(RenderSettings(), hen)
        ask(RenderSettings(), hen)
        assert got[1] is got[0] and got[0].object is hen
        ask(RenderSettings(), teddy)
        assert got[2] is got[0] and got[2].object is teddy and got[2].mesh is meshes["teddy_bear"]
        assert images[2].std() > 10 and np.abs(images[2].astype(int) - images[0]).mean() > 10  # another object drawn
        ask(RenderSettings(textures=False), teddy)
        assert got[3] is not got[0] and not got[3].settings.textures
        ask(RenderSettings(textures=False), teddy, fail=True)
        ask(RenderSettings(textures=False), teddy)
        assert got[5] is not got[4] is got[3]
    finally:
        assert station.close(30)


def test_searches_get_the_shown_mesh_and_a_prepared_model(stage_factory, tmp_path):
    """The window makes the gradient copy of a fresh classifier beside the view, once its
    live model is frozen, with no search asked for, and the search thread's pipeline with
    the object uploaded; a search then takes the mesh the window shows, not the file again
    (here deleted after loading), on that pipeline."""
    import shutil

    clf = load_classifier("efficientnet_lite0", device="cpu")
    shutil.copytree(ROOT / "models" / "hen", tmp_path / "hen")
    st = stage_factory(str(tmp_path / "hen" / "chicken.obj"), classifier=clf)
    job = st.ex.jobs.optimize
    st.until(lambda: clf._frozen_grad is not None, "the gradient copy made beside the view")
    st.until(lambda: not job.preparing.is_set(), "the search thread prepared")
    assert job.run is None
    prepared = job.station.kept
    assert prepared is not None and prepared.mesh is st.state.mesh and prepared._diff is not None  # re-shader made
    shutil.rmtree(tmp_path / "hen")
    job.options.seconds, st.state.target_class = 2, 8  # a mesh file has no true class: a target (hen)
    st.ex.act("optimize")
    assert job.active, st.ex.messages[-1].text
    st.until(lambda: not job.active, "the search")
    assert job.run.error is None and job.run.result.evaluations > 0, job.run.error
    assert job.station.kept is prepared  # the search ran on what was prepared


def headless_searches(ex, *option_sets: dict) -> list:
    """The window's last search again, headless, as its search thread runs it (the same
    pipeline settings, batch and streams, the mesh the window shows, the run's space, goal,
    seed and budget), once for each set of the method's options."""
    job, clf = ex.jobs.optimize, ex.classifier
    run, o = job.run, job.options
    pipe = Pipeline(clf, ctx=ex.ctx, settings=ex.state.render_settings(), batch=18,
                    streams=default_streams(clf.device))  # fmt: skip
    try:
        pipe.set_object(ex.state.obj, ex.state.mesh)
        return [pipe.search(run.method, run.space, run.goal, Budget(o.iterations, o.seconds), seed=o.seed,
                            stop_on_success=run.stop_on_success, nearest=run.nearest, **options)
                for options in option_sets]  # fmt: skip
    finally:
        pipe.release()


def test_a_search_asked_for_before_the_live_model_is_frozen_runs_the_frozen_model(stage_factory):
    """The live view freezes a new model after its first answer; a search asked for before
    (here at once) waits for that frozen model and finds what the same search finds headless
    on it, as run.py optimize runs it.  It ran the eager model, whose probabilities differ in
    their last bits, and so did not reproduce."""
    clf = load_classifier("efficientnet_lite0", device="cpu")
    st = stage_factory(classifier=clf)
    job = st.ex.jobs.optimize
    o = job.options
    o.method, o.iterations, o.seconds, o.seed = "grad", 6, 600.0, 3
    assert not clf.freeze_tried
    st.ex.act("optimize")
    st.until(lambda: not job.active, "the search")
    run = job.run
    assert run.error is None and run.result.success, run.error
    assert clf.frozen and clf._frozen_grad is not None
    (again,) = headless_searches(st.ex, {})
    assert again.success and again.evaluations == run.result.evaluations
    assert again.best_score == run.result.best_score
    assert again.best.vector.tolist() == run.result.best.vector.tolist()


def test_a_search_that_goes_on_past_its_first_success_names_where_that_was(stage):
    """Without "stop at the first success" and "then nearest", the search climbs on past its
    first success: the closing message names that pose as where the goal was first met,
    not as a pose pulled back from."""
    ex, job = stage.ex, stage.ex.jobs.optimize
    o = job.options
    o.method, o.iterations, o.seconds, o.until_fooled, o.nearest = "grad", 20, 600.0, False, False
    ex.act("optimize")
    stage.until(lambda: not job.active, "the search")
    result = job.run.result
    assert result.success and result.first_success_elsewhere  # a better fooling pose than the first
    said = [m.text for m in ex.messages if "done:" in m.text][-1]
    first = describe_change(job.run.start, result.first_success, most=2)
    assert f"; the goal first met at {first}" in said
    assert "pulled back" not in said


def test_the_gradient_options_in_the_panel_reach_the_search(stage):
    """Edge gradients and grad's first step, as run.py optimize --edge-gradients and
    --first-step have them: the window's search then finds exactly what the same search
    finds headless with them, and its first success lies within the first step."""
    ex, job = stage.ex, stage.ex.jobs.optimize
    o, start = job.options, stage.state.pose
    assert o.method == "grad" and o.of_method() == {"edges": False, "first_step": None}
    # the first prediction's lines move the Optimize section down: click once they are there
    stage.until(stage.predicted, "the first prediction")
    for name in ("edge gradients", "first step"):
        stage.draw()
        stage.click_item(f"optimize: {name}", dx=8)
    assert o.of_method() == {"edges": True, "first_step": 0.5}  # the untargeted default, to start the slider from
    o.set("first_step", 0.3)
    o.seed, o.iterations, o.seconds = 2, 10, 600.0
    ex.act("optimize")
    stage.until(lambda: not job.active, "the search")
    run = job.run
    assert run.error is None and run.result.success, run.error
    assert run.space.base == start and run.stop_on_success
    again = headless_searches(ex, {"edges": True, "first_step": 0.3}, {})
    assert again[0].best == run.result.best and again[0].evaluations == run.result.evaluations
    assert again[1].first_success != run.result.first_success  # the default first step went elsewhere
    first = np.linalg.norm(run.space.to_unit(run.result.first_success) - run.space.to_unit(start))
    assert first <= 0.3 + 1e-9, first
