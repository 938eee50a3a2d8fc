"""Erasure ("delete my information", policy Part III), done so that it can be proven.

What goes: the customer's identifying fields, e-mail addresses, products, and, in every case of
theirs, message bodies, subjects, senders and recipients, attachment contents and file names,
internal notes and case-history notes, the raw mail the importer kept, and the search rows.
What stays: ids, kinds, dates, outcomes and agents (the accountability part), a ledger row with
keyed hashes of every address (:class:`~helpdesk.db.models.Erasure`), suppression entries (so the
person is never marketed to again), and one archive checklist row per configured archive system.

Physical removal: SQLite runs with ``secure_delete`` (freed pages are zeroed); after the commit
the two FTS5 indexes are optimised (old trigram segments rewritten) and the WAL is checkpointed
and truncated, so the old text is in neither the main file nor the ``-wal`` file. On PostgreSQL
the rows are deleted or overwritten in the transaction, but the old row versions stay in the
table files until (auto)VACUUM reclaims them; VACUUM cannot run inside a transaction, so the
ledger records that step as left to the database's maintenance (``steps['physical']``).

Idempotent: a second request for an erased customer is a success that changes nothing. The ledger
records id watermarks taken at the request, so a re-application after a restore
(:func:`reapply_ledger`) never touches anything created after the request.

Roles: executing an erasure is open to every agent (it is the customer's right and the policy's
promise); marking archive copies "beyond use" or "purged" is supervisor-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from helpdesk.db.engine import BUSY_TIMEOUT_MS
from helpdesk.db.models import (
    Agent,
    ArchiveCheck,
    Attachment,
    Case,
    CaseEvent,
    ConsentEvent,
    Customer,
    CustomerEmail,
    CustomerProduct,
    Erasure,
    IntakeItem,
    Message,
    PolicyVersion,
)
from helpdesk.domain import Role, SuppressionReason
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import answers, audit, cases, customers, policy, suppression
from helpdesk.services.context import Desk


class ArchiveStatus(StrEnum):
    PENDING = "pending"
    BEYOND_USE = "beyond_use"  # kept, but put beyond use: nobody restores or reads it
    PURGED = "purged"


CHECKPOINT_WAIT_MS = 2_000
COMPLETE = "complete"
PARTIAL = "partial"

#: Tables whose ids bound what an erasure (or its re-application) may touch.
_WATERMARKS: dict[str, Any] = {
    "support_case": Case.id,
    "message": Message.id,
    "case_event": CaseEvent.id,
    "customer_email": CustomerEmail.id,
    "customer_product": CustomerProduct.id,
    "attachment": Attachment.id,
    "intake_item": IntakeItem.id,
    "consent_event": ConsentEvent.id,
}


@dataclass(frozen=True, slots=True)
class ArchiveCheckInfo:
    id: int
    system: str
    status: str
    by_name: str | None
    at: datetime | None
    version: int


@dataclass(frozen=True, slots=True)
class ErasureInfo:
    """The tombstone: what was erased and how, with no personal data."""

    id: int
    customer_id: int
    case_id: int | None
    status: str  # complete / partial
    requested_at: datetime
    completed_at: datetime | None
    email_hashes: tuple[str, ...]
    case_ids: tuple[int, ...]
    steps: dict[str, Any]
    archives: tuple[ArchiveCheckInfo, ...]
    already_erased: bool  # True when this call found the erasure done and changed nothing


def _info(s: Session, row: Erasure, *, already: bool) -> ErasureInfo:
    checks = s.exec(
        select(ArchiveCheck, Agent.name)
        .join(Agent, col(Agent.id) == col(ArchiveCheck.by_id), isouter=True)
        .where(ArchiveCheck.erasure_id == row.id).order_by(col(ArchiveCheck.id))
    ).all()
    return ErasureInfo(
        id=row.id or 0, customer_id=row.customer_id, case_id=row.case_id, status=row.status,
        requested_at=row.requested_at, completed_at=row.completed_at,
        email_hashes=tuple(row.email_hashes), case_ids=tuple(row.steps.get("case_ids", ())),
        steps=dict(row.steps),
        archives=tuple(ArchiveCheckInfo(id=c.id or 0, system=c.system, status=c.status,
                                        by_name=name, at=c.at, version=c.version)
                       for c, name in checks),
        already_erased=already,
    )


def _ledger_for(s: Session, customer_id: int) -> Erasure | None:
    return s.exec(select(Erasure).where(Erasure.customer_id == customer_id)
                  .order_by(col(Erasure.id).desc()).limit(1)).first()


def erase(desk: Desk, *, customer_id: int, case_id: int) -> ErasureInfo:
    """Erase a customer under the deletion request ``case_id`` (any agent)."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = cases.load(s, case_id)
        if case.customer_id != customer_id:
            raise Invalid(f"case #{case_id} is not a request of customer #{customer_id}",
                          field="case")
        customer = customers.load(s, customer_id)
        ledger = _ledger_for(s, customer_id)
        if customer.erased_at is not None and ledger is not None and ledger.status == COMPLETE:
            audit.record(s, desk, actor, "erasure.repeat", "erasure", ledger.id,
                         customer_id=customer_id, case_id=case_id)
            return _info(s, ledger, already=True)
        if ledger is None or customer.erased_at is None:
            marks = {name: s.exec(select(func.max(column))).one() or 0
                     for name, column in _WATERMARKS.items()}
            hashes = [suppression.email_hash(desk, k) for k in s.exec(
                select(CustomerEmail.normalized)
                .where(CustomerEmail.customer_id == customer_id)).all()]
            ledger = Erasure(customer_id=customer_id, case_id=case_id, email_hashes=hashes,
                             requested_at=desk.now(), status=PARTIAL,
                             steps={"watermarks": marks}, agent_id=actor.id)
            s.add(ledger)
            s.flush()
            steps = _erase_rows(s, desk, actor, customer, ledger)
            ledger.steps = {**ledger.steps, **steps}
            for system in desk.settings.archive_systems:
                s.add(ArchiveCheck(erasure_id=ledger.id or 0, system=system,
                                   status=ArchiveStatus.PENDING.value))
            cases._event(s, desk, case, actor, "erasure", to_value=f"ledger {ledger.id}")
            audit.record(s, desk, actor, "erasure.execute", "erasure", ledger.id,
                         customer_id=customer_id, case_id=case_id, addresses=len(hashes),
                         **{k: v for k, v in steps.items() if isinstance(v, int)})
            s.add(ledger)
            s.flush()
        ledger_id = ledger.id or 0
    physical = _physical_cleanup(desk)
    with desk.db.session(write=True) as s:
        row = s.get(Erasure, ledger_id)
        assert row is not None
        row.steps = {**row.steps, "physical": physical["note"]}
        row.status = COMPLETE if physical["ok"] else PARTIAL
        row.completed_at = desk.now() if physical["ok"] else None
        s.add(row)
        s.flush()
        return _info(s, row, already=False)


