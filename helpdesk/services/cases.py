"""Cases: open one, read it (audited), page through queues, change status, assign, add notes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from helpdesk import clock
from helpdesk.db.engine import get_for_change
from helpdesk.db.models import (
    Agent,
    Attachment,
    Case,
    CaseEvent,
    Customer,
    FieldChange,
    IntakeItem,
    Message,
    PolicyVersion,
    RequestVerification,
    touch,
)
from helpdesk.domain import CaseKind, CaseStatus, DisputeStage, MessageDirection, Queue, Role
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.services import audit, inbox, verification
from helpdesk.services import policy as policy_service
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import (
    AttachmentInfo,
    CaseDetail,
    CaseSummary,
    FieldChangeInfo,
    Page,
    QueueCounts,
    QueueTotals,
    case_event_from,
    case_summary_from,
    message_from,
)
from helpdesk.services.validation import clean_text, parse_choice

DEFAULT_PAGE = 100
MAX_PAGE = 500
DUE_SOON_DAYS = 7


def parse_kind(value: CaseKind | str) -> CaseKind:
    return parse_choice(CaseKind, value, what="case kind", plural="kinds", field="kind")


def parse_status(value: CaseStatus | str) -> CaseStatus:
    return parse_choice(CaseStatus, value, what="status", plural="statuses", field="status")


def parse_queue(value: Queue | str) -> Queue:
    return parse_choice(Queue, value, what="queue", plural="queues", field="queue")


def parse_stage(value: DisputeStage | str) -> DisputeStage:
    return parse_choice(DisputeStage, value, what="dispute stage", plural="stages", field="stage")


# --- reading -------------------------------------------------------------------------------------

def case_summaries(s: Session, desk: Desk, cases: Sequence[Case]) -> tuple[CaseSummary, ...]:
    """Summaries for many cases with two batched name look-ups (no query per row)."""
    customer_ids = {c.customer_id for c in cases if c.customer_id is not None}
    agent_ids = {c.assignee_id for c in cases if c.assignee_id is not None}
    customers = dict(s.exec(
        select(Customer.id, Customer.name).where(col(Customer.id).in_(customer_ids))
    ).all()) if customer_ids else {}
    agents = dict(s.exec(
        select(Agent.id, Agent.display_name).where(col(Agent.id).in_(agent_ids))
    ).all()) if agent_ids else {}
    return tuple(
        _summary(desk, c, customers.get(c.customer_id) if c.customer_id else None,
                 agents.get(c.assignee_id) if c.assignee_id else None)
        for c in cases
    )


def _summary(desk: Desk, case: Case, customer_name: str | None,
             assignee_name: str | None) -> CaseSummary:
    return case_summary_from(case, customer_name=customer_name, assignee_name=assignee_name,
                             now=desk.now(), tz=desk.settings.tz,
                             warning_days=desk.settings.dispute_warning_days)


def load(s: Session, case_id: int, *, for_change: bool = False) -> Case:
    """The case, or NotFound. ``for_change`` locks its row until the unit of work ends (see
    :func:`helpdesk.db.engine.get_for_change`)."""
    case = get_for_change(s, Case, case_id) if for_change else s.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case #{case_id}")
    return case


def get(desk: Desk, case_id: int) -> CaseDetail:
    """The case with its thread and history. Reading it is an audited view of personal data."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        row = s.execute(_case_and_names(), {"case_id": case_id}).first()
        if row is None:
            raise NotFound(f"no case #{case_id}")
        case = row[0]
        audit.record(s, desk, actor, "case.view", "case", case.id)
        return detail(s, desk, case, names=tuple(row[1:]))


