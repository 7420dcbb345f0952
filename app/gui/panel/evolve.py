"""The Evolved fooling skins section: the best elites of the evolution; a click dresses the object."""

from __future__ import annotations

from imgui_bundle import imgui

from app.core.imagenet import class_names
from app.gui.actions import button
from app.gui.jobs.evolve import EvolveJob
from app.gui.panel.widgets import GREEN, GREY, RED, wrapped
from app.gui.state import ViewState


def draw(panel, job: EvolveJob, s: ViewState) -> None:
    if not panel.section("Evolved fooling skins", "evolve", job.run):
        return
    running = job.running
    imgui.begin_disabled(running)
    for i, (kind, label) in enumerate((("object", "skin on the object"), ("image", "plain image"))):
        if i:
            imgui.same_line()
        if imgui.radio_button(label, job.kind == kind):
            job.kind = kind
    imgui.end_disabled()  # the buttons go on a line of their own: with Save and Undress they fill it
    if imgui.button(button("Stop", "evolve") + "##evolve" if running else button("Evolve", "evolve")):
        job.toggle()
    panel.remember("evolve_button")
    if job.run is not None and not running and job.run.state.elites:
        imgui.same_line()
        if imgui.button("Save##evolve"):
            job.save()
        panel.remember("evolve_save")
    if s.skin is not None:
        imgui.same_line()
        if imgui.button("Undress"):
            job.undress()
        panel.remember("evolve_undress")
    run = job.run
    goal = class_names()[s.target_class] if s.target_class is not None else "as many classes as possible"
    if run is None:
        wrapped(f"CPPN textures, MAP-Elites archive; aim: {goal} (the Target above)")
        return
    if run.error is not None:
        wrapped(f"failed: {run.error}", RED)
    s = run.state
    line = f"generation {s.generation}, {s.evaluations} pictures, {run.elapsed:.0f} s; "
    line += f"{len(s.best(minimum=0.9, exclude=run.true_class))} classes >= 90%"
    if s.target is not None:
        line += f"; target {100 * s.target_fitness():.1f}%"
    wrapped(line, None)
    gallery = run.gallery()
    if not gallery:
        return
    cols = 4
    side = (imgui.get_content_region_avail().x - (cols - 1) * imgui.get_style().item_spacing.x) / cols
    names = class_names()
    for n, (c, p, picture) in enumerate(gallery):
        if n % cols:
            imgui.same_line()
        imgui.begin_group()
        imgui.image(panel.textures.ref(f"elite{n}", picture), imgui.ImVec2(side, side))
        if imgui.is_item_hovered():
            imgui.set_tooltip(f"{names[c]} {100 * p:.1f}%\nclick: dress the object in it")
        if imgui.is_item_clicked():
            job.dress(c)
        if n == 0:
            panel.remember("elite0")
        imgui.text_colored(GREEN if p >= 0.5 else GREY, f"{names[c][:10]} {100 * p:.0f}%")
        imgui.end_group()
