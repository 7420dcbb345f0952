"""The desktop window: pyglet for the window and input, moderngl for drawing.

A thin layer: :class:`Window` turns pyglet events into ImGui input and
:class:`~app.gui.explorer.Explorer` calls, one method per event, and has its
:class:`~app.gui.screen.Screen` draw into the window's framebuffer.  It redraws at up to
60 Hz while something changes (input, new predictions, jobs) and a few times a second
otherwise, so an idle window leaves the processor to the classifier.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.core.threads import share_the_gil_often
from app.gui.interaction import drag_mode
from app.gui.pose_files import load_dropped
from app.render.glcontext import (
    REQUIRED_GL,
    GLUnavailable,
    WindowUnavailable,
    check_display,
    check_version,
    preload_llvm_libraries,
)

TITLE = "Strike-a-Pose Explorer"
FRAME_INTERVAL = 1 / 60
IDLE_INTERVAL = 0.25  # redraw at least this often (ImGui's text cursor, messages)
ACTIVE_AFTER_INPUT = 1.0  # seconds of full frame rate after an input event
COMPUTING_INPUT_INTERVAL = 1 / 12  # while a search, map or lens runs, input alone redraws at most this often


@dataclass
class WindowOptions:
    size: tuple[int, int] = (1024, 768)
    ui_scale: float = 1.0
    screen_msaa: bool = False


def frame_due(now: float, *, changed: bool, last_input: float, last_draw: float, computing: bool) -> bool:
    """Whether the window draws a frame now: when what it shows changed, for a second after
    an input event (ImGui's hover and press feedback), and every ``IDLE_INTERVAL`` anyway.
    While a pose search, a map or a lens is at work (``computing``), input alone draws at
    most every ``COMPUTING_INPUT_INTERVAL``: on a software rasteriser frames at 60 Hz for
    the second after O was pressed made the search itself 3-4 times slower."""
    since_draw = now - last_draw
    if changed or since_draw > IDLE_INTERVAL:
        return True
    return now - last_input < ACTIVE_AFTER_INPUT and (not computing or since_draw > COMPUTING_INPUT_INTERVAL)


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


class Window:
    """An explorer in a pyglet window until it is closed (:meth:`run`).

    ``frame_hook(window, now)`` runs before each frame and ``drawn_hook(start, seconds)``
    after each drawing (the window benchmark spins the object and times frames so)."""

    def __init__(self, explorer_factory, options: WindowOptions,
                 frame_hook: Callable[[Window, float], None] | None = None,
                 drawn_hook: Callable[[float, float], None] | None = None):  # fmt: skip
        self.window = create_window(options)
        import moderngl
        from imgui_bundle import imgui

        from app.gui import keys
        from app.gui.screen import Screen

        try:
            self.ctx = check_version(moderngl.create_context())
        except GLUnavailable:
            self.window.close()
            raise
        self.explorer = explorer_factory(self.ctx)
        self.screen = Screen(self.explorer, options.ui_scale)
        self.io, self.keys = imgui.get_io(), keys
        self.key_actions = keys.key_actions()
        self.frame_hook, self.drawn_hook = frame_hook, drawn_hook
        self.last_input, self.last_draw, self.drawn = time.monotonic(), 0.0, None
        self.closing = self.ctrl_c = False
        self.title = TITLE
        self.window.push_handlers(self)

    # ------------------------------------------------------------------ input

    def _touched(self) -> None:
        self.last_input = time.monotonic()

    def _imgui_pos(self, x: float, y: float) -> tuple[float, float]:
        return x, self.window.height - y

    def _over_ui(self, x: float, y: float) -> bool:
        """Does a press or wheel at window pixel (x, y) belong to the panel?

        ImGui's ``want_capture_mouse`` describes the mouse at the last frame; when the mouse
        has moved since (events arrive between frames), the panel's recorded window
        rectangles decide, and an open popup (a combo's list) takes every click."""
        ix, iy = self._imgui_pos(x, y)
        panel = self.screen.panel
        if panel.hit(ix, iy) or panel.popup_open:
            return True
        fx, fy = panel.mouse_at_frame
        return self.io.want_capture_mouse and abs(fx - ix) < 1 and abs(fy - iy) < 1

    def _view(self) -> tuple[int, int, int, int]:
        return self.screen.view_rect(self.window.width, self.window.height)

    def on_mouse_motion(self, x, y, dx, dy):
        self.io.add_mouse_pos_event(*self._imgui_pos(x, y))
        self._touched()

    def on_mouse_press(self, x, y, button, mods):
        import pyglet.window

        self._touched()
        self.keys.send_modifiers(self.io, mods)
        self.io.add_mouse_pos_event(*self._imgui_pos(x, y))
        if self._over_ui(x, y):
            self.io.add_mouse_button_event(self.keys.MOUSE_BUTTONS.get(button, 0), True)
            return
        key, mouse = pyglet.window.key, pyglet.window.mouse
        mode = drag_mode(
            left=button == mouse.LEFT, right=button == mouse.RIGHT, middle=button == mouse.MIDDLE,
            shift=bool(mods & key.MOD_SHIFT), ctrl=bool(mods & key.MOD_CTRL), alt=bool(mods & key.MOD_ALT),
        )  # fmt: skip
        self.explorer.start_drag(mode, x, y)

    def on_mouse_release(self, x, y, button, mods):
        self._touched()
        self.io.add_mouse_pos_event(*self._imgui_pos(x, y))
        self.io.add_mouse_button_event(self.keys.MOUSE_BUTTONS.get(button, 0), False)
        self.explorer.end_drag()

    def on_mouse_drag(self, x, y, dx, dy, buttons, mods):
        self._touched()
        self.io.add_mouse_pos_event(*self._imgui_pos(x, y))
        self.explorer.drag_to(x, y, self._view())

    def on_mouse_scroll(self, x, y, scroll_x, scroll_y):
        self._touched()
        if self._over_ui(x, y):
            self.io.add_mouse_wheel_event(scroll_x, scroll_y)
        else:
            self.explorer.act("zoom", scroll_y)

    def on_key_press(self, symbol, mods):
        import pyglet

        key = pyglet.window.key
        self._touched()
        self.keys.send_modifiers(self.io, mods)
        if symbol in self.keys.IMGUI_KEYS:
            self.io.add_key_event(self.keys.IMGUI_KEYS[symbol], True)
        if self.io.want_text_input:  # typing into a field: no shortcuts
            return pyglet.event.EVENT_HANDLED
        action = self.key_actions.get(symbol)
        if action is not None and not (mods & (key.MOD_CTRL | key.MOD_ALT)):
            self.explorer.act(*action)
        return pyglet.event.EVENT_HANDLED  # also keeps pyglet's own Esc-closes handler out

    def on_key_release(self, symbol, mods):
        self.keys.send_modifiers(self.io, mods)
        if symbol in self.keys.IMGUI_KEYS:
            self.io.add_key_event(self.keys.IMGUI_KEYS[symbol], False)

    def on_text(self, text):
        self._touched()
        self.io.add_input_characters_utf8(text)

    def on_file_drop(self, x, y, paths):
        self._touched()
        load_dropped(self.explorer, list(paths))

    def on_resize(self, width, height):
        import pyglet

        self._touched()
        return pyglet.event.EVENT_HANDLED  # the screen sets its own viewports

    def on_activate(self):
        self.io.add_focus_event(True)

    def on_deactivate(self):
        self.io.add_focus_event(False)

    # ----------------------------------------------------------------- frames

    def on_draw(self):
        start = time.perf_counter()
        w = self.window
        self.screen.draw(self.ctx.screen, (w.width, w.height), w.get_framebuffer_size())
        self.last_draw = time.monotonic()
        self.drawn = self.screen.drawn_state()
        if self.drawn_hook is not None:
            self.drawn_hook(start, time.perf_counter() - start)

    def on_close(self):
        import pyglet

        self.shutdown()
        return pyglet.event.EVENT_HANDLED

    def _tick(self, dt: float) -> None:
        """One frame (when due); schedules the next so frames start 1/60 s apart or
        back to back when a frame takes longer (a fixed interval would round slow frames
        up to the next multiple of 1/60 s)."""
        import pyglet

        if self.closing:
            return
        start = time.perf_counter()
        self._frame(dt)
        if not self.closing:
            pyglet.clock.schedule_once(self._tick, max(0.0, FRAME_INTERVAL - (time.perf_counter() - start)))

    def _frame(self, dt: float) -> None:
        ex = self.explorer
        if ex.quit_requested:
            self.shutdown()
            return
        now = time.monotonic()
        if self.frame_hook is not None:
            self.frame_hook(self, now)
            if self.closing:
                return
        ex.update()
        self._show_activity()
        due = self.frame_hook is not None or frame_due(
            now, changed=self.drawn != self.screen.drawn_state(), last_input=self.last_input,
            last_draw=self.last_draw, computing=ex.computing,
        )  # fmt: skip
        if due:
            self.window.draw(dt)

    def _show_activity(self) -> None:
        """The title says what runs beside the view ("... - pose search: iteration 3"): seen
        in the taskbar while the window is covered, and by the window tests."""
        title = " - ".join(filter(None, (TITLE, self.explorer.jobs.activity())))
        if title != self.title:
            self.title = title
            self.window.set_caption(title)

    def shutdown(self, draw: bool = True) -> None:
        """Close as the window's close button does: stop the jobs, write what was asked for
        (with ``draw``, drawing the frames that needs), stop the worker, close the window."""
        import pyglet

        if self.closing:
            return
        self.closing = True
        pyglet.clock.unschedule(self._tick)
        ex = self.explorer
        if ex.announce_closing() and draw:
            self.window.draw(0.0)  # the message shows while the window waits for the recording
        if ex.wind_down() and draw:  # a stopped pose search's best pose: draw it once, for its capture
            self.window.draw(0.0)
        if not ex.close():
            print("warning: the classifier worker did not stop in time", file=sys.stderr)
        self.screen.release()
        self.window.close()
        pyglet.app.exit()

    def _on_ctrl_c(self, _signum, _frame) -> None:
        """The first Ctrl-C in the terminal closes the window at its next frame, as Esc does;
        a second one interrupts at once.  Installed explicitly, so it also works where the
        app was started with SIGINT ignored (a background job of a script)."""
        if self.ctrl_c:
            raise KeyboardInterrupt
        self.ctrl_c = True
        self.explorer.quit_requested = True

    def run(self) -> int:
        """Until the window is closed: 0, or 130 after Ctrl-C."""
        import pyglet

        previous = signal.signal(signal.SIGINT, self._on_ctrl_c)
        switch = sys.getswitchinterval()
        share_the_gil_often()  # the maps' eager torch beside the drawing thread
        pyglet.clock.schedule_once(self._tick, 0.0)
        try:
            pyglet.app.run(None)
        except BaseException:  # a second Ctrl-C, or a frame that failed: stop the jobs and the worker, draw nothing
            with contextlib.suppress(Exception):  # and report the original failure, not one from closing
                self.shutdown(draw=False)
            raise
        finally:
            signal.signal(signal.SIGINT, previous)
            sys.setswitchinterval(switch)
        if self.ctrl_c:
            print("interrupted", file=sys.stderr)
            return 130
        return 0
