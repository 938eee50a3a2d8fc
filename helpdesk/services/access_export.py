"""Access requests (policy Part III): everything the desk holds about one customer.

The export gathers the profile, e-mail addresses, postal addresses, purchases and registrations,
the consent history, the disclosure register, and every case with its messages (internal notes
included: they are data about the person too; attachment contents are listed, not embedded).
It renders as JSON for machines and as plain text for the letter. Taking it is audited.
Any agent may take an export: answering access requests is ordinary desk work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from helpdesk.db.models import Case
from helpdesk.domain import CaseKind
from helpdesk.errors import Invalid
from helpdesk.services import audit, cases, customers, verification
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import (
    CaseEventInfo,
    ConsentInfo,
    CustomerDetail,
    DisclosureInfo,
    EmailInfo,
    FieldChangeInfo,
    MessageInfo,
    ProductInfo,
    consent_policy,
    to_jsonable,
)
from helpdesk.wording import hanging


@dataclass(frozen=True, slots=True)
class ExportedCase:
    id: int
    kind: str
    status: str
    subject: str | None
    received_at: datetime
    closed_at: datetime | None
    outcome: str | None
    messages: tuple[MessageInfo, ...]
    events: tuple[CaseEventInfo, ...]


@dataclass(frozen=True, slots=True)
class AccessExport:
    customer_id: int
    generated_at: datetime
    name: str | None
    phone: str | None
    company: str | None
    billing_address: str | None
    shipping_address: str | None
    under_13: bool
    marketing_opted_out: bool
    created_at: datetime
    erased_at: datetime | None
    emails: tuple[EmailInfo, ...]
    purchases: tuple[ProductInfo, ...]
    registrations: tuple[ProductInfo, ...]
    consent_history: tuple[ConsentInfo, ...]
    disclosures: tuple[DisclosureInfo, ...]
    cases: tuple[ExportedCase, ...]
    #: Every change to the record: field, old -> new, when, by whom, under which case.
    changes: tuple[FieldChangeInfo, ...] = ()


def access_request(s: Session, customer_id: int, case_id: int | None) -> Case:
    """The access request an export answers: ``case_id``, or the customer's only open one."""
    if case_id is None:
        open_ = s.exec(select(Case).where(
            Case.customer_id == customer_id, Case.kind == CaseKind.ACCESS.value,
            col(Case.closed_at).is_(None))).all()
        if len(open_) != 1:
            raise Invalid(
                f"customer #{customer_id} has {'no' if not open_ else len(open_)} open access "
                "requests: an export answers one, so " + (
                    "open an access case first" if not open_ else "name it with --case N"),
                field="case")
        return open_[0]
    case = cases.load(s, case_id)
    if case.customer_id != customer_id or case.kind != CaseKind.ACCESS:
        raise Invalid(f"case #{case_id} is not an access request of customer #{customer_id}",
                      field="case")
    return case


def export(desk: Desk, *, customer_id: int, case_id: int | None = None) -> AccessExport:
    """Everything held about the customer, answering their access request ``case_id`` (or
    their only open one), which must be verified (see :mod:`helpdesk.services.verification`)."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        customer = customers.load(s, customer_id)
        request = access_request(s, customer_id, case_id)
        verification.require_verified(s, request, action="export")
        profile: CustomerDetail = customers._detail(s, desk, customer)
        all_cases = s.exec(select(Case).where(Case.customer_id == customer_id)
                           .order_by(col(Case.received_at), col(Case.id))).all()
        exported = []
        for c in all_cases:
            d = cases.detail(s, desk, c)
            exported.append(ExportedCase(
                id=c.id or 0, kind=c.kind, status=c.status, subject=c.subject,
                received_at=c.received_at, closed_at=c.closed_at, outcome=c.outcome,
                messages=d.messages, events=d.events))
        audit.record(s, desk, actor, "customer.export", "customer", customer_id,
                     case_id=request.id,
                     cases=len(exported), messages=sum(len(c.messages) for c in exported))
    return AccessExport(
        customer_id=customer_id, generated_at=desk.now(), name=profile.name,
        phone=profile.phone, company=profile.company, billing_address=profile.billing_address,
        shipping_address=profile.shipping_address, under_13=profile.under_13,
        marketing_opted_out=profile.marketing_opted_out, created_at=profile.created_at,
        erased_at=profile.erased_at, emails=profile.emails,
        purchases=tuple(p for p in profile.products if p.relation == "purchase"),
        registrations=tuple(p for p in profile.products if p.relation == "registration"),
        consent_history=profile.consent, disclosures=profile.disclosures,
        cases=tuple(exported), changes=profile.changes,
    )


def to_json(data: AccessExport) -> str:
    return json.dumps(to_jsonable(data), ensure_ascii=False, indent=2)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="minutes") if value else "-"


def _was(value: str | None, change: FieldChangeInfo) -> str:
    return "(erased)" if change.values_erased else value or "(empty)"


def to_text(data: AccessExport) -> str:
    """A plain-text rendering for a letter; values appear as stored (the caller escapes them
    for a terminal)."""
    out = [f"Personal information held about customer #{data.customer_id}",
           f"Prepared {_when(data.generated_at)}", "", "PROFILE"]
    for label, value in (("Name", data.name), ("Phone", data.phone), ("Company", data.company),
                         ("Billing address", data.billing_address),
                         ("Shipping address", data.shipping_address)):
        out.append(hanging(f"  {label}: ", value or "-"))
    out.append(f"  Marketing: {'opted out' if data.marketing_opted_out else 'allowed'}")
    out += ["", "E-MAIL ADDRESSES"]
    out += [f"  {e.address}{' (primary)' if e.is_primary else ''}" for e in data.emails] or \
        ["  none"]
    for title, rows in (("PURCHASES", data.purchases), ("REGISTRATIONS", data.registrations)):
        out += ["", title]
        out += [f"  {p.product} {p.reference or ''} {p.occurred_on or ''}".rstrip()
                for p in rows] or ["  none"]
    out += ["", "MARKETING CONSENT HISTORY"]
    out += [f"  {_when(e.at)} {e.purpose} {e.action} via {e.channel}, {consent_policy(e, _when)}"
            for e in data.consent_history] or ["  none"]
    out += ["", "DISCLOSURES TO OTHERS"]
    out += [f"  {d.disclosed_on} to {d.recipient} ({d.recipient_kind}) for {d.purpose}: "
            f"{', '.join(d.data_categories)}" for d in data.disclosures] or ["  none"]
    out += ["", "CHANGES TO YOUR RECORD"]
    out += [f"  {_when(c.at)} {c.field}: {_was(c.old_value, c)} -> {_was(c.new_value, c)}"
            f" (by {c.agent_name or '-'}{f', case #{c.case_id}' if c.case_id else ''})"
            for c in data.changes] or ["  none"]
    out += ["", "CASES AND MESSAGES"]
    for c in data.cases:
        out.append(f"  Case #{c.id} {c.kind} ({c.status}) received {_when(c.received_at)}: "
                   f"{c.subject or '-'}")
        for m in c.messages:
            out.append(f"    [{_when(m.at)} {m.direction.value}] {m.subject or ''}".rstrip())
            out += [f"      {line}" for line in (m.body or "").splitlines()]
            out += [f"      attachment #{a.id}: {a.filename or '-'} ({a.content_type}, "
                    f"{a.size:,} bytes{'' if a.kept else ', content not kept'})"
                    for a in m.attachments]
    if not data.cases:
        out.append("  none")
    return "\n".join(out) + "\n"
