"""The ImGui panel of the explorer: predictions, sliders for the declared parameters, scene,
captures, messages, and the help window.  Immediate mode: every frame the widgets show the
Explorer's current state, so sliders and mouse drags can never disagree."""

from __future__ import annotations

from typing import TYPE_CHECKING

from imgui_bundle import imgui

from app.core.imagenet import class_names, search_classes
from app.core.params import GROUPS, INDEX, PARAMS, params_in_groups
from app.gui.atlas import RESOLUTIONS as ATLAS_RESOLUTIONS
from app.gui.panel_colours import AMBER, BLUE, GREEN, GREY, RED
from app.gui.panel_lenses import draw_attacks, draw_evolve, draw_fragility
from app.gui.panel_widgets import combo, wrapped
from app.scene.library import list_objects
from app.search.methods.grad import TARGETED_FIRST_STEP, UNTARGETED_FIRST_STEP
from app.vision import classifiers
from app.vision.classifiers import REGISTRY_MODELS

if TYPE_CHECKING:
    from app.background.live import LiveResult
    from app.gui.explorer import Explorer

PANEL_WIDTH = 390.0
MESSAGE_LINES = 6  # the message box's height: a message arriving never moves the widgets below it
MODEL_CHOICES = (*REGISTRY_MODELS, "inception_v3", "resnet50", "googlenet", "vgg16", "alexnet", "mobilenet_v3_large")


def verdict(result: LiveResult, true_class: int | None, target: int | None) -> tuple[str, imgui.ImVec4] | None:
    """The headline for a prediction: correct / top-5 / fooled (or target hit); None when
    the object has no ImageNet class to judge by."""
    if true_class is None:
        return None
    rank = result.rank_of(true_class)
    if target is not None and result.top(1).indices[0] == target:
        return "TARGET HIT", BLUE
    if rank == 1:
        return "CORRECT", GREEN
    if rank <= 5:
        return f"WRONG top-1 (true class rank {rank})", AMBER
    return f"FOOLED (true class rank {rank})", RED


METHOD_LABELS = {"cmaes": "CMA-ES", "grad": "gradient", "random": "random", "fd": "finite differences"}
RECORD_LABELS = {None: "off", "gif": "GIF", "mp4": "MP4"}  # OptimizeOptions.record