def _erase_rows(
    s: Session, desk: Desk, actor: Agent | None, customer: Customer, ledger: Erasure,
) -> dict[str, Any]:
    """Remove the identifying part of everything the ledger row covers; returns the counts."""
    recorded = ledger.steps.get("watermarks", {})
    marks = {name: int(recorded.get(name, 0)) for name in _WATERMARKS}
    cid = customer.id or 0
    suppression.suppress_customer_emails(s, desk, actor, cid, reason=SuppressionReason.ERASURE,
                                         source=f"erasure {ledger.id}")
    for digest in ledger.email_hashes:  # addresses already gone from the row stay suppressed too
        suppression.add(s, actor, digest=digest, reason=SuppressionReason.ERASURE,
                        source=f"erasure {ledger.id}", now=desk.now())
    case_ids = list(s.exec(select(Case.id).where(Case.customer_id == cid,
                                                  col(Case.id) <= marks["support_case"])))
    case_ids = sorted(set(case_ids) | set(ledger.steps.get("case_ids", ())))
    keys = list(s.exec(select(CustomerEmail.normalized).where(
        CustomerEmail.customer_id == cid, col(CustomerEmail.id) <= marks["customer_email"])))
    steps: dict[str, Any] = {"case_ids": case_ids}

    msg_filter = col(Message.case_id).in_(case_ids)
    if keys:  # unfiled letters from the person (intake queue) carry their address too
        msg_filter = sa.or_(msg_filter, sa.func.lower(col(Message.from_address)).in_(keys))
    message_ids = list(s.exec(select(Message.id).where(
        msg_filter, col(Message.id) <= marks["message"])))
    steps["messages"] = _update(s, Message, col(Message.id).in_(message_ids), {
        "from_address": None, "to_address": None, "subject": None, "body": None,
        "redacted_at": desk.now()})
    steps["attachments"] = _update(s, Attachment, sa.and_(
        col(Attachment.message_id).in_(message_ids),
        col(Attachment.id) <= marks["attachment"]), {"filename": None, "content": None})
    steps["intake_items"] = _update(s, IntakeItem, sa.and_(
        sa.or_(col(IntakeItem.message_id).in_(message_ids),
               col(IntakeItem.resolved_case_id).in_(case_ids)),
        col(IntakeItem.id) <= marks["intake_item"]), {"raw": None, "source": None,
                                                      "reason": None})
    steps["case_notes"] = _update(s, CaseEvent, sa.and_(
        col(CaseEvent.case_id).in_(case_ids), col(CaseEvent.id) <= marks["case_event"],
        col(CaseEvent.note).is_not(None)), {"note": None})
    steps["consent_notes"] = _update(s, ConsentEvent, sa.and_(
        ConsentEvent.customer_id == cid, col(ConsentEvent.id) <= marks["consent_event"],
        col(ConsentEvent.note).is_not(None)), {"note": None})
    for c in s.exec(select(Case).where(col(Case.id).in_(case_ids))):
        quoted = bool(c.classification and c.classification.get("phrase"))
        if c.subject is not None or c.override_reason is not None or quoted:
            c.subject = None
            c.override_reason = None
            if quoted:  # the classifier quotes the letter's own words
                c.classification = {**(c.classification or {}), "phrase": None}
            s.add(c)
    steps["emails"] = _delete(s, CustomerEmail, sa.and_(
        CustomerEmail.customer_id == cid, col(CustomerEmail.id) <= marks["customer_email"]))
    steps["products"] = _delete(s, CustomerProduct, sa.and_(
        CustomerProduct.customer_id == cid,
        col(CustomerProduct.id) <= marks["customer_product"]))
    for field in ("name", "phone", "company", "billing_address", "shipping_address"):
        setattr(customer, field, None)
    customer.marketing_opted_out = True
    customer.erased_at = customer.erased_at or desk.now()
    customer.erasure_id = ledger.id
    customer.updated_at = desk.now()
    s.add(customer)
    s.flush()
    return steps


