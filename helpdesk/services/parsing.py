"""What people type for ids, dates and lists, read the same way by the desk and the CLI.

Each function takes the raw text (a form field, a command-line argument) and returns the value
or raises :class:`~helpdesk.errors.Invalid` with a one-line message naming ``field``, so the
desk can show it under the field and the CLI can print it with its usual exit code.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from helpdesk.clock import start_of_day
from helpdesk.errors import Invalid

#: The largest id any table can hold (SQLite's and PostgreSQL's bigint).
MAX_ID = 2**63 - 1
_ID = re.compile(r"^\s*#?\s*([0-9]{1,19})\s*$")
_MESSAGE_REF = re.compile(r"^\s*(?:message\s*)?#?([0-9]{1,19})\s*$", re.IGNORECASE)


def maybe_id(value: str | int | None) -> int | None:
    """``42``, ``"42"`` or ``"#42"`` as 42; anything else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value <= MAX_ID else None
    match = _ID.match(value or "")
    number = int(match.group(1)) if match else 0
    return number if 0 < number <= MAX_ID else None


def record_id(value: str | int | None, *, what: str, field: str) -> int:
    """The number of a case, customer, item ... typed as ``42`` or ``#42``."""
    number = maybe_id(value)
    if number is None:
        raise Invalid(f"give the number of the {what}, e.g. 42", field=field)
    return number


def optional_id(value: str | int | None, *, what: str, field: str) -> int | None:
    """As :func:`record_id`, blank meaning "none"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return record_id(value, what=what, field=field)


def record_ids(values: list[str], *, what: str, field: str) -> list[int]:
    return [record_id(v, what=what, field=field) for v in values]


def day(value: str | date | None, *, field: str, label: str | None = None) -> date | None:
    """A calendar day written ``YYYY-MM-DD``; blank is None."""
    if isinstance(value, date):
        return value
    text = (value or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:  # not the compact forms fromisoformat also reads (20260331)
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise Invalid(f"{label or field.replace('_', ' ')} must be a date like 2026-03-31",
                  field=field)


def required_day(value: str | date | None, *, field: str, label: str | None = None) -> date:
    found = day(value, field=field, label=label)
    if found is None:
        raise Invalid(f"{label or field.replace('_', ' ')} is required (a date like 2026-03-31)",
                      field=field)
    return found


def bound(value: str | None, tz: ZoneInfo, *, end: bool, field: str,
          label: str | None = None) -> datetime | None:
    """One end of a time range: a day in the desk's zone (an ``end`` day is included whole)
    or an ISO 8601 instant (without an offset: in the desk's zone); blank is None."""
    text = (value or "").strip()
    if not text:
        return None
    if len(text) == 10:
        found = day(text, field=field, label=label)
        assert found is not None
        return start_of_day(found + timedelta(days=1) if end else found, tz)
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"{label or field} must be a date like 2026-03-01 or an ISO 8601 instant",
                      field=field) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=tz)


def items(value: str | list[str] | None) -> list[str]:
    """A comma-separated list (``"a, b,,c"``) as its non-blank items."""
    parts = value if isinstance(value, list) else (value or "").split(",")
    return [p.strip() for p in parts if p and p.strip()]


def message_ref(value: str | None) -> tuple[int | None, str | None]:
    """A letter given as a recorded message's number (``12``, ``#12``, ``message 12``) or as
    a free reference (``letter 2026/4``): ``(message id, None)`` or ``(None, reference)``."""
    text = (value or "").strip()
    match = _MESSAGE_REF.match(text)
    if match:
        return int(match.group(1)), None
    return None, text or None
