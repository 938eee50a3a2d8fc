"""Erasure ("delete my information", policy Part III), done so that it can be proven.

What goes: the customer's identifying fields, e-mail addresses, products, and, in every case of
theirs, message bodies, subjects, senders and recipients, attachment contents and file names,
internal notes and case-history notes, the raw mail the importer kept, the old and new values
of the record's change history, and the search rows.
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

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, func, select

from helpdesk.db.engine import BUSY_TIMEOUT_MS
from helpdesk.db.models import (
    Agent,
    ArchiveCheck,
    Attachment,
    BackupCopy,
    Case,
    CaseEvent,
    ConsentEvent,
    Customer,
    CustomerEmail,
    CustomerProduct,
    Disclosure,
    ErasedAddress,
    Erasure,
    FieldChange,
    IntakeItem,
    Message,
    PolicyVersion,
)
from helpdesk.db.search import SQLITE_INDEX
from helpdesk.domain import CaseKind, Role, SuppressionReason
from helpdesk.errors import Busy, Conflict, Forbidden, Invalid, NotFound
from helpdesk.intake.classify import without_quotes
from helpdesk.intake.importer import DONE
from helpdesk.services import answers, audit, cases, policy, suppression, traces, verification
from helpdesk.services.context import Desk


class ArchiveStatus(StrEnum):
    PENDING = "pending"
    BEYOND_USE = "beyond_use"  # kept, but put beyond use: nobody restores or reads it
    PURGED = "purged"


CHECKPOINT_WAIT_MS = 2_000
#: Case history actions that put the person's data in a file outside the desk.
COPIES_OUTSIDE = ("attachment_saved", "forwarded")
COMPACT_WAIT_S = 30
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
    "field_change": FieldChange.id,
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

    @property
    def left(self) -> dict[str, list[int]]:
        """Where the final scan still found the person ("table.column" -> row ids)."""
        return dict(self.steps.get("left", {}))

    @property
    def backups(self) -> tuple[BackupHolding, ...]:
        """Backups made before the erasure that still hold the person until they expire."""
        return backups_holding(self.steps)

    @property
    def copies(self) -> tuple[tuple[str, str], ...]:
        """The desk's own copies of the database and whether the ledger reached them."""
        return tuple((c["file"], c["state"]) for c in self.steps.get("copies", ()))


@dataclass(frozen=True, slots=True)
class BackupHolding:
    id: int
    path: str
    made_at: datetime
    keep_until: datetime


def backups_holding(steps: dict[str, Any]) -> tuple[BackupHolding, ...]:
    """The backups an erasure's steps list as still holding the person, with their dates."""
    return tuple(BackupHolding(id=int(b["id"]), path=str(b["path"]),
                               made_at=datetime.fromisoformat(b["made_at"]),
                               keep_until=datetime.fromisoformat(b["keep_until"]))
                 for b in steps.get("backups", ()))


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


def _lock(s: Session, customer_id: int) -> Customer:
    """The customer row, locked against intake and other desks for the rest of the unit of
    work (PostgreSQL; a SQLite writer holds the whole database already). Taken before anything
    else is read, so everything read after it includes what a concurrent import committed."""
    customer = s.exec(select(Customer).where(Customer.id == customer_id)
                      .with_for_update()).first()
    if customer is None:
        raise NotFound(f"no customer #{customer_id}")
    return customer


def _identity(s: Session, customer: Customer) -> traces.Identity:
    addresses = s.exec(select(CustomerEmail.normalized).where(
        CustomerEmail.customer_id == customer.id).order_by(col(CustomerEmail.id))).all()
    return traces.Identity(addresses=tuple(addresses), name=customer.name, phone=customer.phone)


#: Called inside the erasure's unit of work after the rows are erased and before the commit,
#: with the person's identifiers still in memory (the deletion flow writes its letters here).
BeforeCommit = Callable[[Session, Agent, Erasure, traces.Identity], None]


