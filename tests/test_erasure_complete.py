"""Erasure reaches everything that names the person, not only what hangs off their cases:
quarantined and over-size mail found by address and by keyed hash, Message-IDs made from the
address, the register's free text, other people's letters copying the address, mail imported
after the erasure. "Complete" only when the final scan of the live tables finds nothing."""

from __future__ import annotations

from datetime import date, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from helpdesk.db.models import Case, Disclosure, IntakeItem, Message
from helpdesk.domain import CaseKind
from helpdesk.intake import parse
from helpdesk.services import customers, disclosures, erasure, intake, traces
from helpdesk.services.context import Desk
from tests.conftest import verified_request
from tests.intake_mail import mail, write_mbox

NAME = "Zebediah Quillfeather"
EMAIL = "zeb.quillfeather@example.org"
OTHER = "zq.private@example.net"
PHONE = "+44 20 7946 0958"
IDENTITY = traces.Identity(addresses=(EMAIL, OTHER), name=NAME, phone=PHONE)


def _when(desk: Desk, days: float) -> str:
    return format_datetime(desk.now() - timedelta(days=days))


def _person(desk: Desk) -> tuple[int, int]:
    person = customers.create(desk, name=NAME, emails=[EMAIL, OTHER], phone=PHONE)
    request = verified_request(desk, person.id, CaseKind.DELETION, subject="please delete",
                               received_at=desk.now() - timedelta(days=1))
    return person.id, request.case.id


def _import(desk: Desk, tmp_path: Path, name: str, letters: list[bytes]) -> intake.ImportResult:
    return intake.import_paths(desk, paths=[write_mbox(tmp_path / name, letters)])


def _scan(desk: Desk, customer_id: int) -> dict[str, list[int]]:
    with desk.db.session() as s:
        return traces.scan(s, IDENTITY, customer_id=customer_id)


def _sqlite_hits(desk: Desk) -> list[str]:
    path = desk.db.sqlite_path
    assert path is not None
    data = b"".join(f.read_bytes().lower() for f in (path, path.with_name(path.name + "-wal"))
                    if f.exists())
    return [w for w in (NAME, EMAIL, OTHER, PHONE) if w.lower().encode() in data]


def test_quarantined_and_oversize_mail_from_any_address_is_erased(
    desk: Desk, tmp_path: Path
) -> None:
    customer_id, case_id = _person(desk)
    padding = "x" * (parse.MAX_MESSAGE_BYTES + 10)
    result = _import(desk, tmp_path, "box", [
        # over-size: quarantined with its raw bytes, never linked to a case
        mail(frm=f"{NAME} <{EMAIL}>", subject="my passport", msgid="<big@mail.example.org>",
             body=f"{NAME}, {PHONE}\n{padding}", date=_when(desk, 3)),
        # the address spelled in capitals with an encoded display name: found by keyed hash
        mail(frm=f"=?utf-8?q?Zebediah?= <{OTHER.upper()}>", subject="again",
             msgid="<big2@mail.example.net>", body=f"call me on {PHONE}\n{padding}",
             date=_when(desk, 2)),
    ])
    assert result.quarantined == 2
    with desk.db.session() as s:
        assert sorted(i.sender_hash is not None for i in s.exec(select(IntakeItem))) == [True] * 2
    assert _scan(desk, customer_id)  # the check below can fail

    info = erasure.erase(desk, customer_id=customer_id, case_id=case_id)

    assert info.status == "complete" and info.steps["left"] == {}
    assert info.steps["intake_items"] == 2
    assert _scan(desk, customer_id) == {}
    page = intake.list_items(desk, state="open")
    assert page.items == ()  # the quarantine list no longer shows them
    item = intake.get_item(desk, result.item_ids[0])
    assert item.raw_preview is None and item.item.state == "done"
    assert item.item.reason == f"erased under ledger #{info.id}"
    if desk.db.sqlite_path is not None:
        assert _sqlite_hits(desk) == []


