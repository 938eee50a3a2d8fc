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
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from helpdesk import clock
from helpdesk.db.models import Agent, Case
from helpdesk.domain import OPEN_STATUSES, CaseKind, CaseStatus, DisputeStage, Role
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
    still_open: int = 0  # received in the range and not resolved or closed


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


@dataclass
class _Tally:
    """Closed cases of one group (a kind, a week, all): how many on time, days to close."""

    on_time: int = 0
    days: list[int] = field(default_factory=list)

    def add(self, on_time: bool, days: int) -> None:
        self.on_time += on_time
        self.days.append(days)

    def figures(self) -> Closing:
        if not self.days:
            return Closing(0, 0, None, None)
        return Closing(
            closed=len(self.days),
            on_time=self.on_time,
            on_time_rate=self.on_time / len(self.days),
            median_days_to_close=float(statistics.median(self.days)),
        )


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


def report(desk: Desk, *, start: date | None = None, end: date | None = None) -> Report:
    """The desk's figures for cases received (and closed) between ``start`` and ``end``.

    One pass over the cases' dates and kinds (no personal data is read), so the cost is one
    indexed scan plus a few hundred nanoseconds per case.
    """
    if start and end and start > end:
        raise Invalid("the report's start date is after its end date", field="start")
    tz = desk.settings.tz
    lo = clock.start_of_day(start, tz) if start else None
    hi = clock.start_of_day(end + timedelta(days=1), tz) if end else None

    def within(at: datetime) -> bool:
        return (lo is None or at >= lo) and (hi is None or at < hi)

    received: Counter[tuple[str, str]] = Counter()  # (kind, status)
    breaches: Counter[str] = Counter()
    stages: Counter[str | None] = Counter()
    weekly_received: Counter[date] = Counter()
    total = _Tally()
    by_kind: dict[str, _Tally] = defaultdict(_Tally)
    weekly: dict[date, _Tally] = defaultdict(_Tally)
    open_by_agent: Counter[int | None] = Counter()
    overdue_by_agent: Counter[int | None] = Counter()
    closed_by_agent: Counter[int | None] = Counter()

    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        now = desk.now()
        query = sa.select(
            col(Case.kind), col(Case.status), col(Case.assignee_id), col(Case.dispute_stage),
            col(Case.received_at), col(Case.due_at), col(Case.policy_due_at),
            col(Case.closed_at),
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
        for kind, status, assignee, stage, rec, due, policy_due, closed in s.execute(query):
            # On time is judged against the policy's promise, not an override.
            promise = policy_due or due
            if closed is None:
                open_by_agent[assignee] += 1
                overdue_by_agent[assignee] += now >= due
            if within(rec):
                received[kind, status] += 1
                weekly_received[_week(rec.astimezone(tz).date())] += 1
                if kind == CaseKind.DISPUTE:
                    stages[stage] += 1
                if closed is None and now >= promise:
                    breaches[kind] += 1
            if closed is not None and within(closed):
                closed_day = closed.astimezone(tz).date()
                days = (closed_day - rec.astimezone(tz).date()).days
                for tally in (total, by_kind[kind], weekly[_week(closed_day)]):
                    tally.add(closed < promise, days)
                closed_by_agent[assignee] += 1
        supervisor = actor.role == Role.SUPERVISOR
        agents = s.exec(select(Agent).order_by(col(Agent.name))).all() if supervisor else []
        audit.record(s, desk, actor, "report.run", "report", None,
                     start=start.isoformat() if start else None,
                     end=end.isoformat() if end else None)

    kinds = tuple(
        KindFigures(
            kind=kind,
            received=sum(received[kind, st] for st in CaseStatus),
            by_status={st.value: received[kind, st] for st in CaseStatus},
            closing=by_kind[kind].figures(),
            open_breaches=breaches[kind],
            still_open=sum(received[kind, st] for st in OPEN_STATUSES),
        )
        for kind in CaseKind
    )
    agent_rows = tuple(
        AgentFigures(
            agent_name=a.name,
            display_name=a.display_name,
            open_cases=open_by_agent[a.id],
            overdue=overdue_by_agent[a.id],
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
        received=sum(received.values()),
        closing=total.figures(),
        open_breaches=sum(breaches.values()),
        kinds=kinds,
        disputes_by_stage={st.value: stages[st.value] for st in DisputeStage},
        agents=agent_rows,
        weeks=_weeks(weekly_received, weekly, start, end or clock.local_date(now, tz)),
    )


def _weeks(
    received: Counter[date], closed: dict[date, _Tally], start: date | None, end: date
) -> tuple[WeekFigures, ...]:
    """Every week from the first (``start``, else the first with data) to the last, empty
    weeks included so a chart's x axis is even."""
    seen = set(received) | set(closed)
    if not seen and not start:
        return ()
    week = _week(start) if start else min(seen)
    last = max(_week(end), *seen) if seen else _week(end)
    weeks = []
    while week <= last:
        weeks.append(WeekFigures(week, received[week], (closed.get(week) or _Tally()).figures()))
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
