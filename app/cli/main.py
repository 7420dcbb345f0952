"""The command line: ``strike-a-pose COMMAND ...`` (or ``python run.py COMMAND ...``).

A thin layer over the headless core: each command group is a module of its own that
registers its sub-parsers (:data:`GROUPS`), calls the same modules the window uses, and
every expected failure becomes one ``error:`` line and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.cli import images, lenses, library, optimize, sweep, window
from app.cli.common import EPILOG
from app.core.files import FileExists
from app.core.imagenet import UnknownClass
from app.core.params import PoseError
from app.render.glcontext import GLUnavailable, WindowUnavailable
from app.scene.library import ObjectNotFound
from app.scene.mesh import MeshError
from app.search.space import SearchError
from app.vision.classifiers import ModelUnavailable, engine_default

GROUPS = (images, window, optimize, sweep, lenses, library)  # in the order --help lists them
EXPECTED_ERRORS = (
    PoseError, MeshError, ObjectNotFound, ModelUnavailable, GLUnavailable, WindowUnavailable, SearchError,
    UnknownClass, FileExists, ValueError, OSError,
)  # fmt: skip


@contextmanager
def held_warnings(most: int = 20) -> Iterator[dict[str, None]]:
    """Library warnings (torch's, Pillow's) held back while a command runs: told after it
    ends well, one line each and each once (at most ``most``, so a long window session
    keeps no growing list); after an error its one ``error:`` line stands alone."""
    held: dict[str, None] = {}

    def keep(message, *_where, **_kw) -> None:
        if len(held) < most:
            held[str(message).strip().splitlines()[0] if str(message).strip() else type(message).__name__] = None

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = keep
        yield held


def build_parser(prog: str = "run.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Strike-a-Pose Explorer: render 3D objects in any pose and see what classifiers make of them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None, open_window: Callable[..., int] | None = None) -> int:
    """Run one command; ``open_window``: what the ``window`` command calls (:mod:`app.main`)."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["window", *argv]  # no command: the interactive window
    args = parser.parse_args(argv)
    args.open_window = open_window
    try:
        with held_warnings() as held, engine_default(getattr(args, "engine", "torch")):
            code = args.run(args)
        for message in held:
            print(f"warning: {message}", file=sys.stderr)
        sys.stdout.flush()  # a closed pipe shows here, not as a message at exit
        return code
    except BrokenPipeError:  # the reader of stdout went away (run.py objects | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 141  # as a shell reports a process ended by SIGPIPE
    except EXPECTED_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
