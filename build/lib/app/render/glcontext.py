"""OpenGL context creation with a clear error when there is none."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import moderngl

REQUIRED_GL = 330
INSTALL_HINT = "on Debian/Ubuntu: apt-get install -y --no-install-recommends libegl1 libgl1 libgl1-mesa-dri"


class GLUnavailable(RuntimeError):
    """No usable OpenGL 3.3 context."""


class WindowUnavailable(RuntimeError):
    """No display to open a window on."""


def check_display() -> None:
    """Refuse at once, before a model loads, when there is no display for the window."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise WindowUnavailable(
            "no display: the window needs an X11 or Wayland display (DISPLAY is not set). "
            "Run it in a desktop session, under xvfb-run, or use the headless commands "
            "(python run.py render/classify/demo)."
        )


def preload_llvm_libraries() -> None:
    """Load triton (torch's GPU compiler, bundles its own LLVM) before Mesa's llvmpipe.

    With Mesa's LLVM already in the process, importing triton later (torchvision's model
    modules do) crashes with a segmentation fault; the other order is fine.
    """
    if importlib.util.find_spec("triton") is not None:
        try:
            importlib.import_module("triton")
        except Exception:  # a broken triton must not stop rendering
            pass


def check_version(ctx: moderngl.Context) -> moderngl.Context:
    if ctx.version_code < REQUIRED_GL:
        found = f"OpenGL {ctx.version_code / 100:.1f} ({ctx.info.get('GL_RENDERER')})"
        raise GLUnavailable(f"{found} found; this program needs OpenGL 3.3 or newer")
    return ctx


def create_headless_context() -> moderngl.Context:
    """A standalone context without a display: EGL first, then the platform default."""
    preload_llvm_libraries()
    errors = []
    for kwargs in ({"backend": "egl"}, {}):
        try:
            return check_version(moderngl.create_standalone_context(require=REQUIRED_GL, **kwargs))
        except GLUnavailable:
            raise
        except Exception as e:  # glcontext raises plain Exceptions with loader messages
            errors.append(f"{kwargs.get('backend', 'default')}: {e}")
    raise GLUnavailable("no OpenGL 3.3 context could be created (" + "; ".join(errors) + f"); {INSTALL_HINT}")


def describe(ctx: moderngl.Context) -> str:
    return f"{ctx.info.get('GL_RENDERER', '?')}, OpenGL {ctx.info.get('GL_VERSION', '?')}"
