"""Builders for the intake tests: raw messages and mail folders made on the spot."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime
from pathlib import Path

_DATE = re.compile(rb"^Date: (.+)$", re.MULTILINE)


def mail(
    *,
    frm: str | None = "Ann Example <ann@example.com>",
    subject: str | None = "Hello",
    body: str = "Please delete my data. Thank you for your help with this.",
    msgid: str | None = "<m1@example.com>",
    date: str | None = "Mon, 09 Mar 2026 10:00:00 +0000",
    extra: str = "",
    content_type: str = "text/plain; charset=utf-8",
    received: str | None = None,
) -> bytes:
    """A small RFC 5322 message; ``None`` leaves a header out, ``extra`` adds raw header lines,
    ``received`` a topmost Received header with that date (the company's server)."""
    lines = []
    if received is not None:
        lines.append(f"Received: from mail.sender.example by mx.shop.example; {received}")
    if frm is not None:
        lines.append(f"From: {frm}")
    lines.append("To: info@shop.example")
    if subject is not None:
        lines.append(f"Subject: {subject}")
    if date is not None:
        lines.append(f"Date: {date}")
    if msgid is not None:
        lines.append(f"Message-ID: {msgid}")
    lines.append("MIME-Version: 1.0")
    lines.append(f"Content-Type: {content_type}")
    head = "\n".join(lines) + ("\n" + extra.strip("\n") if extra else "")
    return (head + "\n\n" + body + "\n").encode("utf-8")


def from_line(raw: bytes) -> bytes:
    """The mbox ``From `` line a delivery agent would write: the delivery time, here the
    message's own Date (in UTC, zone written), else a fixed one."""
    found = _DATE.search(raw.split(b"\n\n", 1)[0])
    try:
        when = parsedate_to_datetime(found.group(1).decode()) if found else None
    except (TypeError, ValueError):
        when = None
    stamp = when.strftime("%a %b %e %H:%M:%S %z %Y") if when and when.tzinfo else (
        "Mon Mar  9 10:00:00 +0000 2026")
    return f"From sender@example.com {stamp}\n".encode()


def write_mbox(path: Path, messages: list[bytes]) -> Path:
    with path.open("wb") as fh:
        for raw in messages:
            fh.write(from_line(raw))
            body = raw.rstrip(b"\n").replace(b"\nFrom ", b"\n>From ")  # mboxrd quoting
            fh.write(body + b"\n\n")
    return path


def write_maildir(path: Path, messages: list[bytes]) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(messages):
        (path / "new" / f"{1700000000 + i}.M{i}P1.host").write_bytes(raw)
    return path
