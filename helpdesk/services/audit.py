"""The audit trail: who viewed, exported or changed what, as a keyed hash chain.

Each event's hash is an HMAC, keyed with the database's secret key (:mod:`keys`), over every
column stored for it, its position in the chain (``seq``) and the previous event's hash. Editing,
deleting, inserting or reordering an event breaks the chain from there on, and someone who can
edit the database but does not hold the key cannot compute a chain that verifies. Every desk
holds the key, though, so someone with a desk and write access to the database could; anchors
(a position and its hash, noted outside the database by a supervisor) catch that, and a cut-off
tail, which no chain can see by itself.

Events hold ids, actions and keyed hashes, never personal data: ``details`` must be built from
ids, kinds, counts and field names only.

**Appending without holding the team up.** :func:`record` only queues the event in the caller's
unit of work; queued events join the chain when it commits (a ``before_commit`` hook), which reads
the chain's head and inserts them right before the commit. On PostgreSQL an advisory lock keeps
that final step to one desk at a time, and it is held only from there to the commit, not for the
whole of a long transaction, so a bulk operation does not stop every other audited action.
Chain order is therefore commit order. SQLite has one writer at a time anyway.

**Events from before the chain was keyed** (an upgraded database) keep the unkeyed SHA-256 hashes
they were written with; the key record (``desk_key``) says how many there are and seals the last
one's hash with the key. They are checked with the old function, and the first keyed event links
to the last of them, so rewriting them still shows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from helpdesk.clock import as_utc
from helpdesk.db.models import Agent, AuditEvent, DeskKey
from helpdesk.errors import Invalid
from helpdesk.services import changes

if TYPE_CHECKING:
    from helpdesk.services.context import Desk

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x68656C70  # advisory lock key serialising the chain's final step
_PENDING = "helpdesk.audit.pending"
_KEY = "helpdesk.audit.key"
_LABEL = "helpdesk audit v2\n"
#: Columns outside the hashed content: the row id (given by the database) and the hash itself.
_UNHASHED = frozenset({"id", "hash"})


def _canonical(ev: AuditEvent) -> str:
    """Every stored column but id and hash, in a fixed form.

    Columns that are NULL are left out, so a nullable column added later does not change the
    hash of the events written before it.
    """
    values: dict[str, Any] = {}
    for column in AuditEvent.__table__.columns:  # type: ignore[attr-defined]
        if column.name in _UNHASHED:
            continue
        value = getattr(ev, column.name)
        if value is None:
            continue
        values[column.name] = (as_utc(value).isoformat(timespec="microseconds")
                               if isinstance(value, datetime) else value)
    return _LABEL + json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                               default=str)


def chain_hash(key: bytes, ev: AuditEvent) -> str:
    """The event's keyed hash (its ``prev_hash`` and ``seq`` must be set)."""
    return hmac.new(key, _canonical(ev).encode(), hashlib.sha256).hexdigest()


def legacy_hash(ev: AuditEvent) -> str:
    """How versions before the keyed chain hashed an event (no key): checking old events only."""
    canonical = json.dumps(
        [as_utc(ev.at).isoformat(timespec="microseconds"), ev.actor_id, ev.action,
         ev.object_type, ev.object_id, ev.details],
        sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str,
    )
    return hashlib.sha256((ev.prev_hash + canonical).encode()).hexdigest()


def record(
    session: Session,
    desk: Desk,
    actor: Agent | None,
    action: str,
    object_type: str,
    object_id: int | None,
    **details: Any,
) -> AuditEvent:
    """Queue one event in the caller's unit of work; it joins the chain when that commits.

    The returned event has its position and hash once the unit of work has committed. A desk
    without the database's key is refused here, before the work it would record is done.
    """
    from helpdesk.services import keys

    session.info[_KEY] = keys.database_key(desk)
    ev = AuditEvent(
        at=as_utc(desk.now()),  # hashed as stored: the database hands instants back in UTC
        actor_id=actor.id if actor else None,
        real_account=desk.real_account,  # PostgreSQL overwrites it with session_user
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=json.loads(json.dumps(details, default=str)),  # store exactly what is hashed
        seq=0,
        prev_hash="",
        hash="",
    )
    session.info.setdefault(_PENDING, []).append(ev)
    return ev


# The final step's statements, made once (it runs at every audited commit).
_LOCK = sa.select(sa.func.pg_advisory_xact_lock(_PG_AUDIT_LOCK))
_LOCK_AND_ANNOUNCE = sa.select(sa.func.pg_advisory_xact_lock(_PG_AUDIT_LOCK),
                               changes.announcement())
_HEAD = sa.select(AuditEvent.seq, AuditEvent.hash).order_by(  # type: ignore[call-overload]
    col(AuditEvent.seq).desc()).limit(1)
_INSERT = sa.insert(AuditEvent.__table__)  # type: ignore[attr-defined]
#: The columns the desk writes: all but the id (``real_account`` PostgreSQL overwrites).
_COLUMNS = tuple(c.name for c in AuditEvent.__table__.columns  # type: ignore[attr-defined]
                 if c.name != "id")