def _update(s: Session, model: Any, where: Any, values: dict[str, Any]) -> int:
    result = s.execute(sa.update(model).where(where).values(**values)
                       .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _delete(s: Session, model: Any, where: Any) -> int:
    result = s.execute(sa.delete(model).where(where)
                       .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _physical_cleanup(desk: Desk) -> dict[str, Any]:
    """Make sure the erased text is gone from the files, not just from the rows."""
    if desk.db.backend != "sqlite":
        return {"ok": True, "note": "rows removed in the transaction; old row versions remain "
                "in PostgreSQL table files until (auto)VACUUM reclaims them"}
    with desk.db.engine.execution_options(helpdesk_write=True).begin() as conn:
        for table in ("customer_fts", "customer_prefix"):
            conn.exec_driver_sql(f"INSERT INTO {table}({table}) VALUES ('optimize')")
    raw = desk.db.engine.raw_connection()  # a checkpoint must run outside any transaction
    cur = raw.cursor()
    try:
        # wait briefly for readers: a desk still reading makes this step partial, not slow
        cur.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
        busy, _, _ = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        raw.close()
    if busy:
        return {"ok": False, "note": "search index optimised; the write-ahead log could not be "
                "truncated while another desk was reading: run the erasure again to finish"}
    return {"ok": True, "note": "search index optimised; write-ahead log checkpointed and "
            "truncated; freed pages zeroed (secure_delete)"}


def reapply_ledger(desk: Desk) -> list[int]:
    """Erase again every customer the ledger says is erased but whose data is back (after a
    restore from backup). Returns the customer ids re-erased; only rows inside each entry's
    watermarks are touched."""
    redone: list[int] = []
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        for row in s.exec(select(Erasure).order_by(col(Erasure.id))).all():
            customer = s.get(Customer, row.customer_id)
            if customer is None or not _data_present(s, customer, row):
                continue
            _erase_rows(s, desk, actor, customer, row)
            redone.append(customer.id or 0)
            audit.record(s, desk, actor, "erasure.reapply", "erasure", row.id,
                         customer_id=customer.id)
    if redone:
        _physical_cleanup(desk)
    return redone


def _data_present(s: Session, customer: Customer, row: Erasure) -> bool:
    if customer.erased_at is None or any(
            getattr(customer, f) for f in ("name", "phone", "company", "billing_address",
                                           "shipping_address")):
        return True
    marks = row.steps.get("watermarks", {})
    email = s.exec(select(CustomerEmail.id).where(
        CustomerEmail.customer_id == customer.id,
        col(CustomerEmail.id) <= marks.get("customer_email", 0))).first()
    case_ids = row.steps.get("case_ids", [])
    body = s.exec(select(Message.id).where(
        col(Message.case_id).in_(case_ids), col(Message.body).is_not(None),
        col(Message.id) <= marks.get("message", 0))).first()
    return email is not None or body is not None


def get(desk: Desk, *, erasure_id: int | None = None, customer_id: int | None = None
        ) -> ErasureInfo:
    with desk.db.session() as s:
        desk.actor(s)
        row = s.get(Erasure, erasure_id) if erasure_id is not None else (
            _ledger_for(s, customer_id) if customer_id is not None else None)
        if row is None:
            raise NotFound("no erasure on record for that " +
                           ("ledger id" if erasure_id is not None else "customer"))
        return _info(s, row, already=False)


def mark_archive(
    desk: Desk, *, check_id: int, status: ArchiveStatus | str,
    expected_version: int | None = None,
) -> ErasureInfo:
    """Record that an archive copy was put beyond use or purged (supervisors only)."""
    try:
        new = ArchiveStatus(status)
    except ValueError:
        raise Invalid("status must be 'beyond_use' or 'purged'", field="status") from None
    if new is ArchiveStatus.PENDING:
        raise Invalid("an archive check cannot go back to pending", field="status")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        check = s.get(ArchiveCheck, check_id)
        if check is None:
            raise NotFound(f"no archive check #{check_id}")
        if expected_version is not None and check.version != expected_version:
            raise Conflict(f"archive check #{check_id} was changed by someone else; reload")
        if check.status == ArchiveStatus.PURGED and new is ArchiveStatus.BEYOND_USE:
            raise Invalid("that archive copy is already purged", field="status")
        check.status, check.by_id, check.at = new.value, actor.id, desk.now()
        s.add(check)
        s.flush()
        audit.record(s, desk, actor, "erasure.archive_mark", "archive_check", check.id,
                     erasure_id=check.erasure_id, system=check.system, status=new.value)
        row = s.get(Erasure, check.erasure_id)
        assert row is not None
        return _info(s, row, already=False)


def completion_letter(desk: Desk, *, erasure_id: int) -> str:
    """The letter telling the customer their data is erased and, plainly, what remains.

    What the policy says about archive copies is quoted from the version in force when the
    request was made; the archive systems and their status come from the checklist.
    """
    with desk.db.session() as s:
        desk.actor(s)
        row = s.get(Erasure, erasure_id)
        if row is None:
            raise NotFound(f"no erasure #{erasure_id}")
        info = _info(s, row, already=False)
        version: PolicyVersion | None = policy.in_force(s, row.requested_at, desk)
        words = answers.TOPIC_WORDS[answers.Topic.ARCHIVES]
        quoted = answers.sentences(version.text, *words) if version else []
    day = info.requested_at.astimezone(desk.settings.tz).date().isoformat()
    lines = [
        "Dear customer,",
        "",
        f"As you asked on {day}, we have deleted your personal information from our live "
        "database: your name, contact details, e-mail addresses, purchase and registration "
        "records, and the contents of your messages to us.",
        "",
        "We keep a record that the deletion happened, with no personal details in it, and we "
        "keep your e-mail address only in a scrambled (hashed) form so that we never send you "
        "marketing again.",
    ]
    if quoted:
        lines += ["", "As our privacy policy says:", *(f'  "{q}"' for q in quoted)]
    if info.archives:
        lines += ["", "Copies may remain in these archive systems:"]
        for check in info.archives:
            state = {"pending": "still held; it will be put beyond use",
                     "beyond_use": "held but put beyond use (no one can restore or read it)",
                     "purged": "deleted"}[check.status]
            lines.append(f"  - {check.system}: {state}")
    elif quoted:
        lines += ["", "We hold no archive copies beyond our live database."]
    if info.status != COMPLETE:
        lines += ["", "One technical clean-up step is still running; we will confirm once it "
                  "is finished."]
    lines += ["", "Kind regards,", "The support desk"]
    return "\n".join(lines)