def erase(
    desk: Desk, *, customer_id: int, case_id: int, before_commit: BeforeCommit | None = None,
) -> ErasureInfo:
    """Erase a customer under the deletion request ``case_id`` (any agent)."""
    with desk.db.session(write=True) as s:
        customer = _lock(s, customer_id)
        actor = desk.actor(s)
        case = cases.load(s, case_id)
        if case.customer_id != customer_id:
            raise Invalid(f"case #{case_id} is not a request of customer #{customer_id}",
                          field="case")
        if case.kind != CaseKind.DELETION:
            raise Invalid(f"case #{case_id} is a {CaseKind(case.kind).label} case: erasure "
                          "runs under a deletion request", field="case")
        verification.require_verified(s, case, action="erasure")
        ledger = _ledger_for(s, customer_id)
        if customer.erased_at is not None and ledger is not None and ledger.status == COMPLETE:
            audit.record(s, desk, actor, "erasure.repeat", "erasure", ledger.id,
                         customer_id=customer_id, case_id=case_id)
            return _info(s, ledger, already=True)
        if ledger is None or customer.erased_at is None:
            identity = _identity(s, customer)
            marks = {name: s.exec(select(func.max(column))).one() or 0
                     for name, column in _WATERMARKS.items()}
            hashes = [suppression.email_hash(desk, k) for k in identity.addresses]
            ledger = Erasure(customer_id=customer_id, case_id=case_id, email_hashes=hashes,
                             requested_at=desk.now(), status=PARTIAL,
                             steps={"watermarks": marks}, agent_id=actor.id)
            s.add(ledger)
            s.flush()
            steps = _erase_rows(s, desk, actor, customer, ledger, identity)
            ledger.steps = {**ledger.steps, **steps,
                            "backups": _backups_holding(s, ledger.requested_at, desk.now())}
            for system in desk.settings.archive_systems:
                s.add(ArchiveCheck(erasure_id=ledger.id or 0, system=system,
                                   status=ArchiveStatus.PENDING.value))
            cases._event(s, desk, case, actor, "erasure", to_value=f"ledger {ledger.id}")
            audit.record(s, desk, actor, "erasure.execute", "erasure", ledger.id,
                         customer_id=customer_id, case_id=case_id, addresses=len(hashes),
                         left=len(steps["left"]),
                         **{k: v for k, v in steps.items() if isinstance(v, int)})
            s.add(ledger)
            s.flush()
            if before_commit is not None:
                before_commit(s, actor, ledger, identity)
        else:  # an earlier run stopped short: what it found left may have been dealt with
            ledger.steps = {**ledger.steps, "left": _still_left(s, ledger.steps.get("left", {}))}
            s.add(ledger)
        ledger_id = ledger.id or 0
    physical = _physical_cleanup(desk)
    copies = _erase_copies(desk)
    with desk.db.session(write=True) as s:
        row = s.get(Erasure, ledger_id)
        assert row is not None
        row.steps = {**row.steps, **physical.steps, "copies": copies}
        done = physical.ok and not row.steps.get("left") and all(
            c["state"] == "erased" for c in copies)
        row.status = COMPLETE if done else PARTIAL
        row.completed_at = desk.now() if done else None
        s.add(row)
        s.flush()
        return _info(s, row, already=False)


def _erase_copies(desk: Desk) -> list[dict[str, str]]:
    """The ledger applied to the desk's own copies of a SQLite database (see backup)."""
    if desk.db.sqlite_path is None:
        return []
    from helpdesk.services import backup  # loads Alembic: only when there is a file to copy

    return backup.erase_desk_copies(desk)


def _backups_holding(s: Session, before: datetime, now: datetime) -> list[dict[str, Any]]:
    """Backups made by ``helpdesk backup`` before the erasure and kept past now: copies that
    still hold the person until they expire (stored in the erasure record)."""
    rows = s.exec(select(BackupCopy).where(
        col(BackupCopy.removed_at).is_(None), col(BackupCopy.made_at) <= before,
        col(BackupCopy.keep_until) > now).order_by(col(BackupCopy.keep_until))).all()
    return [{"id": r.id or 0, "path": r.path, "made_at": r.made_at.isoformat(),
             "keep_until": r.keep_until.isoformat()} for r in rows]


