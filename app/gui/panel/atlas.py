"""The Atlas section: every yaw and pitch of the view, right or wrong; a click shows a cell's pose."""

from __future__ import annotations

from imgui_bundle import imgui

from app.core.imagenet import class_names
from app.core.params import INDEX, Pose
from app.gui.actions import button
from app.gui.jobs.atlas import RESOLUTIONS, AtlasJob
from app.gui.panel.widgets import AMBER, GREY, combo, wrapped
from app.gui.state import ViewState


def draw(panel, job: AtlasJob, s: ViewState, model: str) -> None:
    """``model``: the classifier's name now (a map of another model says so)."""
    if not panel.section("Atlas: yaw x pitch map", "atlas", job.run):
        return
    running = job.running
    imgui.begin_disabled(running)
    cells = {name: f"{name} {nx}x{ny}" for name, (nx, ny) in RESOLUTIONS.items()}
    job.resolution = combo("cells", cells, job.resolution, 110 * panel.ui_scale, job.resolution)
    imgui.end_disabled()
    imgui.same_line()
    if imgui.button("Stop##atlas" if running else button("Map this view", "atlas")):
        job.toggle()
    run = job.run
    if run is None:
        wrapped("every yaw and pitch, the rest as now; green: right, amber: top-5, red: wrong")
        return
    share = run.fraction_correct()
    right = "-" if share is None else f"{100 * share:.1f}%"
    done = f"{run.done_cells}/{run.cells} poses, {run.elapsed:.1f} s, right {right}"
    wrapped(f"{run.object} / {run.model}", None)  # names of any length; the figures on a line of their own
    imgui.text(done)
    if (run.object, run.model) != (s.obj.name, model):
        imgui.text_colored(AMBER, "made for another object or model: map again")
    _map(panel, job, s.pose)


def _map(panel, job: AtlasJob, pose: Pose) -> None:
    """The cells (pitch up, yaw across); hover shows a cell's prediction, a click loads its pose."""
    run = job.run
    nx, ny = run.steps
    width = imgui.get_content_region_avail().x
    cell = width / nx
    origin = imgui.get_cursor_screen_pos()
    clicked = imgui.invisible_button("##atlasmap", imgui.ImVec2(width, cell * ny))
    hovered = imgui.is_item_hovered()
    panel.remember("atlas_map")
    dl = imgui.get_window_draw_list()
    colours = {1: imgui.IM_COL32(60, 190, 80, 255), 5: imgui.IM_COL32(230, 170, 40, 255)}
    red, pending = imgui.IM_COL32(190, 50, 45, 255), imgui.IM_COL32(70, 70, 70, 255)
    for row in range(ny):
        y1 = origin.y + (ny - row) * cell  # pitch grows upwards
        for col in range(nx):
            rank = int(run.true_rank[row, col])
            colour = pending if rank == 0 else colours[1] if rank == 1 else colours[5] if rank <= 5 else red
            x0 = origin.x + col * cell
            dl.add_rect_filled(imgui.ImVec2(x0 + 0.5, y1 - cell + 0.5), imgui.ImVec2(x0 + cell - 0.5, y1 - 0.5), colour)
    # the current pose's cell, when the other parameters are still those of the map
    here = pose.vector
    yaw_pitch = [INDEX["yaw"], INDEX["pitch"]]
    here[yaw_pitch] = run.base.vector[yaw_pitch]
    if (here == run.base.vector).all():
        col = int((pose.yaw + 180.0) / 360.0 * nx) % nx
        row = int((pose.pitch + 180.0) / 360.0 * ny) % ny
        x0, y1 = origin.x + col * cell, origin.y + (ny - row) * cell
        dl.add_rect(
            imgui.ImVec2(x0, y1 - cell),
            imgui.ImVec2(x0 + cell, y1),
            imgui.IM_COL32(255, 255, 255, 255),
            thickness=2.0,
        )
    imgui.text_colored(GREY, "yaw -180..180 across, pitch -180..180 up")
    if not hovered:
        return
    mouse = imgui.get_io().mouse_pos
    col = min(max(int((mouse.x - origin.x) / cell), 0), nx - 1)
    row = min(max(ny - 1 - int((mouse.y - origin.y) / cell), 0), ny - 1)
    pose = run.pose_at(row, col)
    rank = int(run.true_rank[row, col])
    if rank:
        label = class_names()[int(run.top1[row, col])]
        p_true = run.true_prob[row, col]
        what = f"{label} {100 * run.top1_prob[row, col]:.0f}%, true class p {p_true:.3f} (rank {rank})"
    else:
        what = "not classified yet"
    imgui.set_tooltip(f"yaw {pose.yaw:.0f}, pitch {pose.pitch:.0f}: {what}\nclick: show this pose")
    if clicked:
        job.pick(row, col)
