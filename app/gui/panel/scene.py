"""The Object, model, rendering section: pick an object or a mesh file, a model, the render switches."""

from __future__ import annotations

from imgui_bundle import imgui

from app.background.jury import MAX_EXTRA
from app.gui.actions import button
from app.gui.panel.widgets import AMBER, GREY, combo, wrapped
from app.scene.library import list_objects
from app.vision import classifiers
from app.vision.classifiers import PREVIEW_MARGIN, REGISTRY_MODELS
from app.vision.engines import bf16_supported

MODEL_CHOICES = (*REGISTRY_MODELS, "inception_v3", "resnet50", "googlenet", "vgg16", "alexnet", "mobilenet_v3_large")


def _add_to_library(panel, adding) -> None:
    """The library name for the shown mesh file and the button that adds it (with its progress)."""
    run = adding.run
    if adding.running:
        imgui.progress_bar(run.views / run.total, imgui.ImVec2(-60 * panel.ui_scale, 0),
                           f"{run.request.name}: {run.stage} {run.views}/{run.total}")  # fmt: skip
        imgui.same_line()
        if imgui.button("Stop##add"):
            adding.toggle()
        return
    ref = adding.host.state.obj.ref
    if panel.fields.get("library_name_of") != ref:  # another mesh: its name as typed before, or from its file
        panel.fields["library_name"], panel.fields["library_name_of"] = adding.wanted_name(), ref
    name, clicked = panel.field("##library_name", "name in the library", "Add")
    adding.names[ref] = name.strip()
    imgui.set_item_tooltip(f"{button('Add to library', 'add_to_library')}: with its class and the natural view "
                           "the model recognises best")  # fmt: skip
    why = adding.refusal()
    if why:
        wrapped(f"add to library: {why}", GREY)
    elif clicked:
        adding.toggle()


ENGINES = {"auto": "auto", "torch": "torch", "openvino": "OpenVINO"}


def _engine(panel, ex) -> None:
    """Which engine runs the live model's forward passes; choosing another loads the model again."""
    clf = ex.classifier
    running = f"OpenVINO ({clf.engine.precision})" if clf.engine is not None else "torch"
    chosen = combo("engine", ENGINES, ex.engine, 90 * panel.ui_scale, preview=ENGINES[ex.engine])
    imgui.same_line()
    wrapped(f"runs on {running}" if clf.frozen or clf.engine is not None else "starting ...", GREY)
    if chosen != ex.engine:
        ex.engine = chosen
        ex.load_model(clf.name)
    if clf.engine_notice and clf.engine is None:
        wrapped(clf.engine_notice, AMBER)
    _preview(panel, ex)


PREVIEW = (
    f"bf16 moves probabilities by up to about 0.06, so a view whose two best classes lie within "
    f"{PREVIEW_MARGIN:g} is classified at f32 and the top-1 is always f32's"
)


def _preview(panel, ex) -> None:
    """The fast preview: the live view in bfloat16 where the CPU has it (app.vision.engines).
    What is recorded (captures, searches, saved poses) is always classified at f32."""
    clf = ex.classifier
    if not ex.preview and not (clf.device.type == "cpu" and bf16_supported()):
        return  # offered only where it runs
    changed, on = imgui.checkbox("fast preview (bf16)", ex.preview)
    panel.remember("fast_preview")
    imgui.set_item_tooltip(f"live predictions in bfloat16, about 2.5x faster on this kind of CPU; {PREVIEW}. "
                           "Captures, searches and saved poses are classified at f32.")  # fmt: skip
    if changed:
        ex.preview = on
    if not ex.preview or ex.result is None:
        return
    imgui.same_line()
    if clf.preview_notice:
        wrapped(f"{clf.preview_notice}; the view runs at f32", AMBER)
    elif ex.result.precision == "bf16":
        wrapped("this view in bf16: probabilities within about 0.06 of f32, the same top-1", GREY)
    else:
        wrapped(f"this view at f32: its two best classes lie within {PREVIEW_MARGIN:g}", GREY)


def _also_ask(panel, ex) -> None:
    """Up to two more models to judge each view beside the live one (their verdicts are in
    the Prediction section; a search can ask to fool them all)."""
    jury = ex.beside.jury
    chosen = list(jury.wanted)
    imgui.set_next_item_width(-1)
    if imgui.begin_combo("##also", f"also ask: {', '.join(chosen) if chosen else 'no other model'}"):
        for name in MODEL_CHOICES:
            if name == ex.classifier.name:
                continue
            on = name in chosen
            if imgui.checkbox(f"{name}##also", on)[0]:
                chosen = [n for n in chosen if n != name] if on else [*chosen, name][-MAX_EXTRA:]
                jury.want(tuple(chosen))
        imgui.end_combo()
    panel.remember("also ask")


def draw(panel, ex) -> None:
    """``ex``: the explorer (the state, and where objects and models are loaded)."""
    if not panel.section("Object, model, rendering"):
        return
    s = ex.state
    adding = ex.jobs.add_to_library
    if panel.listed != adding.listed:  # an object was added: list the libraries again
        panel.objects, panel.listed = list_objects(problems=[]), adding.listed
    if imgui.begin_combo("object", f"{s.obj.name} ({s.obj.display_name})"):
        for o in panel.objects:
            if imgui.selectable(f"{o.name} ({o.display_name})", o.name == s.obj.name)[0]:
                ex.load_object(o.name)
        imgui.end_combo()
    path, clicked = panel.field("##objpath", "mesh file path (.obj .glb ...)", "Open")
    if clicked and path.strip():
        ex.load_object(path.strip())
    if not s.obj.in_library:
        _add_to_library(panel, adding)
    if imgui.begin_combo("model", ex.classifier.name):
        for name in MODEL_CHOICES:
            spec = classifiers.model_spec(name)
            have = name in REGISTRY_MODELS or classifiers.cached_weights(spec) is not None
            label = name if have else f"{name} (no weights: download / fallback)"
            if imgui.selectable(label, name == ex.classifier.name)[0]:
                ex.load_model(name)
        imgui.end_combo()
    _engine(panel, ex)
    _also_ask(panel, ex)
    if ex.model_notice:
        wrapped(ex.model_notice, AMBER)
    settings = s.settings
    _, settings.textures = imgui.checkbox(button("Textures", "toggle_texture"), settings.textures)
    imgui.same_line()
    _, settings.cull_back_faces = imgui.checkbox(button("Cull back faces", "toggle_culling"), settings.cull_back_faces)
    changed, color = imgui.color_edit3(button("background", "cycle_background"), list(settings.background))
    if changed:
        settings.background = tuple(float(c) for c in color)
