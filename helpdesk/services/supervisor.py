"""Supervisor tools: bulk reassignment, the workload view, escalation and deadline overrides.

Role rules (enforced here, so the CLI, the desk and scripts all get the same answer):

* reassigning another agent's case, de-escalating, overriding a deadline and seeing the
  workload view are for supervisors;
* any agent may take unassigned cases (also in bulk) and escalate a case they see going wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from helpdesk import clock
from helpdesk.db.models import Agent, Case
from helpdesk.domain import CaseKind, Role
from helpdesk.errors import HelpdeskError, Invalid, NotFound
from helpdesk.services import audit, cases, inbox
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import CaseDetail, CaseSummary, Page
from helpdesk.services.validation import clean_text

#: The most cases one reassignment moves (one unit of work); an agent's whole open pile fits.
MAX_BULK = 10_000


@dataclass(frozen=True, slots=True)
class AgentLoad:
    """One row of the workload view. ``agent_name`` None is the unassigned pile."""

    agent_id: int | None
    agent_name: str | None
    display_name: str | None
    role: Role | None
    active: bool
    open_cases: int
    open_disputes: int
    due_soon: int  # due within 7 days, not yet overdue
    overdue: int
    dispute_warnings: int  # open disputes past the first warning day
    escalated: int


def _named(cid: int, exc: HelpdeskError) -> HelpdeskError:
    """The same error, its message naming the case when it does not already."""
    if f"#{cid}" in exc.message:
        return exc
    return type(exc)(f"case #{cid}: {exc.message}", field=exc.field)


def reassign(
    desk: Desk,
    *,
    case_ids: Sequence[int],
    assignee: str | None,
    reason: str | None,
    expected_versions: Mapping[int, int] | None = None,
) -> tuple[CaseSummary, ...]:
    """Assign many cases at once, all or nothing, in one unit of work.

    Each case follows :func:`cases.reassign_case` (supervisors move other agents' cases, with a
    reason; anyone takes unassigned ones). The first case that fails stops the whole batch and
    is named in the error; no case is changed.
    """
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        raise Invalid("select at least one case to assign", field="case_ids")
    if len(ids) > MAX_BULK:
        raise Invalid(f"at most {MAX_BULK} cases at once", field="case_ids")
    reason = clean_text(reason, field="reason", multiline=True)
    versions = dict(expected_versions or {})
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        changed: list[Case] = []
        for cid in ids:
            try:
                case = cases.load_for_change(s, cid, versions.get(cid))
                cases.reassign_case(s, desk, actor, case, assignee, reason)
            except HelpdeskError as exc:
                raise _named(cid, exc) from None
            changed.append(case)
        s.flush()
        return cases.case_summaries(s, desk, changed)


def _supervisor_check(desk: Desk, s: Session) -> Agent:
    return desk.actor(s, require=Role.SUPERVISOR)


def workload(desk: Desk) -> tuple[AgentLoad, ...]:
    """Per agent (and the unassigned pile): open cases and disputes, due soon, overdue.

    Supervisors only. Counts only, so nothing personal is shown; the view is still audited.
    """
    with desk.db.session(write=True) as s:
        actor = _supervisor_check(desk, s)
        now, tz = desk.now(), desk.settings.tz
        soon = clock.start_of_day(
            clock.local_date(now, tz) + timedelta(days=cases.DUE_SOON_DAYS + 1), tz
        )
        warnings = desk.settings.dispute_warning_days
        is_dispute = Case.kind == CaseKind.DISPUTE
        warned = (
            sa.and_(is_dispute, col(Case.received_at) < clock.reached_before(min(warnings), now,
                                                                               tz))
            if warnings else sa.false()
        )

        def count_if(cond: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
            return sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)

        rows = s.execute(
            sa.select(
                col(Case.assignee_id),
                sa.func.count(),
                count_if(is_dispute),
                count_if(sa.and_(col(Case.due_at) > now, col(Case.due_at) <= soon)),
                count_if(col(Case.due_at) <= now),
                count_if(warned),
                count_if(col(Case.escalated)),
            )
            .where(col(Case.closed_at).is_(None))
            .group_by(col(Case.assignee_id))
        ).all()
        counts = {r[0]: tuple(int(v) for v in r[1:]) for r in rows}
        agents = s.exec(select(Agent).order_by(Agent.name)).all()
        zero = (0,) * 6
        out = [
            AgentLoad(None, None, None, None, True, *counts.get(None, zero)),
            *(
                AgentLoad(a.id, a.name, a.display_name, Role(a.role), a.active,
                          *counts.get(a.id, zero))
                for a in agents
                if a.active or a.id in counts
            ),
        ]
        audit.record(s, desk, actor, "workload.view", "agent", None, agents=len(out) - 1)
        return tuple(out)


def _agent_open_cases(s: Session, agent: str | None) -> SelectOfScalar[Case]:
    query = select(Case).where(col(Case.closed_at).is_(None))
    if agent is None:
        return query.where(col(Case.assignee_id).is_(None))
    target = s.exec(select(Agent).where(Agent.name == agent)).first()
    if target is None:
        raise NotFound(f"no agent named '{agent}'")
    return query.where(Case.assignee_id == target.id)


def agent_cases(
    desk: Desk, *, agent: str | None, cursor: str | None = None, limit: int = cases.DEFAULT_PAGE
) -> Page[CaseSummary]:
    """One page of an agent's open cases (``agent=None``: unassigned ones), most urgent first.

    Supervisors only: the workload view's drill-down, where cases are picked for reassignment.
    """
    with desk.db.session() as s:
        _supervisor_check(desk, s)
        return cases.page(s, desk, _agent_open_cases(s, agent), cursor=cursor, limit=limit)


def agent_case_ids(desk: Desk, *, agent: str | None) -> tuple[int, ...]:
    """Every open case of an agent (``None``: unassigned), most urgent first: what "mark all"
    marks, however many there are. Supervisors only."""
    with desk.db.session() as s:
        _supervisor_check(desk, s)
        query = _agent_open_cases(s, agent).order_by(col(Case.due_at), col(Case.id))
        return tuple(c.id or 0 for c in s.exec(query))


def escalate(
    desk: Desk, *, case_id: int, note: str | None = None, expected_version: int | None = None
) -> CaseDetail:
    """Flag a case for a supervisor's attention. Any agent may escalate."""
    return _set_escalated(desk, case_id, True, note, expected_version)


