"""Access export, correction with recipients to notify, the disclosure register, and answers
drawn from a (sample) policy text."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from helpdesk.db.models import AuditEvent, FieldChange, Message
from helpdesk.domain import CaseKind, MessageDirection
from helpdesk.errors import Invalid, NotFound
from helpdesk.services import (
    access_export,
    answers,
    cases,
    consent,
    customers,
    disclosures,
    policy,
)
from helpdesk.services.context import Desk
from tests.conftest import FakeClock, verified_request

SAMPLE = """Preamble that is not a part.
Part I. Information Collection
We collect names. We use cookies to count visits. A cookie is a small file.
We do not knowingly collect information from children under 13 for marketing purposes.
Part II. Information Usage
We send offers; you may opt out at any time. Postings in our forums are publicly available.
We may also use web bugs on pages. Finally, we do not sell information collected from customers.
We may share information with contractors.
Part III. Access to Your Information
Write to correct or delete your data. Copies may remain in archival databases.
Part VI. Contact Information
Questions go to the desk.
"""


def _customer(desk: Desk) -> int:
    return customers.create(desk, name="Quinn Archer", emails=["quinn@example.com"],
                            billing_address="5 Bow St").id


def test_parts_are_found_by_their_headings() -> None:
    found = answers.parts(SAMPLE)
    assert [(p.number, p.title) for p in found] == [
        ("I", "Information Collection"), ("II", "Information Usage"),
        ("III", "Access to Your Information"), ("VI", "Contact Information")]
    assert "Preamble" not in found[0].text
    assert answers.part_for(SAMPLE, CaseKind.DELETION).number == "III"  # type: ignore[union-attr]
    assert answers.part_for(SAMPLE, CaseKind.MARKETING_OPT_OUT).number == "II"  # type: ignore[union-attr]
    assert answers.part_for(SAMPLE, CaseKind.UNDER_13).number == "I"  # type: ignore[union-attr]
    assert answers.part_for("no headings here", CaseKind.ACCESS) is None


def test_case_shows_the_part_that_governs_its_kind(desk: Desk, clock: FakeClock) -> None:
    policy.add(desk, text=SAMPLE, effective_on=date(2020, 1, 1))
    policy.add(desk, text=SAMPLE.replace("Write to correct", "Newer: write to correct"),
               effective_on=date(2026, 6, 1))
    cid = _customer(desk)
    case = cases.create(desk, kind=CaseKind.DELETION, customer_id=cid).case
    gov = answers.governing_part(desk, case_id=case.id)
    assert gov.part is not None and gov.part.title == "Access to Your Information"
    assert gov.part.text.startswith("Write to correct")  # version in force when it arrived
    clock.now = datetime(2026, 7, 1, tzinfo=UTC)
    later = cases.create(desk, kind=CaseKind.DELETION, customer_id=cid).case
    part = answers.governing_part(desk, case_id=later.id).part
    assert part is not None and part.text.startswith("Newer")


def test_canned_answers_quote_the_policy_in_force(desk: Desk) -> None:
    with pytest.raises(NotFound):
        answers.answer(desk, topic="cookies")
    policy.add(desk, text=SAMPLE, effective_on=date(2020, 1, 1))
    cookies = answers.answer(desk, topic="cookies")
    assert cookies.quoted == ("We use cookies to count visits.", "A cookie is a small file.")
    assert "We use cookies to count visits." in cookies.text
    assert answers.answer(desk, topic="web_bugs").quoted == ("We may also use web bugs on pages.",)
    assert answers.answer(desk, topic="postings").quoted == (
        "Postings in our forums are publicly available.",)
    assert "opt out" in answers.answer(desk, topic="change_of_use").text
    with pytest.raises(Invalid):
        answers.answer(desk, topic="weather")


def test_disclosure_register_refuses_sales_and_answers_who_has_my_data(desk: Desk) -> None:
    policy.add(desk, text=SAMPLE, effective_on=date(2020, 1, 1))
    cid = _customer(desk)
    empty = disclosures.who_has_my_data(desk, customer_id=cid)
    assert "no disclosure" in empty.text
    for kind, purpose in (("sale", "marketing list"), ("contractor", "Sold to a broker"),
                          ("affiliate", "selling leads")):
        with pytest.raises(Invalid, match="does not sell customer information"):
            disclosures.add(desk, customer_id=cid, recipient="Broker Ltd", recipient_kind=kind,
                            purpose=purpose, data_categories=["email"],
                            disclosed_on=date(2026, 3, 1), legal_basis="none")
    with pytest.raises(Invalid, match="recipient kind"):
        disclosures.add(desk, customer_id=cid, recipient="X", recipient_kind="friend",
                        purpose="p", data_categories=["email"], disclosed_on=date(2026, 3, 1),
                        legal_basis="b")
    added = disclosures.add(desk, customer_id=cid, recipient="Parcel Co",
                            recipient_kind="contractor", purpose="delivering an order",
                            data_categories=["name", "shipping address"],
                            disclosed_on=date(2026, 3, 1), legal_basis="contract")
    assert [d.id for d in disclosures.list_for(desk, customer_id=cid)] == [added.id]
    answer = disclosures.who_has_my_data(desk, customer_id=cid)
    assert "Parcel Co" in answer.text and "contractor" in answer.text
    assert "we do not sell information collected from customers" in answer.text


def test_correction_is_linked_to_its_case_and_lists_recipients(desk: Desk) -> None:
    cid = _customer(desk)
    disclosures.add(desk, customer_id=cid, recipient="Parcel Co", recipient_kind="contractor",
                    purpose="delivery", data_categories=["billing address"],
                    disclosed_on=date(2026, 3, 1), legal_basis="contract")
    case = verified_request(desk, cid, CaseKind.CORRECTION).case

    result = disclosures.correct(desk, case_id=case.id, billing_address="7 New Road",
                                 name="Quinn Archer")

    assert result.fields == ("billing_address",)
    assert [d.recipient for d in result.notify] == ["Parcel Co"]
    assert result.customer.billing_address == "7 New Road"
    with desk.db.session() as s:
        change = s.exec(select(FieldChange)).one()
        assert (change.case_id, change.field) == (case.id, "billing_address")
    unchanged = disclosures.correct(desk, case_id=case.id, billing_address="7 New Road")
    assert unchanged.fields == () and unchanged.notify == ()


def test_access_export_holds_everything_and_is_audited(desk: Desk) -> None:
    cid = _customer(desk)
    customers.add_product(desk, customer_id=cid, relation="purchase", product="Bow")
    customers.add_product(desk, customer_id=cid, relation="registration", product="Quiver")
    consent.opt_out(desk, customer_id=cid)
    disclosures.add(desk, customer_id=cid, recipient="Parcel Co", recipient_kind="contractor",
                    purpose="delivery", data_categories=["name"],
                    disclosed_on=date(2026, 3, 1), legal_basis="contract")
    case = verified_request(desk, cid, CaseKind.ACCESS, subject="My data").case
    with desk.db.session(write=True) as s:
        s.add(Message(case_id=case.id, direction=MessageDirection.INBOUND, at=desk.now(),
                      body="What do you hold?\n[bold]x[/]"))

    data = access_export.export(desk, customer_id=cid)

    assert data.name == "Quinn Archer" and data.billing_address == "5 Bow St"
    assert [e.address for e in data.emails] == ["quinn@example.com"]
    assert [p.product for p in data.purchases] == ["Bow"]
    assert [p.product for p in data.registrations] == ["Quiver"]
    assert [e.action for e in data.consent_history] == ["opt_out"]
    assert [d.recipient for d in data.disclosures] == ["Parcel Co"]
    assert [c.id for c in data.cases] == [case.id]
    assert data.cases[0].messages[0].body == "What do you hold?\n[bold]x[/]"
    parsed = json.loads(access_export.to_json(data))
    assert parsed["emails"][0]["address"] == "quinn@example.com"
    text = access_export.to_text(data)
    for needle in ("Quinn Archer", "quinn@example.com", "Bow", "Quiver", "opt_out",
                   "Parcel Co", "What do you hold?", "My data"):
        assert needle in text
    with desk.db.session() as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "customer.export")).one()
        assert event.object_id == cid and "Quinn" not in json.dumps(event.details)