def _sync_addresses(s: Session, ledger: Erasure) -> None:
    """The ledger's address hashes, as rows the importer can look up under its lock."""
    known = set(s.exec(select(ErasedAddress.email_hash)
                       .where(ErasedAddress.erasure_id == ledger.id)).all())
    for digest in dict.fromkeys(ledger.email_hashes):
        if digest not in known:
            s.add(ErasedAddress(erasure_id=ledger.id or 0, email_hash=digest,
                                requested_at=ledger.requested_at))
    s.flush()


def _raw_items(s: Session, addresses: tuple[str, ...], upto: int) -> list[int]:
    """Intake items whose kept raw mail contains one of the addresses (any letter case)."""
    if not addresses:
        return []
    rows = s.exec(select(IntakeItem.id, IntakeItem.raw).where(
        col(IntakeItem.raw).is_not(None), col(IntakeItem.id) <= upto)
        .execution_options(yield_per=100))
    return [item_id for item_id, raw in rows if traces.contains(raw, addresses)]


def _erase_rows(
    s: Session, desk: Desk, actor: Agent | None, customer: Customer, ledger: Erasure,
    identity: traces.Identity,
) -> dict[str, Any]:
    """Remove the identifying part of everything the ledger row covers; returns the counts and
    what the final scan still found (``left``: "table.column" -> row ids)."""
    recorded = ledger.steps.get("watermarks", {})
    marks = {name: int(recorded.get(name, 0)) for name in _WATERMARKS}
    cid = customer.id or 0
    now = desk.now()
    suppression.suppress_customer_emails(s, desk, actor, cid, reason=SuppressionReason.ERASURE,
                                         source=f"erasure {ledger.id}")
    for digest in ledger.email_hashes:  # addresses already gone from the row stay suppressed too
        suppression.add(s, actor, digest=digest, reason=SuppressionReason.ERASURE,
                        source=f"erasure {ledger.id}", now=now)
    _sync_addresses(s, ledger)
    case_ids = list(s.exec(select(Case.id).where(Case.customer_id == cid,
                                                  col(Case.id) <= marks["support_case"])))
    case_ids = sorted(set(case_ids) | set(ledger.steps.get("case_ids", ())))
    keys = list(identity.addresses)
    steps: dict[str, Any] = {"case_ids": case_ids}

    msg_filter = col(Message.case_id).in_(case_ids)
    if keys:  # unfiled letters from the person (intake queue) carry their address too
        msg_filter = sa.or_(msg_filter, sa.func.lower(col(Message.from_address)).in_(keys))
    message_ids = list(s.exec(select(Message.id).where(
        msg_filter, col(Message.id) <= marks["message"])))
    erased_id = sa.literal("<erased.") + sa.cast(col(Message.id), sa.String) + "@erased.invalid>"
    steps["messages"] = _update(s, Message, col(Message.id).in_(message_ids), {
        "from_address": None, "to_address": None, "cc_address": None, "subject": None,
        "body": None,
        "in_reply_to": None, "references": None, "redacted_at": now,
        # Message-IDs are often made from the sender's address; keep them unique, not personal
        "message_id": sa.case((col(Message.message_id).is_(None), None), else_=erased_id)})
    steps["attachments"] = _update(s, Attachment, sa.and_(
        col(Attachment.message_id).in_(message_ids),
        col(Attachment.id) <= marks["attachment"]), {"filename": None, "content": None})
    item_ids = set(s.exec(select(IntakeItem.id).where(
        sa.or_(col(IntakeItem.message_id).in_(message_ids),
               col(IntakeItem.resolved_case_id).in_(case_ids),
               col(IntakeItem.sender_hash).in_(ledger.email_hashes)),
        col(IntakeItem.id) <= marks["intake_item"])))
    item_ids |= set(_raw_items(s, identity.addresses, marks["intake_item"]))
    steps["intake_items"] = _update(s, IntakeItem, col(IntakeItem.id).in_(item_ids), {
        "raw": None, "source": None, "message_id_header": None,
        "reason": f"erased under ledger #{ledger.id}", "resolved_at": sa.func.coalesce(
            col(IntakeItem.resolved_at), now),
        "state": DONE, "version": col(IntakeItem.version) + 1})
    # Attachments saved to files and mail forwarded are copies outside the desk: name them
    # (history events, no paths) before the notes saying where they went are blanked.
    steps["copies_outside"] = list(s.exec(select(CaseEvent.id).where(
        col(CaseEvent.case_id).in_(case_ids),
        col(CaseEvent.action).in_(COPIES_OUTSIDE)).order_by(col(CaseEvent.id))).all())
    steps["case_notes"] = _update(s, CaseEvent, sa.and_(
        col(CaseEvent.case_id).in_(case_ids), col(CaseEvent.id) <= marks["case_event"],
        col(CaseEvent.note).is_not(None)), {"note": None})
    steps["change_values"] = _update(s, FieldChange, sa.and_(
        FieldChange.customer_id == cid, col(FieldChange.id) <= marks["field_change"],
        col(FieldChange.values_erased).is_(False)),
        {"old_value": None, "new_value": None, "values_erased": True})
    steps["consent_notes"] = _update(s, ConsentEvent, sa.and_(
        ConsentEvent.customer_id == cid, col(ConsentEvent.id) <= marks["consent_event"],
        col(ConsentEvent.note).is_not(None)), {"note": None})
    for c in s.exec(select(Case).where(col(Case.id).in_(case_ids))):
        unquoted, quoted = without_quotes(c.classification)  # intake quotes the letter
        if c.subject is not None or c.override_reason is not None or quoted:
            c.subject = None
            c.override_reason = None
            c.classification = unquoted
            s.add(c)
    s.flush()
    own = {
        Case.__tablename__: col(Case.id).in_(case_ids),
        Message.__tablename__: col(Message.id).in_(message_ids),
        Attachment.__tablename__: col(Attachment.message_id).in_(message_ids),
        CaseEvent.__tablename__: col(CaseEvent.case_id).in_(case_ids),
        IntakeItem.__tablename__: col(IntakeItem.id).in_(item_ids),
        **{table: column == cid for table, column in (
            (ConsentEvent.__tablename__, col(ConsentEvent.customer_id)),
            (Disclosure.__tablename__, col(Disclosure.customer_id)),
            (FieldChange.__tablename__, col(FieldChange.customer_id)),
            (CustomerProduct.__tablename__, col(CustomerProduct.customer_id)))},
    }
    steps["emails"] = _delete(s, CustomerEmail, sa.and_(
        CustomerEmail.customer_id == cid, col(CustomerEmail.id) <= marks["customer_email"]))
    steps["products"] = _delete(s, CustomerProduct, sa.and_(
        CustomerProduct.customer_id == cid,
        col(CustomerProduct.id) <= marks["customer_product"]))
    for field in ("name", "phone", "company", "billing_address", "shipping_address"):
        setattr(customer, field, None)
    customer.marketing_opted_out = True
    customer.erased_at = customer.erased_at or now
    customer.erasure_id = ledger.id
    customer.updated_at = now
    s.add(customer)
    s.flush()
    steps["redacted"] = traces.redact(s, identity, customer_id=cid, own=own)
    steps["left"] = _left(s, desk, identity, cid)
    return steps


