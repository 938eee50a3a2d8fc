"""Marketing opt-out and opt-in, the suppression list, bulk opt-out and the under-13 flag."""

from __future__ import annotations

import os
import stat
from datetime import date

import pytest
from sqlmodel import select

from helpdesk.db.models import AuditEvent, ConsentEvent, CustomerProduct, Message, SuppressionEntry
from helpdesk.domain import CaseKind, MessageDirection, Role
from helpdesk.errors import Forbidden, Invalid
from helpdesk.services import agents, cases, consent, customers, policy, suppression
from helpdesk.services.context import Desk

EMAIL = "Pat.Example@Example.COM"


def _customer(desk: Desk, email: str = EMAIL, **kw: object) -> int:
    return customers.create(desk, name="Pat Example", emails=[email], **kw).id  # type: ignore[arg-type]


def _inbound(desk: Desk, case_id: int) -> int:
    with desk.db.session(write=True) as s:
        m = Message(case_id=case_id, direction=MessageDirection.INBOUND, at=desk.now(),
                    body="please send me offers again")
        s.add(m)
        s.flush()
        return m.id or 0


def test_key_file_is_private_and_hash_is_keyed(desk: Desk, tmp_path: object) -> None:
    digest = suppression.email_hash(desk, "a@example.com")
    mode = stat.S_IMODE(os.stat(desk.settings.key_file).st_mode)
    assert mode == 0o600
    assert len(digest) == 64 and "example" not in digest
    assert suppression.email_hash(desk, "a@example.com") == digest
    assert suppression.email_hash(desk, "b@example.com") != digest


def test_opt_out_from_a_case_records_everything(desk: Desk) -> None:
    pv = policy.add(desk, text="Part II. Information Usage\nYou may opt out.\n",
                    effective_on=date(2020, 1, 1))
    cid = _customer(desk)
    case = cases.create(desk, kind=CaseKind.MARKETING_OPT_OUT, customer_id=cid).case
    msg = _inbound(desk, case.id)

    result = consent.opt_out(desk, case_id=case.id, message_id=msg, channel="email")

    assert result.changed and not result.marketing_allowed and result.transactional_allowed
    assert "OPTED OUT" in result.statement and "still allowed" in result.statement
    event = result.history[-1]
    assert (event.purpose, event.action, event.channel, event.source_case_id,
            event.policy_version_id, event.agent_name) == (
        "marketing", "opt_out", "email", case.id, pv.id, "alice")
    assert customers.get(desk, cid).marketing_opted_out
    with desk.db.session() as s:
        assert suppression.is_suppressed(s, desk, EMAIL.casefold())
        row = s.exec(select(ConsentEvent)).one()
        assert row.source_message_id == msg
        audit = s.exec(select(AuditEvent).where(AuditEvent.action == "consent.opt_out")).one()
        assert "Example" not in repr(audit.details)
    again = consent.opt_out(desk, customer_id=cid)
    assert not again.changed and len(again.history) == 1


def test_suppressed_address_never_turns_marketing_back_on(desk: Desk) -> None:
    other = customers.create(desk, name="Pat Again", emails=["pat.new@example.com"])
    assert not other.marketing_opted_out
    consent.bulk_opt_out(desk, addresses=["pat.new2@example.com", "gone@example.com"])

    updated = customers.add_email(desk, customer_id=other.id, address="PAT.NEW2@example.com")
    created = customers.create(desk, name="Returning", emails=["x@example.com",
                                                               "Gone@Example.com"])

    assert updated.marketing_opted_out and created.marketing_opted_out
    assert updated.consent[-1].note == "address on the suppression list"
    assert created.consent[-1].action == "opt_out"
    fresh = customers.create(desk, name="Unknown", emails=["nobody@example.org"])
    assert not fresh.marketing_opted_out and fresh.consent == ()