#: What a case points to, named as the case screen shows it: its customer's name, its
#: assignee's display name, its policy version's label, when the first policy version took
#: effect (said of a case from before it), and its verification (whether a code was sent,
#: when and how the requester was verified, by whom). Subqueries of a select from
#: ``support_case``, so that they are read in the statement that reads the case (or in one of
#: their own).
def _names() -> tuple[sa.ScalarSelect[Any], ...]:
    verification_of_case = RequestVerification.case_id == Case.id
    return (
        sa.select(Customer.name).where(Customer.id == Case.customer_id).scalar_subquery(),
        sa.select(Agent.display_name).where(Agent.id == Case.assignee_id).scalar_subquery(),
        sa.select(PolicyVersion.label).where(PolicyVersion.id == Case.policy_version_id)
        .scalar_subquery(),
        sa.select(func.min(PolicyVersion.effective_on)).scalar_subquery(),
        sa.select(func.count()).where(verification_of_case).scalar_subquery(),
        sa.select(RequestVerification.verified_at).where(verification_of_case)
        .scalar_subquery(),
        sa.select(RequestVerification.method).where(verification_of_case).scalar_subquery(),
        sa.select(Agent.name).join(RequestVerification,
                                   col(RequestVerification.verified_by_id) == col(Agent.id))
        .where(verification_of_case).scalar_subquery(),
    )


# The statements of opening a case, made once, on first use (made at import they would
# configure every ORM mapper on the way to the desk's first screen): building them anew at
# each call costs the desk more than the database takes to run them. ``case_id`` is their
# parameter.
_CASE_ID = sa.bindparam("case_id")


@cache
def _case_and_names() -> sa.Select[Any]:
    return sa.select(Case, *_names()).where(Case.id == _CASE_ID)


@cache
def _names_of_case() -> sa.Select[Any]:
    return sa.select(*_names()).where(Case.id == _CASE_ID)


_ATTACHMENT_COLUMNS = (
    Attachment.id, Attachment.filename, Attachment.content_type, Attachment.size,
    Attachment.sha256, Attachment.withheld, col(Attachment.content).is_not(None),
)


#: What the case screen shows of a message (:func:`message_from` reads them by name).
_SHOWN_MESSAGE = ("id", "direction", "at", "from_address", "to_address", "cc_address",
                  "subject", "body", "message_id")
#: ... and of a history entry (:func:`case_event_from`).
_SHOWN_EVENT = ("id", "at", "action", "from_value", "to_value", "note")


# The thread and the history are read as plain rows of the columns shown, not as ORM objects:
# a busy case's thread and history grow all day, and making an object of each row cost the
# desk more than the database took to read them.
@cache
def _thread() -> sa.Select[Any]:
    """A case's thread, one row per message and attachment (a message without any: one): the
    message's shown columns, its author's display name, then ``_ATTACHMENT_COLUMNS``."""
    message, author = Message.__table__, Agent.__table__  # type: ignore[attr-defined]
    return (
        sa.select(*(message.c[name] for name in _SHOWN_MESSAGE),
                  author.c.display_name.label("author_name"), *_ATTACHMENT_COLUMNS)
        .join(author, author.c.id == message.c.author_id, isouter=True)
        .join(Attachment, col(Attachment.message_id) == message.c.id, isouter=True)
        .where(message.c.case_id == _CASE_ID)
        .order_by(message.c.at, message.c.id, col(Attachment.id))
    )


@cache
def _history() -> sa.Select[Any]:
    """A case's history with its actors' display names, and those of the agents an
    assignment entry names (its values are their login names)."""
    event = CaseEvent.__table__  # type: ignore[attr-defined]
    actor, moved_from, moved_to = (Agent.__table__.alias(name)  # type: ignore[attr-defined]
                                   for name in ("actor", "moved_from", "moved_to"))
    return (
        sa.select(*(event.c[name] for name in _SHOWN_EVENT),
                  actor.c.display_name.label("actor_name"),
                  moved_from.c.display_name.label("from_name"),
                  moved_to.c.display_name.label("to_name"))
        .join(actor, actor.c.id == event.c.actor_id, isouter=True)
        .join(moved_from, sa.and_(event.c.action == "assigned",
                                  moved_from.c.name == event.c.from_value), isouter=True)
        .join(moved_to, sa.and_(event.c.action == "assigned",
                                moved_to.c.name == event.c.to_value), isouter=True)
        .where(event.c.case_id == _CASE_ID)
        .order_by(event.c.at, event.c.id)
    )