class Panel:
    def __init__(self, explorer: Explorer):
        self.ex = explorer
        self.width = PANEL_WIDTH * explorer.ui_scale
        self.target_query = ""
        self.object_path = ""
        self.pose_path = ""
        self.objects = list_objects()
        self.item_rects: dict[str, tuple[float, float, float, float]] = {}  # widget -> (x0, y0, x1, y1)
        self.window_rects: list[tuple[float, float, float, float]] = []
        self.popup_open = False
        self.mouse_at_frame = (-1.0, -1.0)
        self.section_seen: dict[str, object] = {}  # section -> the run (or result) it last opened for
        self.open_all = False  # open every section (tests and screenshots check the whole panel)
        self.content_right = 0.0  # the right edge of the panel's widest line in the last frame
        self.shown_messages: list[str] = []  # the messages the box showed in the last frame
        self.optimize_status = ""  # the pose search's state and figures, as last shown

    def hit(self, x: float, y: float) -> bool:
        """Is (x, y) (ImGui coordinates, y down) over one of the panel's windows in the last frame?"""
        return any(x0 <= x < x1 and y0 <= y < y1 for x0, y0, x1, y1 in self.window_rects)

    def _remember_window(self) -> None:
        pos, size = imgui.get_window_pos(), imgui.get_window_size()
        self.window_rects.append((pos.x, pos.y, pos.x + size.x, pos.y + size.y))

    def _field(self, ident: str, hint: str, text: str, button: str) -> tuple[str, bool]:
        """A text field with a button after it; returns the text and whether the button was clicked."""
        imgui.set_next_item_width(-60 * self.ex.ui_scale)
        _, text = imgui.input_text_with_hint(ident, hint, text)
        self._remember(ident.strip("#"))
        imgui.same_line()
        return text, imgui.button(f"{button}{ident}")

    def _remember(self, name: str, width: float | None = None) -> None:
        """Record the last widget's rectangle (``width``: its frame only, without the label)."""
        a, b = imgui.get_item_rect_min(), imgui.get_item_rect_max()
        self.item_rects[name] = (a.x, a.y, b.x if width is None else a.x + width, b.y)

    # ------------------------------------------------------------------- frame

    def draw(self, width: float, height: float) -> None:
        self.window_rects = []
        pos = imgui.get_io().mouse_pos
        self.mouse_at_frame = (pos.x, pos.y)
        self._overlay(width, height)
        if self.ex.show_panel:
            imgui.set_next_window_pos(imgui.ImVec2(width - self.width, 0))
            imgui.set_next_window_size(imgui.ImVec2(self.width, height))
            flags = (
                imgui.WindowFlags_.no_move
                | imgui.WindowFlags_.no_resize
                | imgui.WindowFlags_.no_collapse
                | imgui.WindowFlags_.no_saved_settings
            )
            imgui.begin("Strike-a-Pose Explorer", None, flags)
            self._remember_window()
            self._messages()
            self._prediction()
            self._optimize()
            self._atlas()
            draw_attacks(self)
            draw_fragility(self)
            draw_evolve(self)
            self._pose()
            self._scene()
            self._captures()
            self.content_right = imgui.internal.get_current_window().dc.cursor_max_pos.x
            imgui.end()
        if self.ex.show_help:
            self._help(width, height)
        self.popup_open = imgui.is_popup_open("", imgui.PopupFlags_.any_popup_id | imgui.PopupFlags_.any_popup_level)

    def _overlay(self, width: float, height: float) -> None:
        """The classifier's square view outlined in the 3D view, and the headline over it."""
        ex = self.ex
        _, _, vw, vh = ex.view_rect(width, height)
        side = min(vw, vh)
        x0, y0 = (vw - side) / 2, (vh - side) / 2
        dl = imgui.get_background_draw_list()
        grey = imgui.IM_COL32(128, 128, 128, 160)
        dl.add_rect(imgui.ImVec2(x0 + 1, y0 + 1), imgui.ImVec2(x0 + side - 1, y0 + side - 1), grey)
        dl.add_text(imgui.ImVec2(x0 + 6, y0 + 4), grey, f"classifier view ({ex.input_size} px)")
        result = ex.result
        if result is None or not ex.live_enabled:
            text, color = ("live prediction off (L)" if not ex.live_enabled else "classifying ..."), GREY
        else:
            top = result.top(1)
            label, p = top.labels()[0], top.probabilities[0]
            text = f"{label} {p * 100:.0f}%"
            headline = verdict(result, ex.obj.imagenet_class, ex.target_class)
            if headline is not None:
                head, color = headline
                text = f"{text}   {head.split(' (')[0]}"
            else:
                color = imgui.ImVec4(1, 1, 1, 1)
        size = 28.0
        imgui.push_font(None, size)
        extent = imgui.calc_text_size(text)
        font, font_size = imgui.get_font(), imgui.get_font_size()
        imgui.pop_font()
        pos = imgui.ImVec2(x0 + 8, y0 + side - extent.y - 14)
        dl.add_rect_filled(pos, imgui.ImVec2(pos.x + extent.x + 12, pos.y + extent.y + 6), imgui.IM_COL32(0, 0, 0, 150))
        dl.add_text(font, font_size, imgui.ImVec2(pos.x + 6, pos.y + 3), imgui.get_color_u32(color), text)
        if ex.busy:
            dl.add_text(font, font_size * 0.7, imgui.ImVec2(x0 + 8, y0 + 24), imgui.get_color_u32(AMBER), ex.busy)

    # -------------------------------------------------------------- sections

    def _messages(self) -> None:
        """The newest messages that fit a box of fixed height, oldest first (the terminal
        keeps them all); the newest is shown even if it must be cut."""
        ex = self.ex
        height = MESSAGE_LINES * imgui.get_text_line_height_with_spacing()
        flags = imgui.WindowFlags_.no_scrollbar | imgui.WindowFlags_.no_scroll_with_mouse
        imgui.begin_child("messages", imgui.ImVec2(0, height), 0, flags)
        wrap, gap = imgui.get_content_region_avail().x, imgui.get_style().item_spacing.y
        shown, used = [], 0.0
        for m in reversed(ex.messages):
            used += imgui.calc_text_size(m.text, wrap_width=wrap).y + gap
            if shown and used > height:
                break
            shown.insert(0, m)
        for m in shown:
            wrapped(m.text, RED if m.error else GREY)
        self.shown_messages = [m.text for m in shown]
        imgui.end_child()

    def _prediction(self) -> None:
        ex = self.ex
        if not self.section("Prediction", default_open=True):
            return
        changed, ex.live_enabled = imgui.checkbox("Live prediction (L)", ex.live_enabled)
        clf = ex.classifier
        imgui.same_line()
        wrapped(f"{clf.name}, {clf.input_size} px, {clf.device}")
        result = ex.result
        if result is None:
            imgui.text_colored(GREY, "waiting for the first prediction ...")
        else:
            stale = result.frame.key != ex.scene_key
            true_cls = ex.obj.imagenet_class
            top = result.top(5)
            headline = verdict(result, true_cls, ex.target_class)
            if headline is not None:
                imgui.text_colored(headline[1], headline[0])
            for i, (idx, label, p) in enumerate(zip(top.indices, top.labels(), top.probabilities, strict=True)):
                color = GREEN if idx == true_cls else BLUE if idx == ex.target_class else None
                if color is not None:
                    imgui.push_style_color(imgui.Col_.plot_histogram, color)
                imgui.progress_bar(p, imgui.ImVec2(-1, 0), f"{i + 1}. {label}  {p * 100:.1f}%")
                if color is not None:
                    imgui.pop_style_color()
            if true_cls is not None:
                p = float(result.probabilities[true_cls])
                wrapped(f"true class: {class_names()[true_cls]} {p * 100:.2f}%, rank {result.rank_of(true_cls)}", None)
            if ex.target_class is not None:
                p = float(result.probabilities[ex.target_class])
                rank = result.rank_of(ex.target_class)
                wrapped(f"target: {class_names()[ex.target_class]} {p * 100:.2f}%, rank {rank}", BLUE)
            if stale and ex.live_enabled:
                imgui.text_colored(GREY, "(updating ...)")
        self._target()
        ref = ex.thumbnail_ref()
        if ref is not None:
            side = 112 * ex.ui_scale
            imgui.image(ref, imgui.ImVec2(side, side))
            imgui.same_line()
        st = ex.stats
        imgui.begin_group()
        imgui.text("what the model sees")
        imgui.text(f"{st.fps:5.1f} FPS")
        for name, values in (("latency", st.latencies), ("model  ", st.inferences)):
            imgui.text(f"{name} {st.median_ms(values):6.1f} ms" if values else f"{name}      - ms")  # none yet
        imgui.end_group()

    def _target(self) -> None:
        ex = self.ex
        self.target_query, clicked = self._field("##target", "target class: type to search", self.target_query, "any")
        if clicked:
            ex.target_class, self.target_query = None, ""
        query = self.target_query.strip()
        current = class_names()[ex.target_class] if ex.target_class is not None else None
        if query and query != current:
            for idx, name in search_classes(query, limit=6):
                if imgui.selectable(f"{idx} {name}##t{idx}", False)[0]:
                    ex.target_class, self.target_query = idx, name
        elif ex.target_class is None:
            imgui.text_colored(GREY, "target: any wrong class")
        elif ex.target_class == ex.obj.imagenet_class:
            wrapped("the target is the object's own class: a search looks for a pose it is recognised in")

    def _optimize(self) -> None:
        ex = self.ex
        if not self.section("Optimize pose", default_open=True):
            return
        o = ex.optimize_options
        running = ex.optimizing
        imgui.begin_disabled(running)
        o.method = combo("method", METHOD_LABELS, o.method, 110 * ex.ui_scale)
        imgui.same_line()
        imgui.set_next_item_width(70 * ex.ui_scale)
        _, seed = imgui.input_int("seed", o.seed, 0)
        o.seed = max(0, seed)  # searches take seeds >= 0
        self._remember("optimize: seed")
        for i, g in enumerate(o.groups):
            if i:
                imgui.same_line()
            _, o.groups[g] = imgui.checkbox(f"{g}##search", o.groups[g])
            imgui.set_item_tooltip("search " + ", ".join(p.label for p in params_in_groups([g])))
            self._remember(f"optimize: {g}")
        imgui.set_next_item_width(130 * ex.ui_scale)
        _, o.seconds = imgui.slider_float("budget s", o.seconds, 1.0, 120.0, "%.0f s")
        imgui.same_line()
        o.record = combo("record", RECORD_LABELS, o.record, 70 * ex.ui_scale)
        self._remember("optimize: record")
        _, o.until_fooled = imgui.checkbox("stop at the first success", o.until_fooled)
        imgui.same_line()
        _, o.nearest = imgui.checkbox("then nearest", o.nearest)
        self._remember("optimize: nearest")
        imgui.set_item_tooltip(
            "once the goal is met, move the best pose back toward the start:\n"
            "the nearest pose on the line between them that still meets it,\n"
            "then its three largest changes shrunk one at a time (12-24 renders more)"
        )
        self._grad_options(o, ex.target_class is not None)
        imgui.end_disabled()
        goal = class_names()[ex.target_class] if ex.target_class is not None else "any wrong class"
        wrapped(f"goal: {goal}")  # its own line: beside the checkboxes it ran off the panel
        if imgui.button("Stop (O)" if running else "Optimize pose (O)"):
            ex.act("optimize")
        run = ex.optimize_run
        if run is not None and not running and ex.optimize_start is not None:
            imgui.same_line()
            if imgui.button("Revert to start"):
                ex.revert_optimize()
        p = run.progress if run is not None else None
        if p is None and run is not None and not run.done:  # the model's frozen copies, the search's context
            wrapped(f"{METHOD_LABELS[run.method]}: preparing the search ...", None)
        if p is not None:
            targeted = run.goal.target is not None
            best = (p.best_target if targeted else p.best_true) or 0.0
            now = (p.latest_target if targeted else p.latest_true) or 0.0
            what = "target" if targeted else "true class"
            searching = run.result is None and not run.done
            outcome = run.goal.outcome(True).upper() if p.success else run.goal.outcome(False)
            state = "searching" if searching and not p.success else outcome
            if run.phase == "recording" and not run.done:
                state += ", recording: frame {} of {}".format(*run.frames) if run.frames[1] else ", recording"
            wrapped(f"{METHOD_LABELS[run.method]}: it {p.iteration}, {p.evaluations} renders, {p.elapsed:.1f} s", None)
            figures = f"{what} p now {now:.3f}, best {best:.3f}" if searching else f"best {what} p {best:.3f}"
            self.optimize_status = f"{state}; {figures}"
            wrapped(self.optimize_status, GREEN if p.success else AMBER)  # the view shows the best

    def _grad_options(self, o, targeted: bool) -> None:
        """The gradient method's own options (greyed out for the other methods)."""
        imgui.begin_disabled(o.method != "grad")
        _, o.edges = imgui.checkbox("edge gradients", o.edges)
        self._remember("optimize: edges")
        imgui.set_item_tooltip("grad: the outline's movement counts in the gradient too\n(by antialiasing)")
        imgui.same_line()
        _, own = imgui.checkbox("first step", o.first_step is not None)
        self._remember("optimize: first step")
        imgui.set_item_tooltip(
            "grad: its first step along the gradient, a fraction of the unit cube\n"
            f"(off: {UNTARGETED_FIRST_STEP} untargeted, {TARGETED_FIRST_STEP} targeted)"
        )
        if not own:
            o.first_step = None
        elif o.first_step is None:  # from the default for the goal chosen now
            o.first_step = TARGETED_FIRST_STEP if targeted else UNTARGETED_FIRST_STEP
        if o.first_step is not None:
            imgui.same_line()
            imgui.set_next_item_width(60 * self.ex.ui_scale)
            _, o.first_step = imgui.slider_float("##first step", o.first_step, 0.02, 0.8, "%.2f")
            self._remember("optimize: first step value")
        imgui.end_disabled()

    def section(self, label: str, key: str = "", thing: object = None, default_open: bool = False) -> bool:
        """A collapsing header that opens, and scrolls into view, when ``thing`` (a run, a
        result) is new: a map started with its key, an attack that came back."""
        fresh = thing is not None and self.section_seen.get(key) is not thing
        if fresh:
            imgui.set_next_item_open(True)
            self.section_seen[key] = thing
        elif self.open_all:
            imgui.set_next_item_open(True)
        if not imgui.collapsing_header(label, imgui.TreeNodeFlags_.default_open if default_open else 0):
            return False
        if fresh:
            imgui.set_scroll_here_y(0.0)
        return True

    def _atlas(self) -> None:
        ex = self.ex
        if not self.section("Atlas: yaw x pitch map", "atlas", ex.atlas):
            return
        running = ex.mapping
        imgui.begin_disabled(running)
        cells = {name: f"{name} {nx}x{ny}" for name, (nx, ny) in ATLAS_RESOLUTIONS.items()}
        ex.atlas_resolution = combo("cells", cells, ex.atlas_resolution, 110 * ex.ui_scale, ex.atlas_resolution)
        imgui.end_disabled()
        imgui.same_line()
        if imgui.button("Stop##atlas" if running else "Map this view (M)"):
            ex.act("atlas")
        run = ex.atlas
        if run is None:
            wrapped("every yaw and pitch, the rest as now; green: right, amber: top-5, red: wrong")
            return
        share = run.fraction_correct()
        right = "-" if share is None else f"{100 * share:.1f}%"
        done = f"{run.done_cells}/{run.cells} poses, {run.elapsed:.1f} s, right {right}"
        wrapped(f"{run.object} / {run.model}", None)  # names of any length; the figures on a line of their own
        imgui.text(done)
        if (run.object, run.model) != (ex.obj.name, ex.classifier.name):
            imgui.text_colored(AMBER, "made for another object or model: map again")
        self._atlas_map(run)

    def _atlas_map(self, run) -> None:
        """The cells (pitch up, yaw across); hover shows a cell's prediction, a click loads its pose."""
        ex = self.ex
        nx, ny = run.steps
        width = imgui.get_content_region_avail().x
        cell = width / nx
        origin = imgui.get_cursor_screen_pos()
        clicked = imgui.invisible_button("##atlasmap", imgui.ImVec2(width, cell * ny))
        hovered = imgui.is_item_hovered()
        self._remember("atlas_map")
        dl = imgui.get_window_draw_list()
        colours = {1: imgui.IM_COL32(60, 190, 80, 255), 5: imgui.IM_COL32(230, 170, 40, 255)}
        red, pending = imgui.IM_COL32(190, 50, 45, 255), imgui.IM_COL32(70, 70, 70, 255)
        for row in range(ny):
            y1 = origin.y + (ny - row) * cell  # pitch grows upwards
            for col in range(nx):
                rank = int(run.true_rank[row, col])
                colour = pending if rank == 0 else colours[1] if rank == 1 else colours[5] if rank <= 5 else red
                x0 = origin.x + col * cell
                dl.add_rect_filled(
                    imgui.ImVec2(x0 + 0.5, y1 - cell + 0.5), imgui.ImVec2(x0 + cell - 0.5, y1 - 0.5), colour
                )
        # the current pose's cell, when the other parameters are still those of the map
        here = ex.pose.vector
        yaw_pitch = [INDEX["yaw"], INDEX["pitch"]]
        here[yaw_pitch] = run.base.vector[yaw_pitch]
        if (here == run.base.vector).all():
            col = int((ex.pose.yaw + 180.0) / 360.0 * nx) % nx
            row = int((ex.pose.pitch + 180.0) / 360.0 * ny) % ny
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
            ex.atlas_pick(row, col)

    def _pose(self) -> None:
        ex = self.ex
        if not self.section("Pose, light, camera", default_open=True):
            return
        if imgui.button("Reset pose (R)"):
            ex.act("reset_pose")
        imgui.same_line()
        if imgui.button("Reset light"):
            defaults = {p.name: ex.obj.canonical_pose[p.name] for p in params_in_groups(["light"])}
            ex.set_pose(ex.pose.replace(**defaults))
        for group in GROUPS:
            imgui.separator_text(group)
            for p in PARAMS:
                if p.group != group:
                    continue
                fmt = "%.1f" if p.unit == "deg" else "%.3f"
                width = imgui.get_content_region_avail().x - 110 * ex.ui_scale
                imgui.set_next_item_width(width)
                changed, value = imgui.slider_float(f"{p.label}##{p.name}", ex.pose[p.name], p.low, p.high, fmt)
                self._remember(p.name, width)
                if changed:
                    ex.set_param(p.name, value)

    def _scene(self) -> None:
        ex = self.ex
        if not self.section("Object, model, rendering"):
            return
        if imgui.begin_combo("object", f"{ex.obj.name} ({ex.obj.display_name})"):
            for o in self.objects:
                if imgui.selectable(f"{o.name} ({o.display_name})", o.name == ex.obj.name)[0]:
                    ex.load_object(o.name)
            imgui.end_combo()
        self.object_path, clicked = self._field("##objpath", "mesh file path (.obj .glb ...)", self.object_path, "Open")
        if clicked and self.object_path.strip():
            ex.load_object(self.object_path.strip())
        if imgui.begin_combo("model", ex.classifier.name):
            for name in MODEL_CHOICES:
                spec = classifiers.model_spec(name)
                have = name in REGISTRY_MODELS or classifiers.cached_weights(spec) is not None
                label = name if have else f"{name} (no weights: download / fallback)"
                if imgui.selectable(label, name == ex.classifier.name)[0]:
                    ex.load_model(name)
            imgui.end_combo()
        if ex.model_notice:
            wrapped(ex.model_notice, AMBER)
        s = ex.settings
        _, s.textures = imgui.checkbox("Textures (X)", s.textures)
        imgui.same_line()
        _, s.cull_back_faces = imgui.checkbox("Cull back faces (F)", s.cull_back_faces)
        changed, color = imgui.color_edit3("background (B)", list(s.background))
        if changed:
            s.background = tuple(float(c) for c in color)

    def _captures(self) -> None:
        ex = self.ex
        if not self.section("Captures and pose files", default_open=True):
            return
        if imgui.button("Capture (C)"):
            ex.act("capture")
        imgui.same_line()
        if imgui.button("Save pose (S)"):
            ex.act("save_pose")
        imgui.same_line()
        wrapped(f"to {ex.captures_dir}/")
        self.pose_path, clicked = self._field("##posepath", "pose .json path", self.pose_path, "Load")
        if clicked and self.pose_path.strip():
            ex.load_pose(self.pose_path.strip())
        for i, c in enumerate(reversed(ex.captures)):
            mark = {True: "correct", False: "FOOLED", None: ""}[c.correct]
            if imgui.selectable(f"{c.stem}: {c.label} {mark}##cap{i}", False)[0]:
                ex.return_to(c)

    def _help(self, width: float, height: float) -> None:
        from app.gui.explorer import MOUSE_HELP, SHORTCUTS

        imgui.set_next_window_pos(
            imgui.ImVec2(width * 0.5, height * 0.5), imgui.Cond_.appearing, imgui.ImVec2(0.5, 0.5)
        )
        opened, keep = imgui.begin("Help (H)", True, imgui.WindowFlags_.always_auto_resize)
        self._remember_window()
        if opened:
            for title, rows in (("Keys", [(s.keys, s.description) for s in SHORTCUTS]), ("Mouse", MOUSE_HELP)):
                imgui.separator_text(title)
                if imgui.begin_table(title, 2):
                    for a, b in rows:
                        imgui.table_next_row()
                        imgui.table_next_column()
                        imgui.text(a)
                        imgui.table_next_column()
                        imgui.text(b)
                    imgui.end_table()
        imgui.end()
        if not keep:
            self.ex.show_help = False
