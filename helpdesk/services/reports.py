"""Reports: how the desk keeps the policy's promises, per kind, per week and per agent.

Which cases each figure counts (``start``/``end`` are local dates in the desk's zone, inclusive;
either may be left open):

* volume, cases by kind and status, disputes per stage and open breaches: cases *received* in
  the range (status and stage as they are now);
* on-time rate and median days to close: cases *closed* in the range. On time means closed
  before the policy's own deadline ends (``policy_due_at``, or ``due_at`` for kinds the policy
  gives no clock); a supervisor override does not make a late case on time;
* per-agent load: open cases as they are now, plus cases each agent closed in the range
  (supervisors only, like the workload view);
* the weekly series (weeks start on Monday): cases received and closed in each week, and the
  on-time rate of the ones closed.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from helpdesk import clock
from helpdesk.db.models import Agent, Case
from helpdesk.domain import CaseKind, CaseStatus, DisputeStage, Role
from helpdesk.errors import Invalid
from helpdesk.services import audit
from helpdesk.services.context import Desk


@dataclass(frozen=True, slots=True)
class Closing:
    """Figures over a set of closed cases."""

    closed: int
    on_time: int
    on_time_rate: float | None  # None when nothing closed
    median_days_to_close: float | None


@dataclass(frozen=True, slots=True)
class KindFigures:
    kind: CaseKind
    received: int
    by_status: dict[str, int]
    closing: Closing
    open_breaches: int


@dataclass(frozen=True, slots=True)
class WeekFigures:
    week_start: date  # a Monday
    received: int
    closing: Closing


@dataclass(frozen=True, slots=True)
class AgentFigures:
    agent_name: str
    display_name: str
    open_cases: int
    overdue: int
    closed: int  # closed in the range while assigned to this agent


@dataclass(frozen=True, slots=True)
class Report:
    start: date | None
    end: date | None
    timezone: str
    generated_at: datetime
    received: int
    closing: Closing
    open_breaches: int
    kinds: tuple[KindFigures, ...]
    disputes_by_stage: dict[str, int]
    agents: tuple[AgentFigures, ...]  # empty unless a supervisor asked
    weeks: tuple[WeekFigures, ...]


@dataclass(frozen=True, slots=True)
class _Row:
    kind: str
    status: str
    assignee_id: int | None
    stage: str | None
    received_at: datetime
    due_at: datetime
    promise: datetime  # the policy's deadline, or the effective one when the policy has none
    closed_at: datetime | None


def _closing(rows: Iterable[_Row], desk: Desk) -> Closing:
    rows = list(rows)
    if not rows:
        return Closing(0, 0, None, None)
    on_time = sum(1 for r in rows if r.closed_at and r.closed_at < r.promise)
    days = [clock.days_open(r.received_at, r.closed_at, desk.settings.tz)
            for r in rows if r.closed_at]
    return Closing(
        closed=len(rows),
        on_time=on_time,
        on_time_rate=on_time / len(rows),
        median_days_to_close=float(statistics.median(days)),
    )


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


def report(desk: Desk, *, start: date | None = None, end: date | None = None) -> Report:
    """The desk's figures for cases received (and closed) between ``start`` and ``end``."""
    if start and end and start > end:
        raise Invalid("the report's start date is after its end date", field="start")
    tz = desk.settings.tz
    lo = clock.start_of_day(start, tz) if start else None
    hi = clock.start_of_day(end + timedelta(days=1), tz) if end else None

    def within(at: datetime | None) -> bool:
        return at is not None and (lo is None or at >= lo) and (hi is None or at < hi)

    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        now = desk.now()
        query = select(
            Case.kind, Case.status, Case.assignee_id, Case.dispute_stage,  # type: ignore[call-overload]
            Case.received_at, Case.due_at, Case.policy_due_at, Case.closed_at,
        )
        if lo is not None or hi is not None:
            def in_range(column: sa.ColumnElement[datetime]) -> sa.ColumnElement[bool]:
                parts = [column >= lo] if lo is not None else []
                parts += [column < hi] if hi is not None else []
                return sa.and_(*parts)

            query = query.where(sa.or_(
                in_range(col(Case.received_at)), in_range(col(Case.closed_at)),
                col(Case.closed_at).is_(None),
            ))
        rows = [
            _Row(k, st, a, stage, rec, due, pol or due, closed)
            for k, st, a, stage, rec, due, pol, closed in s.exec(query)
        ]
        supervisor = actor.role == Role.SUPERVISOR
        agents = s.exec(select(Agent).order_by(Agent.name)).all() if supervisor else []
        audit.record(s, desk, actor, "report.run", "report", None,
                     start=start.isoformat() if start else None,
                     end=end.isoformat() if end else None)

    received = [r for r in rows if within(r.received_at)]
    closed = [r for r in rows if within(r.closed_at)]
    open_now = [r for r in rows if r.closed_at is None]

    def breaches(items: Iterable[_Row]) -> int:
        return sum(1 for r in items if r.closed_at is None and clock.is_overdue(r.promise, now))

    kinds = tuple(
        KindFigures(
            kind=kind,
            received=sum(1 for r in received if r.kind == kind),
            by_status={st.value: sum(1 for r in received if r.kind == kind and r.status == st)
                       for st in CaseStatus},
            closing=_closing((r for r in closed if r.kind == kind), desk),
            open_breaches=breaches(r for r in received if r.kind == kind),
        )
        for kind in CaseKind
    )
    stages = Counter(r.stage for r in received if r.kind == CaseKind.DISPUTE)

    open_by_agent: dict[int | None, list[_Row]] = defaultdict(list)
    for r in open_now:
        open_by_agent[r.assignee_id].append(r)
    closed_by_agent = Counter(r.assignee_id for r in closed)
    agent_rows = tuple(
        AgentFigures(
            agent_name=a.name,
            display_name=a.display_name,
            open_cases=len(open_by_agent[a.id]),
            overdue=sum(1 for r in open_by_agent[a.id] if clock.is_overdue(r.due_at, now)),
            closed=closed_by_agent[a.id],
        )
        for a in agents
        if a.active or open_by_agent[a.id] or closed_by_agent[a.id]
    )

    return Report(
        start=start,
        end=end,
        timezone=desk.settings.timezone,
        generated_at=now,
        received=len(received),
        closing=_closing(closed, desk),
        open_breaches=breaches(received),
        kinds=kinds,
        disputes_by_stage={st.value: stages[st.value] for st in DisputeStage},
        agents=agent_rows,
        weeks=_weeks(received, closed, start, end, now, desk),
    )


