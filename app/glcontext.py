"""OpenGL context creation with a clear error when there is none."""

from __future__ import annotations

import moderngl

REQUIRED_GL = 330
INSTALL_HINT = "on Debian/Ubuntu: apt-get install -y --no-install-recommends libegl1 libgl1 libgl1-mesa-dri"


class GLUnavailable(RuntimeError):
    """No usable OpenGL 3.3 context."""


def check_version(ctx: moderngl.Context) -> moderngl.Context:
    if ctx.version_code < REQUIRED_GL:
        found = f"OpenGL {ctx.version_code / 100:.1f} ({ctx.info.get('GL_RENDERER')})"
        raise GLUnavailable(f"{found} found; this program needs OpenGL 3.3 or newer")
    return ctx


def create_headless_context() -> moderngl.Context:
    """A standalone context without a display: EGL first, then the platform default."""
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
