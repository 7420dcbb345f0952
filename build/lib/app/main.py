"""The program: the command line, with the window plugged into its ``window`` command.

``strike-a-pose`` (the console script) and ``python run.py`` both call :func:`main`.  The
command line (:mod:`app.cli`) and the window (:mod:`app.gui`) do not import each other;
this module, above both, hands the command line the function that opens the window.
"""

from __future__ import annotations

import sys


def open_window(**kwargs) -> int:
    """:func:`app.gui.launch.open_window`, imported only when the window is asked for."""
    from app.gui.launch import open_window as launch

    return launch(**kwargs)


def main(argv: list[str] | None = None) -> int:
    from app.cli.main import main as cli_main

    return cli_main(argv, open_window=open_window)


if __name__ == "__main__":
    sys.exit(main())
