"""The live classifier's worker: only the newest frame is classified; closing keeps the jobs that write files."""

from __future__ import annotations

import threading
import time

import numpy as np

from app.background.live import Frame, LiveClassifier
from app.core.params import Pose
from tests.conftest import wait_for


def test_live_classifier_skips_stale_frames_and_keeps_the_newest(frozen_classifier):
    live = LiveClassifier(frozen_classifier)
    try:
        gate = threading.Event()
        live.run_job(lambda _clf: gate.wait(30), lambda _r: None)  # keep the worker busy
        images = [np.full((224, 224, 4), v, np.uint8) for v in (0, 60, 120, 180, 250)]
        for i, img in enumerate(images):
            live.submit(Frame(img, Pose(yaw=float(i)), key=i, stamp=time.perf_counter()))
        gate.set()
        wait_for(lambda: live.latest() is not None and live.idle, "the worker to classify and rest")
        assert live.latest().frame.key == 4  # only the newest was classified
    finally:
        assert live.close()


def test_closing_the_live_classifier_finishes_the_jobs_that_write_files_and_drops_the_rest(frozen_classifier):
    live = LiveClassifier(frozen_classifier)
    busy, gate, ran, delivered, closed = threading.Event(), threading.Event(), [], [], []
    live.run_job(lambda _clf: busy.set() or gate.wait(30), lambda _r: None)  # keep the worker busy
    wait_for(busy.is_set, "the worker to run the first job")
    live.run_job(lambda _clf: ran.append("load a model"), delivered.append)
    live.run_job(lambda _clf: ran.append("capture") or "captured", delivered.append, finish_on_close=True)
    closer = threading.Thread(target=lambda: closed.append(live.close()))
    closer.start()
    wait_for(lambda: live.closing, "close() to be under way")  # while the first job still runs
    gate.set()
    closer.join(60)
    assert closed == [True]
    assert ran == ["capture"]
    assert live.poll() == 2 and delivered == ["captured"]  # the busy job's result and the capture's
