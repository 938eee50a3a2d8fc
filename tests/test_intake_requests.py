"""Intake gets the clock right on real mail (issue 11): receipt time from Received headers or
the mailbox, unknown senders' letters as requests with running clocks, reminders that join the
request they chase without restarting it, replies to unmatched letters, mail loops, and the
clock of letters asking several things or read with doubt. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from helpdesk.config import Settings, load_settings
from helpdesk.db.models import Case, CaseEvent, Message
from helpdesk.domain import CaseKind, CaseStatus, Queue
from helpdesk.errors import Invalid
from helpdesk.services import agents, cases, customers, inbox, intake, supervisor
from helpdesk.services.context import Desk
from tests.conftest import FakeClock
from tests.intake_mail import mail, write_maildir, write_mbox

RECEIVED = "Mon, 09 Mar 2026 08:15:00 +0100"  # 07:15 UTC, the company's server
DELETE = "Please delete my account and all my personal data. Thank you."
COMPLAINT_AND_DELETION = ("You did not delete my data although you confirmed it. I am making a "
                          "formal complaint. I want my data deleted properly this time.")


@pytest.fixture
def ann(desk: Desk) -> int:
    return customers.create(desk, name="Ann Example", emails=["ann@example.com"]).id


def eml(tmp_path: Path, raw: bytes, name: str = "letter.eml") -> Path:
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def events(desk: Desk, case_id: int, action: str) -> list[CaseEvent]:
    with desk.db.session() as s:
        return list(s.exec(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                   CaseEvent.action == action)))


# --- when the clock starts ------------------------------------------------------------------


def test_received_header_dates_the_case_not_the_senders_date(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    back_dated = mail(body=DELETE, date="Sun, 08 Feb 2026 10:00:00 +0000", received=RECEIVED)
    r = intake.import_paths(desk, paths=[eml(tmp_path, back_dated)])
    detail = cases.get(desk, r.case_ids[0])
    assert detail.case.received_at == datetime(2026, 3, 9, 7, 15, tzinfo=UTC)
    assert detail.case.due_date.isoformat() == "2026-04-08"  # 30 days from receipt
    assert detail.received_by == "Received header"
    assert detail.messages[0].at == detail.case.received_at


def test_mailbox_delivery_time_when_there_is_no_received_header(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    box = tmp_path / "box"
    box.write_bytes(b"From ann@example.com Mon Mar  9 06:00:00 2026\n"  # no zone: desk's zone
                    + mail(body=DELETE, date="Sun, 01 Feb 2026 10:00:00 +0000") + b"\n")
    maildir = write_maildir(tmp_path / "Maildir", [mail(msgid="<md@x>", body=DELETE)])
    (first,) = intake.import_paths(desk, paths=[box]).case_ids
    (second,) = intake.import_paths(desk, paths=[maildir]).case_ids
    one, two = cases.get(desk, first), cases.get(desk, second)
    assert one.case.received_at == datetime(2026, 3, 9, 5, 0, tzinfo=UTC)  # 06:00 Berlin
    assert one.received_by == "mbox From line"
    assert two.case.received_at == datetime.fromtimestamp(1700000000, UTC)  # the file's name
    assert two.received_by == "Maildir delivery time"


def test_a_future_receipt_time_falls_back_and_says_so(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    raw = mail(body=DELETE, received="Fri, 31 Dec 2100 10:00:00 +0000")
    detail = cases.get(desk, intake.import_paths(desk, paths=[eml(tmp_path, raw)]).case_ids[0])
    assert detail.received_by.startswith("Date header")
    assert detail.case.received_at == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    assert any("Received header 2100-12-31" in n and "future" in n for n in detail.intake_notes)


# --- unknown senders ------------------------------------------------------------------------


def test_unknown_senders_deletion_is_a_request_in_every_queue_and_link_keeps_its_clock(
    desk: Desk, ann: int, tmp_path: Path, clock: FakeClock
) -> None:
    raw = mail(frm="Ann Private <ann.private@home.example>", body=DELETE, received=RECEIVED)
    r = intake.import_paths(desk, paths=[eml(tmp_path, raw)])
    assert (r.unmatched, r.new_cases) == (1, 0)
    (item,) = intake.list_items(desk).items
    assert item.kind is CaseKind.DELETION and item.days_left == 29
    case = cases.get(desk, item.case_id or 0).case
    assert case.customer_id is None and "unmatched" in case.flags
    assert case.due_date.isoformat() == "2026-04-08"

    clock.now = datetime(2026, 4, 3, 9, 0, tzinfo=UTC)  # five days before the deadline
    due_soon = [c.id for c in cases.list_queue(desk, Queue.DUE_SOON).items]
    assert due_soon == [case.id]
    counts = cases.my_counts(desk)
    assert (counts.unmatched_open, counts.unmatched_due_soon, counts.unmatched_overdue) == (
        1, 1, 0)
    unassigned = supervisor.workload(desk)[0]
    assert unassigned.agent_name is None and unassigned.due_soon == 1

    done = intake.link(desk, item_id=item.id, customer_id=ann)
    linked = cases.get(desk, done.item.resolved_case_id or 0).case
    assert linked.id == case.id and linked.customer_id == ann
    assert (linked.received_at, linked.due_at) == (case.received_at, case.due_at)
    assert "unmatched" not in linked.flags
    assert cases.my_counts(desk).unmatched_open == 0
    assert [e.to_value for e in events(desk, case.id, "linked")] == [f"customer #{ann}"]


def test_the_tray_is_ordered_by_urgency(desk: Desk, tmp_path: Path) -> None:
    intake.import_paths(desk, paths=[write_mbox(tmp_path / "box", [
        mail(msgid="<q@x>", frm="a@else.example", body="What are your opening hours?"),
        mail(msgid="<d@x>", frm="b@else.example", body=DELETE),
        mail(msgid="<u@x>", frm="c@else.example", body="Please unsubscribe me."),
        b"\x00 junk\n",
    ])])
    items = intake.list_items(desk).items
    assert [i.kind.value if i.kind else i.state for i in items] == [
        "quarantined", "marketing_opt_out", "question", "deletion"]
    first = intake.list_items(desk, limit=2)
    rest = intake.list_items(desk, cursor=first.next_cursor)
    assert [i.id for i in first.items + rest.items] == [i.id for i in items]


def test_a_reply_to_an_unmatched_letter_joins_its_case_before_and_after_the_link(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    stranger = "Ann Private <ann.private@home.example>"
    intake.import_paths(desk, paths=[write_mbox(tmp_path / "a", [
        mail(frm=stranger, body=DELETE),
        mail(msgid="<r1@x>", frm=stranger, subject="Re: Hello", body="My account name is annp.",
             extra="In-Reply-To: <m1@example.com>"),
    ])])
    (item,) = intake.list_items(desk).items  # one letter waiting, the reply on its case
    intake.link(desk, item_id=item.id, customer_id=ann)
    r = intake.import_paths(desk, paths=[write_mbox(tmp_path / "b", [
        mail(msgid="<r2@x>", frm=stranger, subject="Re: Hello", body="Any news?",
             extra="References: <m1@example.com> <r1@x>"),
    ])])
    assert (r.threaded, r.new_cases, r.unmatched) == (1, 0, 0)
    thread = cases.get(desk, item.case_id or 0)
    assert [m.message_id for m in thread.messages] == ["<m1@example.com>", "<r1@x>", "<r2@x>"]
    with desk.db.session() as s:
        assert len(s.exec(select(Case)).all()) == 1


def test_dismissing_spam_closes_its_case(desk: Desk, tmp_path: Path) -> None:
    intake.import_paths(desk, paths=[eml(tmp_path, mail(frm="seo@spam.example",
                                                        body="We fix your ranking for $99."))])
    (item,) = intake.list_items(desk).items
    with pytest.raises(Invalid):
        intake.dismiss(desk, item_id=item.id, reason=" ")
    done = intake.dismiss(desk, item_id=item.id, reason="spam")
    assert done.item.state == "done" and intake.list_items(desk).items == ()
    case = cases.get(desk, item.case_id or 0)
    assert case.case.status is CaseStatus.CLOSED and case.outcome == "not a request: spam"


# --- reminders ------------------------------------------------------------------------------


def test_a_reminder_joins_the_open_deletion_flags_it_and_keeps_its_due_date(
    desk: Desk, ann: int, tmp_path: Path, clock: FakeClock
) -> None:
    first = intake.import_paths(desk, paths=[eml(tmp_path, mail(body=DELETE, received=RECEIVED),
                                                 "a.eml")]).case_ids[0]
    question = intake.import_paths(desk, paths=[eml(tmp_path, mail(
        msgid="<q@x>", body="Which cookies does your shop set?",
        received="Tue, 10 Mar 2026 09:00:00 +0100"), "b.eml")]).case_ids[0]
    before = cases.get(desk, first).case
    clock.now = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
    reminder = mail(msgid="<rem@x>", subject="Second request",
                    body="I wrote to you on 9 March asking you to delete my data and have had "
                         "no answer.", received="Mon, 30 Mar 2026 10:00:00 +0200")
    r = intake.import_paths(desk, paths=[eml(tmp_path, reminder, "c.eml")])
    assert (r.threaded, r.new_cases) == (1, 0)
    after = cases.get(desk, first)
    assert after.messages[-1].message_id == "<rem@x>"
    assert (after.case.due_at, after.case.received_at) == (before.due_at, before.received_at)
    assert "reminded" in after.case.flags and not after.case.escalated
    assert [e.to_value for e in events(desk, first, "reminder")] == ["within the deadline"]
    assert cases.get(desk, question).messages[-1].message_id != "<rem@x>"

    agents.add(desk, name="bob")
    cases.assign(desk, case_id=first, assignee="bob", reason="Bob takes deletions")
    clock.now = datetime(2026, 4, 20, 9, 0, tzinfo=UTC)  # past the deadline
    late = mail(msgid="<rem2@x>", subject="Reminder", body="Still waiting for a reply about "
                "the deletion of my data.", received="Mon, 20 Apr 2026 10:00:00 +0200")
    intake.import_paths(desk, paths=[eml(tmp_path, late, "d.eml")])
    escalated = cases.get(desk, first)
    assert escalated.case.escalated and escalated.case.due_at == before.due_at
    assert [e.note for e in events(desk, first, "escalated")] == [
        "a reminder arrived after the deadline"]
    told = [n for n in inbox.inbox(desk.as_agent("bob")).items if n.kind.value == "reminder"]
    assert [n.case_id for n in told] == [first] and "after the deadline" in told[0].text
    supervisors = inbox.inbox(desk).items  # alice, the first agent, is a supervisor
    assert ("escalated", first) in [(n.kind.value, n.case_id) for n in supervisors]


def test_a_reminder_is_linked_by_the_date_it_names(
    desk: Desk, ann: int, tmp_path: Path, clock: FakeClock
) -> None:
    older = intake.import_paths(desk, paths=[eml(tmp_path, mail(
        msgid="<o@x>", body="Bitte löschen Sie mein Konto.",
        received="Wed, 12 Feb 2025 09:41:22 +0100"), "a.eml")]).case_ids[0]
    newer = intake.import_paths(desk, paths=[eml(tmp_path, mail(
        msgid="<n@x>", body="Bitte löschen Sie meine Daten aus dem Newsletter-System.",
        received="Wed, 05 Mar 2025 09:00:00 +0100"), "b.eml")]).case_ids[0]
    clock.now = datetime(2025, 4, 9, 15, 0, tzinfo=UTC)
    chase = mail(msgid="<w@x>", subject="WG: Löschung", received="Wed, 09 Apr 2025 16:33:10 +0200",
                 body="Ich habe Ihnen am 12.02. geschrieben und bis heute keine Antwort "
                      "erhalten.")
    intake.import_paths(desk, paths=[eml(tmp_path, chase, "c.eml")])
    assert cases.get(desk, older).messages[-1].message_id == "<w@x>"
    assert "reminded" not in cases.get(desk, newer).case.flags


def test_an_unknown_senders_reminder_joins_the_request_once_linked(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    original = intake.import_paths(desk, paths=[eml(tmp_path, mail(body=DELETE), "a.eml")])
    chase = mail(msgid="<c@x>", frm="ann.private@home.example", subject="Reminder",
                 body="I am still waiting for a reply to my request to delete my data.",
                 date="Mon, 16 Mar 2026 10:00:00 +0000")
    intake.import_paths(desk, paths=[eml(tmp_path, chase, "b.eml")])
    (item,) = intake.list_items(desk).items
    done = intake.link(desk, item_id=item.id, customer_id=ann)
    assert done.item.resolved_case_id == original.case_ids[0]
    request = cases.get(desk, original.case_ids[0])
    assert [m.message_id for m in request.messages] == ["<m1@example.com>", "<c@x>"]
    assert "reminded" in request.case.flags
    placeholder = cases.get(desk, item.case_id or 0)
    assert placeholder.case.status is CaseStatus.CLOSED
    assert placeholder.related_case_id == request.case.id


# --- loops ----------------------------------------------------------------------------------


def test_mail_from_the_desks_own_addresses_is_a_loop(
    settings: Settings, desk: Desk, ann: int, tmp_path: Path
) -> None:
    desk = dataclasses.replace(desk, settings=dataclasses.replace(
        settings, mail_from="Info <INFO@shop.example>", mail_aliases=("privacy@shop.example",)))
    first = intake.import_paths(desk, paths=[eml(tmp_path, mail(body=DELETE), "a.eml")])
    cases.set_status(desk, case_id=first.case_ids[0], status="waiting")
    r = intake.import_paths(desk, paths=[write_mbox(tmp_path / "box", [
        mail(msgid="<l1@x>", frm="info@shop.example", body=DELETE),
        mail(msgid="<l2@x>", frm="Privacy <privacy@shop.example>", body="Please unsubscribe me",
             extra="In-Reply-To: <m1@example.com>"),
    ])])
    assert (r.machine, r.threaded, r.new_cases, r.unmatched) == (1, 1, 0, 0)
    case = cases.get(desk, first.case_ids[0])
    assert case.case.status is CaseStatus.WAITING  # our own copy did not wake it
    done = intake.list_items(desk, state="done").items
    assert ["mail loop" in (i.reason or "") for i in done] == [True]
    with desk.db.session() as s:
        assert s.exec(select(Message.is_machine).where(Message.message_id == "<l2@x>")).one()


def test_mail_aliases_are_configured_as_addresses(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('mail_aliases = ["privacy@shop.example", "noreply@shop.example"]\n')
    assert load_settings(config).mail_aliases == ("privacy@shop.example", "noreply@shop.example")
    config.write_text('mail_aliases = ["not an address"]\n')
    with pytest.raises(Invalid, match="mail_aliases"):
        load_settings(config)


# --- the clock of letters that ask several things, or leave doubt ---------------------------


def test_a_complaint_that_also_asks_for_deletion_is_due_in_30_days(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    raw = mail(body=COMPLAINT_AND_DELETION, received=RECEIVED)
    detail = cases.get(desk, intake.import_paths(desk, paths=[eml(tmp_path, raw)]).case_ids[0])
    assert detail.case.kind is CaseKind.DISPUTE
    assert detail.case.due_date.isoformat() == "2026-04-08"
    assert "deletion asked in the same letter" in detail.due_rule


def test_an_unsure_complaint_runs_the_shorter_clock_until_a_person_decides(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    raw = mail(body="I am writing to complain: your export was sent to someone else and I "
                    "still have not received my copy.", received=RECEIVED)
    detail = cases.get(desk, intake.import_paths(desk, paths=[eml(tmp_path, raw)]).case_ids[0])
    assert detail.case.kind is CaseKind.DISPUTE and "needs a person" in detail.case.flags
    assert detail.case.due_date.isoformat() == "2026-04-08"  # access's 30 days, not 90
    decided = intake.confirm_kind(desk, case_id=detail.case.id)
    assert decided.case.kind is CaseKind.DISPUTE and "needs a person" not in decided.case.flags
    assert decided.case.due_date - detail.case.due_date == timedelta(days=60)


def test_erasure_leaves_no_words_of_the_letter_in_its_reading(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    from helpdesk.services import erasure, verification

    first = intake.import_paths(desk, paths=[eml(tmp_path, mail(
        body="Please send me a copy of my data, then delete my account."), "a.eml")])
    intake.import_paths(desk, paths=[eml(tmp_path, mail(
        msgid="<r@x>", subject="Second request", body="Still waiting, please delete my data."),
        "b.eml")])
    verification.verify(desk, case_id=first.case_ids[0], method="identity_document")
    erasure.erase(desk, customer_id=ann, case_id=first.case_ids[0])
    with desk.db.session() as s:
        stored = s.exec(select(Case.classification)).one()
    assert stored["phrase"] is None and stored["requests"] == [
        {"kind": "access", "phrase": None}, {"kind": "deletion", "phrase": None}]
    assert "delete" not in repr(stored) and "copy" not in repr(stored)


def test_a_policy_version_loaded_later_keeps_the_earliest_clock_of_the_letter(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    from datetime import date

    from helpdesk.services import policy
    from tests.policy_texts import POLICY_2019

    raw = mail(body=COMPLAINT_AND_DELETION, received=RECEIVED)
    case_id = intake.import_paths(desk, paths=[eml(tmp_path, raw)]).case_ids[0]
    policy.add(desk, text=POLICY_2019, effective_on=date(2019, 6, 2),
               periods={"deletion": 20, "dispute": 60})
    detail = cases.get(desk, case_id)
    assert detail.case.kind is CaseKind.DISPUTE and detail.policy_version_id is not None
    assert detail.case.due_date.isoformat() == "2026-03-29"  # the deletion's 20 days, not 60
