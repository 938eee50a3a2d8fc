"""Customers: create, look up, view (audited), edit with field-level history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from helpdesk import clock
from helpdesk.db.engine import get_for_change
from helpdesk.db.models import (
    Agent,
    Case,
    ConsentEvent,
    Customer,
    CustomerEmail,
    CustomerProduct,
    Disclosure,
    FieldChange,
    PolicyVersion,
    touch,
)
from helpdesk.domain import ProductRelation
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.services import audit, suppression, verification
from helpdesk.services.cases import case_summaries, field_changes
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import (
    ConsentInfo,
    CustomerDetail,
    CustomerSummary,
    DisclosureInfo,
    EmailInfo,
    ProductInfo,
)
from helpdesk.services.validation import clean_phone, clean_text, normalize_email

#: Customer fields an agent may edit, with whether they hold several lines.
EDITABLE_FIELDS: dict[str, bool] = {
    "name": False,
    "phone": False,
    "company": False,
    "billing_address": True,
    "shipping_address": True,
}
CASES_SHOWN = 200


def _clean_field(field: str, value: str | None) -> str | None:
    if field == "phone":
        return clean_phone(value)
    multiline = EDITABLE_FIELDS[field]
    return clean_text(value, field=field, required=field == "name", multiline=multiline)


def load(session: Session, customer_id: int, *, for_change: bool = False) -> Customer:
    """The customer, or NotFound. ``for_change`` locks the row until the unit of work ends (see
    :func:`helpdesk.db.engine.get_for_change`)."""
    customer = (get_for_change(session, Customer, customer_id) if for_change
                else session.get(Customer, customer_id))
    if customer is None:
        raise NotFound(f"no customer #{customer_id}")
    return customer


def _check_email_free(session: Session, key: str, *, shown: str) -> None:
    owner = session.exec(
        select(CustomerEmail.customer_id).where(CustomerEmail.normalized == key)
    ).first()
    if owner is not None:
        raise Conflict(f"{shown} already belongs to customer #{owner}", field="email")


def create(
    desk: Desk,
    *,
    name: str,
    emails: Sequence[str],
    phone: str | None = None,
    company: str | None = None,
    billing_address: str | None = None,
    shipping_address: str | None = None,
    under_13: bool = False,
) -> CustomerDetail:
    values = {
        "name": name,
        "phone": phone,
        "company": company,
        "billing_address": billing_address,
        "shipping_address": shipping_address,
    }
    cleaned = {f: _clean_field(f, v) for f, v in values.items()}
    if not emails:
        raise Invalid("at least one e-mail address is required", field="email")
    addresses = [normalize_email(e) for e in emails]
    keys = [k for _, k in addresses]
    if len(set(keys)) != len(keys):
        raise Invalid("the same e-mail address is listed twice", field="email")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        for shown, key in addresses:
            _check_email_free(s, key, shown=shown)
        now = desk.now()
        customer = Customer(**cleaned, under_13=under_13, created_at=now, updated_at=now)
        s.add(customer)
        s.flush()
        for i, (shown, key) in enumerate(addresses):
            s.add(
                CustomerEmail(
                    customer_id=customer.id, address=shown, normalized=key, is_primary=i == 0,
                    created_at=desk.now(),  # on file from this instant (see verification)
                )
            )
        s.flush()
        suppressed = suppression.guard_customer(s, desk, actor, customer, keys)
        audit.record(s, desk, actor, "customer.create", "customer", customer.id,
                     emails=len(addresses), suppressed=suppressed)
        return _detail(s, desk, customer)


def get(desk: Desk, customer_id: int) -> CustomerDetail:
    """The full profile. Opening it is a view of personal data, so it is audited."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        customer = load(s, customer_id)
        audit.record(s, desk, actor, "customer.view", "customer", customer.id)
        return _detail(s, desk, customer)


@dataclass(frozen=True, slots=True)
class Matches:
    """The first customers matching a lookup; ``more`` when further ones match too."""

    items: tuple[CustomerSummary, ...]
    more: bool


