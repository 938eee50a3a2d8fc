"""Marketing consent: opt-out (one action), opt-in on the customer's own written request,
bulk opt-out, and the under-13 flag.

Policy Part II: personal information may be used "for marketing purposes such as email
announcements", customers may always opt out, and the company may still send "crucial
information about the product or services" they bought. The desk keeps the two apart: only
marketing is ever switched off here; transactional mail stays allowed and every read model says so.

Roles: opting out, bulk opt-out, marking a customer under 13 and removing marketing data are
open to every agent (they only ever reduce what the company does with the data). Opting back in
is supervisor-only, because it reverses a suppression and must rest on the customer's own letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from helpdesk.db.models import (
    Agent,
    Case,
    ConsentEvent,
    Customer,
    CustomerEmail,
    CustomerProduct,
    Message,
    SuppressionEntry,
)
from helpdesk.domain import (
    OPEN_STATUSES,
    CaseKind,
    Channel,
    ConsentAction,
    ConsentPurpose,
    MessageDirection,
    ProductRelation,
    Role,
    SuppressionReason,
)
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import audit, cases, customers, policy, suppression
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import ConsentInfo
from helpdesk.services.validation import normalize_email

TRANSACTIONAL_NOTE = (
    "Crucial information about products or services the customer bought (transactional mail) "
    "is still allowed: an opt-out covers marketing only."
)


@dataclass(frozen=True, slots=True)
class MarketingStatus:
    """What the desk may send a customer, said plainly."""

    customer_id: int
    marketing_allowed: bool
    transactional_allowed: bool  # always True: the policy keeps "crucial information" allowed
    under_13: bool
    suppressed_addresses: int
    statement: str
    history: tuple[ConsentInfo, ...]
    changed: bool  # False when the action found things already that way
    version: int


def _statement(customer: Customer) -> str:
    if customer.under_13:
        marketing = "Marketing: blocked (customer is under 13; the company does not market to " \
                    "children under 13)."
    elif customer.marketing_opted_out:
        marketing = "Marketing: OPTED OUT - send no announcements or offers."
    else:
        marketing = "Marketing: allowed (the customer has not opted out)."
    return f"{marketing} {TRANSACTIONAL_NOTE}"


def _status(s: Session, desk: Desk, customer: Customer, *, changed: bool) -> MarketingStatus:
    keys = s.exec(select(CustomerEmail.normalized)
                  .where(CustomerEmail.customer_id == customer.id)).all()
    return MarketingStatus(
        customer_id=customer.id or 0,
        marketing_allowed=not (customer.marketing_opted_out or customer.under_13),
        transactional_allowed=True,
        under_13=customer.under_13,
        suppressed_addresses=sum(1 for k in keys if suppression.is_suppressed(s, desk, k)),
        statement=_statement(customer),
        history=customers.consent_history(s, customer.id or 0),
        changed=changed,
        version=customer.version,
    )


def status(desk: Desk, *, customer_id: int) -> MarketingStatus:
    with desk.db.session() as s:
        desk.actor(s)
        return _status(s, desk, customers.load(s, customer_id), changed=False)


def _channel(value: Channel | str) -> Channel:
    try:
        return Channel(value)
    except ValueError:
        raise Invalid(f"channel must be one of {', '.join(c.value for c in Channel)}",
                      field="channel") from None


def _resolve(
    s: Session, customer_id: int | None, case_id: int | None, message_id: int | None,
) -> tuple[Customer, Case | None, Message | None]:
    """The customer an action is about, from the customer, the case or the letter given."""
    case = cases.load(s, case_id) if case_id is not None else None
    message = s.get(Message, message_id) if message_id is not None else None
    if message_id is not None and message is None:
        raise NotFound(f"no message #{message_id}")
    if message is not None and message.case_id is not None:
        if case is not None and case.id != message.case_id:
            raise Invalid(f"message #{message_id} is not part of case #{case_id}",
                          field="message")
        case = case or cases.load(s, message.case_id)
    owner = customer_id if customer_id is not None else (case.customer_id if case else None)
    if owner is None:
        raise Invalid("name a customer, or a case that belongs to one", field="customer")
    if case is not None and case.customer_id not in (None, owner):
        raise Invalid(f"case #{case.id} belongs to another customer", field="case")
    customer = customers.load(s, owner, for_change=True)
    if customer.erased_at is not None:
        raise Invalid(f"customer #{owner} has been erased; their addresses stay suppressed",
                      field="customer")
    return customer, case, message


def _record(
    s: Session, desk: Desk, actor: Agent, customer: Customer, action: ConsentAction,
    channel: Channel, case: Case | None, message: Message | None, note: str | None = None,
) -> ConsentEvent:
    now = desk.now()
    version = policy.stamp(s, now, desk)
    event = ConsentEvent(
        customer_id=customer.id or 0, purpose=ConsentPurpose.MARKETING.value,
        action=action.value, channel=channel.value, at=now,
        source_case_id=case.id if case else None,
        source_message_id=message.id if message else None, agent_id=actor.id,
        policy_version_id=version.id if version else None, note=note,
    )
    s.add(event)
    s.flush()
    return event


def _opt_out(
    s: Session, desk: Desk, actor: Agent, customer: Customer, channel: Channel,
    case: Case | None, message: Message | None, source: str,
) -> bool:
    """Opt out inside the caller's unit of work; False when it was already fully in place."""
    digests = suppression.suppress_customer_emails(
        s, desk, actor, customer.id or 0, reason=SuppressionReason.OPT_OUT, source=source)
    if customer.marketing_opted_out:
        return False
    _record(s, desk, actor, customer, ConsentAction.OPT_OUT, channel, case, message)
    customer.marketing_opted_out = True
    customer.updated_at = desk.now()
    s.add(customer)
    s.flush()
    audit.record(s, desk, actor, "consent.opt_out", "customer", customer.id,
                 channel=channel.value, case_id=case.id if case else None,
                 message_id=message.id if message else None, addresses=len(digests))
    return True