def test_message_ids_headers_and_free_text_naming_the_person_go(
    desk: Desk, tmp_path: Path
) -> None:
    customer_id, case_id = _person(desk)
    bystander = customers.create(desk, name="Ada Bystander", emails=["ada@example.com"]).id
    namesake = customers.create(desk, name=NAME, emails=["other.zeb@example.com"]).id
    _import(desk, tmp_path, "box", [
        mail(frm=f"{NAME} <{EMAIL}>", subject="delete", date=_when(desk, 5),
             msgid=f"<1741.{EMAIL}>", body=f"Please delete me.\n{NAME}\n{PHONE}"),
        mail(frm=f"{NAME} <{EMAIL}>", subject="Re: delete", date=_when(desk, 4),
             msgid="<2@mail.example.org>", extra=f"In-Reply-To: <1741.{EMAIL}>\n"
             f"References: <1741.{EMAIL}>"),
        mail(frm="Ada Bystander <ada@example.com>", subject="my neighbour",
             msgid="<ada@example.com>", date=_when(desk, 3),
             body=f"My neighbour {EMAIL} says hello."),
        mail(frm=f"{NAME} <other.zeb@example.com>", subject="my own question",
             msgid="<namesake@example.com>", date=_when(desk, 3), body=f"Hi, {NAME} here."),
    ])
    disclosures.add(desk, customer_id=customer_id, recipient=f"Courier for {NAME}",
                    recipient_kind="contractor", purpose=f"deliver to {EMAIL}",
                    data_categories=["name", "address"], disclosed_on=date(2026, 1, 5),
                    legal_basis="contract")
    cases_before = _scan(desk, customer_id)
    assert {"message.message_id", "disclosure.recipient"} <= set(cases_before)

    info = erasure.erase(desk, customer_id=customer_id, case_id=case_id)

    assert info.status == "complete", info.steps["left"]
    assert _scan(desk, customer_id) == {}
    with desk.db.session() as s:
        own = s.exec(select(Message).join(Case, col(Case.id) == col(Message.case_id))
                     .where(Case.customer_id == customer_id)).all()
        assert own and all(m.message_id is None or m.message_id.endswith("@erased.invalid>")
                           for m in own)
        assert all(m.in_reply_to is None and m.references is None for m in own)
        row = s.exec(select(Disclosure)).one()
        assert (row.recipient, row.purpose) == ("Courier for [erased]", "deliver to [erased]")
        assert row.data_categories == ["name", "address"] and row.legal_basis == "contract"
        ada = s.exec(select(Message).where(Message.message_id == "<ada@example.com>")).one()
        assert ada.body == "My neighbour [erased] says hello."
        # a different customer who happens to share the name keeps it
        other = s.exec(select(Message).where(Message.message_id == "<namesake@example.com>")
                       ).one()
        assert other.body == f"Hi, {NAME} here."
    assert customers.get(desk, namesake).name == NAME
    assert customers.get(desk, bystander).name == "Ada Bystander"


def test_the_name_left_in_a_letter_nobody_filed_makes_the_erasure_partial(
    desk: Desk, tmp_path: Path
) -> None:
    customer_id, case_id = _person(desk)
    _import(desk, tmp_path, "box", [
        mail(frm="Unknown <someone@elsewhere.example>", subject="about Zebediah",
             msgid="<unknown@elsewhere.example>", date=_when(desk, 3),
             body=f"I write for {NAME}, please call {PHONE}."),
    ])

    info = erasure.erase(desk, customer_id=customer_id, case_id=case_id)

    with desk.db.session() as s:
        letter = s.exec(select(Message.id)).one()
    assert info.status == "partial" and info.completed_at is None
    assert info.steps["left"] == {"message.body": [letter]}
    # an agent deals with the letter; the next run re-checks the rows it named
    with desk.db.session(write=True) as s:
        row = s.get(Message, letter)
        assert row is not None
        row.body = None
        s.add(row)
    again = erasure.erase(desk, customer_id=customer_id, case_id=case_id)
    assert again.id == info.id and again.status == "complete" and again.steps["left"] == {}


