"""The window's messages: what happened, newest last, a few kept for the panel's box."""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

KEEP = 6


@dataclass(frozen=True)
class Message:
    text: str
    error: bool


class Messages:
    """The last ``KEEP`` messages; with ``echo`` each is printed too (the window's terminal
    keeps a log of what happened; errors start with ``error:`` on stderr)."""

    def __init__(self, echo: bool = False):
        self.echo = echo
        self._kept: deque[Message] = deque(maxlen=KEEP)
        self.posted = 0  # counts every message: the window redraws on each (the deque stops at KEEP)

    def notify(self, text: str, error: bool = False, echo: bool | None = None) -> None:
        """Keep ``text``; ``echo`` False: it was printed already (default: as the window echoes)."""
        self._kept.append(Message(text, error))
        self.posted += 1
        if self.echo if echo is None else echo:
            print(("error: " if error else "") + text, file=sys.stderr if error else sys.stdout, flush=True)

    def __iter__(self) -> Iterator[Message]:
        return iter(self._kept)

    def __reversed__(self) -> Iterator[Message]:
        return reversed(self._kept)

    def __getitem__(self, index: int) -> Message:
        return self._kept[index]

    def __len__(self) -> int:
        return len(self._kept)
