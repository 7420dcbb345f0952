"""The Optimize pose section: the method and its own options, the groups searched, the budget, the state."""

from __future__ import annotations

from imgui_bundle import imgui

from app.core.imagenet import class_names
from app.core.params import params_in_groups
from app.gui.actions import button
from app.gui.jobs.optimize import OptimizeJob
from app.gui.jobs.optimize_run import OptimizeOptions
from app.gui.panel.widgets import AMBER, GREEN, combo, wrapped
from app.gui.state import ViewState
from app.search.registry import Option, methods

RECORD_LABELS = {None: "off", "gif": "GIF", "mp4": "MP4"}  # OptimizeOptions.record
NEAREST_TIP = ("once the goal is met, move the best pose back toward the start:\n"
               "the nearest pose on the line between them that still meets it,\n"
               "then its three largest changes shrunk one at a time (12-24 renders more)")  # fmt: skip


def draw(panel, job: OptimizeJob, s: ViewState) -> None:
    if not panel.section("Optimize pose", default_open=True):
        return
    o, scale = job.options, panel.ui_scale
    running = job.active
    imgui.begin_disabled(running)
    labels = {name: m.label for name, m in methods().items()}
    o.method = combo("method", labels, o.method, 110 * scale)
    imgui.same_line()
    imgui.set_next_item_width(70 * scale)
    _, seed = imgui.input_int("seed", o.seed, 0)
    o.seed = max(0, seed)  # searches take seeds >= 0
    panel.remember("optimize: seed")
    for i, g in enumerate(o.groups):
        if i:
            imgui.same_line()
        _, o.groups[g] = imgui.checkbox(f"{g}##search", o.groups[g])
        imgui.set_item_tooltip("search " + ", ".join(p.label for p in params_in_groups([g])))
        panel.remember(f"optimize: {g}")
    imgui.set_next_item_width(130 * scale)
    _, o.seconds = imgui.slider_float("budget s", o.seconds, 1.0, 120.0, "%.0f s")
    imgui.same_line()
    o.record = combo("record", RECORD_LABELS, o.record, 70 * scale)
    panel.remember("optimize: record")
    _, o.until_fooled = imgui.checkbox("stop at the first success", o.until_fooled)
    imgui.same_line()
    _, o.nearest = imgui.checkbox("then nearest", o.nearest)
    panel.remember("optimize: nearest")
    imgui.set_item_tooltip(NEAREST_TIP)
    others = job.host.others()
    if others:  # models judging beside the live one (Prediction section): the goal can be met in all of them
        _, o.every_model = imgui.checkbox(f"in every model ({1 + len(others)})", o.every_model)
        panel.remember("optimize: every model")
        names = ", ".join(m.name for m in others)
        imgui.set_item_tooltip(f"a pose that fools every model (or hits the target in every one): {names} too; "
                               "CMA-ES, random or finite differences")  # fmt: skip
    else:
        o.every_model = False
    _method_options(panel, o, s.target_class is not None)
    imgui.end_disabled()
    goal = class_names()[s.target_class] if s.target_class is not None else "any wrong class"
    if o.every_model:
        goal += ", in every model"
    wrapped(f"goal: {goal}")  # its own line: beside the checkboxes it ran off the panel
    if imgui.button(button("Stop", "optimize") if running else button("Optimize pose", "optimize")):
        job.toggle()
    if job.run is not None and not running and job.start is not None:
        imgui.same_line()
        if imgui.button("Revert to start"):
            job.revert()
    _status(panel, job)


def _method_options(panel, o: OptimizeOptions, targeted: bool) -> None:
    """The options every method declares for the panel, on one line, greyed out but for the chosen method's."""
    first = True
    for m in methods().values():
        shown = [opt for opt in m.options if opt.label is not None]
        if not shown:
            continue
        imgui.begin_disabled(m.name != o.method)
        chosen = o.method_options.setdefault(m.name, {})
        for opt in shown:
            if not first:
                imgui.same_line()
            first = False
            chosen[opt.name] = _option(panel, opt, chosen.get(opt.name, opt.default), targeted)
        imgui.end_disabled()


def _option(panel, opt: Option, value, targeted: bool):
    """One option's widget: a checkbox, or for an optional number a checkbox that turns its slider on."""
    if opt.kind is bool:
        _, value = imgui.checkbox(opt.label, bool(value))
        panel.remember(f"optimize: {opt.label}")
        imgui.set_item_tooltip(opt.help)
        return value
    _, own = imgui.checkbox(opt.label, value is not None)
    panel.remember(f"optimize: {opt.label}")
    imgui.set_item_tooltip(opt.help)
    if not own:
        return None
    if value is None:  # from the default for the goal chosen now
        value = opt.suggested(targeted)
    imgui.same_line()
    imgui.set_next_item_width(60 * panel.ui_scale)
    low, high = opt.panel_range or (opt.low, opt.high)
    _, value = imgui.slider_float(f"##{opt.label}", value, low, high, "%.2f")
    panel.remember(f"optimize: {opt.label} value")
    return value


def _status(panel, job: OptimizeJob) -> None:
    """Where the search is: preparing, searching (figures now and best), or how it ended."""
    run = job.run
    if run is None:
        return
    label = methods()[run.method].label
    p = run.progress
    if p is None:
        if not run.done:  # the model's frozen copies, the search's context
            wrapped(f"{label}: preparing the search ...", None)
        return
    targeted = run.goal.target is not None
    best = (p.best_target if targeted else p.best_true) or 0.0
    now = (p.latest_target if targeted else p.latest_true) or 0.0
    what = "target" if targeted else "true class"
    searching = run.result is None and not run.done
    state = "searching" if searching and not p.success else run.goal.outcome(p.success)
    if run.phase == "recording" and not run.done:
        state += ", recording: frame {} of {}".format(*run.frames) if run.frames[1] else ", recording"
    wrapped(f"{label}: it {p.iteration}, {p.evaluations} renders, {p.elapsed:.1f} s", None)
    figures = f"{what} p now {now:.3f}, best {best:.3f}" if searching else f"best {what} p {best:.3f}"
    panel.optimize_status = f"{state}; {figures}"
    wrapped(panel.optimize_status, GREEN if p.success else AMBER)  # the view shows the best
