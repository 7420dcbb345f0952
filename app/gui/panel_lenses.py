"""The panel's lens sections: pixel attacks beside the pose attack, the fragility map over
the view, and the gallery of evolved skins (state and actions in :mod:`app.gui.lenses`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from imgui_bundle import imgui

from app.core.imagenet import class_names
from app.gui.lenses import FRAGILITY_GRIDS
from app.gui.panel_colours import GREEN, GREY, RED
from app.gui.panel_widgets import combo, fitted, text_and_button, wrapped
from app.lenses.attacks import METHODS as ATTACKS
from app.lenses.fragility import KINDS
from app.lenses.plots import TITLES

if TYPE_CHECKING:
    from app.gui.panel import Panel


def _verdict(probs: np.ndarray, true_class: int | None) -> tuple[tuple[str, str], imgui.ImVec4]:
    top = int(np.argmax(probs))
    colour = GREEN if top == true_class else RED
    return (class_names()[top], f" {100 * probs[top]:.0f}%"), colour


def _image_column(
    panel: Panel, name: str, image: np.ndarray, caption: str, line: tuple[str, str], colour, side: float
) -> None:
    """An image ``side`` wide with its caption above and ``line`` (text, figure) below, both
    cut to the column (a long class name would push the next column off the panel)."""
    imgui.begin_group()
    imgui.text(fitted(caption, side))
    imgui.image(panel.ex.textures.ref(name, image), imgui.ImVec2(side, side))
    imgui.text_colored(colour, fitted(line[0], side, line[1]))
    imgui.end_group()


def draw_attacks(panel: Panel) -> None:
    ex, lenses = panel.ex, panel.ex.lenses
    if not panel.section("Pixel attacks vs pose", "attack", lenses.attack):
        return
    lenses.attack_method = combo("##attackmethod", {m: m for m in ATTACKS}, lenses.attack_method, 84 * ex.ui_scale)
    imgui.same_line()
    imgui.set_next_item_width(80 * ex.ui_scale)  # with "Attack pixels (A)" the row just fits the panel
    _, lenses.attack_eps = imgui.slider_float("eps/255", lenses.attack_eps, 0.0, 16.0, "%.1f")
    imgui.same_line()
    if imgui.button("Attack pixels (A)" if not lenses.attacking else "Stop attack (A)"):
        ex.act("attack")
    panel._remember("attack_button")
    r = lenses.attack
    if r is None:
        wrapped("changes the model-input pixels; the pose search (O) changes the pose")
        return
    side = (imgui.get_content_region_avail().x - 2 * imgui.get_style().item_spacing.x) / 3
    true_class = ex.obj.imagenet_class
    _image_column(panel, "attack_change", lenses.attack_change, f"change x{127 / max(1, r.linf):.0f}",
                  (f"Linf {r.linf} L2 {r.l2:.0f}", ""), GREY, side)  # fmt: skip
    imgui.same_line()
    _image_column(panel, "attack_image", r.adversarial, f"{r.method} image", *_verdict(r.after, true_class), side)
    imgui.same_line()
    if lenses.attack_pose is not None:
        pose, image, probs = lenses.attack_pose
        _image_column(panel, "attack_pose", image, "pose search's best", *_verdict(probs, true_class), side)
    else:
        imgui.begin_group()
        imgui.push_text_wrap_pos(imgui.get_cursor_pos_x() + side)  # the column's width, not the panel's
        imgui.text_colored(GREY, "no pose attack yet: run Optimize pose (O), then attack again")
        imgui.pop_text_wrap_pos()
        imgui.end_group()
    if text_and_button(f"{100 * r.changed_pixels:.0f}% of pixels changed, {r.seconds:.1f} s", GREY, "Save##attack"):
        lenses.save_attack()
    panel._remember("attack_save")


def draw_fragility(panel: Panel) -> None:
    ex, lenses = panel.ex, panel.ex.lenses
    if not panel.section("Fragility: crops of this view", "fragility", lenses.fragility):
        return
    running = lenses.mapping_fragility
    imgui.begin_disabled(running)
    imgui.set_next_item_width(110 * ex.ui_scale)
    _, lenses.fragility_size = imgui.slider_float("crop##fragsize", lenses.fragility_size, 0.2, 0.95, "%.2f")
    imgui.same_line()
    grids = {name: f"{name} {n}x{n}" for name, n in FRAGILITY_GRIDS.items()}
    lenses.fragility_grid = combo("##fraggrid", grids, lenses.fragility_grid, 80 * ex.ui_scale, lenses.fragility_grid)
    imgui.end_disabled()
    imgui.same_line()
    if imgui.button("Stop (G)##frag" if running else "Map crops (G)"):
        ex.act("fragility")
    panel._remember("fragility_button")
    run = lenses.fragility
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
        lenses.save_fragility()
    panel._remember("fragility_save")
    for kind in ("correct", *KINDS):
        if kind.startswith("strict"):
            imgui.same_line()
        label = f"{TITLES[kind]} {100 * f[kind]:.0f}%##{kind}" if kind != "correct" else "correct##layer"
        if imgui.radio_button(label, lenses.fragility_layer == kind):
            lenses.fragility_layer = kind
    _fragility_map(panel, run, m)


def _fragility_map(panel: Panel, run, m) -> None:
    """The view with the chosen map over it; a click on a cell shows the crop and its flipping neighbour."""
    from app.lenses.plots import layer

    lenses = panel.ex.lenses
    h, w = run.image.shape[:2]
    width = imgui.get_content_region_avail().x
    scale = width / w
    origin = imgui.get_cursor_screen_pos()
    imgui.image(panel.ex.textures.ref("fragility_view", run.image), imgui.ImVec2(width, h * scale))
    hovered = imgui.is_item_hovered()
    clicked = imgui.is_item_clicked()
    panel._remember("fragility_map")
    data = layer(m, lenses.fragility_layer)
    dl = imgui.get_window_draw_list()
    xs, ys, hx, hy = m.cells()
    on = imgui.IM_COL32(60, 190, 80, 120) if lenses.fragility_layer == "correct" else imgui.IM_COL32(240, 200, 30, 150)
    off = imgui.IM_COL32(190, 50, 45, 110) if lenses.fragility_layer == "correct" else 0
    for row in range(len(ys)):
        for col in range(len(xs)):
            colour = on if data[row, col] else off
            a = imgui.ImVec2(origin.x + (xs[col] - hx) * scale, origin.y + (ys[row] - hy) * scale)
            b = imgui.ImVec2(origin.x + (xs[col] + hx) * scale, origin.y + (ys[row] + hy) * scale)
            if colour:
                dl.add_rect_filled(a, b, colour)
            if lenses.fragility_cell == (row, col):
                dl.add_rect(a, b, imgui.IM_COL32(255, 255, 255, 255), thickness=2.0)
    if hovered:
        mouse = imgui.get_io().mouse_pos
        col = int(np.argmin(np.abs(xs - (mouse.x - origin.x) / scale)))
        row = int(np.argmin(np.abs(ys - (mouse.y - origin.y) / scale)))
        names = class_names()
        imgui.set_tooltip(f"crop at ({m.xs[col]}, {m.ys[row]}): {names[int(m.top1[row, col, 0])]} "
                          f"{100 * m.top1_prob[row, col, 0]:.0f}%\nclick: the crop and its neighbour")  # fmt: skip
        if clicked:
            lenses.pick_fragility_cell(row, col)
    side = (imgui.get_content_region_avail().x - imgui.get_style().item_spacing.x) / 2
    for slot, (image, caption, line, right) in enumerate(lenses.fragility_pair):
        if slot:
            imgui.same_line()
        _image_column(panel, f"fragility_crop{slot}", image, caption, line, GREEN if right else RED, side)


def draw_evolve(panel: Panel) -> None:
    ex, lenses = panel.ex, panel.ex.lenses
    if not panel.section("Evolved fooling skins", "evolve", lenses.evolution):
        return
    running = lenses.evolving
    imgui.begin_disabled(running)
    for i, (kind, label) in enumerate((("object", "skin on the object"), ("image", "plain image"))):
        if i:
            imgui.same_line()
        if imgui.radio_button(label, lenses.evolve_kind == kind):
            lenses.evolve_kind = kind
    imgui.end_disabled()  # the buttons go on a line of their own: with Save and Undress they fill it
    if imgui.button("Stop (V)##evolve" if running else "Evolve (V)"):
        ex.act("evolve")
    panel._remember("evolve_button")
    if lenses.evolution is not None and not running and lenses.evolution.state.elites:
        imgui.same_line()
        if imgui.button("Save##evolve"):
            lenses.save_evolution()
        panel._remember("evolve_save")
    if lenses.skin is not None:
        imgui.same_line()
        if imgui.button("Undress"):
            lenses.remove_skin()
        panel._remember("evolve_undress")
    run = lenses.evolution
    goal = class_names()[ex.target_class] if ex.target_class is not None else "as many classes as possible"
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
        imgui.image(panel.ex.textures.ref(f"elite{n}", picture), imgui.ImVec2(side, side))
        if imgui.is_item_hovered():
            imgui.set_tooltip(f"{names[c]} {100 * p:.1f}%\nclick: dress the object in it")
        if imgui.is_item_clicked():
            lenses.apply_skin(c)
        if n == 0:
            panel._remember("elite0")
        imgui.text_colored(GREEN if p >= 0.5 else GREY, f"{names[c][:10]} {100 * p:.0f}%")
        imgui.end_group()
