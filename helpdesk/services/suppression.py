"""The suppression list: addresses the desk must never market to, known only by a keyed hash.

An entry is an HMAC-SHA256 of the normalised (case-folded) address, keyed with the database's
secret key (one per database, held by every desk, kept outside the database: see
:mod:`helpdesk.services.keys`), so a copy of the database alone cannot be used to test whether a
given person ever wrote to us. Entries survive erasure and restores: they are how "never contact
me again" outlives the data.

``is_suppressed`` is the check every path that creates a customer or adds an address runs: a
suppressed address may be stored for a new request, but it never switches marketing back on.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlmodel import Session, col, select

from helpdesk.db.models import Agent, ConsentEvent, Customer, CustomerEmail, SuppressionEntry
from helpdesk.db.types import UTCDateTime
from helpdesk.domain import Channel, ConsentAction, ConsentPurpose, Role, SuppressionReason
from helpdesk.services import audit, keys, policy

if TYPE_CHECKING:
    from helpdesk.services.context import Desk


def email_hash(desk: Desk, normalized: str) -> str:
    """Keyed hash of an already normalised address (see validation.normalize_email).

    Raises :class:`~helpdesk.errors.KeyMissing` on a desk without the database's key: a hash
    made with another key would never match, so an opt-out would silently stop counting.
    """
    return hmac.new(keys.database_key(desk), normalized.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def is_suppressed(session: Session, desk: Desk, normalized: str) -> bool:
    """Whether marketing to this address is barred (by an e-mail or an all-channel entry)."""
    return hash_suppressed(session, email_hash(desk, normalized))


def hash_suppressed(session: Session, digest: str) -> bool:
    channels = [Channel.EMAIL.value, Channel.ALL.value]
    if session.get_bind().dialect.name == "postgresql":
        # a function with the owner's rights: in team mode agents may not read the list
        return bool(session.execute(
            sa.select(sa.func.helpdesk_suppressed(digest, sa.cast(channels, sa.ARRAY(sa.Text))))
        ).scalar_one())
    row = session.exec(
        select(SuppressionEntry.id).where(
            SuppressionEntry.email_hash == digest, col(SuppressionEntry.channel).in_(channels)
        )
    ).first()
    return row is not None


def add(
    session: Session,
    actor: Agent | None,
    *,
    digest: str,
    reason: SuppressionReason,
    source: str,
    now: datetime,
    channel: Channel = Channel.EMAIL,
) -> bool:
    """Put a hash on the list inside the caller's unit of work; False when already there.

    Written without reading the list first (INSERT ... ON CONFLICT DO NOTHING): in team mode
    on PostgreSQL agents may add entries but not read them."""
    result = session.execute(_INSERT_NEW, {
        "email_hash": digest, "channel": channel.value, "reason": reason.value,
        "source": source[:200], "created_at": now, "created_by_id": actor.id if actor else None,
    })
    return result.rowcount == 1  # type: ignore[attr-defined]


# Plain SQL: SQLAlchemy would add RETURNING id to a one-row INSERT, which needs SELECT too.
_INSERT_NEW = sa.text(
    "INSERT INTO suppression_entry (email_hash, channel, reason, source, created_at, "
    "created_by_id) VALUES (:email_hash, :channel, :reason, :source, :created_at, "
    ":created_by_id) ON CONFLICT DO NOTHING"
).bindparams(sa.bindparam("created_at", type_=UTCDateTime))


def suppress_customer_emails(
    session: Session, desk: Desk, actor: Agent | None, customer_id: int, *,
    reason: SuppressionReason, source: str,
) -> list[str]:
    """Suppress every address the customer has; returns their hashes (new or already listed)."""
    addresses = session.exec(
        select(CustomerEmail.normalized).where(CustomerEmail.customer_id == customer_id)
    ).all()
    digests = [email_hash(desk, a) for a in addresses]
    for digest in digests:
        add(session, actor, digest=digest, reason=reason, source=source, now=desk.now())
    return digests


@dataclass(frozen=True, slots=True)
class SuppressionRow:
    email_hash: str
    address: str | None  # only in a plain export, and only while a customer still holds it
    channel: str
    reason: str
    source: str
    created_at: datetime


def export(desk: Desk, *, hashed: bool = True) -> list[SuppressionRow]:
    """The whole list, for a mailing system to filter on.

    A hashed export holds no personal data and any agent may take it. A plain export adds the
    addresses still on file (an erased or never-known person stays a hash) and is
    supervisor-only, because it is a bulk extract of personal data.
    """
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=None if hashed else Role.SUPERVISOR)
        entries = s.exec(select(SuppressionEntry).order_by(col(SuppressionEntry.id))).all()
        known: dict[str, str] = {}
        if not hashed:
            for normalized in s.exec(select(CustomerEmail.normalized)).all():
                known[email_hash(desk, normalized)] = normalized
        rows = [
            SuppressionRow(
                email_hash=e.email_hash, address=known.get(e.email_hash), channel=e.channel,
                reason=e.reason, source=e.source, created_at=e.created_at,
            )
            for e in entries
        ]
        audit.record(s, desk, actor, "suppression.export", "suppression_entry", None,
                     hashed=hashed, rows=len(rows),
                     with_address=sum(1 for r in rows if r.address))
    return rows


def guard_customer(
    session: Session, desk: Desk, actor: Agent | None, customer: Customer, keys: list[str],
) -> bool:
    """Keep marketing off for a customer who gains a suppressed address (or is under 13).

    Called by every path that creates a customer or adds an address. The address itself may be
    stored (the person may have a new request), but marketing never switches back on: the
    customer is marked opted out and, when that is news, a consent event says why.
    """
    suppressed = any(is_suppressed(session, desk, k) for k in keys)
    if customer.under_13:
        for k in keys:
            add(session, actor, digest=email_hash(desk, k), reason=SuppressionReason.UNDER_13,
                source=f"customer {customer.id}", now=desk.now())
    if not (suppressed or customer.under_13) or customer.marketing_opted_out:
        return suppressed
    customer.marketing_opted_out = True
    session.add(customer)
    session.flush()
    now = desk.now()
    version = policy.stamp(session, now, desk)
    session.add(ConsentEvent(
        customer_id=customer.id or 0, purpose=ConsentPurpose.MARKETING.value,
        action=ConsentAction.OPT_OUT.value, channel=Channel.ALL.value, at=now,
        agent_id=actor.id if actor else None,
        policy_version_id=version.id if version else None,
        note="address on the suppression list" if suppressed else "customer is under 13",
    ))
    session.flush()
    return suppressed