def detail(s: Session, desk: Desk, case: Case, *,
           names: tuple[Any, ...] | None = None) -> CaseDetail:
    """The case as the case screen shows it, in three or four statements whatever its size:
    the thread with its attachments, the history with the agents it names, the names, policy
    and verification the case points to (``names``: the values of ``_names()`` when the caller
    read them with the case), and the record corrections. (A case is read on every open and
    after every change, so each statement counts.)"""
    # Read on the connection (Core, no ORM objects), which does not flush the session first
    # as an ORM query does: what the caller's unit of work added must be written before.
    s.flush()
    conn = s.connection()
    thread: dict[int, tuple[Any, list[AttachmentInfo]]] = {}
    first_file = len(_SHOWN_MESSAGE) + 1
    for row in conn.execute(_thread(), {"case_id": case.id}):
        _, files = thread.setdefault(row.id, (row, []))
        if row[first_file] is not None:
            files.append(_attachment_info(row[first_file:]))
    events = conn.execute(_history(), {"case_id": case.id}).all()
    agents = {login: shown for e in events
              for login, shown in ((e.from_value, e.from_name), (e.to_value, e.to_name))
              if login and shown is not None}
    if names is None:
        names = tuple(s.execute(_names_of_case(), {"case_id": case.id}).one())
    (customer_name, assignee_name, policy_label, first_policy,
     code_sent, verified_at, method, verified_by) = names
    policy_note = None
    if not case.policy_version_id:
        policy_note = (f"received before any loaded policy version (the first takes effect "
                       f"{first_policy}); the desk's service levels set its clock"
                       if first_policy else
                       "no policy version is loaded; the desk's service levels set its clock")
    return CaseDetail(
        case=_summary(desk, case, customer_name, assignee_name),
        policy_due_at=case.policy_due_at,
        due_rule=case.due_rule,
        override_due_at=case.override_due_at,
        override_reason=case.override_reason,
        policy_version_id=case.policy_version_id,
        policy_version_label=policy_label,
        related_case_id=case.related_case_id,
        outcome=case.outcome,
        closed_at=case.closed_at,
        created_at=case.created_at,
        updated_at=case.updated_at,
        messages=tuple(message_from(m, m.author_name, tuple(files))
                       for m, files in thread.values()),
        events=tuple(case_event_from(e, e.actor_name, agents) for e in events),
        rule_due_at=case.rule_due_at,
        policy_note=policy_note,
        corrections=field_changes(s, col(FieldChange.case_id) == case.id),
        received_by=(case.classification or {}).get("received_by"),
        intake_notes=tuple((case.classification or {}).get("notes") or ()),
        verification=verification.state(case, code_sent=bool(code_sent),
                                        verified_at=verified_at, method=method,
                                        verified_by=verified_by),
    )


def _attachment_info(row: Sequence[Any]) -> AttachmentInfo:
    """An attachment from the values of ``_ATTACHMENT_COLUMNS`` (its contents are not read)."""
    aid, filename, content_type, size, sha256, withheld, kept = row
    return AttachmentInfo(id=aid, filename=filename, content_type=content_type, size=size,
                          kept=bool(kept), withheld=withheld, sha256=sha256)


def attachment_infos(s: Session, message_ids: Sequence[int]) -> dict[int, list[AttachmentInfo]]:
    """The attachments of these messages by message id, without reading their contents."""
    found: dict[int, list[AttachmentInfo]] = {}
    if not message_ids:
        return found
    rows = s.execute(sa.select(Attachment.message_id, *_ATTACHMENT_COLUMNS)
                     .where(col(Attachment.message_id).in_(message_ids))
                     .order_by(col(Attachment.id)))
    for row in rows:
        found.setdefault(row[0], []).append(_attachment_info(row[1:]))
    return found


