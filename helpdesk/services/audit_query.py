"""Reading the audit trail: filtered pages for the supervisor screen, exports, chain checks and
anchors.

Only supervisors read the trail. Reading it is itself recorded (``audit.query``, ``audit.export``)
so an auditor also sees who looked at who-looked-at-what.

"Events about a customer" means events on the customer record, on that customer's cases (an agent
who opened a case saw the customer's messages, a view of their personal data) and any event
whose details name the customer id (an intake item linked to them, for example).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from helpdesk import csvout
from helpdesk.clock import as_utc
from helpdesk.db.models import Agent, AuditEvent, Case
from helpdesk.domain import Role
from helpdesk.errors import Invalid, NotFound
from helpdesk.services import audit, keys, parsing
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import Page, to_jsonable
from helpdesk.services.validation import check_agent_name

DEFAULT_PAGE = 200
MAX_PAGE = 1000
EXPORT_FORMATS = ("csv", "json")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What to show. Every criterion is optional; ``until`` is exclusive."""

    agent: str | None = None  # agent login name
    customer_id: int | None = None
    action: str | None = None  # exact ("customer.view") or a prefix ending in "." ("case.")
    since: datetime | None = None
    until: datetime | None = None


def parse_filter(
    tz: ZoneInfo, *, agent: str | None = None, customer: str | int | None = None,
    action: str | None = None, since: str | None = None, until: str | None = None,
    names: dict[str, str] | None = None,
) -> AuditFilter:
    """A filter from what a person typed (desk fields, CLI options); blank means "any".

    Days are in the desk's zone, ``until`` includes its whole day; ``names`` says what the
    fields are called where they were typed (``{"since": "--from"}``), for the messages.
    """
    names = names or {}
    return AuditFilter(
        agent=(agent or "").strip() or None,
        customer_id=parsing.optional_id(customer, what="customer",
                                        field=names.get("customer", "customer")),
        action=(action or "").strip() or None,
        since=parsing.bound(since, tz, end=False, field=names.get("since", "since")),
        until=parsing.bound(until, tz, end=True, field=names.get("until", "until")),
    )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str | None  # the agent acted as
    real_account: str | None  # who really acted (OS account or database role)
    action: str
    object_type: str
    object_id: int | None
    details: dict[str, Any]
    hash: str
    summary: str = ""  # the details for people: agents by name (see :func:`summary`)


_ACTION = re.compile(r"^[a-z0-9_.]{1,64}$")


def _conditions(s: Session, f: AuditFilter) -> list[Any]:
    if f.agent is not None:
        check_agent_name(f.agent)
    if f.action and not _ACTION.match(f.action):
        raise Invalid("actions are written like customer.view (or case. for every case action)",
                      field="action")
    conds: list[Any] = []
    if f.agent is not None:
        agent_id = s.exec(select(Agent.id).where(Agent.name == f.agent)).first()
        if agent_id is None:
            raise NotFound(f"no agent named '{f.agent}'")
        conds.append(col(AuditEvent.actor_id) == agent_id)
    if f.customer_id is not None:
        case_ids = select(Case.id).where(Case.customer_id == f.customer_id)
        conds.append(sa.or_(
            sa.and_(col(AuditEvent.object_type) == "customer",
                    col(AuditEvent.object_id) == f.customer_id),
            sa.and_(col(AuditEvent.object_type) == "case",
                    col(AuditEvent.object_id).in_(case_ids)),
            # events on other objects that name the customer (intake items linked, erasures...)
            AuditEvent.__table__.c.details["customer_id"].as_integer() == f.customer_id,
        ))
    if f.action:
        if f.action.endswith("."):
            conds.append(col(AuditEvent.action).startswith(f.action, autoescape=True))
        else:
            conds.append(col(AuditEvent.action) == f.action)
    try:
        if f.since is not None:
            conds.append(col(AuditEvent.at) >= as_utc(f.since))
        if f.until is not None:
            conds.append(col(AuditEvent.at) < as_utc(f.until))
    except ValueError:
        raise Invalid("audit dates must carry a time zone", field="date") from None
    return conds


def _entries(s: Session, rows: list[AuditEvent]) -> tuple[AuditEntry, ...]:
    ids = {r.actor_id for r in rows if r.actor_id is not None}
    named = {v for r in rows for k, v in r.details.items()
             if k.endswith(_AGENT_ID) and isinstance(v, int)}
    agents = s.exec(select(Agent.id, Agent.name, Agent.display_name)
                    .where(col(Agent.id).in_(ids | named))).all() if ids | named else []
    names = {i: name for i, name, _ in agents}
    shown = {i: display for i, _, display in agents}
    return tuple(
        AuditEntry(id=r.id or 0, at=r.at, actor_id=r.actor_id,
                   actor_name=names.get(r.actor_id) if r.actor_id else None,
                   real_account=r.real_account, action=r.action,
                   object_type=r.object_type, object_id=r.object_id, details=dict(r.details),
                   hash=r.hash, summary=summary(r.details, shown))
        for r in rows
    )


