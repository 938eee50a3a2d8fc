"""The disclosure register ("who has my data?") and the correction flow that notifies recipients.

Policy Parts II and IV name who may receive personal data: companies integral to the product,
contractors, affiliates, an acquirer, and the government when the law requires. Part II ends
"we do not sell information collected from customers", so a disclosure described as a sale is
refused outright.

Roles: any agent may record and list disclosures and run a correction; the register is an
accountability record, so entries are never edited or deleted here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from helpdesk.db.models import Case, Disclosure
from helpdesk.domain import CaseKind, RecipientKind
from helpdesk.errors import Invalid, NotFound
from helpdesk.services import answers, audit, cases, customers, policy
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import CustomerDetail, DisclosureInfo
from helpdesk.services.validation import clean_text

_SALE = re.compile(r"\b(sale|sales|sell|sells|selling|sold)\b", re.IGNORECASE)
NO_SALE = ("the company does not sell customer information (privacy policy Part II: \"we do "
           "not sell information collected from customers\"); record who received the data and "
           "why, as a partner, contractor, affiliate, acquirer or government disclosure")

KIND_LABELS: dict[RecipientKind, str] = {
    RecipientKind.INTEGRAL_PARTNER: "a company integral to the product or service",
    RecipientKind.CONTRACTOR: "a contractor or service provider working for us",
    RecipientKind.AFFILIATE: "an affiliate bound by this privacy policy",
    RecipientKind.ACQUIRER: "a company that acquired the business",
    RecipientKind.GOVERNMENT: "a government body, as required by law",
}


def _info(d: Disclosure) -> DisclosureInfo:
    return DisclosureInfo(id=d.id or 0, recipient=d.recipient, recipient_kind=d.recipient_kind,
                          purpose=d.purpose, data_categories=tuple(d.data_categories),
                          disclosed_on=d.disclosed_on, legal_basis=d.legal_basis)


def _kind(value: RecipientKind | str) -> RecipientKind:
    if _SALE.search(str(value)):
        raise Invalid(NO_SALE, field="recipient_kind")
    try:
        return RecipientKind(value)
    except ValueError:
        raise Invalid("recipient kind must be one of "
                      f"{', '.join(k.value for k in RecipientKind)}",
                      field="recipient_kind") from None


def add(
    desk: Desk,
    *,
    customer_id: int,
    recipient: str,
    recipient_kind: RecipientKind | str,
    purpose: str,
    data_categories: Sequence[str],
    disclosed_on: date,
    legal_basis: str,
) -> DisclosureInfo:
    kind = _kind(recipient_kind)
    why = clean_text(purpose, field="purpose", required=True) or ""
    if _SALE.search(why):
        raise Invalid(NO_SALE, field="purpose")
    who = clean_text(recipient, field="recipient", required=True) or ""
    basis = clean_text(legal_basis, field="legal_basis", required=True) or ""
    categories = [c for c in (clean_text(x, field="data_categories") for x in data_categories)
                  if c]
    if not categories:
        raise Invalid("name at least one category of data disclosed", field="data_categories")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        customer = customers.load(s, customer_id)
        if customer.erased_at is not None:
            raise Invalid(f"customer #{customer_id} has been erased", field="customer")
        if disclosed_on > desk.now().astimezone(desk.settings.tz).date():
            raise Invalid("a disclosure cannot be dated in the future", field="disclosed_on")
        row = Disclosure(customer_id=customer_id, recipient=who, recipient_kind=kind.value,
                         purpose=why, data_categories=categories, disclosed_on=disclosed_on,
                         legal_basis=basis, recorded_by_id=actor.id, created_at=desk.now())
        s.add(row)
        s.flush()
        audit.record(s, desk, actor, "disclosure.add", "disclosure", row.id,
                     customer_id=customer_id, recipient_kind=kind.value,
                     categories=len(categories))
        return _info(row)


def _rows(s: Session, customer_id: int) -> list[Disclosure]:
    return list(s.exec(select(Disclosure).where(Disclosure.customer_id == customer_id)
                       .order_by(col(Disclosure.disclosed_on), col(Disclosure.id))))


def list_for(desk: Desk, *, customer_id: int) -> list[DisclosureInfo]:
    """The customer's register entries (an audited view)."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        customers.load(s, customer_id)
        rows = _rows(s, customer_id)
        audit.record(s, desk, actor, "disclosure.list", "customer", customer_id, rows=len(rows))
        return [_info(d) for d in rows]


@dataclass(frozen=True, slots=True)
class WhoHasMyData:
    customer_id: int
    recipients: tuple[DisclosureInfo, ...]
    text: str  # the reply: the register, then the policy's own words on sharing and sale


def who_has_my_data(desk: Desk, *, customer_id: int) -> WhoHasMyData:
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        customers.load(s, customer_id)
        rows = [_info(d) for d in _rows(s, customer_id)]
        version = policy.in_force(s, desk.now(), desk)
        quoted = answers.quotes(version, answers.Topic.SALE) if version else []
        audit.record(s, desk, actor, "disclosure.answer", "customer", customer_id,
                     rows=len(rows))
    if rows:
        extra = ["Our records show your information was shared with:"]
        extra += [f"  - {d.recipient} ({KIND_LABELS[RecipientKind(d.recipient_kind)]}), on "
                  f"{d.disclosed_on.isoformat()}, for {d.purpose}; data: "
                  f"{', '.join(d.data_categories)}" for d in rows]
    else:
        extra = ["Our records show no disclosure of your information to anyone outside the "
                 "company."]
    return WhoHasMyData(customer_id, tuple(rows), answers.compose(answers.Topic.SHARING, quoted,
                                                                  extra))


@dataclass(frozen=True, slots=True)
class CorrectionResult:
    customer: CustomerDetail
    case_id: int
    fields: tuple[str, ...]  # the fields changed (never their values)
    notify: tuple[DisclosureInfo, ...]  # recipients who hold the old data and should be told


def correct(
    desk: Desk, *, case_id: int, expected_version: int | None = None, **changes: str | None,
) -> CorrectionResult:
    """Apply a correction request: the edit is linked to its case (field history keeps who,
    when and which case, never the old value) and the recipients to notify are listed."""
    with desk.db.session() as s:
        desk.actor(s)
        case: Case = cases.load(s, case_id)
        if case.customer_id is None:
            raise NotFound(f"case #{case_id} has no customer to correct")
        if case.kind != CaseKind.CORRECTION:
            raise Invalid(f"case #{case_id} is a {CaseKind(case.kind).label} case: a "
                          "correction is applied under a correction request", field="case")
        customer_id = case.customer_id
        before = customers.load(s, customer_id)
        old = {f: getattr(before, f) for f in changes if f in customers.EDITABLE_FIELDS}
    detail = customers.update(desk, customer_id=customer_id, expected_version=expected_version,
                              case_id=case_id, **changes)
    changed = tuple(f for f in old if getattr(detail, f) != old[f])
    with desk.db.session() as s:
        notify = tuple(_info(d) for d in _rows(s, customer_id)) if changed else ()
    return CorrectionResult(detail, case_id, changed, notify)
