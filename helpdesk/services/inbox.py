"""The agents' inbox: what happened to their cases that they would otherwise learn by looking.

Other services post with :func:`notify` inside their own unit of work (a case reassigned to
you, a reminder arrived on your case, the customer answered a case that was waiting on them,
an escalation); warning days are found by :func:`sweep`, which the inbox runs whenever it is
read, so nothing depends on a scheduler. Supervisors receive escalations and warnings for the
whole team.

A notice holds ids, kinds and a short text built from them: no customer's personal data, so
it needs nothing from erasure. ``key`` makes a notice idempotent (a warning day is announced
once per case and recipient however often the sweep runs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from helpdesk import clock
from helpdesk.db.models import Agent, Case, Notification
from helpdesk.domain import CaseKind, Role
from helpdesk.errors import Invalid
from helpdesk.services.context import Desk

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


class NoticeKind(StrEnum):
    REASSIGNED = "reassigned"  # a case was given to you
    REMINDER = "reminder"  # the customer sent a reminder about your case
    REPLY = "reply"  # the customer answered a case waiting on them (a verification, a document)
    WARNING = "warning"  # a dispute reached a warning day
    ESCALATED = "escalated"  # an agent asked a supervisor to look at a case


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    kind: NoticeKind
    at: datetime
    case_id: int | None
    text: str
    actor_name: str | None
    read: bool


@dataclass(frozen=True, slots=True)
class InboxPage:
    unread: int
    items: tuple[Notice, ...]


def supervisor_ids(s: Session) -> list[int]:
    return [i for i in s.exec(select(Agent.id).where(
        Agent.role == Role.SUPERVISOR, col(Agent.active).is_(True))).all() if i is not None]


def notify(
    s: Session,
    desk: Desk,
    *,
    kind: NoticeKind | str,
    text: str,
    to: Iterable[int | None] = (),
    supervisors: bool = False,
    case_id: int | None = None,
    actor: Agent | None = None,
    key: str | None = None,
) -> int:
    """Post a notice to agents ``to`` (and every active supervisor with ``supervisors``) in the
    caller's unit of work. The acting agent is never told about their own act; a notice with a
    ``key`` already posted to a recipient is not posted again. Returns how many were posted.

    ``text`` must not carry personal data: case numbers, kinds, agents' names, dates.
    """
    notice_kind = NoticeKind(kind)
    recipients = {i for i in to if i is not None}
    if supervisors:
        recipients.update(supervisor_ids(s))
    if actor is not None:
        recipients.discard(actor.id)
    if key is not None and recipients:
        recipients -= set(s.exec(select(Notification.agent_id).where(
            Notification.key == key, col(Notification.agent_id).in_(recipients))).all())
    now = desk.now()
    for agent_id in sorted(recipients):
        s.add(Notification(agent_id=agent_id, kind=notice_kind, case_id=case_id, at=now,
                           text=text[:500], actor_id=actor.id if actor else None, key=key))
    return len(recipients)


def case_label(case_id: int | None, kind: str) -> str:
    return f"Case #{case_id} ({CaseKind(kind).label})"


# --- reading -------------------------------------------------------------------------------------

def sweep(s: Session, desk: Desk) -> int:
    """Announce every open dispute's newest warning day to its assignee and the supervisors,
    once. Cheap when nothing is new: one query over open disputes past the first warning day."""
    warnings = desk.settings.dispute_warning_days
    if not warnings:
        return 0
    now, tz = desk.now(), desk.settings.tz
    rows = s.exec(select(Case).where(
        Case.kind == CaseKind.DISPUTE, col(Case.closed_at).is_(None),
        col(Case.received_at) < clock.reached_before(min(warnings), now, tz),
    )).all()
    posted = 0
    for case in rows:
        day = clock.warning_level(case.received_at, now, tz, warnings)
        if day is None:
            continue
        posted += notify(
            s, desk, kind=NoticeKind.WARNING, case_id=case.id,
            to=[case.assignee_id], supervisors=True, key=f"warning:{case.id}:{day}",
            text=f"{case_label(case.id, case.kind)} reached day {day} of its clock; it is due "
                 f"{clock.due_date(case.due_at, tz)}",
        )
    return posted


def _page(s: Session, agent_id: int, *, unread_only: bool, limit: int) -> InboxPage:
    mine = select(Notification, Agent.display_name).join(
        Agent, col(Agent.id) == col(Notification.actor_id), isouter=True
    ).where(Notification.agent_id == agent_id)
    if unread_only:
        mine = mine.where(col(Notification.read_at).is_(None))
    rows = s.exec(mine.order_by(col(Notification.at).desc(), col(Notification.id).desc())
                  .limit(limit)).all()
    unread = s.exec(select(func.count()).select_from(Notification).where(
        Notification.agent_id == agent_id, col(Notification.read_at).is_(None))).one()
    return InboxPage(unread=unread, items=tuple(
        Notice(id=n.id or 0, kind=NoticeKind(n.kind), at=n.at, case_id=n.case_id, text=n.text,
               actor_name=name, read=n.read_at is not None)
        for n, name in rows))


def inbox(desk: Desk, *, unread_only: bool = False, limit: int = DEFAULT_LIMIT) -> InboxPage:
    """The acting agent's notices, newest first, after a sweep for warning days."""
    if not 0 < limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        sweep(s, desk)
        s.flush()
        return _page(s, actor.id or 0, unread_only=unread_only, limit=limit)


def unread_count(desk: Desk) -> int:
    """How many notices the acting agent has not read (the main screen's count)."""
    return inbox(desk, unread_only=True, limit=1).unread


def mark_read(desk: Desk, *, ids: Iterable[int] = (), everything: bool = False) -> int:
    """Mark the acting agent's notices read; returns how many changed. Another agent's notices
    are never touched (an id that is not yours is simply not yours to read)."""
    wanted = sorted(set(ids))
    if not wanted and not everything:
        raise Invalid("name the notices to mark read, or all of them", field="ids")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        query = sa.update(Notification).where(
            col(Notification.agent_id) == actor.id, col(Notification.read_at).is_(None))
        if not everything:
            query = query.where(col(Notification.id).in_(wanted))
        return s.execute(query.values(read_at=desk.now())).rowcount or 0  # type: ignore[attr-defined]