def lookup(desk: Desk, text: str, *, limit: int = 50) -> Matches:
    """Customers whose name, any e-mail, company or phone contains what was typed (accents,
    case and ae/oe/ue spellings aside), people named so before companies and addresses; and
    whether more than ``limit`` match.

    The acting agent is checked in the same statement as the search (one round trip per
    keystroke on PostgreSQL); only when that check fails does :meth:`Desk.actor` say why (or
    register the first person of an empty desk), in its own unit of work.
    """
    for _ in range(2):
        with desk.db.reading() as conn:
            hits = desk.search.search_as(conn, desk.actor_name, text, limit=limit + 1)
        if hits is not None:
            # Positional: this runs on every keystroke, for up to ``limit`` hits.
            return Matches(tuple(CustomerSummary(h.id, h.name, h.primary_email, h.company,
                                                 h.phone) for h in hits[:limit]),
                           len(hits) > limit)
        with desk.db.session(write=True) as s:
            desk.actor(s)  # raises unless it registered the first person just now
    raise Forbidden(f"'{desk.actor_name}' may not look up customers at the moment")


def find(desk: Desk, text: str, *, limit: int = 50) -> list[CustomerSummary]:
    """The customers :func:`lookup` finds, as a list."""
    return list(lookup(desk, text, limit=limit).items)


def update(
    desk: Desk,
    *,
    customer_id: int,
    expected_version: int | None = None,
    case_id: int | None = None,
    **changes: str | None,
) -> CustomerDetail:
    """Edit contact fields. Each changed field leaves a history row: old -> new, who, when,
    under which case (``case_id``: the correction request). Erasure blanks the values."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise Invalid(f"'{sorted(unknown)[0]}' is not an editable customer field")
    cleaned = {f: _clean_field(f, v) for f, v in changes.items()}
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        customer = _editable(s, customer_id, expected_version)
        _check_case(s, case_id, customer_id)
        changed = [f for f, v in cleaned.items() if getattr(customer, f) != v]
        written = []
        if changed:
            for f in changed:
                written.append(record_change(s, desk, actor, customer_id, f,
                                             getattr(customer, f), cleaned[f], case_id))
                setattr(customer, f, cleaned[f])
            customer.updated_at = desk.now()
            s.add(customer)
            s.flush()
            audit.record(s, desk, actor, "customer.update", "customer", customer.id,
                         fields=changed, case_id=case_id)
        return _detail(s, desk, customer, written)


def record_change(
    s: Session, desk: Desk, actor: Agent, customer_id: int, field: str, old: str | None,
    new: str | None, case_id: int | None = None,
) -> FieldChange:
    """One row of the record's change history (inside the caller's unit of work). A change
    made under a case is part of that case too (its view lists it), so the case's version
    moves: whoever has the case open sees the change, and a decision taken on the copy
    before it is refused as stale."""
    row = FieldChange(customer_id=customer_id, case_id=case_id, field=field, agent_id=actor.id,
                      at=desk.now(), old_value=old, new_value=new)
    s.add(row)
    if case_id is not None and (case := s.get(Case, case_id)) is not None:
        touch(case, desk.now())
        s.add(case)
    return row


def _check_case(s: Session, case_id: int | None, customer_id: int) -> None:
    """A change made "under" a case must be made under one of this customer's cases, and
    under a request whose requester was verified (see :mod:`helpdesk.services.verification`)."""
    if case_id is None:
        return
    case = s.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case #{case_id}")
    if case.customer_id != customer_id:
        raise Invalid(f"case #{case_id} is not a case of customer #{customer_id}", field="case")
    verification.require_verified(s, case, action="correction")


def _email_row(s: Session, customer_id: int, ref: int | str) -> CustomerEmail:
    """One of the customer's addresses, by id or by the address itself."""
    if isinstance(ref, int) or ref.strip().lstrip("#").isdigit():
        row = s.get(CustomerEmail, int(str(ref).strip().lstrip("#")))
    else:
        _, key = normalize_email(ref)
        row = s.exec(select(CustomerEmail).where(CustomerEmail.normalized == key)).first()
    if row is None or row.customer_id != customer_id:
        raise NotFound(f"customer #{customer_id} has no e-mail address {ref}")
    return row


def _primary(s: Session, customer_id: int) -> str | None:
    return s.exec(select(CustomerEmail.address).where(
        CustomerEmail.customer_id == customer_id, col(CustomerEmail.is_primary).is_(True))).first()


def _editable(s: Session, customer_id: int, expected_version: int | None) -> Customer:
    customer = load(s, customer_id, for_change=True)
    if customer.erased_at is not None:
        raise Conflict(f"customer #{customer_id} has been erased and cannot be edited")
    if expected_version is not None and customer.version != expected_version:
        raise Conflict(
            f"customer #{customer_id} was changed by someone else since you opened it; "
            "reload to see the change"
        )
    return customer


