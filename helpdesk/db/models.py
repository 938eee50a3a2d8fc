"""The desk's tables.

Rules of the schema:

* Every instant is a :class:`UTCDateTime` (aware, UTC).
* Enumerations are stored as short strings (no native database enums), so adding a kind is a code
  change rather than a migration, and both backends see the same values.
* Every row a person edits carries ``version``; SQLAlchemy's ``version_id_col`` turns a stale
  write into ``StaleDataError``, which the services report as a Conflict.
* Identifying data (names, addresses, bodies, notes) and accountability data (ids, kinds, dates,
  outcomes, keyed hashes) sit in separate columns so erasure can blank the first and keep the
  second.
* Do not add ``from __future__ import annotations`` here: it breaks SQLModel relationships.
"""

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Field, SQLModel
from sqlmodel.main import SQLModelConfig

from helpdesk.clock import utcnow
from helpdesk.db.types import UTCDateTime

KIND = sa.String(32)


def _ts(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


def _now(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, **kw)


#: The condition of the partial indexes over open cases (see :func:`declare_partial_indexes`).
OPEN_CASES = "closed_at IS NULL"


def _open_cases_index(name: str, *columns: str) -> sa.Index:
    return sa.Index(name, *columns, info={"where": OPEN_CASES})


def declare_partial_indexes(dialect: str) -> None:
    """Give the partial indexes their condition in ``dialect``'s terms (``sqlite_where``,
    ``postgresql_where``), for DDL made from these tables on that backend.

    Not declared in the class body: naming ``postgresql_where`` there loads SQLAlchemy's
    PostgreSQL dialect when this module is imported, 20-40 ms of every SQLite desk's start.
    The schema itself comes from the migrations, which state the conditions for both backends;
    the migration environment calls this for its connection, so what it compares these tables
    with matches the database.
    """
    for table in SQLModel.metadata.tables.values():
        for index in table.indexes:
            if "where" in index.info:
                index.dialect_kwargs[f"{dialect}_where"] = sa.text(index.info["where"])


class Table(SQLModel):
    """Base of the desk's tables. Their pydantic validators and serializers are built the
    first time one is needed (``defer_build``), not at import: rows come from SQLAlchemy and
    nothing on the way to the first screen validates one through pydantic, while building them
    for every table was about an eighth of this module's import (15-20 ms of CPU, measured on
    a loaded machine)."""

    model_config = SQLModelConfig(defer_build=True)


class Versioned(Table):
    """Optimistic locking: a stale UPDATE matches no row and raises instead of overwriting."""

    version: int = Field(default=1, nullable=False)

    @declared_attr  # type: ignore[arg-type]
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


def touch(row: "Customer | Case", now: datetime) -> None:
    """Mark ``row`` changed at ``now`` so its version goes up even when no column value changed
    (a note added to a case, an address added to a customer): a stale copy then conflicts."""
    row.updated_at = now
    flag_modified(row, "updated_at")


class Agent(Versioned, table=True):
    __tablename__ = "agent"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, nullable=False)  # login / OS user name
    display_name: str = Field(max_length=200, nullable=False)
    role: str = Field(sa_type=KIND, nullable=False)
    active: bool = Field(default=True, nullable=False)
    created_at: datetime = _now()


class PolicyVersion(Table, table=True):
    __tablename__ = "policy_version"

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(max_length=200, nullable=False)
    effective_on: date = Field(nullable=False, index=True)
    text: str = Field(sa_type=sa.Text, nullable=False)
    sha256: str = Field(max_length=64, unique=True, nullable=False)
    added_at: datetime = _now()
    added_by_id: int | None = Field(default=None, foreign_key="agent.id")
    #: Promised calendar days per case kind, read from the text and confirmed by a supervisor.
    periods: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    #: Leading lines of the file that are not policy text (a provenance note, a title).
    header_lines: int = Field(default=0, nullable=False)


class Customer(Versioned, table=True):
    __tablename__ = "customer"

    id: int | None = Field(default=None, primary_key=True)
    # identifying part (blanked by erasure)
    name: str | None = Field(default=None, sa_type=sa.Text)
    phone: str | None = Field(default=None, max_length=64)
    company: str | None = Field(default=None, sa_type=sa.Text)
    billing_address: str | None = Field(default=None, sa_type=sa.Text)
    shipping_address: str | None = Field(default=None, sa_type=sa.Text)
    # accountability part
    under_13: bool = Field(default=False, nullable=False)
    marketing_opted_out: bool = Field(default=False, nullable=False)
    created_at: datetime = _now()
    updated_at: datetime = _now()
    erased_at: datetime | None = _ts(default=None)
    erasure_id: int | None = Field(default=None, foreign_key="erasure.id")


