"""Where mail comes from: single .eml files, mbox files and Maildir folders.

Each message is handed over as raw bytes with a label naming where it was found, so a
quarantined item can point the agent back to the file. mbox files are split by streaming their
lines (as ``mailbox.mbox`` does: every line starting with ``From `` opens a message), so a huge
mailbox never has to fit in memory and nothing is parsed before the importer asks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from helpdesk.errors import Invalid


@dataclass(frozen=True, slots=True)
class RawMessage:
    raw: bytes
    source: str  # file, or "file#N" for the N-th message of an mbox
    consumed: int  # bytes of the source read so far, for progress


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


def read(source: Source) -> Iterator[RawMessage]:
    if source.kind == "mbox":
        yield from _read_mbox(source.path)
        return
    files = _maildir_files(source.path) if source.kind == "maildir" else [source.path]
    consumed = 0
    for file in files:
        raw = file.read_bytes()
        consumed += len(raw)
        yield RawMessage(raw, str(file), consumed)


def _read_mbox(path: Path) -> Iterator[RawMessage]:
    lines: list[bytes] = []
    consumed = 0
    number = 0
    with path.open("rb") as fh:
        for line in fh:
            if line.startswith(b"From "):
                if number:
                    yield RawMessage(_message(lines), f"{path}#{number}", consumed)
                number += 1
                lines = []
            else:
                lines.append(line)
            consumed += len(line)
    if number:
        yield RawMessage(_message(lines), f"{path}#{number}", consumed)


def _message(lines: list[bytes]) -> bytes:
    if lines and lines[-1] in (b"\n", b"\r\n"):
        lines = lines[:-1]  # the blank line that separates messages
    return b"".join(lines)
