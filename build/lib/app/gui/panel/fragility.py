"""The Fragility section: the map of crops over the view; a click shows a crop and its flipping neighbour."""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui

from app.core.imagenet import class_names
from app.gui.actions import button
from app.gui.jobs.fragility import GRIDS, FragilityJob
from app.gui.panel.widgets import GREEN, RED, combo, image_column, text_and_button, wrapped
from app.lenses.fragility import KINDS
from app.lenses.plots import TITLES, layer


def draw(panel, job: FragilityJob) -> None:
    if not panel.section("Fragility: crops of this view", "fragility", job.run):
        return
    running = job.running
    imgui.begin_disabled(running)
    imgui.set_next_item_width(110 * panel.ui_scale)
    _, job.size = imgui.slider_float("crop##fragsize", job.size, 0.2, 0.95, "%.2f")
    imgui.same_line()
    grids = {name: f"{name} {n}x{n}" for name, n in GRIDS.items()}
    job.grid = combo("##fraggrid", grids, job.grid, 80 * panel.ui_scale, job.grid)
    imgui.end_disabled()
    imgui.same_line()
    if imgui.button(button("Stop", "fragility") + "##frag" if running else button("Map crops", "fragility")):
        job.toggle()
    panel.remember("fragility_button")
    run = job.run
    if run is None:
        wrapped("square crops on a grid, each shifted 1 px and shrunk 2 px: where does it flip?")
        return
    if run.error is not None:
        wrapped(f"failed: {run.error}", RED)
        return
    m = run.map
    if m is None:
        imgui.text(f"{run.crops_done}/{run.crops_total} crops, {run.elapsed:.1f} s")
        return
    f = m.fractions()
    summary = f"{run.model}, crop {m.size} px, {run.elapsed:.1f} s: correct {100 * f['correct']:.0f}%"
    if text_and_button(summary, None, "Save##frag"):
        job.save()
    panel.remember("fragility_save")
    for kind in ("correct", *KINDS):
        if kind.startswith("strict"):
            imgui.same_line()
        label = f"{TITLES[kind]} {100 * f[kind]:.0f}%##{kind}" if kind != "correct" else "correct##layer"
        if imgui.radio_button(label, job.layer == kind):
            job.layer = kind
    _map(panel, job, m)


def _map(panel, job: FragilityJob, m) -> None:
    """The view with the chosen map over it; a click on a cell shows the crop and its flipping neighbour."""
    run = job.run
    h, w = run.image.shape[:2]
    width = imgui.get_content_region_avail().x
    scale = width / w
    origin = imgui.get_cursor_screen_pos()
    imgui.image(panel.textures.ref("fragility_view", run.image), imgui.ImVec2(width, h * scale))
    hovered = imgui.is_item_hovered()
    clicked = imgui.is_item_clicked()
    panel.remember("fragility_map")
    data = layer(m, job.layer)
    dl = imgui.get_window_draw_list()
    xs, ys, hx, hy = m.cells()
    on = imgui.IM_COL32(60, 190, 80, 120) if job.layer == "correct" else imgui.IM_COL32(240, 200, 30, 150)
    off = imgui.IM_COL32(190, 50, 45, 110) if job.layer == "correct" else 0
    for row in range(len(ys)):
        for col in range(len(xs)):
            colour = on if data[row, col] else off
            a = imgui.ImVec2(origin.x + (xs[col] - hx) * scale, origin.y + (ys[row] - hy) * scale)
            b = imgui.ImVec2(origin.x + (xs[col] + hx) * scale, origin.y + (ys[row] + hy) * scale)
            if colour:
                dl.add_rect_filled(a, b, colour)
            if job.cell == (row, col):
                dl.add_rect(a, b, imgui.IM_COL32(255, 255, 255, 255), thickness=2.0)
    if hovered:
        mouse = imgui.get_io().mouse_pos
        col = int(np.argmin(np.abs(xs - (mouse.x - origin.x) / scale)))
        row = int(np.argmin(np.abs(ys - (mouse.y - origin.y) / scale)))
        names = class_names()
        imgui.set_tooltip(f"crop at ({m.xs[col]}, {m.ys[row]}): {names[int(m.top1[row, col, 0])]} "
                          f"{100 * m.top1_prob[row, col, 0]:.0f}%\nclick: the crop and its neighbour")  # fmt: skip
        if clicked:
            job.pick(row, col)
    side = (imgui.get_content_region_avail().x - imgui.get_style().item_spacing.x) / 2
    for slot, (image, caption, line, right) in enumerate(job.pair):
        if slot:
            imgui.same_line()
        image_column(panel, f"fragility_crop{slot}", image, caption, line, GREEN if right else RED, side)
