"""Plain, immutable views of the data, safe to hand to another thread or serialise as JSON.

Converters (``*_from``) live beside the classes so every service builds a view the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Row

from helpdesk import clock
from helpdesk.db.models import Agent, Case, CaseEvent, Customer, CustomerEmail, Message
from helpdesk.domain import (
    CaseKind,
    CaseStatus,
    DisputeStage,
    MessageDirection,
    Queue,
    Role,
    VerificationMethod,
)

T = TypeVar("T")


def to_jsonable(value: Any) -> Any:
    """Read models (nested) as JSON-ready data: dates as ISO strings, enums as values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(to_jsonable(k)): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_cursor: str | None  # pass back to get the next page; None when this is the last


@dataclass(frozen=True, slots=True)
class AgentInfo:
    id: int
    name: str
    display_name: str
    role: Role
    active: bool
    version: int


@dataclass(frozen=True, slots=True)
class IdentityInfo:
    """Who is at the desk: the agent acted as, the account that really acts, and where."""

    agent: AgentInfo
    real_account: str  # OS account (SQLite) or session role (PostgreSQL)
    database: str  # file path, or host/database without a password


def agent_from(a: Agent) -> AgentInfo:
    return AgentInfo(
        id=a.id or 0,
        name=a.name,
        display_name=a.display_name,
        role=Role(a.role),
        active=a.active,
        version=a.version,
    )


@dataclass(frozen=True, slots=True)
class EmailInfo:
    id: int
    address: str
    is_primary: bool


@dataclass(frozen=True, slots=True)
class ProductInfo:
    id: int
    relation: str
    product: str
    reference: str | None
    occurred_on: date | None


@dataclass(frozen=True, slots=True)
class FieldChangeInfo:
    """One change to a customer's record: old -> new, when, by whom, under which case."""

    id: int
    customer_id: int
    field: str
    old_value: str | None
    new_value: str | None
    at: datetime
    agent_name: str | None
    case_id: int | None
    values_erased: bool = False  # erasure blanked the values


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    id: int
    name: str | None
    primary_email: str | None
    company: str | None
    phone: str | None
    erased: bool = False


@dataclass(frozen=True, slots=True)
class ConsentInfo:
    id: int
    purpose: str
    action: str
    channel: str
    at: datetime
    agent_name: str | None
    source_case_id: int | None
    policy_version_id: int | None
    note: str | None
    policy_label: str | None = None
    #: When a version loaded after the event was given to it (None: it had one from the start).
    policy_assigned_at: datetime | None = None


def consent_policy(event: ConsentInfo, when: Callable[[datetime], str]) -> str:
    """Which policy version a consent event falls under, and whether it was given later."""
    if event.policy_label is None:
        return "no policy version loaded"
    later = (f" (loaded later, on {when(event.policy_assigned_at)})"
             if event.policy_assigned_at else "")
    return f"under {event.policy_label}{later}"


@dataclass(frozen=True, slots=True)
class DisclosureInfo:
    id: int
    recipient: str
    recipient_kind: str
    purpose: str
    data_categories: tuple[str, ...]
    disclosed_on: date
    legal_basis: str


@dataclass(frozen=True, slots=True)
class CaseSummary:
    id: int
    kind: CaseKind
    status: CaseStatus
    subject: str | None
    customer_id: int | None
    customer_name: str | None
    assignee_id: int | None
    assignee_name: str | None
    received_at: datetime
    due_at: datetime
    due_date: date
    #: Whole days to the due date in the desk's zone; None once the case is closed.
    days_left: int | None
    overdue: bool
    dispute_stage: DisputeStage | None
    escalated: bool
    version: int
    #: Open disputes: the highest configured warning day reached (60, 75, 85 ...), else None.
    warning: int | None = None
    #: Closed after, or still open past, the deadline the rules set: the policy version's
    #: promise or the desk's service level, or a stricter legal rule (even when a supervisor
    #: override moved ``due_at`` later).
    policy_breach: bool = False
    #: What intake wants a person to see: "needs a person" (the kind is unsure; the shorter
    #: candidate clock runs), "reminded" (the customer chased it), "unmatched" (a letter from
    #: an unknown sender, waiting in the intake tray).
    flags: tuple[str, ...] = ()

    @property
    def is_closed(self) -> bool:
        return self.status.is_closed