def opt_out(
    desk: Desk,
    *,
    customer_id: int | None = None,
    case_id: int | None = None,
    message_id: int | None = None,
    channel: Channel | str = Channel.EMAIL,
) -> MarketingStatus:
    """Stop marketing to a customer at once, from their profile or from one of their cases."""
    chan = _channel(channel)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        customer, case, message = _resolve(s, customer_id, case_id, message_id)
        source = f"case {case.id}" if case else "customer profile"
        changed = _opt_out(s, desk, actor, customer, chan, case, message, source)
        return _status(s, desk, customer, changed=changed)


def opt_in(
    desk: Desk,
    *,
    customer_id: int | None = None,
    case_id: int | None = None,
    message_id: int | None = None,
    channel: Channel | str = Channel.EMAIL,
) -> MarketingStatus:
    """Switch marketing back on, only on the customer's own written request (supervisors).

    The request must be named: a message the customer sent (inbound) or a case of theirs. The
    customer's opt-out suppression entries are removed; erasure and under-13 entries never are.
    """
    chan = _channel(channel)
    if case_id is None and message_id is None:
        raise Invalid("opting back in needs the customer's own written request: give the "
                      "message or case it came in", field="source")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        customer, case, message = _resolve(s, customer_id, case_id, message_id)
        if message is not None and message.direction != MessageDirection.INBOUND:
            raise Invalid(f"message #{message.id} was not written by the customer",
                          field="message")
        if customer.under_13:
            raise Invalid("the company does not market to children under 13; this customer "
                          "cannot opt in", field="customer")
        if not customer.marketing_opted_out:
            return _status(s, desk, customer, changed=False)
        _record(s, desk, actor, customer, ConsentAction.OPT_IN, chan, case, message,
                note="customer's written request")
        keys = s.exec(select(CustomerEmail.normalized)
                      .where(CustomerEmail.customer_id == customer.id)).all()
        digests = [suppression.email_hash(desk, k) for k in keys]
        for entry in s.exec(select(SuppressionEntry).where(
            col(SuppressionEntry.email_hash).in_(digests),
            SuppressionEntry.reason == SuppressionReason.OPT_OUT.value,
        )):
            s.delete(entry)
        customer.marketing_opted_out = any(
            suppression.hash_suppressed(s, d) for d in digests)  # erased/under-13 entries stay
        customer.updated_at = desk.now()
        s.add(customer)
        s.flush()
        audit.record(s, desk, actor, "consent.opt_in", "customer", customer.id,
                     channel=chan.value, case_id=case.id if case else None,
                     message_id=message.id if message else None,
                     still_suppressed=customer.marketing_opted_out)
        return _status(s, desk, customer, changed=True)


@dataclass(frozen=True, slots=True)
class BulkOptOutReport:
    customers_opted_out: tuple[int, ...]
    already_opted_out: tuple[int, ...]
    suppressed_by_hash: int  # addresses of people the desk does not know: hash only
    already_suppressed: int
    rejected: tuple[tuple[int, str], ...]  # (1-based position, reason) of unusable lines


#: Addresses per unit of work in a bulk opt-out (each batch commits with its own audit event).
BULK_BATCH = 500


