"""The Pixel attacks section: the attack's change, its image and the pose search's best, side by side."""

from __future__ import annotations

from imgui_bundle import imgui

from app.gui.actions import button
from app.gui.jobs.attack import AttackJob
from app.gui.panel.widgets import GREY, combo, image_column, text_and_button, verdict_line, wrapped
from app.gui.state import ViewState
from app.lenses.attacks import METHODS as ATTACKS


def draw(panel, job: AttackJob, s: ViewState) -> None:
    if not panel.section("Pixel attacks vs pose", "attack", job.result):
        return
    job.method = combo("##attackmethod", {m: m for m in ATTACKS}, job.method, 84 * panel.ui_scale)
    imgui.same_line()
    imgui.set_next_item_width(80 * panel.ui_scale)  # with "Attack pixels (A)" the row just fits the panel
    _, job.eps = imgui.slider_float("eps/255", job.eps, 0.0, 16.0, "%.1f")
    imgui.same_line()
    if imgui.button(button("Attack pixels", "attack") if not job.attacking else button("Stop attack", "attack")):
        job.toggle()
    panel.remember("attack_button")
    r = job.result
    if r is None:
        wrapped("changes the model-input pixels; the pose search (O) changes the pose")
        return
    side = (imgui.get_content_region_avail().x - 2 * imgui.get_style().item_spacing.x) / 3
    true_class = s.obj.imagenet_class
    image_column(panel, "attack_change", job.change, f"change x{127 / max(1, r.linf):.0f}",
                  (f"Linf {r.linf} L2 {r.l2:.0f}", ""), GREY, side)  # fmt: skip
    imgui.same_line()
    image_column(panel, "attack_image", r.adversarial, f"{r.method} image", *verdict_line(r.after, true_class), side)
    imgui.same_line()
    if job.pose_attack is not None:
        _pose, image, probs = job.pose_attack
        image_column(panel, "attack_pose", image, "pose search's best", *verdict_line(probs, true_class), side)
    else:
        imgui.begin_group()
        imgui.push_text_wrap_pos(imgui.get_cursor_pos_x() + side)  # the column's width, not the panel's
        imgui.text_colored(GREY, "no pose attack yet: run Optimize pose (O), then attack again")
        imgui.pop_text_wrap_pos()
        imgui.end_group()
    if text_and_button(f"{100 * r.changed_pixels:.0f}% of pixels changed, {r.seconds:.1f} s", GREY, "Save##attack"):
        job.save()
    panel.remember("attack_save")
