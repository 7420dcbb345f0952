"""The pose search in the window (the Optimize pose section and the O key).

The search runs on the session's search thread (:class:`OptimizeRun`); every frame the
view moves to the pose it reports, and at its end glides to the best pose, says how it
went and captures it.  Beside the view, before any search is asked for, the thread is
prepared for the next one (:meth:`OptimizeJob.prepare`).
"""

from __future__ import annotations

import threading
import time

from app.background.station import SearchStation
from app.core.params import Pose, describe_change
from app.gui.jobs.base import Job
from app.gui.jobs.optimize_run import OptimizeOptions, OptimizeRun
from app.search.registry import default_method
from app.search.space import Goal

RECORDING_WAIT = 120.0  # seconds closing waits for a search's recording before it captures without it
SEARCH_WAIT = 30.0  # seconds closing waits for a search to stop after its current iteration


class OptimizeJob(Job):
    name = "optimize"

    def __init__(self, host):
        super().__init__(host)
        self.options = OptimizeOptions(method=default_method(host.classifier.device, host.gl_version))
        self.run: OptimizeRun | None = None
        self.start: Pose | None = None  # where the last search on this object started (Revert goes back)
        self._ending: OptimizeRun | None = None  # ended; reported and captured once the view is at its best
        self.station = SearchStation()  # the searches' thread, GL context and pipeline, kept
        self._prepared_for: tuple | None = None  # (classifier, mesh, settings, gradient) last prepared
        self.preparing = threading.Event()  # a preparation is in flight

    @property
    def running(self) -> bool:
        return self.run is not None and not self.run.done

    @property
    def active(self) -> bool:
        """A search runs, or its end is not yet shown (the view is still on its way to its best pose)."""
        run = self.run
        return run is not None and (not run.done or not run.announced or self._ending is run)

    def activity(self) -> str | None:
        run = self.run
        if run is None or run.done:
            return None
        p = run.progress
        if run.phase == "recording":
            return "recording the pose search"
        return "preparing the pose search" if p is None else f"pose search: iteration {p.iteration}"

    def best_of_shown(self) -> Pose | None:
        """The last search's best pose, if it searched the object shown."""
        run = self.run
        ok = run is not None and run.result is not None and run.object == self.host.state.obj.name
        return run.result.best if ok else None

    def toggle(self) -> None:
        if not self.active:
            self.begin()
            return
        self.run.stop()
        if self.run.done:  # the view is on its way to the best pose: go there now
            self.follow(at_once=True)

    def begin(self) -> None:
        """Search from the current pose with the panel's options; the view animates as it runs."""
        if self.active:
            return
        h, s, o = self.host, self.host.state, self.options
        h.motion.finish()  # from where the view was going (Revert, then Optimize at once)
        try:
            run = OptimizeRun(self.station, h.classifier, s.obj, s.mesh, s.render_settings(), s.pose,
                              Goal(s.obj.imagenet_class, s.target_class), o,
                              record=h.captures_dir if o.record else None,
                              others=h.others() if o.every_model else None)  # fmt: skip
        except Exception as e:
            self.notify(f"cannot optimize: {e}", error=True)
            return
        self.run, self.start = run, s.pose

    def revert(self) -> None:
        """Glide back to where the last search started."""
        if self.start is not None and not self.active:
            self.host.motion.glide_to(self.start)

    def prepare(self) -> None:
        """Once a classifier has been frozen for the live view (after its first prediction,
        :class:`app.background.live.LiveClassifier`), make on the search thread, beside the
        view, what the next search would otherwise make first
        (:meth:`SearchStation.prepare`): again whenever the model, the object or the render
        settings change, one at a time."""
        h, s = self.host, self.host.state
        clf = h.classifier
        if not clf.freeze_tried or self.preparing.is_set() or self.active:
            return
        settings, gradient = s.render_settings(), self.options.method == "grad"
        last = self._prepared_for
        if last is not None and last[0] is clf and last[1] is s.mesh and last[2:] == (settings, gradient):
            return
        self._prepared_for = (clf, s.mesh, settings, gradient)
        self.preparing.set()
        self.station.prepare(clf, settings, s.obj, s.mesh, gradient, done=self.preparing.clear)

    def object_changed(self) -> None:
        if self.run is not None:
            self._drop("another object is shown")
            self.start = None  # nothing of this object to revert to

    def model_changed(self, name: str) -> None:
        if self.active:  # it searches against the model that is going
            self._drop(f"the model is now {name}")

    def _drop(self, why: str) -> None:
        """A search still running or still on its way to its best pose stops, and its poses
        are neither shown nor captured."""
        run = self.run
        if self.active:
            run.stop()
            run.announced = True  # its end is not reported, nor its best pose captured
            self.notify(f"the pose search on {run.object} was stopped: {why}")
        self.run = self._ending = None
        self.host.motion.cancel()

    def follow(self, at_once: bool = False) -> None:
        """Animate a running search (the view moves to each pose it reports, and glides to the
        best one at the end); once the view is there, report the outcome and capture the best
        pose.  ``at_once``: no glide (closing, Stop)."""
        run, motion = self.run, self.host.motion
        if run is None:
            return
        if not run.done:
            if run.announced:  # closing: its best pose is already shown and captured
                return
            if run.result is not None:  # the search is over; its recording is being written
                motion.glide_to(run.result.best, at_once)
            elif run.progress is not None and not run.progress.nearest:  # the pull-back's end: eased into at the end
                motion.glide_to(run.progress.current, at_once=True)  # at once: drawing every glide frame slows it
            return
        if run.newly_ended():
            if run.error is not None or run.result is None:
                self.notify(f"the pose search failed: {run.error}", error=True)
                motion.glide_to(self.start or self.host.state.pose, at_once)
                return
            self._ending = run
            motion.glide_to(run.result.best, at_once)
        if self._ending is run and (not motion.gliding or at_once):
            self._ending = None
            self._report(run)

    def _report(self, run: OptimizeRun) -> None:
        r = run.result
        self.host.motion.glide_to(r.best, at_once=True)  # exactly there, even if a drag took the view elsewhere
        how = "stopped" if r.stopped else "done"
        moved = describe_change(run.start, r.best)
        where = "the start itself" if moved == "no change" else f"{moved} from the start"
        if r.first_success_elsewhere:
            first = describe_change(run.start, r.first_success, most=2)
            if run.nearest and run.stop_on_success:  # the search stopped there, and "then nearest" moved on
                where += f", pulled back from {first}"
            else:  # it searched on from there (and pulled back from a better pose, if "then nearest")
                where += f"; the goal first met at {first}"
        self.notify(f"{r.method} {how}: {run.goal.outcome(r.success)} after {r.effort}; best pose kept ({where}; "
                    "Revert to go back), captured")  # fmt: skip
        if run.recording is not None:
            self.notify(f"recorded the run: {run.recording}")
        self.host.capture()

    def announce_closing(self) -> bool:
        """Say that a running search's recording will be written first (it can take seconds)."""
        run = self.run
        if run is None or run.done or run.record is None:
            return False
        self.notify("closing: the pose search stops and its recording is written first")
        return True

    def stop(self) -> None:
        if self.run is not None:
            self.run.stop()

    def wind_down(self) -> None:
        """The stopped search keeps its best pose, which is shown and captured (without its
        recording if that takes over ``RECORDING_WAIT``)."""
        run = self.run
        if run is not None and not run.done:
            end = time.monotonic() + SEARCH_WAIT
            while run.result is None and not run.join(0.05) and time.monotonic() < end:
                pass  # the search stops after its current iteration
            if run.result is not None:
                run.join(RECORDING_WAIT)  # the search is over; it writes its recording, if asked to
            if not run.done and run.result is not None:  # the best pose is not lost with the recording
                run.announced = True
                self.host.motion.glide_to(run.result.best, at_once=True)
                self.notify(f"the recording took over {RECORDING_WAIT:.0f} s and was left unfinished; "
                            "best pose captured", error=True)  # fmt: skip
                self.host.capture()
        self.follow(at_once=True)

    def close(self, timeout: float) -> None:
        self.station.close(timeout)  # torch must not be left running on a thread at exit