def _left(s: Session, desk: Desk, identity: traces.Identity, customer_id: int
          ) -> dict[str, list[int]]:
    """The final scan: where the person is still named in the live tables (and the search)."""
    # The document is folded (no accents); the text as written is in its other columns.
    extra = [("customer_search", column, "customer_id") for column in ("doc", "name", "emails")] \
        if desk.db.backend == "postgresql" else []
    left = traces.scan(s, identity, customer_id=customer_id, extra=extra)
    conn = s.connection()
    for address in identity.addresses:
        if any(hit.id == customer_id for hit in desk.search.search(conn, address)):
            left.setdefault("search", [])
    return left


def _still_left(s: Session, left: dict[str, list[int]]) -> dict[str, list[int]]:
    """Of the rows an earlier run could not clear, those whose column still holds text (the
    identifiers themselves are gone by now, so a row counts as dealt with once that column is
    empty or the row is deleted)."""
    tables = {t.name: t for t in SQLModel.metadata.sorted_tables}
    still: dict[str, list[int]] = {}
    for key, ids in left.items():
        table_name, _, column_name = key.partition(".")
        table = tables.get(table_name)
        if table is None or column_name not in table.c or not ids:
            still[key] = list(ids)  # nothing to re-check by id (e.g. the search index)
            continue
        rest = s.execute(sa.select(table.c.id).where(
            table.c.id.in_(ids), table.c[column_name].is_not(None))).scalars().all()
        if rest:
            still[key] = sorted(rest)
    return still