def _weeks(
    received: list[_Row], closed: list[_Row], start: date | None, end: date | None,
    now: datetime, desk: Desk,
) -> tuple[WeekFigures, ...]:
    tz = desk.settings.tz
    rec_by_week = Counter(_week(clock.local_date(r.received_at, tz)) for r in received)
    closed_by_week: dict[date, list[_Row]] = defaultdict(list)
    for r in closed:
        assert r.closed_at is not None
        closed_by_week[_week(clock.local_date(r.closed_at, tz))].append(r)
    seen = set(rec_by_week) | set(closed_by_week)
    if not seen and not start:
        return ()
    first = _week(start) if start else min(seen)
    last = _week(end or clock.local_date(now, tz))
    if seen:
        last = max(last, max(seen))
    weeks = []
    week = first
    while week <= last:
        weeks.append(WeekFigures(week, rec_by_week[week], _closing(closed_by_week[week], desk)))
        week += timedelta(days=7)
    return tuple(weeks)


def csv_rows(r: Report) -> list[tuple[str, str, str, str]]:
    """The report in long form (section, key, metric, value): one table a spreadsheet pivots."""
    out: list[tuple[str, str, str, str]] = []

    def add(section: str, key: str, metric: str, value: object) -> None:
        out.append((section, key, metric, "" if value is None else str(value)))

    def add_closing(section: str, key: str, c: Closing) -> None:
        add(section, key, "closed", c.closed)
        add(section, key, "closed_on_time", c.on_time)
        add(section, key, "on_time_rate", None if c.on_time_rate is None
            else round(c.on_time_rate, 4))
        add(section, key, "median_days_to_close", c.median_days_to_close)

    add("range", "start", "date", r.start)
    add("range", "end", "date", r.end)
    add("total", "all", "received", r.received)
    add_closing("total", "all", r.closing)
    add("total", "all", "open_breaches", r.open_breaches)
    for k in r.kinds:
        add("kind", k.kind.value, "received", k.received)
        for status, n in k.by_status.items():
            add("kind", k.kind.value, f"status_{status}", n)
        add_closing("kind", k.kind.value, k.closing)
        add("kind", k.kind.value, "open_breaches", k.open_breaches)
    for stage, n in r.disputes_by_stage.items():
        add("dispute_stage", stage, "disputes", n)
    for a in r.agents:
        add("agent", a.agent_name, "open_cases", a.open_cases)
        add("agent", a.agent_name, "overdue", a.overdue)
        add("agent", a.agent_name, "closed", a.closed)
    for w in r.weeks:
        add("week", w.week_start.isoformat(), "received", w.received)
        add_closing("week", w.week_start.isoformat(), w.closing)
    return out
