"""The one place command-line values are checked before any command runs.

Commands declare numbers as ``type=int`` and paths as ``type=Path``; :func:`check_values` gives
every such argument of the whole command tree the checked versions below, so a command added
later is covered without doing anything. A value that fails is argparse's usage error (exit 2,
one line naming the option), before the database is opened:

- a number must fit the database's id columns (32-bit, PostgreSQL's INTEGER): a 400-digit
  ``--limit`` is refused instead of reaching SQLite as an overflow;
- a path must be one the operating system can take: no NUL character, no name longer than 255
  bytes and no path longer than 4095 (ENAMETOOLONG otherwise surfaced mid-command). A name
  whose bytes are not UTF-8 is fine: Python hands it over with ``surrogateescape`` and gives the
  same bytes back to the file system.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

#: The largest value of a 32-bit signed integer column.
MAX_NUMBER = 2**31 - 1
NAME_MAX = 255
PATH_MAX = 4095


def _clip(text: str, size: int = 40) -> str:
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= size else shown[:size] + "..."


def number(text: str) -> int:
    """A whole number that fits the database's integer columns."""
    try:
        value = int(text.strip()) if len(text) <= 20 else None
    except ValueError:
        value = None
    if value is None:
        raise argparse.ArgumentTypeError(f"'{_clip(text)}' is not a whole number")
    if abs(value) > MAX_NUMBER:
        raise argparse.ArgumentTypeError(f"{_clip(text)} is out of range (at most {MAX_NUMBER})")
    return value


def path(text: str) -> Path:
    """A file or folder path the operating system can take (it need not exist)."""
    if "\x00" in text:
        raise argparse.ArgumentTypeError(f"'{_clip(text)}' holds a NUL character; no file "
                                         "name can")
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"'{_clip(text)}' is not a file name this system "
                                         "can use") from None
    if len(raw) > PATH_MAX or any(len(part) > NAME_MAX for part in raw.split(b"/")):
        raise argparse.ArgumentTypeError(f"the path '{_clip(text)}' is too long for the file "
                                         f"system (names up to {NAME_MAX} bytes, paths up to "
                                         f"{PATH_MAX}); choose a shorter one")
    return Path(text)


def number_between(low: int, high: int) -> Callable[[str], int]:
    """A checked whole number from ``low`` to ``high`` (an argument type, like :func:`number`),
    for a count whose size is the cost: what a command would take hours or the disk to do is
    refused at once."""

    def checked(text: str) -> int:
        value = number(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value:,} is out of range (from {low:,} to "
                                             f"{high:,})")
        return value

    return checked


_CHECKED = {int: number, Path: path}


def check_values(parser: argparse.ArgumentParser) -> None:
    """Give every ``int`` and ``Path`` argument under ``parser`` its checked type."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                check_values(child)
        elif action.type in _CHECKED:
            action.type = _CHECKED[action.type]  # type: ignore[index]
