"""The work the window starts beside the view, one module per job (:mod:`app.gui.jobs.base`).

Adding a job (a new lens, say) is a module here with a :class:`~app.gui.jobs.base.Job`
subclass, its entry in :func:`make_jobs`, its action in :mod:`app.gui.actions` and its
panel section in :mod:`app.gui.panel`.
"""

from __future__ import annotations

from app.gui.jobs.atlas import AtlasJob
from app.gui.jobs.attack import AttackJob
from app.gui.jobs.base import Host, Job
from app.gui.jobs.evolve import EvolveJob
from app.gui.jobs.fragility import FragilityJob
from app.gui.jobs.library import AddToLibraryJob
from app.gui.jobs.optimize import OptimizeJob


class Jobs:
    """The window's jobs by name, each made once for the session."""

    def __init__(self, host: Host):
        self.optimize = OptimizeJob(host)
        self.atlas = AtlasJob(host)
        self.attack = AttackJob(host, best_pose=self.optimize.best_of_shown)
        self.fragility = FragilityJob(host)
        self.evolve = EvolveJob(host)
        self.add_to_library = AddToLibraryJob(host)
        self.all: tuple[Job, ...] = (self.optimize, self.atlas, self.attack, self.fragility, self.evolve,
                                     self.add_to_library)  # fmt: skip

    def __getitem__(self, name: str) -> Job:
        for job in self.all:
            if job.name == name:
                return job
        raise KeyError(name)

    def __iter__(self):
        return iter(self.all)

    def activity(self) -> str:
        """What the jobs are doing, in a few words each ("" when nothing runs)."""
        return "; ".join(a for job in self.all if (a := job.activity()))

    @property
    def computing(self) -> bool:
        """Some job works beside the view (the window then redraws for input alone less often)."""
        return any(job.running for job in self.all)