def deescalate(
    desk: Desk, *, case_id: int, note: str | None = None, expected_version: int | None = None
) -> CaseDetail:
    """Clear the escalation flag. Supervisors only: they decide the matter is handled."""
    return _set_escalated(desk, case_id, False, note, expected_version)


def _set_escalated(
    desk: Desk, case_id: int, escalated: bool, note: str | None, expected_version: int | None
) -> CaseDetail:
    note = clean_text(note, field="note", multiline=True)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s) if escalated else _supervisor_check(desk, s)
        case = cases.load_for_change(s, case_id, expected_version)
        if case.escalated == escalated:
            return cases.detail(s, desk, case)
        if escalated and case.closed_at is not None:
            raise Invalid(f"case #{case_id} is closed; there is nothing to escalate",
                          field="case")
        case.escalated = escalated
        case.updated_at = desk.now()
        s.add(case)
        action = "escalated" if escalated else "deescalated"
        cases._event(s, desk, case, actor, action, note=note)
        s.flush()
        audit.record(s, desk, actor, f"case.{action}", "case", case.id)
        if escalated:
            inbox.notify(s, desk, kind=inbox.NoticeKind.ESCALATED, case_id=case.id,
                         supervisors=True, actor=actor,
                         text=f"{inbox.case_label(case.id, case.kind)} was escalated by "
                              f"{actor.display_name}")
        return cases.detail(s, desk, case)


def override_deadline(
    desk: Desk,
    *,
    case_id: int,
    new_due: date,
    reason: str,
    expected_version: int | None = None,
) -> CaseDetail:
    """Record a supervisor's justified deadline override (the policy has no extensions).

    ``new_due`` is the last local day on time. ``due_at`` becomes the override; the policy's own
    promise (``policy_due_at``) is kept, so going past it still shows as a breach of the policy.
    """
    text = clean_text(reason, field="reason", required=True, multiline=True)
    with desk.db.session(write=True) as s:
        actor = _supervisor_check(desk, s)
        case = cases.load_for_change(s, case_id, expected_version)
        tz = desk.settings.tz
        if case.closed_at is not None:
            raise Invalid(f"case #{case_id} is closed; its deadline no longer applies",
                          field="case")
        if new_due < clock.local_date(case.received_at, tz):
            raise Invalid("the new due date is before the case was received", field="due")
        old_due = clock.due_date(case.due_at, tz)
        due_at = clock.start_of_day(new_due + timedelta(days=1), tz)
        case.due_at = due_at
        case.override_due_at = due_at
        case.override_reason = text
        case.override_by_id = actor.id
        case.due_rule = "supervisor override"
        case.updated_at = desk.now()
        s.add(case)
        cases._event(s, desk, case, actor, "deadline_override", old_due.isoformat(),
                     new_due.isoformat(), text)
        s.flush()
        audit.record(s, desk, actor, "case.override", "case", case.id,
                     from_due=old_due.isoformat(), to_due=new_due.isoformat())
        return cases.detail(s, desk, case)