def case_summary_from(
    c: Case,
    *,
    customer_name: str | None,
    assignee_name: str | None,
    now: datetime,
    tz: ZoneInfo,
    warning_days: tuple[int, ...] = (),
) -> CaseSummary:
    status = CaseStatus(c.status)
    open_ = not status.is_closed
    is_dispute = c.kind == CaseKind.DISPUTE
    return CaseSummary(
        id=c.id or 0,
        kind=CaseKind(c.kind),
        status=status,
        subject=c.subject,
        customer_id=c.customer_id,
        customer_name=customer_name,
        assignee_id=c.assignee_id,
        assignee_name=assignee_name,
        received_at=c.received_at,
        due_at=c.due_at,
        due_date=clock.due_date(c.due_at, tz),
        days_left=clock.days_left(c.due_at, now, tz) if open_ else None,
        overdue=open_ and clock.is_overdue(c.due_at, now),
        dispute_stage=DisputeStage(c.dispute_stage) if c.dispute_stage else None,
        escalated=c.escalated,
        version=c.version,
        warning=clock.warning_level(c.received_at, now, tz, warning_days)
        if open_ and is_dispute else None,
        policy_breach=clock.is_overdue(c.rule_due_at, c.closed_at or now),
        flags=intake_flags(c) if c.classification is not None else (),
    )


def intake_flags(c: Case) -> tuple[str, ...]:
    stored = c.classification or {}
    flags = []
    if stored.get("needs_person"):
        flags.append("needs a person")
    if stored.get("reminders"):
        flags.append("reminded")
    if c.customer_id is None and c.closed_at is None:
        flags.append("unmatched")
    return tuple(flags)


@dataclass(frozen=True, slots=True)
class CustomerDetail:
    id: int
    name: str | None
    phone: str | None
    company: str | None
    billing_address: str | None
    shipping_address: str | None
    under_13: bool
    marketing_opted_out: bool
    created_at: datetime
    updated_at: datetime
    erased_at: datetime | None
    version: int
    emails: tuple[EmailInfo, ...]
    products: tuple[ProductInfo, ...]
    consent: tuple[ConsentInfo, ...]
    disclosures: tuple[DisclosureInfo, ...]
    cases: tuple[CaseSummary, ...]
    #: The record's change history, oldest first (corrections, addresses added or removed).
    changes: tuple[FieldChangeInfo, ...] = ()
    #: The history entries the call that returned this detail wrote (empty: nothing changed).
    changed: tuple[FieldChangeInfo, ...] = ()

    @property
    def primary_email(self) -> str | None:
        return next((e.address for e in self.emails if e.is_primary), None)


def customer_summary_from(c: Customer, primary: CustomerEmail | None) -> CustomerSummary:
    return CustomerSummary(
        id=c.id or 0,
        name=c.name,
        primary_email=primary.address if primary else None,
        company=c.company,
        phone=c.phone,
        erased=c.erased_at is not None,
    )


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    id: int
    filename: str | None
    content_type: str
    size: int
    #: The desk holds the content (it can be saved to a file); else ``withheld`` says why not,
    #: or erasure removed it.
    kept: bool = True
    withheld: str | None = None
    sha256: str | None = None


@dataclass(frozen=True, slots=True)
class MessageInfo:
    id: int
    direction: MessageDirection
    at: datetime
    from_address: str | None
    to_address: str | None
    subject: str | None
    body: str | None
    author_name: str | None
    message_id: str | None
    attachments: tuple[AttachmentInfo, ...] = ()
    cc_address: str | None = None


def message_from(
    m: Message | Row[Any], author_name: str | None, attachments: tuple[AttachmentInfo, ...] = ()
) -> MessageInfo:
    """The message as shown, from its object or a row of (at least) its shown columns."""
    return MessageInfo(
        id=m.id or 0,
        direction=MessageDirection(m.direction),
        at=m.at,
        from_address=m.from_address,
        to_address=m.to_address,
        subject=m.subject,
        body=m.body,
        author_name=author_name,
        message_id=m.message_id,
        attachments=attachments,
        cc_address=m.cc_address,
    )


