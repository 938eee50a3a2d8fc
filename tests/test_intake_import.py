"""Importing mail through the service layer, on SQLite and PostgreSQL: threading, duplicates,
unknown senders, machine mail, suppression, quarantine and re-processing, the case clock."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, func, select

from helpdesk.db.models import (
    Attachment,
    AuditEvent,
    Case,
    CaseEvent,
    Customer,
    IntakeItem,
    Message,
)
from helpdesk.domain import CaseKind, CaseStatus, SuppressionReason
from helpdesk.errors import Conflict, Invalid
from helpdesk.intake import parse as parse_mod
from helpdesk.services import cases, customers, intake, policy, suppression
from helpdesk.services.context import Desk
from tests.conftest import FakeClock
from tests.intake_mail import mail, write_maildir, write_mbox


@pytest.fixture
def ann(desk: Desk) -> int:
    return customers.create(desk, name="Ann Example", emails=["ann@example.com"]).id


def run(
    desk: Desk, tmp_path: Path, messages: list[bytes], name: str = "box"
) -> intake.ImportResult:
    return intake.import_paths(desk, paths=[write_mbox(tmp_path / name, messages)])


def count(desk: Desk, model: type, *where: object) -> int:
    with desk.db.session() as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def case_of(desk: Desk, message_id: str) -> int | None:
    with desk.db.session() as s:
        return s.exec(select(Message.case_id).where(Message.message_id == message_id)).one()


def test_known_sender_opens_a_classified_case_clocked_from_the_date(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    old = policy.add(desk, text="old policy", effective_on=date(2015, 4, 17)).id
    new = policy.add(desk, text="new policy", effective_on=date(2026, 3, 9)).id
    r = run(desk, tmp_path, [
        mail(body="Bitte löschen Sie meine Daten und ich widerrufe meine "
                  "Einwilligung. Vielen Dank für Ihre Hilfe."),
        mail(msgid="<older@x>", date="Sun, 08 Mar 2026 22:30:00 +0000"),  # 23:30 in Berlin
    ])
    assert (r.new_cases, r.imported, r.seen) == (2, 2, 2)
    assert cases.get(desk, r.case_ids[1]).policy_version_id == old
    detail = cases.get(desk, r.case_ids[0])
    assert detail.case.kind is CaseKind.DELETION and detail.case.customer_id == ann
    assert detail.case.received_at == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert detail.case.due_date.isoformat() == "2026-04-08"  # 30 days from receipt
    assert detail.policy_version_id == new
    assert [m.message_id for m in detail.messages] == ["<m1@example.com>"]
    with desk.db.session() as s:
        case = s.get(Case, r.case_ids[0])
        assert case is not None and case.classification is not None
        assert case.suggested_kind == "deletion"
        assert case.classification["language"] == "de"
        assert case.classification["others"] == []  # the withdrawal is a side remark
        assert case.classification["phrase"] == "loschen sie meine daten"


def test_threading_by_in_reply_to_references_and_case_tag(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    first = run(desk, tmp_path, [mail()], "a")
    case_id = first.case_ids[0]
    r = run(desk, tmp_path, [
        mail(msgid="<r1@x>", subject="Re: Hello", body="ok",
             extra="In-Reply-To: <m1@example.com>"),
        mail(msgid="<r2@x>", subject="Re: Hello", body="ok",
             extra="References: <unknown@x> <m1@example.com>"),
        mail(msgid="<r3@x>", subject=f"Re: [Case #{case_id}] your request", body="thanks"),
        # the same tag from another sender is not enough to join someone else's case
        mail(msgid="<r4@x>", frm="mallory@evil.example", subject=f"[Case #{case_id}]"),
    ], "b")
    assert (r.threaded, r.new_cases, r.unmatched) == (3, 0, 1)
    assert {case_of(desk, f"<r{i}@x>") for i in (1, 2, 3)} == {case_id}
    stranger = case_of(desk, "<r4@x>")  # a letter of its own, waiting for a customer
    assert stranger not in (None, case_id)
    assert cases.get(desk, stranger or 0).case.customer_id is None
    assert count(desk, CaseEvent, CaseEvent.case_id == case_id,
                 CaseEvent.action == "inbound") == 3


def test_reply_in_the_same_batch_threads_onto_the_new_case(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    r = run(desk, tmp_path, [mail(), mail(msgid="<r@x>", body="also",
                                          extra="In-Reply-To: <m1@example.com>")])
    assert (r.new_cases, r.threaded) == (1, 1)
    assert case_of(desk, "<r@x>") == r.case_ids[0]


def test_reply_wakes_a_waiting_case_and_bumps_its_version(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    case_id = run(desk, tmp_path, [mail()], "a").case_ids[0]
    waiting = cases.set_status(desk, case_id=case_id, status="waiting")
    run(desk, tmp_path, [mail(msgid="<r@x>", extra="In-Reply-To: <m1@example.com>")], "b")
    after = cases.get(desk, case_id)
    assert after.case.status is CaseStatus.OPEN
    assert after.case.version > waiting.case.version
    with pytest.raises(Conflict):
        cases.set_status(desk, case_id=case_id, status="closed",
                         expected_version=waiting.case.version)


def test_an_everyday_import_is_one_unit_of_work_with_one_lookup_per_question(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    """A reply to a waiting case and a new letter, the import a team makes all day: the agent
    is checked once, in the same unit of work that files the mail; whether any of it was
    imported before is asked in one statement; the case the reply names is looked up once
    (with whether it awaits its requester's code) and written once."""
    bob = customers.create(desk, name="Bob Example", emails=["bob@example.com"]).id
    case_id = run(desk, tmp_path, [mail()], "a").case_ids[0]
    cases.set_status(desk, case_id=case_id, status="waiting")
    seen: list[str] = []
    commits: list[object] = []

    def statement(conn, cursor, text, *args):  # type: ignore[no-untyped-def]
        seen.append(" ".join(text.split()))

    def commit(conn):  # type: ignore[no-untyped-def]
        commits.append(conn)

    sa.event.listen(desk.db.engine, "before_cursor_execute", statement)
    sa.event.listen(desk.db.engine, "commit", commit)
    try:
        r = run(desk, tmp_path, [
            mail(msgid="<r@x>", subject=f"Re: Hello [Case #{case_id}]", body="Any news?"),
            mail(frm="bob@example.com", msgid="<b@x>")], "b")
    finally:
        sa.event.remove(desk.db.engine, "before_cursor_execute", statement)
        sa.event.remove(desk.db.engine, "commit", commit)
    assert (r.threaded, r.new_cases) == (1, 1)
    assert cases.get(desk, case_id).case.status is CaseStatus.OPEN
    assert count(desk, Case, Case.customer_id == bob) == 1
    assert len(commits) == 1
    assert len([t for t in seen if t.startswith("SELECT agent.")]) == 1
    assert len([t for t in seen if t.startswith("SELECT") and "content_hash" in t]) == 1
    assert len([t for t in seen if t.startswith("UPDATE support_case")]) == 1
    assert not [t for t in seen if t.startswith("SELECT request_verification")]


def test_reimport_adds_nothing(desk: Desk, ann: int, tmp_path: Path) -> None:
    messages = [mail(), mail(msgid=None, subject="no id", body="What are your hours?"),
                mail(msgid="<u@x>", frm="stranger@else.example"), b"\x00garbage\n"]
    first = run(desk, tmp_path, messages)
    assert (first.new_cases, first.unmatched, first.quarantined) == (2, 1, 1)
    again = run(desk, tmp_path, messages)
    assert (again.imported, again.quarantined, again.duplicates) == (0, 0, 4)
    # the same mail exported as .eml files with CRLF line ends is the same mail
    eml = tmp_path / "eml"
    eml.mkdir()
    for i, raw in enumerate(messages):
        (eml / f"{i}.eml").write_bytes(raw.replace(b"\n", b"\r\n"))
    third = intake.import_paths(desk, paths=[eml])
    assert (third.imported, third.duplicates) == (0, 4)
    assert count(desk, Message) == 3 and count(desk, IntakeItem) == 2


def test_maildir_import(desk: Desk, ann: int, tmp_path: Path) -> None:
    box = write_maildir(tmp_path / "Maildir", [mail(msgid=f"<md{i}@x>") for i in range(3)])
    r = intake.import_paths(desk, paths=[box], batch_size=2)
    assert r.new_cases == 3 and r.sources == 1


def test_unknown_sender_is_kept_and_can_be_linked(desk: Desk, ann: int, tmp_path: Path) -> None:
    r = run(desk, tmp_path, [mail(frm="Ann Private <ann.private@home.example>",
                                  body="Please send me a copy of my data, thank you.")])
    assert (r.unmatched, r.new_cases) == (1, 0)
    (item,) = intake.list_items(desk).items
    assert item.state == "unmatched" and item.from_address == "ann.private@home.example"
    assert "unknown sender" in (item.reason or "")
    assert item.kind is CaseKind.ACCESS and item.due_at is not None
    shown = intake.get_item(desk, item.id)
    assert shown.suggestion is not None and shown.suggestion["primary"] == "access"
    done = intake.link(desk, item_id=item.id, customer_id=ann, expected_version=item.version,
                       add_email=True)
    assert done.item.state == "done" and done.item.resolved_case_id == item.case_id
    detail = cases.get(desk, done.item.resolved_case_id or 0)
    assert detail.case.kind is CaseKind.ACCESS and detail.case.customer_id == ann
    assert detail.case.received_at == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert detail.case.due_at == item.due_at
    assert "ann.private@home.example" in [e.address for e in customers.get(desk, ann).emails]
    assert intake.list_items(desk).items == ()
    with pytest.raises(Invalid, match="only unmatched"):
        intake.link(desk, item_id=item.id, customer_id=ann)
    # the next letter from that address is matched directly
    nxt = run(desk, tmp_path, [mail(msgid="<n@x>", frm="ann.private@home.example")], "n")
    assert nxt.new_cases == 1


def test_stale_item_version_is_a_conflict(desk: Desk, ann: int, tmp_path: Path) -> None:
    run(desk, tmp_path, [mail(frm="x@else.example")])
    (item,) = intake.list_items(desk).items
    with pytest.raises(Conflict, match="changed by someone else"):
        intake.link(desk, item_id=item.id, customer_id=ann, expected_version=item.version + 1)


def test_new_customer_from_an_unmatched_letter(desk: Desk, tmp_path: Path) -> None:
    run(desk, tmp_path, [mail(frm="Bea Neu <bea@neu.example>")])
    (item,) = intake.list_items(desk).items
    done = intake.new_customer(desk, item_id=item.id, name="Bea Neu")
    case = cases.get(desk, done.item.resolved_case_id or 0).case
    profile = customers.get(desk, case.customer_id or 0)
    assert profile.name == "Bea Neu" and profile.primary_email == "bea@neu.example"
    assert not profile.marketing_opted_out
    with pytest.raises(Invalid):
        intake.new_customer(desk, item_id=item.id)


def test_suppressed_sender_never_resubscribes_or_regains_data(
    desk: Desk, tmp_path: Path
) -> None:
    with desk.db.session(write=True) as s:
        suppression.add(s, None, digest=suppression.email_hash(desk, "gone@example.com"),
                        reason=SuppressionReason.ERASURE, source="test", now=desk.now())
    r = run(desk, tmp_path, [mail(frm="Gone Person <gone@example.com>",
                                  body="Please delete my data again, thank you.")])
    assert r.unmatched == 1 and r.new_cases == 0
    (item,) = intake.list_items(desk).items
    assert "suppression list" in (item.reason or "")
    done = intake.new_customer(desk, item_id=item.id)
    case = cases.get(desk, done.item.resolved_case_id or 0).case
    assert case.kind is CaseKind.DELETION
    profile = customers.get(desk, case.customer_id or 0)
    assert profile.marketing_opted_out
    assert profile.name is None  # the display name in the mail is not taken back
    assert [c.action for c in profile.consent] == ["opt_out"]


def test_machine_mail_never_opens_a_case(desk: Desk, ann: int, tmp_path: Path) -> None:
    case_id = run(desk, tmp_path, [mail()], "a").case_ids[0]
    cases.set_status(desk, case_id=case_id, status="waiting")
    r = run(desk, tmp_path, [
        mail(msgid="<ooo@x>", subject="Out of office", extra="Auto-Submitted: auto-replied"),
        mail(msgid="<ooo2@x>", extra="X-Autoreply: yes\nIn-Reply-To: <m1@example.com>"),
        mail(msgid="<b@x>", frm="MAILER-DAEMON@mx.example", subject="Undelivered"),
        mail(msgid="<p@x>", extra="Precedence: bulk"),
    ], "b")
    assert (r.machine, r.threaded, r.new_cases) == (3, 1, 0)
    assert count(desk, Case) == 1
    assert cases.get(desk, case_id).case.status is CaseStatus.WAITING  # not woken by a robot
    with desk.db.session() as s:
        assert all(s.exec(select(Message.is_machine).where(
            col(Message.message_id).in_(["<ooo@x>", "<ooo2@x>", "<b@x>", "<p@x>"]))).all())
    assert intake.list_items(desk).items == ()  # nothing for the agents to do
    done = intake.list_items(desk, state="done").items
    assert len(done) == 3 and all("machine mail" in (i.reason or "") for i in done)


def test_reminder_joins_the_open_request(desk: Desk, ann: int, tmp_path: Path,
                                         clock: FakeClock) -> None:
    case_id = run(desk, tmp_path, [mail(body="Please delete my data, thank you.")],
                  "a").case_ids[0]
    r = run(desk, tmp_path, [mail(msgid="<rem@x>", subject="Second request",
                                  date="Mon, 09 Mar 2026 18:00:00 +0000",
                                  body="I am still waiting for a reply to my request.")], "b")
    assert (r.threaded, r.new_cases) == (1, 0)
    assert case_of(desk, "<rem@x>") == case_id
    with desk.db.session() as s:
        assert s.exec(select(CaseEvent.to_value).where(
            CaseEvent.case_id == case_id, CaseEvent.action == "inbound")).all() == ["reminder"]


def test_attachments_are_stored_with_metadata(desk: Desk, ann: int, tmp_path: Path) -> None:
    raw = (b"From: ann@example.com\nSubject: id\nMessage-ID: <att@x>\nMIME-Version: 1.0\n"
           b'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\n'
           b"Please correct my address\n--B\nContent-Type: image/png\n"
           b'Content-Disposition: attachment; filename="a.png"\n\nPNGDATA\n--B--\n')
    r = run(desk, tmp_path, [raw])
    detail = cases.get(desk, r.case_ids[0])
    (att,) = detail.messages[0].attachments
    assert (att.filename, att.content_type, att.size) == ("a.png", "image/png", 7)
    with desk.db.session() as s:
        assert s.exec(select(Attachment.content)).one() == b"PNGDATA"


@pytest.mark.parametrize(("date", "note"), [
    (None, "no usable time"),
    ("Thu, 01 Jan 1970 00:00:00 +0000", "implausible"),
    ("Fri, 01 Jan 2100 00:00:00 +0000", "in the future"),
])
def test_absurd_dates_are_clamped_and_said(desk: Desk, ann: int, tmp_path: Path,
                                           clock: FakeClock, date: str | None,
                                           note: str) -> None:
    letter = tmp_path / "letter.eml"  # no Received header, no mailbox time: only the Date
    letter.write_bytes(mail(date=date))
    r = intake.import_paths(desk, paths=[letter])
    assert cases.get(desk, r.case_ids[0]).case.received_at == clock.now
    with desk.db.session() as s:
        stored = s.exec(select(Case.classification)).one()
    assert any(note in n for n in stored["notes"])
    assert stored["received_by"].startswith("import time")


def test_huge_message_is_quarantined_then_reprocessed(
    desk: Desk, ann: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_mod, "MAX_MESSAGE_BYTES", 2000)
    raw = mail(body="Please delete my data. " + "x" * 5000)
    junk = b"\x00\x01 not mail\n"
    r = run(desk, tmp_path, [raw, junk])
    assert r.quarantined == 2 and count(desk, Case) == 0
    items = intake.list_items(desk, state="quarantined").items
    assert {i.raw_size for i in items} == {len(raw), len(junk)}
    huge = next(i for i in items if i.raw_size == len(raw))
    assert "MB" in (huge.reason or "") and "re-process" in (huge.reason or "")
    assert intake.get_item(desk, huge.id).raw_preview.startswith("From: Ann Example")
    still = intake.reprocess(desk, item_id=huge.id)
    assert still.item.state == "quarantined"
    done = intake.reprocess(desk, item_id=huge.id, lenient=True)
    assert done.item.state == "done" and done.item.raw_size is None
    assert cases.get(desk, done.item.resolved_case_id or 0).case.kind is CaseKind.DELETION
    result = intake.reprocess_all(desk)
    assert (result.filed, result.still_quarantined) == (0, 1)
    # importing the same file again finds both: one imported, one still quarantined
    again = run(desk, tmp_path, [raw, junk])
    assert again.duplicates == 2


def test_reprocessed_unknown_sender_becomes_unmatched(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_mod, "MAX_MESSAGE_BYTES", 500)
    run(desk, tmp_path, [mail(frm="who@else.example", body="y" * 1000)])
    (item,) = intake.list_items(desk).items
    after = intake.reprocess(desk, item_id=item.id, lenient=True)
    assert after.item.state == "unmatched" and after.item.message_id
    assert after.item.from_address == "who@else.example"


def test_confirm_or_change_the_suggested_kind(desk: Desk, ann: int, tmp_path: Path) -> None:
    r = run(desk, tmp_path, [mail(body="What are your opening hours? Thank you.")])
    case = cases.get(desk, r.case_ids[0]).case
    assert case.kind is CaseKind.QUESTION
    confirmed = intake.confirm_kind(desk, case_id=case.id, expected_version=case.version)
    assert confirmed.case.kind is CaseKind.QUESTION
    changed = intake.confirm_kind(desk, case_id=case.id, kind="deletion",
                                  expected_version=confirmed.case.version)
    assert changed.case.kind is CaseKind.DELETION
    assert changed.case.due_date.isoformat() == "2026-04-08"
    assert changed.rule_due_at == changed.case.due_at and changed.due_rule == "service level"
    with pytest.raises(Conflict):
        intake.confirm_kind(desk, case_id=case.id, kind="access",
                            expected_version=confirmed.case.version)
    with desk.db.session() as s:
        stored = s.get(Case, case.id)
        assert stored is not None and stored.classification is not None
        assert stored.classification["confirmed_kind"] == "deletion"


def test_uncovered_language_is_marked_and_left_for_the_agent(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    r = run(desk, tmp_path, [mail(subject="Pytanie", body="Dzień dobry, proszę o usunięcie "
                                                          "moich danych osobowych z bazy.")])
    with desk.db.session() as s:
        case = s.get(Case, r.case_ids[0])
        assert case is not None and case.classification is not None
        assert case.suggested_kind is None and case.classification["language"] == "unknown"


def test_audit_holds_counts_and_ids_never_mail(desk: Desk, ann: int, tmp_path: Path) -> None:
    run(desk, tmp_path, [mail(), mail(msgid="<s@x>", frm="secret.person@else.example")])
    (item,) = intake.list_items(desk).items
    intake.get_item(desk, item.id)
    with desk.db.session() as s:
        events = s.exec(select(AuditEvent).where(
            col(AuditEvent.action).startswith("intake."))).all()
    assert {e.action for e in events} == {"intake.import", "intake.view"}
    text = json.dumps([e.details for e in events])
    assert "example" not in text and "Hello" not in text and "delete" not in text
    imp = next(e for e in events if e.action == "intake.import")
    assert imp.details["new_cases"] == 1 and imp.details["unmatched"] == 1


def test_erased_customer_is_not_matched(desk: Desk, ann: int, tmp_path: Path) -> None:
    with desk.db.session(write=True) as s:
        customer = s.get(Customer, ann)
        assert customer is not None
        customer.erased_at = desk.now()
        s.add(customer)
    r = run(desk, tmp_path, [mail()])
    assert (r.unmatched, r.new_cases) == (1, 0)


def test_answer_to_a_desk_reply_threads_onto_its_case(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    case_id = cases.create(desk, kind="access", customer_id=ann).case.id
    with desk.db.session(write=True) as s:
        s.add(Message(case_id=case_id, direction="outbound", at=desk.now(),
                      message_id="<reply.1@desk.example>", subject=f"[Case #{case_id}] Re"))
    r = run(desk, tmp_path, [mail(msgid="<ans@x>", frm="someone.else@else.example",
                                  extra="In-Reply-To: <reply.1@desk.example>")])
    assert r.threaded == 1 and case_of(desk, "<ans@x>") == case_id
