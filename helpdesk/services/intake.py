"""Mail intake use cases: import exported mail, and work the items it could not file alone.

``import_paths`` reads .eml files, mbox files and Maildir folders and commits every
:data:`BATCH_SIZE` messages, so an import killed at any point loses at most one uncommitted
batch, which the next run imports again (duplicates are skipped by Message-ID or content hash).
A letter from an unknown sender is still a request: its case opens at import, without a
customer, clocked from receipt, so it counts in the due-soon and overdue queues, the banner and
the workload view; an *unmatched* item in the intake tray (ordered by urgency) asks an agent to
link it to a customer or make a new one, which keeps that receipt time and clock, or to dismiss
it when it asks nothing. Unreadable mail becomes a *quarantined* item, kept raw, re-processable
later.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from helpdesk import clock
from helpdesk.db.engine import get_for_change
from helpdesk.db.models import (
    Agent,
    Case,
    CaseEvent,
    Customer,
    CustomerEmail,
    IntakeItem,
    Message,
)
from helpdesk.domain import CaseKind, CaseStatus, DisputeStage
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.intake.classify import classify, stored_clock_kinds
from helpdesk.intake.importer import (
    DONE,
    ITEM_STATES,
    QUARANTINED,
    UNMATCHED,
    BatchImporter,
    Counts,
    Prepared,
    prepare,
)
from helpdesk.intake.sources import RawMessage, discover, read
from helpdesk.services import audit, cases, policy, suppression
from helpdesk.services import customers as customer_service
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import AttachmentInfo, CaseDetail, Page
from helpdesk.services.validation import clean_text, normalize_email

BATCH_SIZE = 100
COMMIT_ATTEMPTS = 3  # a batch clashing with a concurrent import is retried; duplicates then skip
RAW_PREVIEW = 4000  # characters of a quarantined message shown to the agent
OPEN_STATES = (UNMATCHED, QUARANTINED)


@dataclass(frozen=True, slots=True)
class ImportResult:
    sources: int
    seen: int
    imported: int  # messages taken in: new cases + threaded + unmatched + machine
    new_cases: int
    threaded: int  # replies and reminders joined to existing cases
    unmatched: int
    machine: int
    duplicates: int
    quarantined: int
    erased: int  # letters an erased person sent before their erasure: nothing of them kept
    case_ids: tuple[int, ...]
    item_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Progress:
    done_bytes: int
    total_bytes: int
    messages: int


@dataclass(frozen=True, slots=True)
class IntakeItemInfo:
    id: int
    state: str
    reason: str | None
    source: str | None
    created_at: datetime
    resolved_at: datetime | None
    resolved_case_id: int | None
    version: int
    message_id: int | None
    from_address: str | None
    subject: str | None
    received_at: datetime | None
    raw_size: int | None
    #: An unmatched letter's case (no customer yet): its kind, and the deadline running since
    #: receipt; None for quarantined mail, which waits first in the tray.
    case_id: int | None = None
    kind: CaseKind | None = None
    due_at: datetime | None = None
    days_left: int | None = None
    overdue: bool = False


@dataclass(frozen=True, slots=True)
class IntakeItemDetail:
    item: IntakeItemInfo
    to_address: str | None
    body: str | None
    attachments: tuple[AttachmentInfo, ...]
    #: For an unmatched letter: what the rules read in it (kind, phrases, reminder ...).
    suggestion: dict[str, Any] | None
    #: For a quarantined message: its first characters, undecodable bytes replaced.
    raw_preview: str | None


@dataclass(frozen=True, slots=True)
class ReprocessResult:
    filed: int
    still_quarantined: int
    item_ids: tuple[int, ...]


# --- import --------------------------------------------------------------------------------------

def import_paths(
    desk: Desk,
    *,
    paths: Iterable[str | os.PathLike[str]],
    progress: Callable[[Progress], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportResult:
    """Import every message under ``paths``; ``progress`` is called after each batch.

    Each batch is one unit of work, which checks the agent first: an agent who may not import
    is refused before anything is written, without a unit of work of its own (at most one
    batch is read in vain). An import that finds no mail still checks the agent.
    """
    found = discover(paths)
    total = sum(src.size for src in found)
    counts = Counts()
    batch: list[Prepared] = []
    done, committed = 0, False
    for src in found:
        position = 0
        for raw in read(src, desk.settings.tz):
            batch.append(prepare(raw))
            position = raw.consumed
            if len(batch) >= batch_size:
                _commit(desk, batch, counts)
                batch, committed = [], True
                if progress:
                    progress(Progress(done + position, total, counts.seen))
        done += src.size
    if batch:
        _commit(desk, batch, counts)
    elif not committed:
        with desk.db.session() as s:
            desk.actor(s)
    if progress:
        progress(Progress(total, total, counts.seen))
    return ImportResult(
        sources=len(found), seen=counts.seen, imported=counts.imported,
        new_cases=counts.new_cases, threaded=counts.threaded, unmatched=counts.unmatched,
        machine=counts.machine, duplicates=counts.duplicates, quarantined=counts.quarantined,
        erased=counts.erased, case_ids=tuple(counts.case_ids), item_ids=tuple(counts.item_ids),
    )


def _commit(desk: Desk, batch: list[Prepared], counts: Counts) -> None:
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            with desk.db.session(write=True) as s:
                importer = BatchImporter(s, desk, desk.actor(s))
                importer.run(batch)
        except Conflict:
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            continue
        counts.add(importer.counts)
        return


# --- reading items -------------------------------------------------------------------------------

def _info(item: IntakeItem, message: Message | None, case: Case | None, desk: Desk
          ) -> IntakeItemInfo:
    waiting = case is not None and item.state == UNMATCHED and case.closed_at is None
    now, tz = desk.now(), desk.settings.tz
    return IntakeItemInfo(
        id=item.id or 0, state=item.state, reason=item.reason, source=item.source,
        created_at=item.created_at, resolved_at=item.resolved_at,
        resolved_case_id=item.resolved_case_id, version=item.version,
        message_id=item.message_id,
        from_address=message.from_address if message else None,
        subject=message.subject if message else None,
        received_at=message.at if message else None,
        raw_size=len(item.raw) if item.raw is not None else None,
        case_id=case.id if case else None,
        kind=CaseKind(case.kind) if case else None,
        due_at=case.due_at if waiting and case else None,
        days_left=clock.days_left(case.due_at, now, tz) if waiting and case else None,
        overdue=waiting and case is not None and clock.is_overdue(case.due_at, now),
    )


def _parse_state(state: str | None) -> tuple[str, ...]:
    if state in (None, "open"):
        return OPEN_STATES
    if state == "all":
        return ITEM_STATES
    if state not in ITEM_STATES:
        raise Invalid(f"unknown state '{state}'; states are: open, all, {', '.join(ITEM_STATES)}",
                      field="state")
    return (state,)


def list_items(
    desk: Desk, *, state: str | None = "open", cursor: str | None = None,
    limit: int = cases.DEFAULT_PAGE,
) -> Page[IntakeItemInfo]:
    """Items in ``state`` ("open" = unmatched and quarantined), most urgent first: quarantined
    mail (nobody knows yet what it asks) by import time, then unmatched letters by the
    deadline their case runs to; keyset-paged."""
    states = _parse_state(state)
    limit = max(1, min(limit, cases.MAX_PAGE))
    urgency = sa.func.coalesce(col(Case.due_at), col(IntakeItem.created_at))
    after: tuple[datetime, int] | None = None
    if cursor:
        try:
            at, _, item_id = cursor.partition("|")
            after = (clock.as_utc(datetime.fromisoformat(at)), int(item_id))
        except (ValueError, TypeError):
            raise Invalid("that page cursor is not one the desk produced", field="cursor") from None
    with desk.db.session() as s:
        desk.actor(s)
        query = (
            select(IntakeItem, Message, Case)
            .join(Message, col(Message.id) == col(IntakeItem.message_id), isouter=True)
            .join(Case, col(Case.id) == col(Message.case_id), isouter=True)
            .where(col(IntakeItem.state).in_(states))
        )
        if after is not None:
            at_param = sa.literal(after[0], type_=Case.__table__.c.due_at.type)
            query = query.where(sa.or_(urgency > at_param, sa.and_(
                urgency == at_param, col(IntakeItem.id) > after[1])))
        rows = s.exec(query.order_by(urgency, col(IntakeItem.id)).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = None
        if more and rows:
            item, _, case = rows[-1]
            key = case.due_at if case is not None else item.created_at
            next_cursor = f"{clock.as_utc(key).isoformat()}|{item.id}"
        return Page(items=tuple(_info(i, m, c, desk) for i, m, c in rows),
                    next_cursor=next_cursor)


def _load_item(s: Session, item_id: int, expected_version: int | None = None) -> IntakeItem:
    item = get_for_change(s, IntakeItem, item_id)
    if item is None:
        raise NotFound(f"no intake item #{item_id}")
    if expected_version is not None and item.version != expected_version:
        raise Conflict(f"intake item #{item_id} was changed by someone else since you opened it "
                       f"(it is now {item.state}); reload to see the change")
    return item


def _detail(s: Session, desk: Desk, item: IntakeItem) -> IntakeItemDetail:
    message = s.get(Message, item.message_id) if item.message_id else None
    case = s.get(Case, message.case_id) if message and message.case_id else None
    attachments: tuple[AttachmentInfo, ...] = ()
    suggestion = None
    if message is not None:
        attachments = tuple(cases.attachment_infos(s, [message.id or 0]).get(
            message.id or 0, ()))
        if item.state == UNMATCHED and case is not None:
            suggestion = case.classification
    return IntakeItemDetail(
        item=_info(item, message, case, desk),
        to_address=message.to_address if message else None,
        body=message.body if message else None,
        attachments=attachments,
        suggestion=suggestion,
        raw_preview=item.raw[:RAW_PREVIEW].decode("utf-8", "replace") if item.raw else None,
    )


def get_item(desk: Desk, item_id: int) -> IntakeItemDetail:
    """One item with its letter. Reading it is a view of personal data, so it is audited."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        item = _load_item(s, item_id)
        audit.record(s, desk, actor, "intake.view", "intake_item", item.id)
        return _detail(s, desk, item)