@sa_event.listens_for(OrmSession, "before_commit")
def _append_pending(session: OrmSession) -> None:
    """The short final step: chain the queued events onto the head and insert them."""
    pending: list[AuditEvent] = session.info.pop(_PENDING, [])
    if not pending:
        return
    key: bytes = session.info.pop(_KEY)
    session.flush()  # the unit of work's own rows first, so their waits happen outside the lock
    # From the lock to the commit every other audited commit waits, so this step runs Core
    # statements made once on the session's connection: no ORM unit of work for the events
    # (the caller's copies get their position and hash; the database gives the rows' ids).
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # open desks refresh once a change commits: said in the same statement (round trip)
        conn.execute(_LOCK_AND_ANNOUNCE if any(not changes.is_read(ev.action)
                                               for ev in pending) else _LOCK)
    head = conn.execute(_HEAD).first()
    seq, prev = (head.seq, head.hash) if head else (0, GENESIS)
    rows = []
    for ev in pending:
        seq += 1
        ev.seq, ev.prev_hash = seq, prev
        ev.hash = prev = chain_hash(key, ev)
        rows.append({name: getattr(ev, name) for name in _COLUMNS})
    conn.execute(_INSERT, rows)


@sa_event.listens_for(OrmSession, "after_soft_rollback")
def _drop_pending(session: OrmSession, _previous: Any) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_KEY, None)


# --- checking the chain -----------------------------------------------------------------------

_ANCHOR = re.compile(r"^(?:(\d{1,18}):)?([0-9a-f]{64})$")


@dataclass(frozen=True, slots=True)
class Anchor:
    """A checkpoint: the chain's ``position``-th event had ``hash``. Print it, keep it apart."""

    position: int
    hash: str

    @property
    def text(self) -> str:
        return f"{self.position}:{self.hash}"


def parse_anchor(session: Session, text: str) -> Anchor:
    """``POSITION:HASH`` as :func:`anchor` prints it; a bare HASH (the ``head`` that earlier
    versions printed) is looked up, and names no position when no event has it any more."""
    m = _ANCHOR.match(text.strip().lower())
    if not m or m.group(1) == "0":
        raise Invalid(f"'{text[:80]}' is not an anchor: they look like 1234:<64 hex digits>",
                      field="anchor")
    if m.group(1):
        return Anchor(int(m.group(1)), m.group(2))
    seq = session.exec(select(AuditEvent.seq).where(AuditEvent.hash == m.group(2))).first()
    return Anchor(seq or 0, m.group(2))


@dataclass(frozen=True, slots=True)
class ChainReport:
    checked: int  # events verified before the first problem (all of them when ok)
    broken_at: int | None  # id of the first event that no longer matches, when there is one
    position: int | None  # its position in the chain (or the first missing position)
    reason: str | None
    head: str | None  # the newest event as an anchor (POSITION:HASH)
    legacy: int = 0  # events from before the chain was keyed (checked without the key)

    @property
    def ok(self) -> bool:
        return self.reason is None


def verify_chain(
    session: Session, key: bytes, *, anchors: Iterable[Anchor] = (), batch: int = 5000
) -> ChainReport:
    """Walk the chain in position order; report the first event that no longer matches."""
    from helpdesk.services import keys

    by_position = {a.position: a for a in anchors}
    record = session.exec(select(DeskKey)).first()
    if record is None or record.seal != keys.seal(key, record):
        return ChainReport(0, None, None, "the key record (desk_key) was changed or removed, so "
                           "the chain cannot be checked; restore the database from a backup",
                           None)
    legacy = record.legacy_count
    prev, checked, last_id, good_anchor = GENESIS, 0, 0, 0

    def broken(ev: AuditEvent | None, position: int, reason: str) -> ChainReport:
        return ChainReport(checked, ev.id if ev else None, position, reason, None, legacy)

    head: str | None = None
    after: Any = sa.true()  # the first batch starts below any position, even a forged one
    while True:
        rows = session.exec(
            select(AuditEvent).where(after).order_by(col(AuditEvent.seq)).limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            expected = checked + 1
            if ev.seq < 1:
                return broken(ev, 0, f"event #{ev.id} has no place in the chain: it was added "
                              "outside the desk")
            if ev.seq != expected:
                return broken(ev, expected, f"the event at position {expected} is missing "
                              "(deleted)")
            if ev.prev_hash != prev:
                return broken(ev, ev.seq, "previous-hash link does not match")
            want = legacy_hash(ev) if ev.seq <= legacy else chain_hash(key, ev)
            if ev.hash != want:
                return broken(ev, ev.seq, "event content does not match its hash")
            if ev.seq == legacy and ev.hash != record.legacy_head:
                return broken(ev, ev.seq, "the events from before the chain was keyed were "
                              "rewritten (the last of them lost the hash sealed with the key)")
            if (ev.id or 0) <= last_id:
                return broken(ev, ev.seq, "event ids are out of chain order (renumbered)")
            anchor = by_position.get(ev.seq)
            if anchor is not None and anchor.hash != ev.hash:
                return broken(ev, ev.seq, f"event #{ev.id} no longer matches the anchor for "
                              f"position {ev.seq}: the events after position {good_anchor} and "
                              "up to it were rewritten by someone holding the key")
            if anchor is not None:
                good_anchor = ev.seq
            prev, last_id, checked = ev.hash, ev.id or 0, checked + 1
            head = Anchor(ev.seq, ev.hash).text
        after = col(AuditEvent.seq) > rows[-1].seq
    end = checked + 1
    if legacy >= end:
        return broken(None, end, f"the trail was cut: {legacy} events were written before the "
                      f"chain was keyed, it now ends at position {checked}")
    for anchor in sorted(by_position.values(), key=lambda a: a.position):
        if anchor.position == 0:
            return broken(None, end, "no event has the anchor's hash any more: it was removed "
                          "or rewritten")
        if anchor.position >= end:
            return broken(None, end, f"the trail was cut: it ends at position {checked} but an "
                          f"anchor names position {anchor.position}; events from position {end} "
                          "on are missing")
    return ChainReport(checked, None, None, None, head, legacy)