@dataclass(frozen=True, slots=True)
class CaseEventInfo:
    """One history entry; ``from_value``/``to_value`` as stored (login names, stage and kind
    values), ``from_shown``/``to_shown`` as people read them (display names, labels)."""

    id: int
    at: datetime
    actor_name: str | None
    action: str
    from_value: str | None
    to_value: str | None
    note: str | None
    from_shown: str | None = None
    to_shown: str | None = None


def case_event_from(e: CaseEvent | Row[Any], actor_name: str | None,
                    agents: Mapping[str, str] | None = None) -> CaseEventInfo:
    """The entry (its object or a row of its shown columns), its values also as shown;
    ``agents`` maps login names to display names."""

    def shown(value: str | None) -> str | None:
        if value is None:
            return None
        if e.action == "assigned":
            return (agents or {}).get(value, value)
        try:
            if e.action == "stage":
                return DisputeStage(value).label
            if e.action == "created":
                return CaseKind(value).label
        except ValueError:  # written by an older or newer desk: shown as stored
            pass
        return value

    return CaseEventInfo(
        id=e.id or 0,
        at=e.at,
        actor_name=actor_name,
        action=e.action,
        from_value=e.from_value,
        to_value=e.to_value,
        note=e.note,
        from_shown=shown(e.from_value),
        to_shown=shown(e.to_value),
    )


@dataclass(frozen=True, slots=True)
class VerificationInfo:
    """How the requester of an access, correction or deletion case proved who they are."""

    case_id: int
    verified: bool
    method: VerificationMethod | None
    verified_at: datetime | None
    verified_by: str | None
    code_sent: bool  # the desk made the case's code (it goes out with the acknowledgement)


@dataclass(frozen=True, slots=True)
class CaseDetail:
    case: CaseSummary
    policy_due_at: datetime | None
    due_rule: str
    override_due_at: datetime | None
    override_reason: str | None
    policy_version_id: int | None
    policy_version_label: str | None
    related_case_id: int | None
    outcome: str | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    messages: tuple[MessageInfo, ...]
    events: tuple[CaseEventInfo, ...]
    #: The history entries the call that returned this detail wrote (empty: nothing changed).
    changed: tuple[CaseEventInfo, ...] = ()
    #: The deadline the rules set (policy version or service level, and legal rules), which
    #: an override does not move; reports judge "on time" against it.
    rule_due_at: datetime | None = None
    #: Why no policy version is recorded, when none is (e.g. received before the first one).
    policy_note: str | None = None
    #: Changes to the customer's record made under this case (a correction's old -> new).
    corrections: tuple[FieldChangeInfo, ...] = ()
    #: For an imported letter: which record dated its receipt ("Received header", "mbox From
    #: line", ...), and what intake had to work around or fall back on (no personal data).
    received_by: str | None = None
    intake_notes: tuple[str, ...] = ()
    #: Access, correction and deletion requests: how the requester was verified, if yet.
    verification: VerificationInfo | None = None


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """What the start banner says: the acting agent's own cases and, for supervisors, the
    team's (``team_*`` are None for agents)."""

    mine_open: int
    mine_overdue: int
    mine_due_soon: int  # due within 7 days, not yet overdue
    mine_dispute_warnings: int = 0  # open disputes past the first warning day
    team_overdue: int | None = None
    team_due_soon: int | None = None
    team_dispute_warnings: int | None = None
    #: Letters from unknown senders waiting in the intake tray: every one is a request whose
    #: clock runs from receipt.
    unmatched_open: int = 0
    unmatched_overdue: int = 0
    unmatched_due_soon: int = 0


@dataclass(frozen=True, slots=True)
class QueueTotals:
    """How many cases every queue holds now, counted in one go (the sidebar and list titles)."""

    queues: Mapping[Queue, int]
    stages: Mapping[DisputeStage, int]  # open disputes at each stage

    def of(self, queue: Queue, stage: DisputeStage | None = None) -> int:
        return self.stages.get(stage, 0) if stage is not None else self.queues.get(queue, 0)
