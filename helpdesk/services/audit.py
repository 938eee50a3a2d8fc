"""The audit trail: who viewed, exported or changed what, as a hash chain.

Each event's hash covers the previous event's hash and the event's own canonical content, so
editing, deleting, inserting or reordering any event breaks every link after it. Events hold ids,
actions and keyed hashes, never personal data: ``details`` must be built from ids, kinds, counts
and field names only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, select

from helpdesk.clock import as_utc
from helpdesk.db.models import Agent, AuditEvent
from helpdesk.services import changes

if TYPE_CHECKING:
    from helpdesk.services.context import Desk

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x68656C70  # advisory lock key serialising chain appends on PostgreSQL


def _canonical(
    at: datetime, actor_id: int | None, action: str, object_type: str, object_id: int | None,
    details: dict[str, Any],
) -> str:
    return json.dumps(
        [at.isoformat(timespec="microseconds"), actor_id, action, object_type, object_id, details],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        default=str,
    )


def chain_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def record(
    session: Session,
    desk: Desk,
    actor: Agent | None,
    action: str,
    object_type: str,
    object_id: int | None,
    **details: Any,
) -> AuditEvent:
    """Append one event to the chain inside the caller's unit of work."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_AUDIT_LOCK)))
        if not changes.is_read(action):
            changes.announce(session)  # open desks refresh once this commits
    last = session.exec(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    prev = last or GENESIS
    at = as_utc(desk.now())  # hashed as stored: the database hands instants back in UTC
    actor_id = actor.id if actor else None
    details = json.loads(json.dumps(details, default=str))  # store exactly what was hashed
    event = AuditEvent(
        at=at,
        actor_id=actor_id,
        real_account=desk.real_account,  # PostgreSQL overwrites it with session_user
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
        prev_hash=prev,
        hash=chain_hash(prev, _canonical(at, actor_id, action, object_type, object_id, details)),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True, slots=True)
class ChainReport:
    checked: int
    broken_at: int | None  # id of the first event whose link does not hold
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain in id order and report the first broken link."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = session.exec(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)  # type: ignore[arg-type]
        ).all()
        if not rows:
            return ChainReport(checked=checked, broken_at=None, reason=None)
        for ev in rows:
            if ev.prev_hash != prev:
                return ChainReport(checked, ev.id, "previous-hash link does not match")
            expected = chain_hash(
                prev,
                _canonical(ev.at, ev.actor_id, ev.action, ev.object_type, ev.object_id, ev.details),
            )
            if ev.hash != expected:
                return ChainReport(checked, ev.id, "event content does not match its hash")
            prev = ev.hash
            checked += 1
            last_id = ev.id or last_id