_AGENT_ID = "agent_id"


def summary(details: dict[str, Any], agents: dict[int, str]) -> str:
    """The details as a person reads them: agents by name ("to_agent=Lena Fischer" for
    ``to_agent_id=5``), empty values left out. Customers stay ids: the trail names no one."""
    parts = []
    for key, value in sorted(details.items()):
        if value is None:
            continue
        if key.endswith(_AGENT_ID) and value in agents:
            key, value = key.removesuffix("_id"), agents[value]
        parts.append(f"{key}={value}")
    return " ".join(parts)


def _filter_details(f: AuditFilter) -> dict[str, Any]:
    """The filter as audit details: ids and criteria names, nothing typed by a customer."""
    return {
        "agent_filter": f.agent, "customer_filter": f.customer_id, "action_filter": f.action,
        "since": f.since.isoformat() if f.since else None,
        "until": f.until.isoformat() if f.until else None,
    }


def query(
    desk: Desk, *, filter: AuditFilter | None = None, cursor: str | None = None,
    limit: int = DEFAULT_PAGE,
) -> Page[AuditEntry]:
    """One page of events, newest first (keyset paging on the event id)."""
    f = filter or AuditFilter()
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"page size must be between 1 and {MAX_PAGE}", field="limit")
    before: int | None = None
    if cursor:
        if not cursor.isdigit():
            raise Invalid("that page cursor is not one the desk produced", field="cursor")
        before = int(cursor)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        conds = _conditions(s, f)
        if before is not None:
            conds.append(col(AuditEvent.id) < before)
        rows = list(s.exec(
            select(AuditEvent).where(*conds).order_by(col(AuditEvent.id).desc()).limit(limit + 1)
        ).all())
        if cursor is None:  # paging on is the same look; record the query once
            audit.record(s, desk, actor, "audit.query", "audit", None, **_filter_details(f))
        more = len(rows) > limit
        items = _entries(s, rows[:limit])
        return Page(items=items, next_cursor=str(items[-1].id) if more else None)


def export(desk: Desk, *, filter: AuditFilter | None = None, fmt: str = "csv") -> Iterator[str]:
    """The matching events, oldest first, as CSV or JSON-lines text chunks.

    The export is recorded before the first chunk is produced (an export that is started is an
    export), then events are streamed in batches so a large trail never sits in memory.
    """
    if fmt not in EXPORT_FORMATS:
        raise Invalid(f"export format must be one of: {', '.join(EXPORT_FORMATS)}", field="format")
    f = filter or AuditFilter()
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        _conditions(s, f)  # validate names before recording
        audit.record(s, desk, actor, "audit.export", "audit", None, format=fmt,
                     **_filter_details(f))
    return _stream(desk, f, fmt)


_COLUMNS = ("id", "at", "actor_name", "real_account", "action", "object_type", "object_id",
            "details", "hash")


def _stream(desk: Desk, f: AuditFilter, fmt: str, batch: int = 2000) -> Iterator[str]:
    if fmt == "csv":
        yield csvout.line(_COLUMNS)
    last = 0
    while True:
        with desk.db.session() as s:
            rows = list(s.exec(
                select(AuditEvent).where(*_conditions(s, f), col(AuditEvent.id) > last)
                .order_by(col(AuditEvent.id)).limit(batch)
            ).all())
            entries = _entries(s, rows)
        if not entries:
            return
        for e in entries:
            if fmt == "csv":
                yield csvout.line([
                    e.id, e.at.isoformat(), e.actor_name or "", e.real_account or "", e.action,
                    e.object_type,
                    "" if e.object_id is None else e.object_id,
                    json.dumps(e.details, sort_keys=True, ensure_ascii=True), e.hash,
                ])
            else:
                yield json.dumps(to_jsonable(e), sort_keys=True, ensure_ascii=True) + "\n"
        last = entries[-1].id


def verify(desk: Desk, *, anchors: Sequence[str] = ()) -> audit.ChainReport:
    """Check the whole chain, and that it still holds each anchor (``POSITION:HASH``).

    Anyone may run it, agent or not: it shows no personal data, and it is not recorded because
    recording would append to the chain under check (an auditor may work on a read-only copy).
    It needs the database's key, like every desk.
    """
    key = keys.database_key(desk)
    with desk.db.session() as s:
        parsed = [audit.parse_anchor(s, a) for a in anchors]
        return audit.verify_chain(s, key, anchors=parsed)


def anchor(desk: Desk) -> audit.Anchor:
    """Record a checkpoint (``audit.anchor``) and return it, for a supervisor to keep elsewhere.

    The anchor is the checkpoint event's own position and hash, so it covers everything before
    it: a later ``verify`` given it fails if any of that was changed or cut off.
    """
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        ev = audit.record(s, desk, actor, "audit.anchor", "audit", None)
    return audit.Anchor(ev.seq, ev.hash)  # given when the unit of work committed
