"""Where mail comes from: single .eml files, mbox files and Maildir folders.

Each message is handed over as raw bytes with a label naming where it was found, so a
quarantined item can point the agent back to the file, and with the time the mailbox says it
was delivered when it says one: the date on an mbox ``From `` line, or a Maildir file's
delivery time (the leading seconds of its unique name, which survive copying, else the file's
modification time). mbox files are split by streaming their lines (as ``mailbox.mbox`` does:
every line starting with ``From `` opens a message), so a huge mailbox never has to fit in
memory and nothing is parsed before the importer asks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from pathlib import Path

from helpdesk.errors import Invalid

MBOX_LINE = "mbox From line"
MAILDIR_NAME = "Maildir delivery time"
MAILDIR_FILE = "Maildir file time"
_MAILDIR_SECONDS = re.compile(r"^(\d{9,11})\.")


@dataclass(frozen=True, slots=True)
class RawMessage:
    raw: bytes
    source: str  # file, or "file#N" for the N-th message of an mbox
    consumed: int  # bytes of the source read so far, for progress
    delivered: datetime | None = None  # when the mailbox says the message arrived
    delivered_by: str | None = None  # which mailbox record said so (MBOX_LINE ...)


@dataclass(frozen=True, slots=True)
class Source:
    path: Path
    kind: str  # "eml", "mbox" or "maildir"
    size: int  # bytes, for progress


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _is_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(5) == b"From "
    except OSError:
        return False


def _maildir_files(path: Path) -> list[Path]:
    return [f for sub in ("new", "cur") for f in sorted((path / sub).iterdir()) if f.is_file()]


def _source(path: Path) -> Source:
    if _is_maildir(path):
        return Source(path, "maildir", sum(f.stat().st_size for f in _maildir_files(path)))
    return Source(path, "mbox" if _is_mbox(path) else "eml", path.stat().st_size)


def discover(paths: Iterable[str | os.PathLike[str]]) -> list[Source]:
    """The mail sources under ``paths``. A folder that is not a Maildir is searched for
    ``.eml`` files, mbox files and Maildir folders."""
    found: list[Source] = []
    for given in paths:
        path = Path(given).expanduser()
        if not path.exists():
            raise Invalid(f"{path} does not exist", field="path")
        if path.is_file() or _is_maildir(path):
            found.append(_source(path))
            continue
        for folder, dirs, files in os.walk(path):
            here = Path(folder)
            if _is_maildir(here):
                found.append(_source(here))
                dirs.clear()
                continue
            dirs.sort()
            for name in sorted(files):
                file = here / name
                if name.lower().endswith(".eml") or _is_mbox(file):
                    found.append(_source(file))
    return found


def read(source: Source, tz: tzinfo = UTC) -> Iterator[RawMessage]:
    """The messages of ``source``; a delivery time written without a zone is read in ``tz``
    (the desk's zone: the mail server delivering to info@ is the company's)."""
    if source.kind == "mbox":
        yield from _read_mbox(source.path, tz)
        return
    files = _maildir_files(source.path) if source.kind == "maildir" else [source.path]
    consumed = 0
    for file in files:
        raw = file.read_bytes()
        consumed += len(raw)
        delivered, by = _maildir_time(file) if source.kind == "maildir" else (None, None)
        yield RawMessage(raw, str(file), consumed, delivered, by)


def _maildir_time(file: Path) -> tuple[datetime | None, str | None]:
    named = _MAILDIR_SECONDS.match(file.name)
    try:
        if named:
            return datetime.fromtimestamp(int(named.group(1)), UTC), MAILDIR_NAME
        return datetime.fromtimestamp(file.stat().st_mtime, UTC), MAILDIR_FILE
    except (OSError, ValueError, OverflowError):
        return None, None


def mbox_time(line: bytes, tz: tzinfo) -> datetime | None:
    """The delivery date on an mbox ``From sender date`` line, or None."""
    parts = line.decode("ascii", "replace").split(None, 2)
    if len(parts) < 3:
        return None
    try:
        when = parsedate_to_datetime(parts[2].strip())
        return (when.replace(tzinfo=tz) if when.tzinfo is None else when).astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _read_mbox(path: Path, tz: tzinfo) -> Iterator[RawMessage]:
    lines: list[bytes] = []
    consumed = 0
    number = 0
    delivered: datetime | None = None
    with path.open("rb") as fh:
        for line in fh:
            if line.startswith(b"From "):
                if number:
                    yield RawMessage(_message(lines), f"{path}#{number}", consumed, delivered,
                                     MBOX_LINE if delivered else None)
                number += 1
                lines = []
                delivered = mbox_time(line, tz)
            else:
                lines.append(line)
            consumed += len(line)
    if number:
        yield RawMessage(_message(lines), f"{path}#{number}", consumed, delivered,
                         MBOX_LINE if delivered else None)


def _message(lines: list[bytes]) -> bytes:
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]  # the blank line that separates messages
    return b"".join(lines)
