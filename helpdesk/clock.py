"""Deadlines: when each kind of case is due, and how many days are left.

Instants are stored in UTC; calendar arithmetic happens in the desk's time zone. A case received on
local day D with an N-day clock is due at the end of local day D+N. We store the deadline as the
first instant *after* it (local midnight starting day D+N+1, in UTC), so "overdue" is simply
``now >= due_at`` and daylight-saving shifts never move a deadline by an hour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from helpdesk.config import Settings
from helpdesk.domain import CaseKind


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Normalise to an aware UTC datetime; naive values are refused, not guessed."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: times must carry a time zone")
    return value.astimezone(UTC)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return as_utc(instant).astimezone(tz).date()


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local calendar day, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def end_of_day_after(received_at: datetime, days: int, tz: ZoneInfo) -> datetime:
    """Exclusive deadline for "within ``days`` calendar days" of a receipt instant."""
    return start_of_day(local_date(received_at, tz) + timedelta(days=days + 1), tz)


#: A policy version's promised periods: calendar days per kind (what the supervisor confirmed
#: when the version was added). Kinds it does not name fall back to the desk's service levels.
Periods = Mapping[str, int]


@dataclass(frozen=True, slots=True)
class Deadline:
    """The deadlines that apply to a case. ``effective`` is the one the desk works to: the
    stricter of the policy version's promise (or the desk's service level) and any legal rule."""

    effective: datetime
    policy: datetime | None  # None: the version names no period; a desk service level applies
    rule: str  # which rule produced ``effective``: "policy", "service level" or a legal rule name
    days: int  # the calendar days of the rule that produced ``effective``


def clock_days(
    kind: CaseKind, settings: Settings, periods: Periods | None
) -> list[tuple[str, int]]:
    """Every (rule name, days) that applies to ``kind`` under a version's ``periods`` (None:
    no policy version was in force)."""
    rules: list[tuple[str, int]] = []
    if periods and kind.value in periods:
        rules.append(("policy", periods[kind.value]))
    else:
        rules.append(("service level", settings.service_level(kind)))
    rules.extend((r.name, r.days) for r in settings.legal_rules if kind in r.kinds)
    return rules


def compute_deadline(
    kind: CaseKind, received_at: datetime, settings: Settings, periods: Periods | None
) -> Deadline:
    """The one deadline rule of the desk: intake, new cases, kind changes and a policy version
    loaded later all call this (through ``services.policy`` where a session is at hand)."""
    tz = settings.tz
    candidates = [
        (end_of_day_after(received_at, days, tz), name, days)
        for name, days in clock_days(kind, settings, periods)
    ]
    effective, rule, days = min(candidates, key=lambda c: c[0])
    policy = (end_of_day_after(received_at, periods[kind.value], tz)
              if periods and kind.value in periods else None)
    return Deadline(effective=effective, policy=policy, rule=rule, days=days)


def earliest_deadline(
    kinds: Sequence[CaseKind], received_at: datetime, settings: Settings, periods: Periods | None
) -> Deadline:
    """The deadline of a case whose letter asks for several things: the earliest of the kinds'
    deadlines (a complaint that also asks for deletion is due when the deletion is). The first
    kind is the case's own; a rule from another kind says so."""
    kinds = tuple(dict.fromkeys(kinds))
    own = compute_deadline(kinds[0], received_at, settings, periods)
    deadline, kind = min(((compute_deadline(k, received_at, settings, periods), k)
                          for k in kinds), key=lambda d: d[0].effective)
    if kind is kinds[0]:
        return own
    promises = [d.policy for d in (own, deadline) if d.policy is not None]
    return Deadline(effective=deadline.effective, policy=min(promises, default=None),
                    rule=f"{deadline.rule}: {kind.label.lower()} asked in the same letter"[:100],
                    days=deadline.days)


def due_date(due_at: datetime, tz: ZoneInfo) -> date:
    """The last local calendar day on which the case is still on time."""
    return local_date(due_at - timedelta(microseconds=1), tz)


def days_left(due_at: datetime, now: datetime, tz: ZoneInfo) -> int:
    """Whole local days until the due date: 0 means due today, negative means overdue."""
    return (due_date(due_at, tz) - local_date(now, tz)).days


def days_open(received_at: datetime, now: datetime, tz: ZoneInfo) -> int:
    """Calendar days since receipt, counted in the desk's zone (day of receipt is day 0)."""
    return (local_date(now, tz) - local_date(received_at, tz)).days


def is_overdue(due_at: datetime, now: datetime) -> bool:
    return as_utc(now) >= as_utc(due_at)


def warning_level(
    received_at: datetime, now: datetime, tz: ZoneInfo, thresholds: tuple[int, ...]
) -> int | None:
    """The highest warning day (e.g. 60, 75, 85) a case received at ``received_at`` has reached."""
    age = days_open(received_at, now, tz)
    return max((t for t in thresholds if age >= t), default=None)


def reached_before(day: int, now: datetime, tz: ZoneInfo) -> datetime:
    """Exclusive receipt instant: cases received before it are at least ``day`` days old today."""
    return start_of_day(local_date(now, tz) - timedelta(days=day - 1), tz)