def bulk_opt_out(desk: Desk, *, addresses: Sequence[str], source: str = "bulk") -> BulkOptOutReport:
    """Opt out a list of addresses (e.g. a mailing system's unsubscribes).

    Known addresses opt their customer out as :func:`opt_out` does; unknown ones are suppressed
    by keyed hash only, so the desk never stores an address it had no other reason to hold.

    The list is worked through in batches of :data:`BULK_BATCH`, each its own unit of work
    audited by one ``consent.bulk_opt_out`` event (with the positions it covered): a long list
    holds no transaction open for long and never chains an unbounded run of events at once.
    If it stops part-way the batches done stay done; running the same list again finishes it.
    """
    opted: list[int] = []
    already: list[int] = []
    hashed = dup = 0
    rejected: list[tuple[int, str]] = []
    for start in range(0, max(len(addresses), 1), BULK_BATCH):
        batch = addresses[start:start + BULK_BATCH]
        counts = (len(opted), hashed, len(rejected))
        with desk.db.session(write=True) as s:
            actor = desk.actor(s)
            for pos, raw in enumerate(batch, start=start + 1):
                try:
                    _, key = normalize_email(raw)
                except Invalid as exc:
                    rejected.append((pos, exc.message))
                    continue
                owner_id = s.exec(select(CustomerEmail.customer_id)
                                  .where(CustomerEmail.normalized == key)).first()
                # Locked and re-read: another desk opting the same customer out at the same
                # moment makes this one wait and find it done, not a conflict.
                owner = customers.load(s, owner_id, for_change=True) if owner_id else None
                if owner is None:
                    added = suppression.add(s, actor, digest=suppression.email_hash(desk, key),
                                            reason=SuppressionReason.OPT_OUT, source=source,
                                            now=desk.now())
                    hashed += added
                    dup += not added
                elif _opt_out(s, desk, actor, owner, Channel.EMAIL, None, None, source):
                    opted.append(owner.id or 0)
                else:
                    already.append(owner.id or 0)
            audit.record(s, desk, actor, "consent.bulk_opt_out", "suppression_entry", None,
                         customers=len(opted) - counts[0], hashed=hashed - counts[1],
                         rejected=len(rejected) - counts[2], first=start + 1,
                         last=start + len(batch))
    return BulkOptOutReport(tuple(opted), tuple(already), hashed, dup, tuple(rejected))


@dataclass(frozen=True, slots=True)
class Under13Result:
    status: MarketingStatus
    case_id: int  # the parental request case that tracks the removal
    registrations_removed: int


def mark_under_13(
    desk: Desk, *, customer_id: int, case_id: int | None = None,
    expected_version: int | None = None,
) -> Under13Result:
    """Flag a customer as a child under 13 and start the parental request flow.

    Marketing is blocked and the addresses suppressed at once; an under-13 case is opened (or
    the given one used) and the data collected for marketing is removed under it (see
    :func:`remove_marketing_data`).
    """
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        customer = customers.load(s, customer_id, for_change=True)
        if customer.erased_at is not None:
            raise Invalid(f"customer #{customer_id} has been erased", field="customer")
        if expected_version is not None and customer.version != expected_version:
            raise Conflict(f"customer #{customer_id} was changed by someone else since you "
                           "opened it; reload to see the change")
        case = _under_13_case(s, desk, actor, customer, case_id)
        changed = not customer.under_13
        customer.under_13 = True
        customer.updated_at = desk.now()
        s.add(customer)
        s.flush()
        keys = list(s.exec(select(CustomerEmail.normalized)
                           .where(CustomerEmail.customer_id == customer.id)).all())
        suppression.guard_customer(s, desk, actor, customer, keys)
        removed = _remove_marketing_data(s, desk, actor, customer, case)
        audit.record(s, desk, actor, "consent.under_13", "customer", customer.id,
                     case_id=case.id, registrations_removed=removed)
        return Under13Result(_status(s, desk, customer, changed=changed), case.id or 0, removed)


def _under_13_case(
    s: Session, desk: Desk, actor: Agent, customer: Customer, case_id: int | None,
) -> Case:
    if case_id is not None:
        case = cases.load(s, case_id)
        if case.customer_id != customer.id:
            raise Invalid(f"case #{case_id} belongs to another customer", field="case")
        return case
    existing = s.exec(select(Case).where(
        Case.customer_id == customer.id, Case.kind == CaseKind.UNDER_13.value,
        col(Case.status).in_([st.value for st in OPEN_STATUSES]),
    )).first()
    if existing is not None:
        return existing
    return cases.new_case(s, desk, actor, kind=CaseKind.UNDER_13, customer_id=customer.id,
                          subject="Parental request: child under 13", received_at=desk.now())


def _remove_marketing_data(
    s: Session, desk: Desk, actor: Agent, customer: Customer, case: Case,
) -> int:
    """Delete what was collected for marketing: product registrations (Part I names product
    registration and e-mail opt-in as collection points; purchases stay, orders need them)."""
    rows = s.exec(select(CustomerProduct).where(
        CustomerProduct.customer_id == customer.id,
        CustomerProduct.relation == ProductRelation.REGISTRATION.value,
    )).all()
    for row in rows:
        s.delete(row)
    s.flush()
    cases._event(s, desk, case, actor, "marketing_data_removed", to_value=str(len(rows)))
    return len(rows)