def field_changes(s: Session, where: sa.ColumnElement[bool]) -> tuple[FieldChangeInfo, ...]:
    """Customer-record change history matching ``where`` (on FieldChange), oldest first."""
    return tuple(
        FieldChangeInfo(id=c.id or 0, customer_id=c.customer_id, field=c.field,
                        old_value=c.old_value, new_value=c.new_value, at=c.at, agent_name=name,
                        case_id=c.case_id, values_erased=c.values_erased)
        for c, name in s.exec(
            select(FieldChange, Agent.display_name)
            .join(Agent, col(Agent.id) == col(FieldChange.agent_id), isouter=True)
            .where(where).order_by(col(FieldChange.at), col(FieldChange.id)))
    )


def _encode_cursor(at: datetime, case_id: int) -> str:
    return f"{clock.as_utc(at).isoformat()}|{case_id}"


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        at, _, cid = cursor.partition("|")
        return clock.as_utc(datetime.fromisoformat(at)), int(cid)
    except (ValueError, TypeError):
        raise Invalid("that page cursor is not one the desk produced", field="cursor") from None


def _queue_where(desk: Desk, actor: Agent, queue: Queue, now: datetime,
                 stage: DisputeStage | None = None) -> sa.ColumnElement[bool]:
    """What puts an open case in ``queue`` (the open-ness itself is the caller's filter)."""
    if queue is Queue.MINE:
        return Case.assignee_id == actor.id
    if queue is Queue.UNASSIGNED:
        return col(Case.assignee_id).is_(None)
    if queue is Queue.OVERDUE:
        return col(Case.due_at) <= now
    if queue is Queue.DUE_SOON:
        return sa.and_(col(Case.due_at) > now, col(Case.due_at) <= _due_soon_limit(desk))
    if queue is Queue.DISPUTES:
        if stage is not None:
            return sa.and_(Case.kind == CaseKind.DISPUTE, Case.dispute_stage == stage)
        return Case.kind == CaseKind.DISPUTE
    return sa.true()


def list_queue(
    desk: Desk,
    queue: Queue | str,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE,
    stage: DisputeStage | str | None = None,
) -> Page[CaseSummary]:
    """One page of a queue, keyset-paginated so any page costs the same as the first.

    Open queues are ordered by deadline (most urgent first); ``all`` by receipt, newest first.
    """
    queue = parse_queue(queue)
    chosen = parse_stage(stage) if stage is not None and queue is Queue.DISPUTES else None
    with desk.db.session() as s:
        actor = desk.actor(s)
        if queue is Queue.ALL:
            return page(s, desk, select(Case), cursor=cursor, limit=limit, newest_first=True)
        query = select(Case).where(col(Case.closed_at).is_(None),
                                   _queue_where(desk, actor, queue, desk.now(), chosen))
        return page(s, desk, query, cursor=cursor, limit=limit)