def _update(s: Session, model: Any, where: Any, values: dict[str, Any]) -> int:
    result = s.execute(sa.update(model).where(where).values(**values)
                       .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _delete(s: Session, model: Any, where: Any) -> int:
    result = s.execute(sa.delete(model).where(where)
                       .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Physical:
    ok: bool
    steps: dict[str, Any]  # merged into the ledger row's steps


def _physical_cleanup(desk: Desk) -> Physical:
    """Make sure the erased text is gone from the files, not just from the rows."""
    if desk.db.backend == "postgresql":
        return _vacuum(desk)
    with desk.db.engine.execution_options(helpdesk_write=True).begin() as conn:
        for table, _ in SQLITE_INDEX:  # merge segments: deleted rows leave the index files
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
        return Physical(False, {"physical": "search index optimised; the write-ahead log could "
                                "not be truncated while another desk was reading: run the "
                                "erasure again to finish"})
    return Physical(True, {"physical": "search index optimised; write-ahead log checkpointed "
                           "and truncated; freed pages zeroed (secure_delete)",
                           "physical_at": desk.now().isoformat()})


#: PostgreSQL tables outside the models that hold a person's text (kept by triggers).
PG_DERIVED_TABLES = ("customer_search",)


def vacuum_tables(desk: Desk) -> list[str]:
    """Every table an erasure may rewrite (what VACUUM and ``db compact`` go over)."""
    names = [t.name for t in SQLModel.metadata.sorted_tables
             if t.name not in traces.NEVER_REWRITTEN]
    return names + list(PG_DERIVED_TABLES) if desk.db.backend == "postgresql" else names


def _owns_database(conn: sa.Connection) -> bool:
    return bool(conn.exec_driver_sql(
        "SELECT pg_has_role((SELECT datdba FROM pg_database WHERE datname = "
        "current_database()), 'USAGE') OR (SELECT rolsuper FROM pg_roles WHERE rolname = "
        "current_user)").scalar())


def _maintainable(conn: sa.Connection, tables: list[str]) -> set[str]:
    """Which of ``tables`` this session's role may VACUUM (owner, database owner, superuser)."""
    return set(conn.execute(sa.text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relname = ANY(:names) AND ("
        "pg_has_role(c.relowner, 'USAGE') OR pg_has_role((SELECT datdba FROM pg_database "
        "WHERE datname = current_database()), 'USAGE') OR "
        "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user))"),
        {"names": tables}).scalars())


def _vacuum(desk: Desk) -> Physical:
    """Plain VACUUM of the tables an erasure rewrites, when this desk's role may run it.

    VACUUM frees the dead row versions for reuse but leaves their bytes in the table files
    until the space is reused; :func:`compact` (VACUUM FULL, a maintenance window) rewrites
    the files without them and records that in the ledger.
    """
    tables = vacuum_tables(desk)
    with desk.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        allowed = _maintainable(conn, tables)
        for table in tables:
            if table in allowed:
                conn.exec_driver_sql(f'VACUUM "{table}"')
    note = ("dead row versions vacuumed; their bytes stay in the table files until "
            "'helpdesk db compact' rewrites them (maintenance window)")
    if len(allowed) < len(tables):
        note = ("this desk's database role may not VACUUM every table; the database's "
                "maintenance (autovacuum) frees the old row versions, and 'helpdesk db "
                "compact' by the table owner removes their bytes")
    return Physical(True, {"physical": note, "vacuumed_at": desk.now().isoformat()
                           if allowed else None, "compacted_at": None})


@dataclass(frozen=True, slots=True)
class CompactReport:
    backend: str
    tables: tuple[str, ...]
    bytes_before: int
    bytes_after: int
    erasures: tuple[int, ...]  # ledger rows whose physical step this compaction completed
    problem: str | None  # why old row versions may survive (then nothing is marked compacted)


def compact(desk: Desk) -> CompactReport:
    """Rewrite the tables so no dead row version of erased data is left in the files
    (supervisors, in a maintenance window: PostgreSQL's VACUUM FULL locks each table while it
    is rewritten; SQLite's VACUUM rewrites the whole file), then record the time in every
    ledger entry made before it."""
    with desk.db.session() as s:
        desk.actor(s, require=Role.SUPERVISOR)
    started = desk.now()
    tables = vacuum_tables(desk)
    if desk.db.backend == "postgresql":
        before, after, problem = _compact_postgres(desk, tables)
    else:
        before, after, problem = _compact_sqlite(desk)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        marked = []
        for row in s.exec(select(Erasure).where(col(Erasure.requested_at) <= started)):
            if not row.steps.get("compacted_at") and problem is None:
                row.steps = {**row.steps, "compacted_at": desk.now().isoformat()}
                s.add(row)
                marked.append(row.id or 0)
        audit.record(s, desk, actor, "db.compact", "database", None, tables=len(tables),
                     bytes_before=before, bytes_after=after, erasures=marked,
                     complete=problem is None)
    return CompactReport(backend=desk.db.backend, tables=tuple(tables), bytes_before=before,
                         bytes_after=after, erasures=tuple(marked), problem=problem)


def _busy() -> Busy:
    return Busy("other desks are using the database: run 'helpdesk db compact' in a quiet "
                f"moment (it waits at most {COMPACT_WAIT_S} seconds for them)")


def _quiet_since(conn: sa.Connection, xid: int) -> bool:
    """Wait (at most COMPACT_WAIT_S) until no other session on the server still sees the data
    as it was before transaction ``xid``: VACUUM FULL keeps every row version such a session
    might read (observed across databases, not only this one), erased ones included."""
    deadline = time.monotonic() + COMPACT_WAIT_S
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND backend_xmin IS NOT NULL AND age(backend_xmin) >= age(CAST(CAST(:xid AS text) "
        "AS xid))")
    while conn.execute(query, {"xid": xid % 2**32}).scalar_one():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _compact_postgres(desk: Desk, tables: list[str]) -> tuple[int, int, str | None]:
    """VACUUM FULL of the tables, then of the planner statistics (which keep sample values of
    every column) when the role owns the database; returns the sizes and, when the result
    cannot be vouched for, why."""
    size = ("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "WHERE c.relname = ANY(:names) AND c.relkind = 'r'")

    def now_xid() -> int:
        return int(conn.exec_driver_sql("SELECT txid_current()").scalar_one())

    with desk.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        refused = sorted(set(tables) - _maintainable(conn, tables))
        if refused:
            raise Forbidden(f"the database role may not rewrite {', '.join(refused)}: run "
                            "'helpdesk db compact' connected as the owner of the desk's tables")
        before = int(conn.execute(sa.text(size), {"names": tables}).scalar_one())
        # a session still reading the data as it was before keeps the old row versions alive
        problem = None if _quiet_since(conn, now_xid()) else (
            "sessions older than the compaction were still open: old row versions they could "
            "see were kept; run 'helpdesk db compact' again in a quiet moment")
        conn.exec_driver_sql(f"SET lock_timeout = '{COMPACT_WAIT_S}s'")
        try:
            for table in tables:
                conn.exec_driver_sql(f'VACUUM (FULL, ANALYZE) "{table}"')
            if not _owns_database(conn):
                problem = problem or (
                    "the planner statistics (pg_statistic) may still hold old sample values: "
                    "run 'helpdesk db compact' again connected as the database's owner")
            else:
                # ANALYZE wrote new samples; the old rows stay in pg_statistic's file until it
                # is rewritten once no session can see them. Twice: autovacuum may analyze a
                # table meanwhile, and its snapshot may be older than ours.
                for _ in range(2):
                    if not _quiet_since(conn, now_xid()):
                        problem = problem or (
                            "sessions were still open when the planner statistics were "
                            "rewritten; run 'helpdesk db compact' again in a quiet moment")
                        break
                    conn.exec_driver_sql("VACUUM (FULL) pg_catalog.pg_statistic")
        except sa.exc.OperationalError:
            raise _busy() from None
        finally:
            conn.exec_driver_sql("RESET lock_timeout")
        after = int(conn.execute(sa.text(size), {"names": tables}).scalar_one())
    return before, after, problem


def _compact_sqlite(desk: Desk) -> tuple[int, int, str | None]:
    """VACUUM rewrites the whole file (SQLite's statistics are counts only)."""
    path = desk.db.sqlite_path
    before = path.stat().st_size if path else 0
    raw = desk.db.engine.raw_connection()
    cur = raw.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {COMPACT_WAIT_S * 1000}")
        cur.execute("VACUUM")
        cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError:
        raise _busy() from None
    finally:
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        raw.close()
    return before, path.stat().st_size if path else 0, None


def reapply_ledger(desk: Desk, *, system: bool = False) -> list[int]:
    """Erase again every customer the ledger says is erased but whose data is back (after a
    restore from backup). Returns the customer ids re-erased; only rows inside each entry's
    watermarks are touched. ``system``: the desk itself applies the ledger to one of its own
    copies, where the acting agent may not exist (recorded without an agent)."""
    redone: list[int] = []
    with desk.db.session(write=True) as s:
        actor = None if system else desk.actor(s)
        for row in s.exec(select(Erasure).order_by(col(Erasure.id))).all():
            _sync_addresses(s, row)
            customer = s.get(Customer, row.customer_id)
            if customer is None or not _data_present(s, customer, row):
                continue
            steps = _erase_rows(s, desk, actor, customer, row, _identity(s, customer))
            row.steps = {**row.steps, "left": steps["left"]}
            s.add(row)
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
    raw = s.exec(select(IntakeItem.id).where(
        col(IntakeItem.sender_hash).in_(row.email_hashes), col(IntakeItem.raw).is_not(None),
        col(IntakeItem.id) <= marks.get("intake_item", 0))).first()
    return email is not None or body is not None or raw is not None


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
        quoted = answers.quotes(version, answers.Topic.ARCHIVES) if version else []
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
    if info.backups:
        until = max(b.keep_until for b in info.backups).astimezone(desk.settings.tz).date()
        lines += ["", "Backup copies of our database made before your request still hold your "
                  f"information until {until.isoformat()}, when they are deleted. If one is "
                  "ever restored, your deletion is applied again before anyone uses it."]
    if info.status != COMPLETE:
        lines += ["", "One technical clean-up step is still running; we will confirm once it "
                  "is finished."]
    lines += ["", "Kind regards,", "The support desk"]
    return "\n".join(lines)