def add_email(
    desk: Desk, *, customer_id: int, address: str, primary: bool = False,
    expected_version: int | None = None, case_id: int | None = None,
) -> CustomerDetail:
    shown, key = normalize_email(address)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        customer = _editable(s, customer_id, expected_version)
        _check_case(s, case_id, customer_id)
        _check_email_free(s, key, shown=shown)
        written = [record_change(s, desk, actor, customer_id, "email", None, shown, case_id)]
        if primary:
            written.append(record_change(s, desk, actor, customer_id, "primary_email",
                                         _primary(s, customer_id), shown, case_id))
            _clear_primary(s, customer_id)
        s.add(CustomerEmail(customer_id=customer_id, address=shown, normalized=key,
                            created_at=desk.now(),
                            is_primary=primary))
        suppressed = suppression.guard_customer(s, desk, actor, customer, [key])
        _touch(s, desk, customer)
        audit.record(s, desk, actor, "customer.email_add", "customer", customer_id,
                     primary=primary, suppressed=suppressed)
        return _detail(s, desk, customer, written)


def remove_email(
    desk: Desk, *, customer_id: int, email_id: int | str, expected_version: int | None = None,
    case_id: int | None = None,
) -> CustomerDetail:
    """Remove one address (by id or by the address); the customer keeps at least one."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        customer = _editable(s, customer_id, expected_version)
        _check_case(s, case_id, customer_id)
        target = _email_row(s, customer_id, email_id)
        emails = s.exec(select(CustomerEmail).where(CustomerEmail.customer_id == customer_id)
                        .order_by(col(CustomerEmail.id))).all()
        if len(emails) == 1:
            raise Invalid("a customer keeps at least one e-mail address", field="email")
        written = [record_change(s, desk, actor, customer_id, "email", target.address, None,
                                 case_id)]
        s.delete(target)
        s.flush()
        if target.is_primary:
            successor = next(e for e in emails if e.id != target.id)
            successor.is_primary = True
            s.add(successor)
            written.append(record_change(s, desk, actor, customer_id, "primary_email",
                                         target.address, successor.address, case_id))
        _touch(s, desk, customer)
        audit.record(s, desk, actor, "customer.email_remove", "customer", customer_id)
        return _detail(s, desk, customer, written)


def set_primary_email(
    desk: Desk, *, customer_id: int, email_id: int | str, expected_version: int | None = None,
    case_id: int | None = None,
) -> CustomerDetail:
    """Make one address (by id or by the address) the one replies go to."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        customer = _editable(s, customer_id, expected_version)
        _check_case(s, case_id, customer_id)
        target = _email_row(s, customer_id, email_id)
        if target.is_primary:
            return _detail(s, desk, customer)
        written = [record_change(s, desk, actor, customer_id, "primary_email",
                                 _primary(s, customer_id), target.address, case_id)]
        _clear_primary(s, customer_id)
        target.is_primary = True
        s.add(target)
        _touch(s, desk, customer)
        audit.record(s, desk, actor, "customer.email_primary", "customer", customer_id)
        return _detail(s, desk, customer, written)


def add_product(
    desk: Desk,
    *,
    customer_id: int,
    relation: ProductRelation | str,
    product: str,
    reference: str | None = None,
    occurred_on: date | None = None,
    expected_version: int | None = None,
) -> CustomerDetail:
    """Record a purchase or a product registration (policy Part I collects both)."""
    try:
        rel = ProductRelation(relation)
    except ValueError:
        raise Invalid("relation must be 'purchase' or 'registration'", field="relation") from None
    name = clean_text(product, field="product", required=True)
    ref = clean_text(reference, field="reference")
    if occurred_on is not None and occurred_on > clock.local_date(desk.now(), desk.settings.tz):
        raise Invalid("a purchase or registration cannot be dated in the future", field="date")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        customer = _editable(s, customer_id, expected_version)
        s.add(CustomerProduct(customer_id=customer_id, relation=rel, product=name,
                              reference=ref, occurred_on=occurred_on))
        _touch(s, desk, customer)
        audit.record(s, desk, actor, "customer.product_add", "customer", customer_id,
                     relation=rel.value)
        return _detail(s, desk, customer)