def page(s: Session, desk: Desk, query: SelectOfScalar[Case], *, cursor: str | None, limit: int,
         newest_first: bool = False) -> Page[CaseSummary]:
    """One keyset page of the cases ``query`` selects: by deadline, most urgent first, or
    (``newest_first``) by receipt. Any page costs the same as the first."""
    limit = max(1, min(limit, MAX_PAGE))
    if newest_first:
        key = (col(Case.received_at), col(Case.id))
    else:
        key = (col(Case.due_at), col(Case.id))
    if cursor:
        at, cid = _decode_cursor(cursor)
        at_param = sa.literal(at, type_=Case.__table__.c.due_at.type)
        if newest_first:
            query = query.where(sa.or_(key[0] < at_param, sa.and_(key[0] == at_param,
                                                                    key[1] < cid)))
        else:
            query = query.where(sa.or_(key[0] > at_param, sa.and_(key[0] == at_param,
                                                                    key[1] > cid)))
    order = [k.desc() for k in key] if newest_first else list(key)
    rows = s.exec(query.order_by(*order).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = _encode_cursor(last.received_at if newest_first else last.due_at,
                                     last.id or 0)
    return Page(items=case_summaries(s, desk, rows), next_cursor=next_cursor)


def queue_totals(desk: Desk) -> QueueTotals:
    """How many cases each queue holds now (open queues; ``all`` counts closed ones too), and
    open disputes per stage: one pass over the open cases."""
    with desk.db.session() as s:
        actor = desk.actor(s)
        return _totals(s, desk, actor)


def _count_if(cond: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0)


def _totals(s: Session, desk: Desk, actor: Agent) -> QueueTotals:
    now = desk.now()
    open_queues = [q for q in Queue if q is not Queue.ALL]
    stages = list(DisputeStage)
    row = s.execute(
        sa.select(
            *(_count_if(_queue_where(desk, actor, q, now)) for q in open_queues),
            *(_count_if(_queue_where(desk, actor, Queue.DISPUTES, now, st)) for st in stages),
        ).where(col(Case.closed_at).is_(None))
    ).one()
    counts = dict(zip(open_queues, (int(v) for v in row[:len(open_queues)]), strict=True))
    counts[Queue.ALL] = int(s.exec(select(func.count()).select_from(Case)).one())
    per_stage = dict(zip(stages, (int(v) for v in row[len(open_queues):]), strict=True))
    return QueueTotals(queues=counts, stages=per_stage)


def _due_soon_limit(desk: Desk) -> datetime:
    """Exclusive deadline instant of the last day counted as "due within 7 days"."""
    tz = desk.settings.tz
    return clock.start_of_day(
        clock.local_date(desk.now(), tz) + timedelta(days=DUE_SOON_DAYS + 1), tz
    )


def my_counts(desk: Desk) -> QueueCounts:
    """Counts for the start banner: the acting agent's open, overdue and due-soon cases, and
    their open disputes that have reached the first warning day; for a supervisor also the
    team's overdue, due-soon and warned cases (they answer for everyone's); and for everyone
    the letters from unknown senders still waiting for a customer."""
    with desk.db.session() as s:
        actor = desk.actor(s)
        now = desk.now()
        warnings = desk.settings.dispute_warning_days
        warned = sa.and_(
            Case.kind == CaseKind.DISPUTE,
            col(Case.received_at) < clock.reached_before(min(warnings), now, desk.settings.tz),
        ) if warnings else sa.false()
        mine = Case.assignee_id == actor.id
        figures = [
            _count_if(sa.and_(mine, warned)),
            _count_if(mine),
            _count_if(sa.and_(mine, _queue_where(desk, actor, Queue.OVERDUE, now))),
            _count_if(sa.and_(mine, _queue_where(desk, actor, Queue.DUE_SOON, now))),
        ]
        team = actor.role == Role.SUPERVISOR
        if team:
            figures += [_count_if(_queue_where(desk, actor, Queue.OVERDUE, now)),
                        _count_if(_queue_where(desk, actor, Queue.DUE_SOON, now)),
                        _count_if(warned)]
        row = [int(v) for v in s.execute(
            sa.select(*figures).where(col(Case.closed_at).is_(None))).one()]
        return QueueCounts(
            mine_dispute_warnings=row[0], mine_open=row[1], mine_overdue=row[2],
            mine_due_soon=row[3],
            team_overdue=row[4] if team else None, team_due_soon=row[5] if team else None,
            team_dispute_warnings=row[6] if team else None,
            **_unmatched_counts(s, desk, actor, now),
        )


def _unmatched_counts(s: Session, desk: Desk, actor: Agent, now: datetime) -> dict[str, int]:
    """Open, overdue and due-soon letters from unknown senders, waiting in the intake tray."""
    waiting = sa.and_(IntakeItem.state == "unmatched", col(Case.closed_at).is_(None))
    row = s.execute(
        sa.select(_count_if(waiting),
                  _count_if(sa.and_(waiting, _queue_where(desk, actor, Queue.OVERDUE, now))),
                  _count_if(sa.and_(waiting, _queue_where(desk, actor, Queue.DUE_SOON, now))))
        .select_from(IntakeItem)
        .join(Message, col(Message.id) == col(IntakeItem.message_id))
        .join(Case, col(Case.id) == col(Message.case_id))
    ).one()
    return dict(zip(("unmatched_open", "unmatched_overdue", "unmatched_due_soon"),
                    (int(v) for v in row), strict=True))


# --- changing ------------------------------------------------------------------------------------

def _event(
    s: Session, desk: Desk, case: Case, actor: Agent, action: str,
    from_value: str | None = None, to_value: str | None = None, note: str | None = None,
) -> CaseEvent:
    event = CaseEvent(case_id=case.id, at=desk.now(), actor_id=actor.id, action=action,
                      from_value=from_value, to_value=to_value, note=note)
    s.add(event)
    return event


def load_for_change(s: Session, case_id: int, expected_version: int | None) -> Case:
    """Load and lock a case for a change, refusing when the caller's copy is stale.

    Without ``expected_version`` (a blind change) the change applies to the case as it is now:
    the row lock makes a concurrent writer wait instead of turning this write into a conflict.
    The message names the latest change so the person can see what happened before reloading.
    """
    case = load(s, case_id, for_change=True)
    if expected_version is not None and case.version != expected_version:
        last = s.exec(
            select(CaseEvent, Agent.display_name)
            .join(Agent, col(Agent.id) == col(CaseEvent.actor_id), isouter=True)
            .where(CaseEvent.case_id == case_id)
            .order_by(col(CaseEvent.id).desc()).limit(1)
        ).first()
        what = ""
        if last:
            ev, who = last
            change = f" ({ev.action}: {ev.from_value or '-'} -> {ev.to_value or '-'})" if (
                ev.from_value or ev.to_value) else f" ({ev.action})"
            what = f" by {who or 'someone'}{change}"
        raise Conflict(
            f"case #{case_id} was changed{what} since you opened it; reload to see the change"
        )
    return case


def create(
    desk: Desk,
    *,
    kind: CaseKind | str,
    customer_id: int | None,
    subject: str | None = None,
    note: str | None = None,
    received_at: datetime | None = None,
    assign_to_me: bool = False,
    related_case_id: int | None = None,
) -> CaseDetail:
    """Open a case. Its clock starts at ``received_at`` (the customer's message), not now.

    A case says what it is about: a subject, a customer, or both (a customer can be linked
    later with :func:`link_customer`). One with neither is refused: nobody could work it.
    """
    kind = parse_kind(kind)
    subject = clean_text(subject, field="subject")
    note = clean_text(note, field="note", multiline=True)
    if not subject and customer_id is None:
        raise Invalid("a case needs a subject or a customer (a customer can be linked later)",
                      field="subject")
    received = clock.as_utc(received_at) if received_at else desk.now()
    if received > desk.now() + timedelta(minutes=5):
        raise Invalid("a case cannot be received in the future", field="received_at")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = new_case(s, desk, actor, kind=kind, customer_id=customer_id, subject=subject,
                        received_at=received, assignee_id=actor.id if assign_to_me else None,
                        related_case_id=related_case_id)
        if note:
            s.add(Message(case_id=case.id, direction=MessageDirection.NOTE, at=desk.now(),
                          body=note, author_id=actor.id))
        return detail(s, desk, case)


def link_customer(
    desk: Desk, *, case_id: int, customer_id: int, expected_version: int | None = None
) -> CaseDetail:
    """Link the case to its customer (or, when the wrong one was linked, to the right one).

    The change is in the case's history (from which customer to which) and the audit trail,
    so both profiles show it. A closed case keeps the customer it was closed for, and an erased
    customer gets no new case (a dispute about their erasure is opened from the erased case).
    """
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = load_for_change(s, case_id, expected_version)
        if case.customer_id == customer_id:
            return detail(s, desk, case)
        if case.closed_at is not None:
            raise Invalid(f"case #{case_id} is closed; its customer stays as it was",
                          field="case")
        customer = s.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"no customer #{customer_id}")
        if customer.erased_at is not None:
            raise Conflict(f"customer #{customer_id} has been erased")
        previous = case.customer_id
        case.customer_id = customer_id
        case.updated_at = desk.now()
        s.add(case)
        _event(s, desk, case, actor, "customer",
               f"#{previous}" if previous else None, f"#{customer_id}")
        s.flush()
        audit.record(s, desk, actor, "case.link", "case", case.id, customer_id=customer_id,
                     previous_customer_id=previous)
        return detail(s, desk, case)


