"""The Prediction section: live on/off, the top-5 with the true class and the target, what the model sees."""

from __future__ import annotations

from imgui_bundle import imgui

from app.core.imagenet import class_names, search_classes
from app.core.verdict import judge
from app.gui.actions import button
from app.gui.panel.verdicts import colour, fools, verdict
from app.gui.panel.widgets import AMBER, BLUE, GREEN, GREY, RED, combo, wrapped
from app.gui.state import ViewState

THUMBNAIL = 112  # the model-input image, pixels a side (times the UI scale)


def draw(panel, ex) -> None:
    """``ex``: the explorer (its live result, classifier, statistics and state)."""
    s = ex.state
    if not panel.section("Prediction", default_open=True):
        return
    _, s.live_enabled = imgui.checkbox(button("Live prediction", "toggle_live"), s.live_enabled)
    clf = ex.classifier
    imgui.same_line()
    bf16 = ex.result is not None and ex.result.precision == "bf16"  # the fast preview answered (Object section)
    wrapped(f"{clf.name}, {clf.input_size} px, {clf.device}{', bf16' if bf16 else ''}")
    result = ex.result
    if result is None:
        imgui.text_colored(GREY, "waiting for the first prediction ...")
    else:
        _top5(result, s)
        if result.frame.key != ex.scene_key and s.live_enabled:
            imgui.text_colored(GREY, "(updating ...)")
    _jury(ex)
    true_class(panel, ex)
    target(panel, s)
    _where_it_looks(panel, ex)
    if result is not None:
        side = THUMBNAIL * panel.ui_scale
        imgui.image(panel.textures.ref("thumbnail", result.frame.image), imgui.ImVec2(side, side))
        live_map = ex.beside.live_map(ex.classifier.name) if s.show_map else None
        if live_map is not None and live_map.key == result.frame.key:  # only over the frame it explains
            imgui.get_window_draw_list().add_image(panel.textures.ref("map", live_map.rgba),
                                                   imgui.get_item_rect_min(), imgui.get_item_rect_max())  # fmt: skip
        imgui.same_line()
    st = ex.stats
    imgui.begin_group()
    imgui.text("what the model sees")
    imgui.text(f"{st.fps:5.1f} FPS")
    for name, values in (("latency", st.latencies), ("model  ", st.inferences)):
        imgui.text(f"{name} {st.median_ms(values):6.1f} ms" if values else f"{name}      - ms")  # none yet
    imgui.end_group()


def _top5(result, s: ViewState) -> None:
    true_cls = s.obj.imagenet_class
    top = result.top(5)
    headline = verdict(result, true_cls, s.target_class)
    if headline is not None:
        v, color = headline
        imgui.text_colored(color, v.word)
        imgui.same_line()
        wrapped(v.plain(), color)
    for i, (idx, label, p) in enumerate(zip(top.indices, top.labels(), top.probabilities, strict=True)):
        color = GREEN if idx == true_cls else BLUE if idx == s.target_class else None
        if color is not None:
            imgui.push_style_color(imgui.Col_.plot_histogram, color)
        imgui.progress_bar(p, imgui.ImVec2(-1, 0), f"{i + 1}. {label}  {p * 100:.1f}%")
        if color is not None:
            imgui.pop_style_color()
    if true_cls is not None:
        p = float(result.probabilities[true_cls])
        wrapped(f"true class: {class_names()[true_cls]} {p * 100:.2f}%, rank {result.rank_of(true_cls)}", None)
    if s.target_class is not None:
        p = float(result.probabilities[s.target_class])
        rank = result.rank_of(s.target_class)
        wrapped(f"target: {class_names()[s.target_class]} {p * 100:.2f}%, rank {rank}", BLUE)


def _jury(ex) -> None:
    """The other models' verdicts on the view and how many of all it fools (the models are
    chosen in the Object, model section)."""
    jury, s = ex.beside.jury, ex.state
    for problem in jury.problems:
        wrapped(problem, AMBER)
    if jury.loading:
        wrapped(f"loading {jury.loading} ...", GREY)
    answer = ex.beside.answer()
    if not jury.wanted or answer is None:
        return
    counted = fools(ex)
    if counted is not None:
        color = RED if counted[0] == counted[1] else AMBER if counted[0] else GREEN
        imgui.text_colored(color, f"fools {counted[0]} of {counted[1]} models")
    for name, p in zip(answer.models, answer.probabilities, strict=True):
        v = judge(p, s.obj.imagenet_class, s.target_class)
        wrapped(f"{name}: {v.word + ' ' if v.word else ''}{class_names()[v.top1]} {100 * v.top1_p:.1f}%", colour(v))


MAP_FOR = {"top1": "top-1", "true": "true class", "target": "target"}


def _where_it_looks(panel, ex) -> None:
    """The class-activation overlay: on/off, the class it explains, how long a map takes."""
    s = ex.state
    _, s.show_map = imgui.checkbox(button("Where it looks", "toggle_map"), s.show_map)
    panel.remember("where it looks")
    imgui.same_line()
    s.map_for = combo("##map_for", MAP_FOR, s.map_for, 95 * panel.ui_scale)
    imgui.set_item_tooltip("the class the Grad-CAM overlay explains (top-1 when the one chosen is not set)")
    if not s.show_map:
        return
    live_map = ex.beside.live_map(ex.classifier.name)
    if ex.beside.maps.unavailable:
        wrapped(ex.beside.maps.unavailable, AMBER)
    elif live_map is None:
        wrapped("computing the map ...", GREY)
    else:
        wrapped(f"map of {class_names()[live_map.class_index]} (Grad-CAM, {live_map.seconds * 1000:.0f} ms)", GREY)


def _class_field(panel, ident: str, hint: str, clear: str, current: int | None, pick) -> bool:
    """A class field: type part of a name, pick from the matches (``pick(index)``); the button
    ``clear`` picks None.  True while matches are shown."""
    query, clicked = panel.field(f"##{ident}", hint, clear)
    if clicked:
        panel.fields[ident] = ""
        pick(None)
    query = query.strip()
    if not query or query == (class_names()[current] if current is not None else None):
        return False
    for n, (idx, name) in enumerate(search_classes(query, limit=6)):
        picked = imgui.selectable(f"{idx} {name}##{ident}{idx}", False)[0]
        if n == 0:
            panel.remember(f"{ident} class: first match")
        if picked:
            panel.fields[ident] = name
            pick(idx)
    return True


def true_class(panel, ex) -> None:
    """The object's class: a mesh file has none until it is told (a library object's can be changed)."""
    s = ex.state
    if s.asking_class:
        wrapped(f"what is {s.obj.name}? type its class here (or leave it unknown):", AMBER)
    matching = _class_field(panel, "true", "true class: type to search", "clear", s.obj.imagenet_class,
                            ex.set_true_class)  # fmt: skip
    if not matching and s.obj.imagenet_class is None and not s.asking_class:
        imgui.text_colored(GREY, "true class: unknown (no verdict)")


def target(panel, s: ViewState) -> None:
    """The target class field: type to search, pick from the matches; "any" clears it."""
    if _class_field(panel, "target", "target class: type to search", "any", s.target_class,
                    lambda index: setattr(s, "target_class", index)):  # fmt: skip
        return
    if s.target_class is None:
        imgui.text_colored(GREY, "target: any wrong class")
    elif s.target_class == s.obj.imagenet_class:
        wrapped("the target is the object's own class: a search looks for a pose it is recognised in")
