"""Data builders shared by the reply and merge tests (a small policy of our own, cases, letters)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import select

from helpdesk.db.models import Case, Customer, Message
from helpdesk.domain import CaseKind, MessageDirection
from helpdesk.services import cases, customers, policy
from helpdesk.services.context import Desk

#: A policy of our own, with each part's wording recognisable in a rendered letter.
SAMPLE_POLICY = """Sample policy for tests.
Part I. Information Collection
PART-ONE children under 13 wording.
Part II. Information Usage
PART-TWO crucial information wording.
Part III. Access to Your Information
PART-THREE archival databases wording.
Part IV. Data Storage and Security
PART-FOUR wording.
Part V. Modifications
PART-FIVE wording.
Part VI. Contact Information
PART-SIX disputes within 90 days wording.
"""

PART_MARKERS = {
    CaseKind.QUESTION: "PART-SIX",
    CaseKind.MARKETING_OPT_OUT: "PART-TWO",
    CaseKind.ACCESS: "PART-THREE",
    CaseKind.CORRECTION: "PART-THREE",
    CaseKind.DELETION: "PART-THREE",
    CaseKind.OBJECTION: "PART-THREE",
    CaseKind.DISPUTE: "PART-SIX",
    CaseKind.UNDER_13: "PART-ONE",
    CaseKind.POSTING_REMOVAL: "PART-TWO",
}

AUTO = "<auto>"


def add_policy(desk: Desk) -> None:
    policy.add(desk, text=SAMPLE_POLICY, effective_on=date(2015, 4, 17), label="Sample 2015")


def add_customer(desk: Desk, name: str = "Jana Nováková", email: str = "jana@example.org",
                 **kw: object) -> int:
    return customers.create(desk, name=name, emails=[email], **kw).id  # type: ignore[arg-type]


def open_case(desk: Desk, customer_id: int, kind: CaseKind = CaseKind.DELETION,
              *, language: str | None = None, message_id: str | None = AUTO,
              references: str | None = "<root@mail.example>") -> int:
    """A case with the customer's letter on it, as intake would file it.

    The letter's Message-ID is ``<letter-CASE@mail.example>`` unless given (None: no header).
    """
    case_id = cases.create(desk, kind=kind, customer_id=customer_id, subject="my data",
                           received_at=desk.now() - timedelta(days=2)).case.id
    if message_id == AUTO:
        message_id = f"<letter-{case_id}@mail.example>"
    with desk.db.session(write=True) as s:
        s.add(Message(case_id=case_id, direction=MessageDirection.INBOUND,
                      at=desk.now() - timedelta(days=2), message_id=message_id,
                      references=references, in_reply_to=None, from_address="jana@example.org",
                      subject="my data", body="please act", language=language))
    return case_id


def set_case(desk: Desk, case_id: int, **values: object) -> None:
    """Set case columns directly (outcome, override) as the other workflows would."""
    with desk.db.session(write=True) as s:
        case = s.get(Case, case_id)
        assert case is not None
        for k, v in values.items():
            setattr(case, k, v)
        s.add(case)


def set_customer(desk: Desk, customer_id: int, **values: object) -> None:
    """Set customer columns directly, bypassing input cleaning (as a raw import could)."""
    with desk.db.session(write=True) as s:
        row = s.exec(select(Customer).where(Customer.id == customer_id)).one()
        for k, v in values.items():
            setattr(row, k, v)
        s.add(row)