def new_case(
    s: Session,
    desk: Desk,
    actor: Agent,
    *,
    kind: CaseKind,
    customer_id: int | None,
    subject: str | None,
    received_at: datetime,
    assignee_id: int | None = None,
    related_case_id: int | None = None,
) -> Case:
    """Insert a case inside the caller's unit of work (intake and disputes reuse this)."""
    if customer_id is not None:
        customer = s.get(Customer, customer_id)
        if customer is None:
            raise NotFound(f"no customer #{customer_id}")
        if customer.erased_at is not None and kind is not CaseKind.DISPUTE:
            raise Conflict(f"customer #{customer_id} has been erased")
    if related_case_id is not None:
        load(s, related_case_id)
    deadline, pv = policy_service.deadline_for(s, desk, kind, received_at)
    now = desk.now()
    case = Case(
        kind=kind,
        status=CaseStatus.NEW,
        subject=subject,
        customer_id=customer_id,
        assignee_id=assignee_id,
        received_at=received_at,
        policy_version_id=pv.id if pv else None,
        dispute_stage=DisputeStage.RECEIVED if kind is CaseKind.DISPUTE else None,
        related_case_id=related_case_id,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    policy_service.apply_deadline(case, deadline)
    s.add(case)
    s.flush()
    _event(s, desk, case, actor, "created", to_value=kind.value)
    audit.record(s, desk, actor, "case.create", "case", case.id, kind=kind.value,
                 customer_id=customer_id)
    return case


def set_status(
    desk: Desk,
    *,
    case_id: int,
    status: CaseStatus | str,
    expected_version: int | None = None,
    note: str | None = None,
) -> CaseDetail:
    """Change a case's status; ``changed`` of the result holds the history entry it wrote.

    Without ``expected_version`` the change applies to the case as it is when it runs (another
    desk may have changed the status a moment ago): from whatever status it has, or not at all
    when it already has ``status`` (``changed`` is then empty).
    """
    status = parse_status(status)
    note = clean_text(note, field="note", multiline=True)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = load_for_change(s, case_id, expected_version)
        old = CaseStatus(case.status)
        if old is status:
            return detail(s, desk, case)
        if case.kind == CaseKind.DISPUTE and status.is_closed and case.dispute_stage not in (
            DisputeStage.RESOLVED, DisputeStage.WITHDRAWN
        ):
            raise Invalid(
                "a dispute closes by reaching the resolved or withdrawn stage", field="status"
            )
        case.status = status
        case.closed_at = desk.now() if status.is_closed else None
        case.updated_at = desk.now()
        s.add(case)
        event = _event(s, desk, case, actor, "status", old.value, status.value, note)
        s.flush()
        audit.record(s, desk, actor, "case.status", "case", case.id, status=status.value)
        return replace(detail(s, desk, case),
                       changed=(case_event_from(event, actor.display_name),))


def assign(
    desk: Desk,
    *,
    case_id: int,
    assignee: str | None,
    expected_version: int | None = None,
    reason: str | None = None,
) -> CaseDetail:
    """Assign a case (``assignee=None`` releases it).

    Anyone may take an unassigned case or release their own. Giving a case to someone else, or
    taking one that belongs to someone else, is a supervisor's reassignment and needs a reason.
    """
    reason = clean_text(reason, field="reason", multiline=True)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = load_for_change(s, case_id, expected_version)
        reassign_case(s, desk, actor, case, assignee, reason)
        return detail(s, desk, case)


def take(desk: Desk, *, case_id: int) -> CaseDetail:
    """Take a case for yourself. A case someone else has is never taken over silently: the
    refusal names who has it (a supervisor moves it with :func:`assign` and a reason). Taking
    your own case again changes nothing."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = load_for_change(s, case_id, None)
        if case.assignee_id is not None and case.assignee_id != actor.id:
            holder = s.get(Agent, case.assignee_id)
            who = holder.display_name if holder else f"agent #{case.assignee_id}"
            raise Conflict(f"case #{case_id} is already taken by {who}")
        reassign_case(s, desk, actor, case, actor.name, None)
        return detail(s, desk, case)


def reassign_case(
    s: Session, desk: Desk, actor: Agent, case: Case, assignee: str | None, reason: str | None
) -> None:
    """Apply one assignment inside the caller's unit of work, with the role rules above."""
    target: Agent | None = None
    if assignee is not None:
        target = actor if assignee == actor.name else s.exec(
            select(Agent).where(Agent.name == assignee)).first()
        if target is None:
            raise NotFound(f"no agent named '{assignee}'")
        if not target.active:
            raise Invalid(f"agent '{assignee}' is deactivated", field="assignee")
    if (target.id if target else None) == case.assignee_id:
        return
    own_move = (
        (target is not None and target.id == actor.id and case.assignee_id is None)
        or (target is None and case.assignee_id == actor.id)
    )
    if not own_move:
        if actor.role != Role.SUPERVISOR:
            raise Forbidden(
                "only a supervisor may reassign a case to someone else or take one that "
                "belongs to another agent"
            )
        if not reason:
            raise Invalid("a reassignment needs a reason", field="reason")
    previous = s.get(Agent, case.assignee_id) if case.assignee_id else None
    case.assignee_id = target.id if target else None
    case.updated_at = desk.now()
    s.add(case)
    _event(s, desk, case, actor, "assigned", previous.name if previous else None,
           target.name if target else None, reason)
    s.flush()
    audit.record(s, desk, actor, "case.assign", "case", case.id,
                 from_agent_id=previous.id if previous else None,
                 to_agent_id=target.id if target else None)
    if target is not None:
        inbox.notify(s, desk, kind=inbox.NoticeKind.REASSIGNED, case_id=case.id,
                     to=[target.id], actor=actor,
                     text=f"{inbox.case_label(case.id, case.kind)} was assigned to you by "
                          f"{actor.display_name}; it is due "
                          f"{clock.due_date(case.due_at, desk.settings.tz)}")


def add_note(desk: Desk, *, case_id: int, body: str) -> CaseDetail:
    """Add an internal note. A note is an append: it never conflicts, whatever changed on the
    case while it was being written (the result shows those changes beside it). It bumps the
    case version, so an edit decided on a copy without the note is refused as stale."""
    text = clean_text(body, field="note", required=True, multiline=True)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = load(s, case_id, for_change=True)
        s.add(Message(case_id=case.id, direction=MessageDirection.NOTE, at=desk.now(),
                      body=text, author_id=actor.id))
        touch(case, desk.now())
        s.add(case)
        _event(s, desk, case, actor, "note")
        s.flush()
        audit.record(s, desk, actor, "case.note", "case", case.id)
        return detail(s, desk, case)