def products(desk: Desk, customer_id: int) -> tuple[ProductInfo, ...]:
    """The customer's purchases and registrations (a view of personal data: audited)."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        load(s, customer_id)
        audit.record(s, desk, actor, "customer.view", "customer", customer_id, part="products")
        return _products(s, customer_id)


def _products(s: Session, customer_id: int) -> tuple[ProductInfo, ...]:
    return tuple(
        ProductInfo(id=p.id or 0, relation=p.relation, product=p.product,
                    reference=p.reference, occurred_on=p.occurred_on)
        for p in s.exec(select(CustomerProduct).where(CustomerProduct.customer_id == customer_id)
                        .order_by(col(CustomerProduct.occurred_on), col(CustomerProduct.id)))
    )


def _clear_primary(s: Session, customer_id: int) -> None:
    for e in s.exec(select(CustomerEmail).where(
        CustomerEmail.customer_id == customer_id, CustomerEmail.is_primary == True  # noqa: E712
    )):
        e.is_primary = False
        s.add(e)
    s.flush()


def _touch(s: Session, desk: Desk, customer: Customer) -> None:
    """Bump the customer's version: any change to its parts is a change to the customer."""
    touch(customer, desk.now())
    s.add(customer)
    s.flush()


def consent_history(s: Session, customer_id: int) -> tuple[ConsentInfo, ...]:
    """A customer's consent events, oldest first, each with the policy version it falls under
    and, when that version was loaded after the event, the moment it was given to it."""
    rows = s.exec(
        select(ConsentEvent, Agent.name, PolicyVersion.label)
        .join(Agent, col(Agent.id) == col(ConsentEvent.agent_id), isouter=True)
        .join(PolicyVersion, col(PolicyVersion.id) == col(ConsentEvent.policy_version_id),
              isouter=True)
        .where(ConsentEvent.customer_id == customer_id)
        .order_by(col(ConsentEvent.at), col(ConsentEvent.id))
    ).all()
    return tuple(
        ConsentInfo(id=e.id or 0, purpose=e.purpose, action=e.action, channel=e.channel,
                    at=e.at, agent_name=agent_name, source_case_id=e.source_case_id,
                    policy_version_id=e.policy_version_id, note=e.note, policy_label=label,
                    policy_assigned_at=e.policy_assigned_at)
        for e, agent_name, label in rows
    )


def _detail(
    s: Session, desk: Desk, customer: Customer, written: Sequence[FieldChange] = ()
) -> CustomerDetail:
    """The profile; ``written``: the history rows the calling change wrote."""
    cid = customer.id
    history = field_changes(s, col(FieldChange.customer_id) == cid)
    ids = {w.id for w in written}
    emails = s.exec(
        select(CustomerEmail)
        .where(CustomerEmail.customer_id == cid)
        .order_by(col(CustomerEmail.is_primary).desc(), col(CustomerEmail.id))
    ).all()
    disclosures = s.exec(
        select(Disclosure).where(Disclosure.customer_id == cid)
        .order_by(col(Disclosure.disclosed_on), col(Disclosure.id))
    ).all()
    cases = s.exec(
        select(Case).where(Case.customer_id == cid)
        .order_by(col(Case.received_at).desc(), col(Case.id).desc()).limit(CASES_SHOWN)
    ).all()
    return CustomerDetail(
        id=cid or 0,
        name=customer.name,
        phone=customer.phone,
        company=customer.company,
        billing_address=customer.billing_address,
        shipping_address=customer.shipping_address,
        under_13=customer.under_13,
        marketing_opted_out=customer.marketing_opted_out,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
        erased_at=customer.erased_at,
        version=customer.version,
        emails=tuple(EmailInfo(id=e.id or 0, address=e.address, is_primary=e.is_primary)
                     for e in emails),
        products=_products(s, cid or 0),
        consent=consent_history(s, cid or 0),
        disclosures=tuple(
            DisclosureInfo(id=d.id or 0, recipient=d.recipient, recipient_kind=d.recipient_kind,
                           purpose=d.purpose, data_categories=tuple(d.data_categories),
                           disclosed_on=d.disclosed_on, legal_basis=d.legal_basis)
            for d in disclosures
        ),
        cases=case_summaries(s, desk, cases),
        changes=history,
        changed=tuple(c for c in history if c.id in ids),
    )


def editable_values(detail: CustomerDetail) -> dict[str, Any]:
    """The current values of the editable fields, e.g. to prefill an edit form."""
    return {f: getattr(detail, f) for f in EDITABLE_FIELDS}