# --- working items -------------------------------------------------------------------------------

def _unmatched(s: Session, item_id: int, expected_version: int | None) -> tuple[IntakeItem,
                                                                               Message]:
    item = _load_item(s, item_id, expected_version)
    if item.state != UNMATCHED or item.message_id is None:
        raise Invalid(f"intake item #{item_id} is {item.state}; only unmatched mail can be "
                      "linked to a customer", field="item")
    message = s.get(Message, item.message_id)
    if message is None:  # the message was erased meanwhile
        raise Conflict(f"the message of intake item #{item_id} no longer exists")
    return item, message


def _file(s: Session, desk: Desk, actor: Agent, item: IntakeItem, message: Message,
          customer_id: int) -> None:
    """File an unmatched letter for a customer. Its case, open since import, gets the customer
    and keeps its receipt time and clock; a letter that chases one of the customer's open
    requests joins that request instead (flagged there, its clock untouched)."""
    importer = BatchImporter(s, desk, actor)
    case = s.get(Case, message.case_id) if message.case_id else None
    result = classify(message.subject, message.body,
                      received=clock.local_date(message.at, desk.settings.tz))
    earlier = importer.reminded(customer_id, result, message.at) if result.reminder else None
    if case is None:  # an unmatched letter imported before letters had a case of their own
        case_id = earlier or importer.open_case(customer_id, message.subject, result,
                                                message.at, "earlier import", [])
        message.case_id = case_id
    elif earlier is not None:
        s.exec(sa.update(Message).where(col(Message.case_id) == case.id)
               .values(case_id=earlier))  # type: ignore[call-overload]
        _close(s, desk, actor, case, f"reminder of case #{earlier}: its letters moved there")
        case.related_case_id = earlier
        case_id = earlier
    else:
        case.customer_id = customer_id
        case.updated_at = desk.now()
        s.add(case)
        s.add(CaseEvent(case_id=case.id, at=desk.now(), actor_id=actor.id, action="linked",
                        to_value=f"customer #{customer_id}",
                        note="received and due dates kept from the letter's receipt"))
        case_id = case.id or 0
    if earlier is not None:
        importer.joined(earlier, "reminder")
        importer.remind(earlier, message.at)
    importer.write()
    item.state = DONE
    item.resolved_at = desk.now()
    item.resolved_case_id = case_id
    s.add(message)
    s.add(item)
    s.flush()