def test_mail_imported_after_the_erasure_keeps_nothing_of_the_person(
    desk: Desk, tmp_path: Path
) -> None:
    customer_id, case_id = _person(desk)
    erasure.erase(desk, customer_id=customer_id, case_id=case_id)
    padding = "x" * (parse.MAX_MESSAGE_BYTES + 10)

    result = _import(desk, tmp_path, "late", [
        # written before the erasure: part of what the person asked us to delete
        mail(frm=f"{NAME} <{EMAIL}>", msgid="<old@mail.example.org>", date=_when(desk, 9),
             body=f"{NAME}, {PHONE}"),
        mail(frm=f"{NAME} <{OTHER}>", msgid="<old-big@mail.example.net>", date=_when(desk, 9),
             body=padding),
        # someone else's letter copying the erased address
        mail(frm="Ada <ada@example.com>", msgid="<ada2@example.com>", date=_when(desk, 8),
             body=f"Forwarding for {EMAIL.upper()}"),
    ])

    assert (result.erased, result.unmatched) == (2, 1)
    assert _scan(desk, customer_id) == {}
    with desk.db.session() as s:
        cases_of_person = s.exec(select(Case.id).where(Case.customer_id == customer_id)).all()
        assert cases_of_person == [case_id]
        body = s.exec(select(Message.body).where(Message.message_id == "<ada2@example.com>")
                      ).one()
        assert body == "Forwarding for [erased]"
    # the same export imported again is recognised, not filed anew
    again = _import(desk, tmp_path, "late2", [
        mail(frm=f"{NAME} <{EMAIL}>", msgid="<old@mail.example.org>", date=_when(desk, 9),
             body=f"{NAME}, {PHONE}")])
    assert again.duplicates == 1


def test_a_new_letter_after_the_erasure_is_mail_from_a_suppressed_unknown_sender(
    desk: Desk, tmp_path: Path
) -> None:
    customer_id, case_id = _person(desk)
    erasure.erase(desk, customer_id=customer_id, case_id=case_id)
    result = _import(desk, tmp_path, "new", [
        mail(frm=f"Zeb <{EMAIL}>", msgid="<new@mail.example.org>", date=_when(desk, -0.01),
             subject="Did you delete me?")])
    assert (result.unmatched, result.new_cases, result.erased) == (1, 0, 0)
    item = intake.list_items(desk, state="open").items[0]
    assert "suppression list" in (item.reason or "")


def test_merged_records_of_one_person_are_erased_together(
    desk: Desk, tmp_path: Path
) -> None:
    from helpdesk.services import merge

    first = customers.create(desk, name=NAME, emails=[EMAIL]).id
    second = customers.create(desk, name="Z. Quillfeather", emails=[OTHER], phone=PHONE).id
    _import(desk, tmp_path, "box", [
        mail(frm=f"{NAME} <{OTHER}>", msgid="<m2@example.net>", date=_when(desk, 4),
             body=f"{NAME} {PHONE}")])
    merge.merge(desk, keep_id=first, other_id=second)
    request = verified_request(desk, first, CaseKind.DELETION, subject="x")

    info = erasure.erase(desk, customer_id=first, case_id=request.case.id)

    assert info.status == "complete"
    assert _scan(desk, first) == {} and _scan(desk, second) == {}
    if desk.db.sqlite_path is not None:
        assert _sqlite_hits(desk) == []


@pytest.mark.parametrize("field", ["outcome", "override_reason"])
def test_case_free_text_of_the_person_is_cleared(desk: Desk, field: str) -> None:
    customer_id, case_id = _person(desk)
    with desk.db.session(write=True) as s:
        case = s.get(Case, case_id)
        assert case is not None
        setattr(case, field, f"Told {NAME} by phone ({PHONE})")
        s.add(case)
    info = erasure.erase(desk, customer_id=customer_id, case_id=case_id)
    assert info.status == "complete"
    assert _scan(desk, customer_id) == {}
