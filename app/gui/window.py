"""The desktop window: pyglet for the window and input, moderngl for drawing.

A thin layer: it turns pyglet events into ImGui input and :class:`~app.gui.explorer.Explorer`
calls, and asks the explorer to draw into the window's framebuffer.  It redraws at up
to 60 Hz while something changes (input, new predictions, jobs) and a few times a second
otherwise, so an idle window leaves the processor to the classifier.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from app.gui.interaction import drag_mode
from app.render.glcontext import REQUIRED_GL, GLUnavailable, check_version, preload_llvm_libraries

TITLE = "Strike-a-Pose Explorer"
FRAME_INTERVAL = 1 / 60
IDLE_INTERVAL = 0.25  # redraw at least this often (ImGui's text cursor, messages)
ACTIVE_AFTER_INPUT = 1.0  # seconds of full frame rate after an input event
COMPUTING_INPUT_INTERVAL = 1 / 12  # while a search, map or lens runs, input alone redraws at most this often


class WindowUnavailable(RuntimeError):
    """No display to open a window on."""


@dataclass
class WindowOptions:
    size: tuple[int, int] = (1024, 768)
    ui_scale: float = 1.0
    screen_msaa: bool = False
    benchmark_seconds: float | None = None  # spin the object and record frame times, then close
    benchmark_out: Path | None = None


def frame_due(now: float, *, changed: bool, last_input: float, last_draw: float, computing: bool) -> bool:
    """Whether the window draws a frame now: when what it shows changed, for a second after
    an input event (ImGui's hover and press feedback), and every ``IDLE_INTERVAL`` anyway.
    While a pose search, a map or a lens is at work (``computing``), input alone draws at
    most every ``COMPUTING_INPUT_INTERVAL``: on a software rasteriser frames at 60 Hz for
    the second after O was pressed made the search itself 3-4 times slower (0.6-0.8 s
    against 0.2 s for the teddy bear)."""
    since_draw = now - last_draw
    if changed or since_draw > IDLE_INTERVAL:
        return True
    return now - last_input < ACTIVE_AFTER_INPUT and (not computing or since_draw > COMPUTING_INPUT_INTERVAL)


def check_display() -> None:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise WindowUnavailable(
            "no display: the window needs an X11 or Wayland display (DISPLAY is not set). "
            "Run it in a desktop session, under xvfb-run, or use the headless commands "
            "(python run.py render/classify/demo)."
        )


def create_window(options: WindowOptions):
    """A pyglet window with an OpenGL 3.3+ core context; clear errors when there is none."""
    check_display()
    preload_llvm_libraries()
    import pyglet

    pyglet.options["debug_gl"] = False  # moderngl's reads leave GL errors pyglet's checks would raise
    pyglet.options["shadow_window"] = False  # its legacy context is unused, and its failure would be unexplained
    try:
        import pyglet.gl
        import pyglet.window
    except Exception as e:  # ContextException while pyglet probes the display's GL
        raise GLUnavailable(f"the display offers no usable OpenGL ({e})") from None
    try:
        display = pyglet.display.get_display() if hasattr(pyglet, "display") else pyglet.canvas.get_display()
        screen = display.get_default_screen()
    except Exception as e:  # NoSuchDisplayException and friends
        name = os.environ.get("DISPLAY", "")
        raise WindowUnavailable(f"cannot open the display {name!r}: no X server answers there, or it refuses this "
                                f"user (pyglet: {e})") from None  # fmt: skip
    major, minor = divmod(REQUIRED_GL // 10, 10)
    templates = []
    if options.screen_msaa:
        templates.append(dict(sample_buffers=1, samples=4))
    templates.append({})
    last_error: Exception | None = None
    for extra in templates:
        config = pyglet.gl.Config(
            major_version=major,
            minor_version=minor,
            forward_compatible=True,
            double_buffer=True,
            depth_size=24,
            **extra,
        )
        try:
            config = screen.get_best_config(config)
            w, h = options.size
            return pyglet.window.Window(
                width=w, height=h, caption=TITLE, resizable=True, config=config, vsync=False, file_drops=True
            )
        except Exception as e:  # NoSuchConfigException, ContextException
            last_error = e
    raise GLUnavailable(f"the display offers no OpenGL 3.3 core context ({last_error})")


def run_window(explorer_factory, options: WindowOptions) -> int:
    """Open the window, build the explorer with its GL context, run until closed."""
    window = create_window(options)
    import moderngl
    import pyglet
    from imgui_bundle import imgui
    from pyglet.window import key, mouse

    from app.gui.explorer import SHORTCUTS

    try:
        ctx = check_version(moderngl.create_context())
    except GLUnavailable:
        window.close()
        raise
    explorer = explorer_factory(ctx)
    io = imgui.get_io()
    state = {"last_input": time.monotonic(), "last_draw": 0.0, "drawn": None, "closing": False, "ctrl_c": False}
    bench: dict = {"frames": [], "draw": [], "start": None}

    key_actions = {getattr(key, name): (s.action, amount) for s in SHORTCUTS for name, amount in s.bindings}
    imgui_keys = {
        key.TAB: imgui.Key.tab, key.LEFT: imgui.Key.left_arrow, key.RIGHT: imgui.Key.right_arrow,
        key.UP: imgui.Key.up_arrow, key.DOWN: imgui.Key.down_arrow, key.HOME: imgui.Key.home,
        key.END: imgui.Key.end, key.DELETE: imgui.Key.delete, key.BACKSPACE: imgui.Key.backspace,
        key.RETURN: imgui.Key.enter, key.ENTER: imgui.Key.enter, key.NUM_ENTER: imgui.Key.keypad_enter,
        key.ESCAPE: imgui.Key.escape, key.A: imgui.Key.a, key.C: imgui.Key.c, key.V: imgui.Key.v,
        key.X: imgui.Key.x, key.Z: imgui.Key.z, key.Y: imgui.Key.y,
    }  # fmt: skip

    def touched() -> None:
        state["last_input"] = time.monotonic()

    def modifiers(mods: int) -> None:
        io.add_key_event(imgui.Key.mod_ctrl, bool(mods & key.MOD_CTRL))
        io.add_key_event(imgui.Key.mod_shift, bool(mods & key.MOD_SHIFT))
        io.add_key_event(imgui.Key.mod_alt, bool(mods & key.MOD_ALT))

    def imgui_pos(x: float, y: float) -> tuple[float, float]:
        return x, window.height - y

    def over_ui(x: float, y: float) -> bool:
        """Does a press or wheel at window pixel (x, y) belong to the panel?

        ImGui's ``want_capture_mouse`` describes the mouse at the last frame; when the mouse
        has moved since (events arrive between frames), the panel's recorded window
        rectangles decide, and an open popup (a combo's list) takes every click."""
        ix, iy = imgui_pos(x, y)
        panel = explorer.panel
        if panel.hit(ix, iy) or panel.popup_open:
            return True
        fx, fy = panel.mouse_at_frame
        return io.want_capture_mouse and abs(fx - ix) < 1 and abs(fy - iy) < 1

    def view() -> tuple[int, int, int, int]:
        return explorer.view_rect(window.width, window.height)

    @window.event
    def on_mouse_motion(x, y, dx, dy):
        io.add_mouse_pos_event(*imgui_pos(x, y))
        touched()

    @window.event
    def on_mouse_press(x, y, button, mods):
        touched()
        modifiers(mods)
        io.add_mouse_pos_event(*imgui_pos(x, y))
        if over_ui(x, y):
            io.add_mouse_button_event({mouse.LEFT: 0, mouse.RIGHT: 1, mouse.MIDDLE: 2}.get(button, 0), True)
            return
        mode = drag_mode(
            left=button == mouse.LEFT, right=button == mouse.RIGHT, middle=button == mouse.MIDDLE,
            shift=bool(mods & key.MOD_SHIFT), ctrl=bool(mods & key.MOD_CTRL), alt=bool(mods & key.MOD_ALT),
        )  # fmt: skip
        explorer.start_drag(mode, x, y)

    @window.event
    def on_mouse_release(x, y, button, mods):
        touched()
        io.add_mouse_pos_event(*imgui_pos(x, y))
        io.add_mouse_button_event({mouse.LEFT: 0, mouse.RIGHT: 1, mouse.MIDDLE: 2}.get(button, 0), False)
        explorer.end_drag()

    @window.event
    def on_mouse_drag(x, y, dx, dy, buttons, mods):
        touched()
        io.add_mouse_pos_event(*imgui_pos(x, y))
        explorer.drag_to(x, y, view())

    @window.event
    def on_mouse_scroll(x, y, scroll_x, scroll_y):
        touched()
        if over_ui(x, y):
            io.add_mouse_wheel_event(scroll_x, scroll_y)
        else:
            explorer.act("zoom", scroll_y)

    @window.event
    def on_key_press(symbol, mods):
        touched()
        modifiers(mods)
        if symbol in imgui_keys:
            io.add_key_event(imgui_keys[symbol], True)
        if io.want_text_input:  # typing into a field: no shortcuts
            return pyglet.event.EVENT_HANDLED
        action = key_actions.get(symbol)
        if action is not None and not (mods & (key.MOD_CTRL | key.MOD_ALT)):
            explorer.act(*action)
        return pyglet.event.EVENT_HANDLED  # also keeps pyglet's own Esc-closes handler out

    @window.event
    def on_key_release(symbol, mods):
        modifiers(mods)
        if symbol in imgui_keys:
            io.add_key_event(imgui_keys[symbol], False)

    @window.event
    def on_text(text):
        touched()
        io.add_input_characters_utf8(text)

    @window.event
    def on_file_drop(x, y, paths):
        touched()
        explorer.load_dropped(list(paths))

    @window.event
    def on_resize(width, height):
        touched()
        return pyglet.event.EVENT_HANDLED  # the explorer sets its own viewports

    @window.event
    def on_activate():
        io.add_focus_event(True)

    @window.event
    def on_deactivate():
        io.add_focus_event(False)

    @window.event
    def on_draw():
        start = time.perf_counter()
        fb_size = window.get_framebuffer_size()
        explorer.draw(ctx.screen, (window.width, window.height), fb_size)
        state["last_draw"] = time.monotonic()
        state["drawn"] = explorer.drawn_state()
        if bench["start"] is not None:
            bench["frames"].append(start)
            bench["draw"].append(time.perf_counter() - start)

    @window.event
    def on_close():
        shutdown()
        return pyglet.event.EVENT_HANDLED

    def shutdown(draw: bool = True) -> None:
        """Close as the window's close button does: stop the runs, write what was asked for
        (with ``draw``, drawing the frames that needs), stop the worker, close the window."""
        if state["closing"]:
            return
        state["closing"] = True
        pyglet.clock.unschedule(tick)
        if explorer.announce_closing() and draw:
            window.draw(0.0)  # the message shows while the window waits for the recording
        if explorer.wind_down() and draw:  # a stopped pose search's best pose: draw it once, for its capture
            window.draw(0.0)
        ended = explorer.close()
        if not ended:
            print("warning: the classifier worker did not stop in time", file=sys.stderr)
        window.close()
        pyglet.app.exit()

    def tick(dt: float) -> None:
        """One frame (when due); schedules the next so frames start 1/60 s apart or
        back to back when a frame takes longer (a fixed interval would round slow frames
        up to the next multiple of 1/60 s)."""
        if state["closing"]:
            return
        start = time.perf_counter()
        frame(dt)
        if not state["closing"]:
            pyglet.clock.schedule_once(tick, max(0.0, FRAME_INTERVAL - (time.perf_counter() - start)))

    def frame(dt: float) -> None:
        if explorer.quit_requested:
            shutdown()
            return
        now = time.monotonic()
        if options.benchmark_seconds is not None:
            benchmark_step(now)
            if state["closing"]:
                return
        explorer.update()
        due = options.benchmark_seconds is not None or frame_due(
            now,
            changed=state["drawn"] != explorer.drawn_state(),
            last_input=state["last_input"],
            last_draw=state["last_draw"],
            computing=explorer.computing,
        )
        if due:
            window.draw(dt)

    def benchmark_step(now: float) -> None:
        if bench["start"] is None:
            if explorer.result is None or not explorer.classifier.freeze_tried:  # wait until the classifier is warm
                return
            bench["start"] = now
            explorer.stats.reset()
        explorer.set_param("yaw", explorer.pose.yaw + 1.5)
        if now - bench["start"] >= options.benchmark_seconds:
            report = explorer.stats.summary()
            report.update(
                window=[window.width, window.height],
                draw_ms=[round(d * 1000, 3) for d in bench["draw"]],
                interval_ms=[
                    round((b - a) * 1000, 3) for a, b in zip(bench["frames"][:-1], bench["frames"][1:], strict=True)
                ],
                model=explorer.classifier.name,
                gl=ctx.info.get("GL_RENDERER"),
            )
            if options.benchmark_out:
                options.benchmark_out.write_text(json.dumps(report))
            else:
                print(json.dumps({k: v for k, v in report.items() if not isinstance(v, list) or k == "window"}))
            shutdown()

    def on_ctrl_c(_signum, _frame) -> None:
        """The first Ctrl-C in the terminal closes the window at its next frame, as Esc does;
        a second one interrupts at once.  Installed explicitly, so it also works where the
        app was started with SIGINT ignored (a background job of a script)."""
        if state["ctrl_c"]:
            raise KeyboardInterrupt
        state["ctrl_c"] = True
        explorer.quit_requested = True

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    pyglet.clock.schedule_once(tick, 0.0)
    try:
        pyglet.app.run(None)
    except BaseException:  # a second Ctrl-C, or a frame that failed: stop the runs and the worker, draw nothing
        with contextlib.suppress(Exception):  # and report the original failure, not one from closing
            shutdown(draw=False)
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if state["ctrl_c"]:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