def _close(s: Session, desk: Desk, actor: Agent, case: Case, outcome: str) -> None:
    old = case.status
    case.status = CaseStatus.CLOSED
    case.closed_at = desk.now()
    case.outcome = outcome
    case.updated_at = desk.now()
    s.add(case)
    s.add(CaseEvent(case_id=case.id, at=desk.now(), actor_id=actor.id, action="status",
                    from_value=old, to_value=CaseStatus.CLOSED.value, note=outcome))


def link(
    desk: Desk, *, item_id: int, customer_id: int, expected_version: int | None = None,
    add_email: bool = False,
) -> IntakeItemDetail:
    """File an unmatched letter under an existing customer (a new case, or the open request
    it reminds us of). ``add_email`` also records the sender's address on the customer."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        item, message = _unmatched(s, item_id, expected_version)
        customer = customer_service.load(s, customer_id)
        if customer.erased_at is not None:
            raise Conflict(f"customer #{customer_id} has been erased")
        if add_email:
            if not message.from_address:
                raise Invalid("this letter has no sender address to add", field="add_email")
            shown, key = normalize_email(message.from_address)
            owner = s.exec(select(CustomerEmail.customer_id)
                           .where(CustomerEmail.normalized == key)).first()
            if owner is None:
                s.add(CustomerEmail(customer_id=customer_id, address=shown, normalized=key,
                                    created_at=desk.now()))
                suppression.guard_customer(s, desk, actor, customer, [key])
                customer.updated_at = desk.now()
                s.add(customer)
                audit.record(s, desk, actor, "customer.email_add", "customer", customer_id,
                             source="intake")
            elif owner != customer_id:
                raise Conflict(f"{shown} already belongs to customer #{owner}", field="email")
        _file(s, desk, actor, item, message, customer_id)
        audit.record(s, desk, actor, "intake.link", "intake_item", item.id,
                     customer_id=customer_id, case_id=item.resolved_case_id)
        return _detail(s, desk, item)


def new_customer(
    desk: Desk, *, item_id: int, name: str | None = None, expected_version: int | None = None,
) -> IntakeItemDetail:
    """Create a customer from an unmatched letter's sender and file the letter for them.

    Only what the request needs is recorded: the sender's address and the name the agent
    gives (never the display name from the mail). A suppressed address (opted out or erased
    before) comes back opted out of marketing, so writing to us again never re-subscribes
    anyone.
    """
    cleaned = clean_text(name, field="name")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        item, message = _unmatched(s, item_id, expected_version)
        if not message.from_address:
            raise Invalid("this letter has no usable sender address; link it to an existing "
                          "customer instead", field="item")
        shown, key = normalize_email(message.from_address)
        owner = s.exec(select(CustomerEmail.customer_id)
                       .where(CustomerEmail.normalized == key)).first()
        if owner is not None:
            raise Conflict(f"{shown} already belongs to customer #{owner}; link the item to "
                           "that customer instead", field="email")
        now = desk.now()
        customer = Customer(name=cleaned, created_at=now, updated_at=now)
        s.add(customer)
        s.flush()
        s.add(CustomerEmail(customer_id=customer.id, address=shown, normalized=key,
                            is_primary=True, created_at=desk.now()))
        suppressed = suppression.guard_customer(s, desk, actor, customer, [key])
        audit.record(s, desk, actor, "customer.create", "customer", customer.id, emails=1,
                     source="intake", suppressed=suppressed)
        _file(s, desk, actor, item, message, customer.id or 0)
        audit.record(s, desk, actor, "intake.new_customer", "intake_item", item.id,
                     customer_id=customer.id, case_id=item.resolved_case_id)
        return _detail(s, desk, item)


def dismiss(
    desk: Desk, *, item_id: int, reason: str, expected_version: int | None = None,
) -> IntakeItemDetail:
    """Close an unmatched letter that asks the desk nothing (spam, a misdirected mail): its
    case is closed with the reason, the letter kept."""
    why = clean_text(reason, field="reason", required=True)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        item, message = _unmatched(s, item_id, expected_version)
        case = s.get(Case, message.case_id) if message.case_id else None
        if case is not None and case.closed_at is None:
            _close(s, desk, actor, case, f"not a request: {why}")
        item.state = DONE
        item.reason = f"dismissed: {why}"
        item.resolved_at = desk.now()
        item.resolved_case_id = case.id if case else None
        s.add(item)
        s.flush()
        audit.record(s, desk, actor, "intake.dismiss", "intake_item", item.id,
                     case_id=item.resolved_case_id)
        return _detail(s, desk, item)


def reprocess(
    desk: Desk, *, item_id: int, expected_version: int | None = None, lenient: bool = False,
) -> IntakeItemDetail:
    """Read a quarantined message again (after an upgrade, or ``lenient``: over-size mail
    imported truncated). It is filed like a freshly imported one, or stays quarantined with
    the current reason."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        item = _load_item(s, item_id, expected_version)
        if item.state != QUARANTINED or item.raw is None:
            raise Invalid(f"intake item #{item_id} is {item.state}; only quarantined mail is "
                          "re-processed", field="item")
        raw = RawMessage(item.raw, item.source or "", len(item.raw))
        prepared = prepare(raw, lenient=lenient)
        importer = BatchImporter(s, desk, actor)
        if prepared.mail is None:
            item.reason = prepared.problem
            s.add(item)
        elif importer.duplicate(prepared.mail):
            item.state = DONE
            item.reason = "already imported from another copy of the same message"
            item.resolved_at = desk.now()
            item.raw = None
            s.add(item)
        else:
            importer.load([prepared])
            importer.take(prepared.mail, raw, item=item)
            importer.write()
        s.flush()
        audit.record(s, desk, actor, "intake.reprocess", "intake_item", item.id,
                     state=item.state, lenient=lenient)
        return _detail(s, desk, item)


