"""The docs cannot drift from the command line: every ``python run.py ...`` or
``strike-a-pose ...`` command in the README and the guides is accepted by the parser."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from app.cli.main import build_parser
from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
PAGES = [p for p in PAGES if p.name != "benchmarks-history.md"]  # the history quotes old commands as they were
PROGRAM = re.compile(r"(?:^|\s|&&\s*|`)(?:\.venv/bin/)?(?:python\s+run\.py|strike-a-pose)\b(?P<args>[^`\n]*)")


def commands(page: Path) -> list[str]:
    """Each command line: in code blocks (a trailing backslash joins lines) and in inline code."""
    text = page.read_text()
    found = []
    for block in re.findall(r"```(?:sh|bash|console)?\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            found += [m.group("args") for m in PROGRAM.finditer(line)]
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    for code in re.findall(r"`([^`\n]+)`", prose):
        found += [m.group("args") for m in PROGRAM.finditer(code)]
    return found


def argv_of(args: str) -> list[str]:
    args = re.split(r"\s+(?:\||&&|;)\s+", args)[0]  # what follows a pipe or && is another program
    argv = shlex.split(args, comments=True)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["window", *argv]  # no command: the window, as run.py does
    return argv


def test_the_pages_hold_commands():
    counted = {page.name: len(commands(page)) for page in PAGES}
    assert counted["README.md"] >= 5 and counted["commands.md"] >= 20, counted


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_in_the_docs_is_accepted_by_the_parser(page):
    parser = build_parser()
    names = parser._subparsers._group_actions[0].choices
    for args in commands(page):
        argv = argv_of(args)
        if len(argv) == 1 and not argv[0].startswith("-") and argv[0] != "window":  # a command named in the prose
            assert argv[0] in names, f"{page.name}: no command {argv[0]!r}"
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                parser.parse_args(argv)
            except SystemExit as e:
                assert e.code == 0, f"{page.name}: `run.py {' '.join(argv)}` is refused:\n{out.getvalue()}"


def test_the_search_guide_lists_every_registered_method_by_its_name_and_label():
    from app.search.registry import methods

    rows = re.findall(r"^\| `(\w+)`(?: \((.+?)\))? \|", (ROOT / "docs" / "guide" / "search.md").read_text(), re.M)
    assert [(name, label or name) for name, label in rows] == [(name, m.label) for name, m in methods().items()]
