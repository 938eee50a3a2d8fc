"""Literal rendering of untrusted text (names, subjects, bodies, e-mail addresses).

Nothing here parses markup: strings become :class:`~textual.content.Content` or
:class:`rich.text.Text` objects as they are. Control characters (ANSI escapes, NUL, bell, ...)
are replaced with a visible symbol so they can neither move the cursor nor recolour the screen,
and very long values are cut with a note saying how much was left out.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.content import Content

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINEBREAKS = re.compile(r"[\r\n\t\u2028\u2029]+")
REPLACEMENT = "\N{SYMBOL FOR ESCAPE}"
#: Bodies longer than this are shown cut (the full text stays in the database and the CLI).
BODY_LIMIT = 20_000


def clean(value: object, *, one_line: bool = False, limit: int | None = None) -> str:
    """``value`` as displayable plain text."""
    text = "" if value is None else str(value)
    if limit is not None and len(text) > limit:
        more = len(text) - limit
        text = f"{text[:limit]}… [{more:,} more characters not shown]"
    if one_line:
        text = _LINEBREAKS.sub(" ", text)
    else:
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return _CONTROL.sub(REPLACEMENT, text)


def lit(value: object, style: str = "", *, limit: int | None = None) -> Content:
    """Untrusted text as Content, never interpreted as markup."""
    content = Content(clean(value, limit=limit))
    return content.stylize(style) if style else content


def cell(value: object, style: str = "", *, limit: int = 120) -> Text:
    """A DataTable cell: one line, literal, optionally styled, cut to ``limit`` with "…"."""
    text = clean(value, one_line=True)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def when(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "-"


def day(value: date | datetime | None, tz: ZoneInfo | None = None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        value = value.astimezone(tz).date() if tz else value.date()
    return value.isoformat()


def days_left_text(days: int | None, overdue: bool) -> str:
    if days is None:
        return "closed"
    if overdue:
        late = -days if days < 0 else 0
        return f"overdue {late}d" if late else "due today"
    return f"{days}d"


def urgency(days: int | None, overdue: bool) -> str:
    """Style name for a case's urgency (used for rows and the deadline line)."""
    if days is None:
        return "dim"
    if overdue:
        return "bold red"
    if days <= 2:
        return "yellow"
    if days <= 7:
        return "dark_orange"
    return ""