def reprocess_all(desk: Desk, *, lenient: bool = False) -> ReprocessResult:
    """Re-process every quarantined item, each in its own unit of work."""
    with desk.db.session() as s:
        desk.actor(s)
        ids = s.exec(select(IntakeItem.id).where(IntakeItem.state == QUARANTINED)
                     .order_by(col(IntakeItem.id))).all()
    filed = 0
    for item_id in ids:
        if reprocess(desk, item_id=item_id or 0, lenient=lenient).item.state != QUARANTINED:
            filed += 1
    return ReprocessResult(filed=filed, still_quarantined=len(ids) - filed,
                           item_ids=tuple(i or 0 for i in ids))


def confirm_kind(
    desk: Desk, *, case_id: int, kind: CaseKind | str | None = None,
    expected_version: int | None = None,
) -> CaseDetail:
    """The agent confirms the suggested kind, or changes it. The clock runs from the same
    receipt time for that kind and the other requests the letter makes; the candidates of an
    unsure reading no longer count (a supervisor's override, if any, stays in force)."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = cases.load_for_change(s, case_id, expected_version)
        chosen = cases.parse_kind(kind or case.suggested_kind or case.kind)
        old = CaseKind(case.kind)
        stored = case.classification or {}
        if chosen is not old or stored.get("needs_person"):
            others = stored_clock_kinds(chosen.value, {"others": stored.get("others")})
            deadline, _ = policy.deadline_for(s, desk, chosen, case.received_at, also=others)
            case.kind = chosen
            policy.apply_deadline(case, deadline)
            case.dispute_stage = DisputeStage.RECEIVED if chosen is CaseKind.DISPUTE else None
        case.classification = {**stored, "confirmed": True, "confirmed_kind": chosen.value,
                               "needs_person": False}
        case.updated_at = desk.now()
        s.add(case)
        s.add(CaseEvent(case_id=case.id, at=desk.now(), actor_id=actor.id, action="kind",
                        from_value=old.value, to_value=chosen.value))
        s.flush()
        audit.record(s, desk, actor, "case.kind", "case", case.id, kind=chosen.value,
                     suggested=case.suggested_kind, changed=chosen is not old)
        return cases.detail(s, desk, case)