class CustomerEmail(Table, table=True):
    __tablename__ = "customer_email"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", nullable=False, index=True)
    address: str = Field(max_length=320, nullable=False)  # as the customer wrote it
    normalized: str = Field(max_length=320, nullable=False, unique=True)
    is_primary: bool = Field(default=False, nullable=False)
    created_at: datetime = _now()


class CustomerProduct(Table, table=True):
    """A product the customer bought or registered (Part I: purchase and registration data)."""

    __tablename__ = "customer_product"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", nullable=False, index=True)
    relation: str = Field(sa_type=KIND, nullable=False)  # ProductRelation
    product: str = Field(sa_type=sa.Text, nullable=False)
    reference: str | None = Field(default=None, max_length=200)  # order or serial number
    occurred_on: date | None = None
    created_at: datetime = _now()


class Case(Versioned, table=True):
    __tablename__ = "support_case"
    __table_args__ = (
        # Queues page open cases by deadline; partial indexes keep closed history out of them.
        _open_cases_index("ix_case_open_due", "due_at", "id"),
        _open_cases_index("ix_case_open_assignee_due", "assignee_id", "due_at", "id"),
        _open_cases_index("ix_case_open_kind_due", "kind", "due_at", "id"),
        sa.Index("ix_case_received", "received_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_type=KIND, nullable=False)
    status: str = Field(sa_type=KIND, nullable=False)
    subject: str | None = Field(default=None, sa_type=sa.Text)  # identifying: may name people
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    assignee_id: int | None = Field(default=None, foreign_key="agent.id")
    received_at: datetime = _ts(nullable=False)
    due_at: datetime = _ts(nullable=False)  # effective deadline (exclusive instant)
    policy_due_at: datetime | None = _ts(default=None)  # the policy's own promise, if any
    due_rule: str = Field(default="policy", max_length=100, nullable=False)
    #: The deadline the rules set (the stricter of the policy version's promise, or the desk's
    #: service level, and any legal rule); a supervisor's override never moves it, so reports
    #: judge "on time" against it.
    rule_due_at: datetime = _ts(nullable=False)
    override_due_at: datetime | None = _ts(default=None)  # supervisor override, both kept
    override_reason: str | None = Field(default=None, sa_type=sa.Text)
    override_by_id: int | None = Field(default=None, foreign_key="agent.id")
    policy_version_id: int | None = Field(default=None, foreign_key="policy_version.id")
    dispute_stage: str | None = Field(default=None, sa_type=KIND)
    escalated: bool = Field(default=False, nullable=False)
    related_case_id: int | None = Field(default=None, foreign_key="support_case.id")
    suggested_kind: str | None = Field(default=None, sa_type=KIND)
    classification: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    outcome: str | None = Field(default=None, sa_type=sa.Text)
    created_by_id: int | None = Field(default=None, foreign_key="agent.id")
    created_at: datetime = _now()
    updated_at: datetime = _now()
    closed_at: datetime | None = _ts(default=None)


class Message(Table, table=True):
    __tablename__ = "message"
    __table_args__ = (sa.Index("ix_message_case_at", "case_id", "at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="support_case.id")
    direction: str = Field(sa_type=KIND, nullable=False)  # MessageDirection
    at: datetime = _ts(nullable=False)  # received, sent or written
    # threading headers (ids, not personal data)
    message_id: str | None = Field(default=None, max_length=998, unique=True)
    in_reply_to: str | None = Field(default=None, sa_type=sa.Text)
    references: str | None = Field(default=None, sa_type=sa.Text)
    content_hash: str | None = Field(default=None, max_length=64, unique=True)
    # identifying part (blanked by erasure)
    from_address: str | None = Field(default=None, max_length=320)
    to_address: str | None = Field(default=None, sa_type=sa.Text)
    cc_address: str | None = Field(default=None, sa_type=sa.Text)
    subject: str | None = Field(default=None, sa_type=sa.Text)
    body: str | None = Field(default=None, sa_type=sa.Text)
    # accountability part
    author_id: int | None = Field(default=None, foreign_key="agent.id")
    language: str | None = Field(default=None, max_length=16)
    is_machine: bool = Field(default=False, nullable=False)
    created_at: datetime = _now()
    redacted_at: datetime | None = _ts(default=None)


class Attachment(Table, table=True):
    __tablename__ = "attachment"

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", nullable=False, index=True)
    filename: str | None = Field(default=None, sa_type=sa.Text)
    content_type: str = Field(max_length=255, nullable=False)
    size: int = Field(nullable=False)
    sha256: str = Field(max_length=64, nullable=False)
    content: bytes | None = Field(default=None, sa_type=sa.LargeBinary)  # whole, or none
    truncated: bool = Field(default=False, nullable=False)  # only part of it arrived
    #: Why the content was not kept (the configured size or type limits); None: it was.
    withheld: str | None = Field(default=None, sa_type=sa.Text)


class CaseEvent(Table, table=True):
    """Case history: who did what, when. ``note`` is free text and is blanked by erasure."""

    __tablename__ = "case_event"
    __table_args__ = (sa.Index("ix_case_event_case_at", "case_id", "at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="support_case.id", nullable=False)
    at: datetime = _now()
    actor_id: int | None = Field(default=None, foreign_key="agent.id")
    action: str = Field(max_length=64, nullable=False)
    from_value: str | None = Field(default=None, max_length=200)
    to_value: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, sa_type=sa.Text)


class ConsentEvent(Table, table=True):
    __tablename__ = "consent_event"
    __table_args__ = (sa.Index("ix_consent_customer_at", "customer_id", "at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", nullable=False)
    purpose: str = Field(sa_type=KIND, nullable=False)  # ConsentPurpose
    action: str = Field(sa_type=KIND, nullable=False)  # ConsentAction
    channel: str = Field(sa_type=KIND, nullable=False)  # Channel
    at: datetime = _ts(nullable=False)
    source_case_id: int | None = Field(default=None, foreign_key="support_case.id")
    source_message_id: int | None = Field(default=None, foreign_key="message.id")
    agent_id: int | None = Field(default=None, foreign_key="agent.id")
    policy_version_id: int | None = Field(default=None, foreign_key="policy_version.id")
    #: When the version was assigned after the fact (it was loaded later than the event).
    policy_assigned_at: datetime | None = _ts(default=None)
    note: str | None = Field(default=None, sa_type=sa.Text)


class Disclosure(Versioned, table=True):
    """The register behind "who has my data?" (Parts II and IV)."""

    __tablename__ = "disclosure"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", nullable=False, index=True)
    recipient: str = Field(sa_type=sa.Text, nullable=False)
    recipient_kind: str = Field(sa_type=KIND, nullable=False)  # RecipientKind
    purpose: str = Field(sa_type=sa.Text, nullable=False)
    data_categories: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    disclosed_on: date = Field(nullable=False)
    legal_basis: str = Field(sa_type=sa.Text, nullable=False)
    recorded_by_id: int | None = Field(default=None, foreign_key="agent.id")
    created_at: datetime = _now()


class FieldChange(Table, table=True):
    """Correction history: which field changed from what to what, by whom, for which case.

    The values are personal data (the identifying part): erasure blanks them and keeps the rest.
    """

    __tablename__ = "field_change"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", nullable=False, index=True)
    case_id: int | None = Field(default=None, foreign_key="support_case.id")
    field: str = Field(max_length=64, nullable=False)
    agent_id: int | None = Field(default=None, foreign_key="agent.id")
    at: datetime = _now()
    # identifying part (blanked by erasure)
    old_value: str | None = Field(default=None, sa_type=sa.Text)
    new_value: str | None = Field(default=None, sa_type=sa.Text)
    #: Set once erasure blanked the values (so "-" is not mistaken for "was empty").
    values_erased: bool = Field(default=False, nullable=False)


class Notification(Table, table=True):
    """A notice in one agent's inbox. Ids, kinds and a text built from them; no personal data."""

    __tablename__ = "notification"
    __table_args__ = (
        sa.Index("ix_notification_agent_at", "agent_id", "at", "id"),
        sa.Index("ix_notification_key", "key", "agent_id"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agent.id", nullable=False)  # the recipient
    kind: str = Field(sa_type=KIND, nullable=False)  # inbox.NoticeKind
    case_id: int | None = Field(default=None, foreign_key="support_case.id")
    at: datetime = _now()
    text: str = Field(max_length=500, nullable=False)
    actor_id: int | None = Field(default=None, foreign_key="agent.id")  # who caused it
    key: str | None = Field(default=None, max_length=200)  # posts once per key and recipient
    read_at: datetime | None = _ts(default=None)


class AuditEvent(Table, table=True):
    """Append-only, hash-chained record of views, exports and changes. Ids and hashes only.

    ``seq`` is the event's position in the chain (1, 2, 3 ...), given when its unit of work
    commits (its id too): chain order is commit order, not the order events were recorded in.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        sa.Index("ix_audit_object", "object_type", "object_id"),
        sa.Index("ix_audit_actor_at", "actor_id", "at"),
        sa.Index("uq_audit_event_seq", "seq", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    # 0 marks a row written outside the desk (no position): verification reports it
    seq: int = Field(nullable=False, sa_column_kwargs={"server_default": sa.text("0")})
    at: datetime = _now()
    actor_id: int | None = Field(default=None, foreign_key="agent.id")  # the agent acted as
    #: The OS account (SQLite) or PostgreSQL session role that really acted; on PostgreSQL the
    #: database fills it from ``session_user`` (migration 0003). NULL on events written before.
    real_account: str | None = Field(default=None, max_length=128)
    action: str = Field(max_length=64, nullable=False)
    object_type: str = Field(max_length=32, nullable=False)
    object_id: int | None = Field(default=None)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    prev_hash: str = Field(max_length=64, nullable=False)
    hash: str = Field(max_length=64, nullable=False, unique=True)


class RequestVerification(Table, table=True):
    """How the requester of an access, correction or deletion case proved who they are.

    ``code`` is the desk's random code put in the acknowledgement; a reply from an address on
    file that carries it verifies the case. No free text here: notes and override reasons go
    to the case history, which erasure blanks.
    """

    __tablename__ = "request_verification"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="support_case.id", nullable=False, unique=True)
    code: str = Field(max_length=32, nullable=False)
    code_created_at: datetime = _now()
    method: str | None = Field(default=None, sa_type=KIND)  # VerificationMethod
    verified_at: datetime | None = _ts(default=None)
    verified_by_id: int | None = Field(default=None, foreign_key="agent.id")
    message_id: int | None = Field(default=None, foreign_key="message.id")  # the reply


class DeskSetting(Versioned, table=True):
    """A setting for every desk of this database (e.g. whether acting as another agent is on).

    It lives with the data so that no per-user file or environment variable can change it;
    supervisors change it through the services, audited.
    """

    __tablename__ = "desk_setting"

    name: str = Field(max_length=64, primary_key=True)
    value: Any = Field(sa_type=sa.JSON, nullable=False)
    updated_at: datetime = _now()
    updated_by_id: int | None = Field(default=None, foreign_key="agent.id")


class DeskKey(Table, table=True):
    """The one row saying which secret key this database's hashes and audit chain use.

    Only the key's fingerprint is here; the key itself lives in each desk's key file. The row
    is made by the migration that introduced keys, with ``legacy_count``/``legacy_head``
    describing the unkeyed chain written before it (0/None on a new database); the first desk
    to act records the fingerprint, and ``seal`` (an HMAC with the key) binds the fingerprint
    to that boundary so nobody without the key can move it.
    """

    __tablename__ = "desk_key"
    __table_args__ = (sa.CheckConstraint("id = 1", name="ck_desk_key_single_row"),)

    id: int = Field(default=1, primary_key=True)
    fingerprint: str | None = Field(default=None, max_length=64)
    legacy_count: int = Field(default=0, nullable=False)
    legacy_head: str | None = Field(default=None, max_length=64)
    seal: str | None = Field(default=None, max_length=64)
    recorded_at: datetime | None = _ts(default=None)


class SuppressionEntry(Table, table=True):
    """A suppressed address, known only by its keyed hash (HMAC-SHA256 of the normalised e-mail)."""

    __tablename__ = "suppression_entry"
    __table_args__ = (sa.UniqueConstraint("email_hash", "channel"),)

    id: int | None = Field(default=None, primary_key=True)
    email_hash: str = Field(max_length=64, nullable=False, index=True)
    channel: str = Field(sa_type=KIND, nullable=False)
    reason: str = Field(sa_type=KIND, nullable=False)  # SuppressionReason
    source: str = Field(max_length=200, nullable=False)  # "case 12", "cli", "import" ...
    created_at: datetime = _now()
    created_by_id: int | None = Field(default=None, foreign_key="agent.id")


class IntakeItem(Versioned, table=True):
    """Mail the importer could not turn into a case on its own: unknown sender or quarantine."""

    __tablename__ = "intake_item"

    id: int | None = Field(default=None, primary_key=True)
    state: str = Field(sa_type=KIND, nullable=False, index=True)  # unmatched/quarantined/done
    reason: str | None = Field(default=None, sa_type=sa.Text)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    message_id_header: str | None = Field(default=None, max_length=998)
    content_hash: str | None = Field(default=None, max_length=64, unique=True)
    raw: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    source: str | None = Field(default=None, sa_type=sa.Text)  # file the message came from
    #: Keyed hash of the sender's normalised address (read best-effort even from mail that
    #: cannot be parsed), so erasure finds a person's quarantined mail by hash as well.
    sender_hash: str | None = Field(default=None, max_length=64, index=True)
    created_at: datetime = _now()
    resolved_at: datetime | None = _ts(default=None)
    resolved_case_id: int | None = Field(default=None, foreign_key="support_case.id")


class Erasure(Table, table=True):
    """The erasure ledger: enough to prove and re-apply an erasure, with no personal data."""

    __tablename__ = "erasure"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(nullable=False, index=True)  # no FK: survives for re-application
    case_id: int | None = Field(default=None)
    email_hashes: list[str] = Field(default_factory=list, sa_type=sa.JSON, nullable=False)
    requested_at: datetime = _ts(nullable=False)
    completed_at: datetime | None = _ts(default=None)
    status: str = Field(sa_type=KIND, nullable=False)  # complete / partial
    steps: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON, nullable=False)
    agent_id: int | None = Field(default=None, foreign_key="agent.id")


class BackupCopy(Table, table=True):
    """A backup made by ``helpdesk backup``: where, when, and until when it is kept. An erasure
    lists the ones made before it as copies that still hold the person until they expire."""

    __tablename__ = "backup_copy"

    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(sa_type=sa.Text, nullable=False)
    made_at: datetime = _ts(nullable=False)
    keep_until: datetime = _ts(nullable=False)
    made_by_id: int | None = Field(default=None, foreign_key="agent.id")
    removed_at: datetime | None = _ts(default=None)


class ErasedAddress(Table, table=True):
    """One erased address (keyed hash) and when its erasure was requested: what the importer
    asks, under the same lock as erasure, to know that a letter belongs to an erased person.
    Derived from :attr:`Erasure.email_hashes`, so a restore can always rebuild it."""

    __tablename__ = "erasure_address"
    __table_args__ = (sa.UniqueConstraint("erasure_id", "email_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    erasure_id: int = Field(foreign_key="erasure.id", nullable=False)
    email_hash: str = Field(max_length=64, nullable=False, index=True)
    requested_at: datetime = _ts(nullable=False)


class ArchiveCheck(Versioned, table=True):
    """One archive system's status after an erasure: pending, beyond use, or purged."""

    __tablename__ = "archive_check"
    __table_args__ = (sa.UniqueConstraint("erasure_id", "system"),)

    id: int | None = Field(default=None, primary_key=True)
    erasure_id: int = Field(foreign_key="erasure.id", nullable=False)
    system: str = Field(max_length=200, nullable=False)
    status: str = Field(sa_type=KIND, nullable=False)
    by_id: int | None = Field(default=None, foreign_key="agent.id")
    at: datetime | None = _ts(default=None)


class Template(Versioned, table=True):
    """A reply template for one kind, step and language."""

    __tablename__ = "reply_template"
    __table_args__ = (sa.UniqueConstraint("name", "language"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, nullable=False)
    kind: str | None = Field(default=None, sa_type=KIND)
    language: str = Field(default="en", max_length=16, nullable=False)
    subject: str = Field(sa_type=sa.Text, nullable=False)
    body: str = Field(sa_type=sa.Text, nullable=False)
    transactional: bool = Field(default=True, nullable=False)
    updated_by_id: int | None = Field(default=None, foreign_key="agent.id")
    updated_at: datetime = _now()