def test_opt_in_needs_written_request_and_a_supervisor(desk: Desk) -> None:
    agents.add(desk, name="bob", role=Role.AGENT)
    cid = _customer(desk)
    consent.opt_out(desk, customer_id=cid)
    case = cases.create(desk, kind=CaseKind.QUESTION, customer_id=cid).case
    msg = _inbound(desk, case.id)
    with pytest.raises(Invalid, match="written request"):
        consent.opt_in(desk, customer_id=cid)
    with pytest.raises(Forbidden):
        consent.opt_in(desk.as_agent("bob"), message_id=msg)
    note = cases.add_note(desk, case_id=case.id, body="agent note").messages[-1]
    with pytest.raises(Invalid, match="not written by the customer"):
        consent.opt_in(desk, message_id=note.id)

    result = consent.opt_in(desk, message_id=msg)

    assert result.marketing_allowed and result.history[-1].action == "opt_in"
    assert result.history[-1].source_case_id == case.id
    with desk.db.session() as s:
        assert not suppression.is_suppressed(s, desk, EMAIL.casefold())


def test_agent_may_opt_out(desk: Desk) -> None:
    agents.add(desk, name="bob", role=Role.AGENT)
    cid = _customer(desk)
    assert not consent.opt_out(desk.as_agent("bob"), customer_id=cid).marketing_allowed


def test_bulk_opt_out_suppresses_unknown_people_by_hash_only(desk: Desk) -> None:
    cid = _customer(desk)
    report = consent.bulk_opt_out(
        desk, addresses=[EMAIL, "stranger@example.net", "not an address", "STRANGER@example.net"])
    assert report.customers_opted_out == (cid,)
    assert report.suppressed_by_hash == 1 and report.already_suppressed == 1
    assert [pos for pos, _ in report.rejected] == [3]
    with desk.db.session() as s:
        assert suppression.is_suppressed(s, desk, "stranger@example.net")
        dump = repr([e.model_dump() for e in s.exec(select(SuppressionEntry))])
    assert "stranger" not in dump
    rows = suppression.export(desk, hashed=False)
    assert sorted(r.address or "-" for r in rows) == ["-", EMAIL.casefold()]
    agents.add(desk, name="bob", role=Role.AGENT)
    assert len(suppression.export(desk.as_agent("bob"), hashed=True)) == 2
    with pytest.raises(Forbidden):
        suppression.export(desk.as_agent("bob"), hashed=False)


def test_under_13_blocks_marketing_and_opens_parental_flow(desk: Desk) -> None:
    cid = _customer(desk)
    customers.add_product(desk, customer_id=cid, relation="registration", product="Game kit")
    customers.add_product(desk, customer_id=cid, relation="purchase", product="Game kit")

    result = consent.mark_under_13(desk, customer_id=cid)

    assert not result.status.marketing_allowed and result.status.under_13
    assert "under 13" in result.status.statement
    assert result.registrations_removed == 1
    with desk.db.session() as s:
        assert [p.relation for p in s.exec(select(CustomerProduct))] == ["purchase"]
        assert suppression.is_suppressed(s, desk, EMAIL.casefold())
        reasons = {e.reason for e in s.exec(select(SuppressionEntry))}
    assert reasons == {"under_13"}
    assert cases.get(desk, result.case_id).case.kind == CaseKind.UNDER_13
    case = cases.create(desk, kind=CaseKind.QUESTION, customer_id=cid).case
    with pytest.raises(Invalid, match="under 13"):
        consent.opt_in(desk, customer_id=cid, message_id=_inbound(desk, case.id))
    assert consent.mark_under_13(desk, customer_id=cid).case_id == result.case_id


def test_customer_created_under_13_is_never_marketed(desk: Desk) -> None:
    detail = customers.create(desk, name="Kid", emails=["kid@example.com"], under_13=True)
    assert detail.marketing_opted_out
    with desk.db.session() as s:
        assert suppression.is_suppressed(s, desk, "kid@example.com")
