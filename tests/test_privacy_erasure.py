"""Erasure: the person leaves the live data, the database files and the search index; a
PII-free tombstone, suppression and archive checklist stay; re-running and re-applying work."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlmodel import col, select

from helpdesk.db.models import (
    Attachment,
    Case,
    CaseEvent,
    Customer,
    CustomerEmail,
    Erasure,
    Message,
    SuppressionEntry,
)
from helpdesk.domain import CaseKind, MessageDirection, Role
from helpdesk.errors import Forbidden, Invalid
from helpdesk.services import agents, cases, customers, erasure, policy, suppression
from helpdesk.services.context import Desk
from tests.conftest import FakeClock, verified_request

NAME = "Zebediah Quillfeather"
EMAIL = "zeb.quillfeather@example.org"
OTHER = "zq.private@example.net"
BODY = "Please delete everything about my Xylophonic account"
SAMPLE_POLICY = (
    "Part III. Access to Your Information\n"
    "Write to us to delete your data. Even after deletion from the live database, copies may "
    "remain on databases kept for archival purposes.\n"
    "Part IV. Data Storage\nWe keep things safe.\n"
)


def _customer_with_case(desk: Desk) -> tuple[int, int]:
    c = customers.create(desk, name=NAME, emails=[EMAIL, OTHER], phone="+1 555 0100",
                         billing_address="1 Quill Lane\nFeatherton")
    customers.add_product(desk, customer_id=c.id, relation="purchase", product="Xylo Pro",
                          reference="ORD-991", occurred_on=date(2026, 1, 2))
    case = verified_request(desk, c.id, CaseKind.DELETION, subject=f"Delete {NAME}",
                            note=f"Caller {NAME} confirmed by phone").case
    with desk.db.session(write=True) as s:
        m = Message(case_id=case.id, direction=MessageDirection.INBOUND, at=desk.now(),
                    from_address=EMAIL, to_address="info@helpdesk.invalid",
                    subject=f"Delete {NAME}", body=BODY)
        s.add(m)
        s.flush()
        s.add(Attachment(message_id=m.id or 0, filename=f"{NAME}.txt", content_type="text/plain",
                         size=len(BODY), sha256="0" * 64, content=BODY.encode()))
        s.add(CaseEvent(case_id=case.id, action="note", note=f"{NAME} called"))
        row = s.get(Case, case.id)
        assert row is not None
        row.classification = {"primary": "deletion", "phrase": "delete everything about my"}
        s.add(row)
    return c.id, case.id


def test_erasure_removes_the_person_and_keeps_the_tombstone(desk: Desk) -> None:
    customer_id, case_id = _customer_with_case(desk)
    bystander = customers.create(desk, name="Ada Bystander", emails=["ada@example.com"])

    info = erasure.erase(desk, customer_id=customer_id, case_id=case_id)

    assert info.status == "complete" and not info.already_erased
    assert info.case_ids == (case_id,)
    with desk.db.session() as s:
        hashes = {suppression.email_hash(desk, EMAIL), suppression.email_hash(desk, OTHER)}
        assert set(info.email_hashes) == hashes
        assert suppression.is_suppressed(s, desk, EMAIL)
        reasons = {e.reason for e in s.exec(select(SuppressionEntry))}
        assert reasons == {"erasure"}
        customer = s.get(Customer, customer_id)
        assert customer is not None and customer.erased_at is not None
        assert (customer.name, customer.phone, customer.billing_address) == (None, None, None)
        assert s.exec(select(CustomerEmail).where(
            CustomerEmail.customer_id == customer_id)).all() == []
        msg = s.exec(select(Message).where(Message.case_id == case_id,
                                           Message.direction == "inbound")).one()
        assert (msg.body, msg.subject, msg.from_address, msg.to_address) == (None,) * 4
        att = s.exec(select(Attachment)).one()
        assert att.content is None and att.filename is None
        notes = s.exec(select(Message.body).where(Message.case_id == case_id)).all()
        assert all(b is None for b in notes)
        assert all(e.note is None for e in s.exec(select(CaseEvent).where(
            CaseEvent.case_id == case_id)))
        case = s.get(Case, case_id)
        assert case is not None and case.subject is None and case.kind == "deletion"
        assert case.classification == {"primary": "deletion", "phrase": None}
        ledger = s.exec(select(Erasure)).one()
        text = repr(ledger.steps) + repr(ledger.email_hashes)
        assert NAME not in text and EMAIL not in text
    assert customers.find(desk, "Quillfeather") == []
    assert customers.find(desk, "zeb.quill") == []
    assert [h.id for h in customers.find(desk, "Bystander")] == [bystander.id]


def test_old_name_and_email_are_gone_from_the_sqlite_files(desk: Desk) -> None:
    if desk.db.backend != "sqlite":
        pytest.skip("raw file check is for the embedded SQLite database")
    customer_id, case_id = _customer_with_case(desk)
    path = desk.db.sqlite_path
    assert path is not None
    files = [path, path.with_name(path.name + "-wal")]
    before = b"".join(f.read_bytes() for f in files if f.exists())
    assert EMAIL.encode() in before  # the check below can fail

    erasure.erase(desk, customer_id=customer_id, case_id=case_id)

    after = b"".join(f.read_bytes() for f in files if f.exists())
    for secret in (NAME, EMAIL, OTHER, BODY, "Quill Lane", "Xylo Pro"):
        assert secret.encode() not in after, secret
        assert secret.encode("utf-16-le") not in after, secret


def test_second_erasure_is_a_no_op_and_later_data_is_untouched(
    desk: Desk, clock: FakeClock
) -> None:
    customer_id, case_id = _customer_with_case(desk)
    first = erasure.erase(desk, customer_id=customer_id, case_id=case_id)
    clock.advance(days=1)
    with desk.db.session(write=True) as s:  # e.g. a dispute filed after the erasure
        later = cases.new_case(s, desk, desk.actor(s), kind=CaseKind.DISPUTE,
                               customer_id=customer_id, subject="later", received_at=desk.now())
        s.add(Message(case_id=later.id, direction=MessageDirection.NOTE, at=desk.now(),
                      body="written after the erasure"))
        later_id = later.id

    second = erasure.erase(desk, customer_id=customer_id, case_id=case_id)

    assert second.already_erased and second.id == first.id
    with desk.db.session() as s:
        assert len(s.exec(select(Erasure)).all()) == 1
        assert s.exec(select(Message.body).where(Message.case_id == later_id)).one() == \
            "written after the erasure"
        assert s.get(Case, later_id).subject == "later"  # type: ignore[union-attr]
    # re-applying the ledger also leaves the later data alone
    assert erasure.reapply_ledger(desk) == []


def test_reapply_ledger_re_erases_data_brought_back(desk: Desk) -> None:
    customer_id, case_id = _customer_with_case(desk)
    with desk.db.session() as s:
        email_id = s.exec(select(CustomerEmail.id).where(CustomerEmail.normalized == EMAIL)).one()
    erasure.erase(desk, customer_id=customer_id, case_id=case_id)
    with desk.db.session(write=True) as s:  # a restore brings rows back with their old ids
        customer = s.get(Customer, customer_id)
        assert customer is not None
        customer.name = NAME
        s.add(customer)
        s.add(CustomerEmail(id=email_id, customer_id=customer_id, address=EMAIL,
                            normalized=EMAIL, is_primary=True))
        msg = s.exec(select(Message).where(Message.case_id == case_id,
                                           Message.direction == "inbound")).one()
        msg.body = BODY
        s.add(msg)

    assert erasure.reapply_ledger(desk) == [customer_id]

    with desk.db.session() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None and customer.name is None
        assert s.exec(select(CustomerEmail)).all() == []
        assert s.exec(select(Message.body).where(col(Message.body).is_not(None),
                                                 Message.case_id == case_id)).all() == []
    assert erasure.reapply_ledger(desk) == []


def test_archive_checklist_and_completion_letter(desk: Desk, clock: FakeClock) -> None:
    desk = replace(desk, settings=replace(desk.settings, archive_systems=("Tape vault",
                                                                         "Mail archive")))
    desk.__post_init__()
    policy.add(desk, text=SAMPLE_POLICY, effective_on=date(2020, 1, 1))
    customer_id, case_id = _customer_with_case(desk)
    info = erasure.erase(desk, customer_id=customer_id, case_id=case_id)
    assert [(a.system, a.status) for a in info.archives] == [
        ("Tape vault", "pending"), ("Mail archive", "pending")]

    agents.add(desk, name="bob", role=Role.AGENT)
    with pytest.raises(Forbidden):
        erasure.mark_archive(desk.as_agent("bob"), check_id=info.archives[0].id,
                             status="purged")
    clock.advance(hours=2)
    marked = erasure.mark_archive(desk, check_id=info.archives[0].id, status="purged",
                                  expected_version=info.archives[0].version)
    purged = marked.archives[0]
    assert (purged.status, purged.by_name, purged.at) == ("purged", "alice", clock.now)
    with pytest.raises(Invalid):
        erasure.mark_archive(desk, check_id=purged.id, status="beyond_use")

    letter = erasure.completion_letter(desk, erasure_id=info.id)
    assert "copies may remain on databases kept for archival purposes" in letter
    assert "Tape vault: deleted" in letter and "Mail archive: still held" in letter
    assert NAME not in letter and EMAIL not in letter


def test_any_agent_may_erase_but_only_the_customers_own_case(desk: Desk) -> None:
    customer_id, case_id = _customer_with_case(desk)
    other = customers.create(desk, name="Other Person", emails=["other@example.com"])
    with pytest.raises(Invalid):
        erasure.erase(desk, customer_id=other.id, case_id=case_id)
    agents.add(desk, name="bob", role=Role.AGENT)
    info = erasure.erase(desk.as_agent("bob"), customer_id=customer_id, case_id=case_id)
    assert info.status == "complete"
    # an erased person who writes again is known only as suppressed
    again = customers.create(desk, name="New Name", emails=[EMAIL])
    assert again.marketing_opted_out


def test_a_blocked_clean_up_is_partial_and_a_second_run_finishes_it(desk: Desk) -> None:
    if desk.db.backend != "sqlite":
        pytest.skip("the write-ahead log is SQLite's")
    import sqlite3

    customer_id, case_id = _customer_with_case(desk)
    path = desk.db.sqlite_path
    assert path is not None
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM customer").fetchone()  # an old snapshot held open
    try:
        first = erasure.erase(desk, customer_id=customer_id, case_id=case_id)
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert first.status == "partial" and first.completed_at is None
    assert "run the erasure again" in first.steps["physical"]
    assert "still running" in erasure.completion_letter(desk, erasure_id=first.id)

    second = erasure.erase(desk, customer_id=customer_id, case_id=case_id)

    assert second.id == first.id and second.status == "complete"
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or EMAIL.encode() not in wal.read_bytes()
