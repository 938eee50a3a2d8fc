"""The one way the desk writes CSV (suppression list, audit export, report).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, and some
also do after a leading tab or carriage return, so a customer who signs a letter
``=HYPERLINK("https://evil.example")`` — or opts out as ``=cmd|'/Ccalc'!A0@example.org``, a
valid e-mail address — could make a supervisor's spreadsheet fetch a page or start a program.
Every cell written here that starts with one of those characters, or with an apostrophe, gets
one apostrophe in front, which spreadsheets take as "this is text". A plain number (``-3``,
``-0.25``) is left as it is: it is no formula. To read a value back exactly, drop one leading
apostrophe when a cell starts with one; nothing else is changed.

Records end with a single ``\\n`` (also on Windows: files are opened with ``newline=""``);
cells holding a line break are quoted, as the csv module does.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator

#: Leading characters a spreadsheet may evaluate; the apostrophe is escaped too so the rule can
#: be undone without guessing.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def cell(value: object) -> str:
    """``value`` as CSV cell text that no spreadsheet evaluates (``None`` is an empty cell)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def line(values: Iterable[object]) -> str:
    """One CSV record, ending in ``\\n``."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([cell(v) for v in values])
    return buf.getvalue()


def lines(rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The records of ``rows``, one string each (stream them: nothing is held in memory)."""
    return (line(row) for row in rows)
