"""Policy versions carry their own clocks: periods read from the text and confirmed, a case's
deadline from the version in force at receipt (and the stricter of that and a legal rule), a
version loaded later reaching the cases and consent events inside its window, and letters that
say the same dates (and say so when a case is late)."""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import select

from helpdesk import clock as deadlines
from helpdesk import policytext
from helpdesk.config import LegalRule
from helpdesk.db.engine import Database, open_database
from helpdesk.db.models import ConsentEvent, Template
from helpdesk.domain import CaseKind
from helpdesk.errors import Conflict, Forbidden, Invalid
from helpdesk.services import (
    access_export,
    agents,
    cases,
    consent,
    customers,
    policy,
    replies,
    reports,
    supervisor,
)
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import CaseDetail
from tests.conftest import FakeClock, verified_request
from tests.policy_texts import HEADER, POLICY_2019, POLICY_2026

BERLIN = ZoneInfo("Europe/Berlin")


def _at(*args: int) -> datetime:
    """A local Berlin instant, as UTC."""
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


def _customer(desk: Desk, email: str = "mira@example.org") -> int:
    return customers.create(desk, name="Mira Okafor", emails=[email]).id


def _due(desk: Desk, case_id: int) -> date:
    return cases.get(desk, case_id).case.due_date


# --- reading the text ----------------------------------------------------------------------------

def test_periods_are_read_from_the_sentence_and_its_context() -> None:
    found = {f.kind: f for f in policytext.read_periods(POLICY_2019)}
    # "within no more than 30 days" names no request; the sentence before it names three
    assert {k: f.days for k, f in found.items()} == {
        CaseKind.CORRECTION: 30, CaseKind.DELETION: 30, CaseKind.OBJECTION: 30,
        CaseKind.DISPUTE: 90, CaseKind.UNDER_13: 30, CaseKind.POSTING_REMOVAL: 30}
    assert found[CaseKind.DELETION].part == "Part III. Your Information"
    assert "no more than 30 days" in (found[CaseKind.DELETION].sentence or "")
    assert found[CaseKind.UNDER_13].follows is CaseKind.DELETION
    assert CaseKind.ACCESS not in found  # this text never promises a period for access
    assert CaseKind.QUESTION not in found  # "Questions ... go to" states no period


def test_a_part_heading_names_the_kind_a_bare_period_sentence_serves() -> None:
    text = ("Part III. Access to Your Information\n"
            "Write to us. We answer within thirty days.\n")
    assert [(f.kind, f.days) for f in policytext.read_periods(text)] == [(CaseKind.ACCESS, 30)]


def test_two_periods_for_one_kind_keep_the_shorter_and_say_so() -> None:
    text = ("Part III. Requests\nWe delete data within 30 days.\n"
            "Part VII. Annex\nDeletion requests are completed within 14 business days.\n")
    [deletion] = [f for f in policytext.read_periods(text) if f.kind is CaseKind.DELETION]
    assert deletion.days == 14 and "14 and 30 days" in (deletion.note or "")
    assert "business days" in (deletion.note or "")


def test_weeks_and_months_become_days_never_later_than_the_text() -> None:
    """Policies written for the GDPR promise "one month"; a month counted as 30 days would let
    a letter of 31 January run to 2 March, past the promised 28 February."""
    text = ("Part III. Your Rights\n"
            "You may ask us for a copy of your personal data or ask us to erase it. We will "
            "respond within one month of receipt.\n"
            "Part IV. Accuracy\n"
            "Corrections are made within two (2) weeks.\n"
            "Part VI. Complaints\n"
            "We settle complaints within 3 months.\n"
            "Objections to how we use your data are answered within a 30-day period, or "
            "within two months when they are complex.\n")
    found = {f.kind: f for f in policytext.read_periods(text)}
    assert {k: f.days for k, f in found.items()} == {
        CaseKind.ACCESS: 28, CaseKind.DELETION: 28, CaseKind.CORRECTION: 14,
        CaseKind.DISPUTE: 89, CaseKind.OBJECTION: 30, CaseKind.UNDER_13: 28,
        CaseKind.POSTING_REMOVAL: 28}
    assert "one month" in (found[CaseKind.ACCESS].note or "")
    assert "28 days" in (found[CaseKind.ACCESS].note or "")
    assert "89 days" in (found[CaseKind.DISPUTE].note or "")
    assert found[CaseKind.CORRECTION].note is None  # two weeks are exactly 14 days
    # a sentence stating two periods for one request keeps the shorter and says so
    assert "30 and 59 days" in (found[CaseKind.OBJECTION].note or "")
    # how long something is kept is no promise about answering a request
    assert policytext.read_periods(
        "Part III. Your Rights\nYou may ask us to delete your data. We keep server logs for "
        "12 months and backups for 90 days. Deleted data may stay in backups up to 6 weeks.\n"
        "We send our newsletter once a week; unsubscribe at any time.\n") == []
    assert [(f.kind, f.days) for f in policytext.read_periods(
        "Part III. Deletion\nWe act on a request within a 30-day period.\n")] == [
        (CaseKind.DELETION, 30), (CaseKind.UNDER_13, 30), (CaseKind.POSTING_REMOVAL, 30)]


def test_the_files_header_is_told_from_the_policy() -> None:
    assert policytext.header_lines(POLICY_2019) == 2
    body = policytext.body(POLICY_2019, 2)
    assert HEADER not in body and body.startswith("This notice explains")
    assert policytext.header_lines("Part I. Data\nWe collect names.") == 0
    assert policytext.header_lines("just one short line") == 0  # never the whole text


def test_preview_shows_every_kind_and_where_its_clock_comes_from(desk: Desk) -> None:
    found = policy.preview(desk, text=POLICY_2019, periods={"dispute": 45})
    by_kind = {p.kind: p for p in found.periods}
    assert [p.kind for p in found.periods] == list(CaseKind)
    assert (by_kind[CaseKind.DELETION].source, by_kind[CaseKind.DELETION].days) == ("text", 30)
    assert (by_kind[CaseKind.DISPUTE].source, by_kind[CaseKind.DISPUTE].days) == (
        "set by supervisor", 45)
    assert by_kind[CaseKind.UNDER_13].source == "as deletion"
    assert (by_kind[CaseKind.ACCESS].source, by_kind[CaseKind.ACCESS].days) == (
        "service level", 30)
    assert found.header == tuple(POLICY_2019.splitlines()[:2])
    with pytest.raises(Invalid, match="between 1 and"):
        policy.preview(desk, text=POLICY_2019, periods={"deletion": 0})
    with pytest.raises(Invalid, match="case kind"):
        policy.preview(desk, text=POLICY_2019, periods={"sale": 3})


# --- the deadline of a case ----------------------------------------------------------------------

def test_a_new_version_moves_only_the_cases_received_inside_its_window(
    desk: Desk, clock: FakeClock
) -> None:
    """Done when: adding a version with different periods changes the deadlines of cases
    received after its effective date and no others, across the boundary, with a legal rule."""
    desk.settings = replace(desk.settings, legal_rules=(
        LegalRule(name="Access law (10 days)", kinds=(CaseKind.ACCESS,), days=10),))
    policy.add(desk, text=POLICY_2019, effective_on=date(2019, 6, 2))
    cid = _customer(desk)

    def case(kind: CaseKind, at: datetime) -> int:
        return cases.create(desk, kind=kind, customer_id=cid, received_at=at).case.id

    last_minute = _at(2026, 2, 28, 23, 59)  # the day before the new version takes effect
    first_minute = _at(2026, 3, 1, 0, 0)
    before = {k: case(k, last_minute) for k in (CaseKind.DELETION, CaseKind.DISPUTE,
                                               CaseKind.ACCESS)}
    after = {k: case(k, first_minute) for k in (CaseKind.DELETION, CaseKind.DISPUTE,
                                               CaseKind.ACCESS)}
    overridden = case(CaseKind.CORRECTION, _at(2026, 3, 2, 9, 0))
    supervisor.override_deadline(desk, case_id=overridden, new_due=date(2026, 4, 30),
                                 reason="the archive vendor needs more time")
    assert _due(desk, after[CaseKind.DELETION]) == date(2026, 3, 31)  # 30 days, old version

    added = policy.add(desk, text=POLICY_2026, effective_on=date(2026, 3, 1))

    assert set(added.cases_reached) == {*after.values(), overridden}
    assert added.periods["deletion"] == 20 and added.periods["dispute"] == 60
    # the day before: the 2019 clocks (access: the 10-day law beats the service level)
    assert _due(desk, before[CaseKind.DELETION]) == date(2026, 3, 30)
    assert _due(desk, before[CaseKind.DISPUTE]) == date(2026, 5, 29)
    assert _due(desk, before[CaseKind.ACCESS]) == date(2026, 3, 10)
    # from the first minute of the effective day: the 2026 clocks, the law still on top
    deletion = cases.get(desk, after[CaseKind.DELETION])
    assert deletion.case.due_date == date(2026, 3, 21) and deletion.due_rule == "policy"
    assert _due(desk, after[CaseKind.DISPUTE]) == date(2026, 4, 30)
    access = cases.get(desk, after[CaseKind.ACCESS])
    assert access.case.due_date == date(2026, 3, 11)
    assert access.due_rule == "Access law (10 days)"
    # the override stays; the promise it departs from follows the new version
    moved = cases.get(desk, overridden)
    assert moved.case.due_date == date(2026, 4, 30) and moved.due_rule == "supervisor override"
    assert deadlines.due_date(moved.rule_due_at, BERLIN) == date(2026, 3, 22)  # type: ignore[arg-type]
    # each reached case says so in its history, the cases outside do not
    note = [e for e in deletion.events if e.action == "policy_version"]
    assert len(note) == 1 and "2026-03-31 -> 2026-03-21" in (note[0].note or "")
    assert note[0].from_value == "Privacy policy effective 2019-06-02"
    assert not [e for e in cases.get(desk, before[CaseKind.DELETION]).events
                if e.action == "policy_version"]
    # a case opened now runs on the new version too
    fresh = cases.create(desk, kind=CaseKind.DISPUTE, customer_id=cid)
    assert fresh.policy_version_label == "Privacy policy effective 2026-03-01"
    assert fresh.case.due_date == date(2026, 5, 9)  # 10 March + 60 days


def test_a_version_loaded_later_reaches_cases_and_consent_without_one(
    desk: Desk, clock: FakeClock
) -> None:
    cid = _customer(desk)
    early = cases.create(desk, kind=CaseKind.DELETION, customer_id=cid,
                         received_at=_at(2026, 1, 15, 10, 0))
    assert early.policy_version_id is None
    assert "no policy version is loaded" in (early.policy_note or "")
    consent.opt_out(desk, customer_id=cid)

    added = policy.add(desk, text=POLICY_2026, effective_on=date(2026, 2, 1))

    assert added.cases_reached == () and added.consent_events_reached == 1
    still = cases.get(desk, early.case.id)
    assert still.policy_version_id is None and still.case.due_date == early.case.due_date
    assert "received before any loaded policy version (the first takes effect 2026-02-01)" in (
        still.policy_note or "")
    [event] = customers.get(desk, cid).consent
    assert event.policy_version_id == added.id
    with desk.db.session() as s:
        row = s.exec(select(ConsentEvent)).one()
        assert row.policy_assigned_at == clock.now

    older = policy.add(desk, text=POLICY_2019, effective_on=date(2026, 1, 1))
    reached = cases.get(desk, early.case.id)
    assert older.cases_reached == (early.case.id,) and reached.policy_version_id == older.id
    assert reached.case.due_date == date(2026, 2, 14) and reached.policy_note is None
    [note] = [e for e in reached.events if e.action == "policy_version"]
    assert note.from_value == "none in force" and "deadline stays 2026-02-14" in (note.note or "")
    # the version effective later still owns the consent event dated inside its window
    assert customers.get(desk, cid).consent[0].policy_version_id == added.id


def test_a_version_loaded_later_names_itself_on_closed_cases_but_keeps_their_deadlines(
    desk: Desk, clock: FakeClock
) -> None:
    """A closed case was worked and judged against the clock it had: a version loaded later
    for its window says which policy governed it, but does not move its deadline (that would
    rewrite whether it was closed on time in every report already run)."""
    policy.add(desk, text=POLICY_2019, effective_on=date(2019, 6, 2))
    cid = _customer(desk)
    received = _at(2026, 3, 2, 9, 0)
    closed = cases.create(desk, kind=CaseKind.DELETION, customer_id=cid, received_at=received)
    still_open = cases.create(desk, kind=CaseKind.DELETION, customer_id=cid,
                              received_at=received)
    clock.now = _at(2026, 3, 25, 12, 0)  # closed inside the 2019 clock (30 days)
    cases.set_status(desk, case_id=closed.case.id, status="closed")
    closing_before = [k.closing for k in reports.report(desk).kinds]

    added = policy.add(desk, text=POLICY_2026, effective_on=date(2026, 3, 1))

    assert set(added.cases_reached) == {closed.case.id, still_open.case.id}
    kept = cases.get(desk, closed.case.id)
    assert kept.policy_version_label == "Privacy policy effective 2026-03-01"
    assert kept.case.due_date == date(2026, 4, 1) and kept.rule_due_at == closed.rule_due_at
    [note] = [e for e in kept.events if e.action == "policy_version"]
    assert "closed before this version was loaded" in (note.note or "")
    assert "deadline stays 2026-04-01" in (note.note or "")
    # the open case runs on the new clock (20 days)
    assert _due(desk, still_open.case.id) == date(2026, 3, 22)
    # what was closed on time stays closed on time (the open one is now late: its new clock)
    after = reports.report(desk)
    assert [k.closing for k in after.kinds] == closing_before
    assert [k.open_breaches for k in after.kinds if k.kind == CaseKind.DELETION] == [1]


def test_a_case_reached_later_quotes_the_policy_in_its_letters(
    desk: Desk, clock: FakeClock
) -> None:
    """Issue 11 item 7: replies that quote the policy work once a version reaches the case."""
    case = cases.create(desk, kind=CaseKind.DELETION, customer_id=_customer(desk),
                        received_at=_at(2026, 3, 5, 9, 0)).case
    with pytest.raises(Invalid, match="policy_version"):
        replies.preview(desk, case_id=case.id, template="acknowledgement")

    policy.add(desk, text=POLICY_2026, effective_on=date(2026, 3, 1))

    letter = replies.preview(desk, case_id=case.id, template="acknowledgement")
    assert '("Privacy policy effective 2026-03-01")' in letter.body
    assert "within no more than 20 days" in letter.body and "by 2026-03-25" in letter.body
    assert HEADER not in letter.body


def test_consent_history_names_its_policy_and_a_version_given_later(
    desk: Desk, clock: FakeClock
) -> None:
    """Issue 11 item 7: a consent event reached by a version loaded later says so where the
    history is read: the profile, the consent status and the access export."""
    cid = _customer(desk)
    consent.opt_out(desk, customer_id=cid)
    [bare] = customers.get(desk, cid).consent
    assert (bare.policy_label, bare.policy_assigned_at) == (None, None)

    clock.advance(days=2)
    policy.add(desk, text=POLICY_2026, effective_on=date(2026, 2, 1))
    clock.advance(days=1)
    letter = cases.create(desk, kind=CaseKind.QUESTION, customer_id=cid).case.id
    consent.opt_in(desk, customer_id=cid, case_id=letter)  # a written request

    first, second = customers.get(desk, cid).consent
    assert first.policy_label == "Privacy policy effective 2026-02-01"
    assert first.policy_assigned_at == _at(2026, 3, 12, 10, 30)
    assert second.policy_label == first.policy_label and second.policy_assigned_at is None
    assert consent.status(desk, customer_id=cid).history == (first, second)

    verified_request(desk, cid, CaseKind.ACCESS)
    text = access_export.to_text(access_export.export(desk, customer_id=cid))
    assert ("under Privacy policy effective 2026-02-01 (loaded later, on 2026-03-12T09:30+00:00)"
            in text.splitlines()[text.splitlines().index("MARKETING CONSENT HISTORY") + 1])
    exported = json.loads(access_export.to_json(access_export.export(desk, customer_id=cid)))
    assert exported["consent_history"][0]["policy_label"] == first.policy_label


def test_a_version_added_while_another_desk_opens_a_case_reaches_that_case(
    desk: Desk, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two desks at one moment: bob's desk has read the version in force for a new case and not
    yet committed when a supervisor adds a version covering it. Whichever commits first, the
    case ends on the new version (PostgreSQL let the version's reach-back miss it)."""
    agents.add(desk, name="bob", role="agent")
    cid = _customer(desk)
    opened: list[Database] = []

    def other(name: str) -> Desk:
        opened.append(open_database(desk.settings.db_url))
        return Desk(db=opened[-1], settings=desk.settings, actor_name=name, clock=desk.clock)

    read, go = threading.Event(), threading.Event()
    in_force = policy.in_force

    def paused_in_force(session, at, d):  # type: ignore[no-untyped-def]
        found = in_force(session, at, d)
        if threading.current_thread().name == "bob":
            read.set()
            go.wait(20)
        return found

    monkeypatch.setattr(policy, "in_force", paused_in_force)
    results: dict[str, object] = {}

    def run(name: str, call: Callable[[], object]) -> threading.Thread:
        def target() -> None:
            try:
                results[name] = call()
            except Exception as exc:  # kept for the assertions
                results[name] = exc
        thread = threading.Thread(target=target, name=name)
        thread.start()
        return thread

    try:
        bob = run("bob", partial(cases.create, other("bob"), kind=CaseKind.DELETION,
                                 customer_id=cid))
        assert read.wait(20)
        alice = run("alice", partial(policy.add, other("alice"), text=POLICY_2026,
                                     effective_on=date(2026, 3, 1)))
        alice.join(1.0)  # adding the version waits for bob's case (or, wrongly, does not)
        go.set()
        bob.join(30)
        alice.join(30)
    finally:
        go.set()
        for db in opened:
            db.dispose()
    added, created = results["alice"], results["bob"]
    assert isinstance(added, policy.PolicyInfo), added
    assert isinstance(created, CaseDetail), created
    case = cases.get(desk, created.case.id)
    assert case.policy_version_id == added.id
    assert case.case.due_date == date(2026, 3, 30)  # the new version's 20 days


def test_periods_change_only_before_the_version_takes_effect(desk: Desk) -> None:
    future = policy.add(desk, text=POLICY_2026, effective_on=date(2026, 4, 1))
    assert future.editable
    changed = policy.set_periods(desk, policy_id=future.id, periods={"dispute": 75, "access": 25})
    assert changed.periods["dispute"] == 75 and changed.periods["access"] == 25
    shown = {p.kind: p for p in policy.show(desk, future.id).periods}
    assert (shown[CaseKind.DISPUTE].source, shown[CaseKind.DISPUTE].days) == (
        "set by supervisor", 75)
    assert shown[CaseKind.DELETION].source == "text"
    agents.add(desk, name="bob", role="agent")
    with pytest.raises(Forbidden):
        policy.set_periods(desk.as_agent("bob"), policy_id=future.id, periods={"dispute": 70})
    current = policy.add(desk, text=POLICY_2019, effective_on=date(2026, 3, 10))  # today
    assert not current.editable
    with pytest.raises(Conflict, match="took effect"):
        policy.set_periods(desk, policy_id=current.id, periods={"dispute": 70})


# --- letters -------------------------------------------------------------------------------------

def test_letters_state_the_versions_clock_and_say_when_a_case_is_late(
    desk: Desk, clock: FakeClock
) -> None:
    policy.add(desk, text=POLICY_2026, effective_on=date(2026, 3, 1))
    cid = _customer(desk)
    dispute = cases.create(desk, kind=CaseKind.DISPUTE, customer_id=cid).case.id
    ack = replies.preview(desk, case_id=dispute, template="dispute_acknowledged")
    assert "within 60 days" in ack.body and "90 days" not in ack.body
    assert "by 2026-05-09" in ack.body

    late = cases.create(desk, kind=CaseKind.DELETION, customer_id=cid,
                        received_at=_at(2026, 2, 6, 9, 0)).case  # before the version
    assert (late.due_date, late.days_left) == (date(2026, 3, 8), -2)  # not clamped to 0
    with pytest.raises(Invalid, match="overdue by 2 days"):
        replies.preview(desk, case_id=late.id, template="acknowledgement")
    letter = replies.preview(desk, case_id=late.id, template="overdue_notice")
    assert f"due on {late.due_date}" in letter.body and "2 days\nlate" in letter.body


def test_a_shipped_letter_nobody_edited_follows_the_shipped_text(desk: Desk) -> None:
    agents.whoami(desk)  # the first agent, who edited one of the letters below
    with desk.db.session(write=True) as s:  # as an older desk seeded them
        s.add(Template(name="dispute_acknowledged", kind="dispute", language="en",
                       subject="We have received your complaint",
                       body="We aim to resolve it within 90 days.\n", updated_at=desk.now()))
        s.add(Template(name="dispute_resolved", kind="dispute", language="en",
                       subject="Settled", body="Our own wording.\n", updated_at=desk.now(),
                       updated_by_id=1))
    from helpdesk.services import templates

    shipped = templates.get(desk, name="dispute_acknowledged")
    assert "${clock_days}" in shipped.body and "90 days" not in shipped.body
    assert templates.get(desk, name="dispute_resolved").body == "Our own wording.\n"


# --- the CLI -------------------------------------------------------------------------------------

class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cli_shows_the_periods_and_asks_before_adding(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    text = tmp_path / "notice.txt"
    text.write_text(POLICY_2019, encoding="utf-8")
    code, out, _ = cli("policy", "add", str(text), "--effective", "2019-06-02", "--dry-run",
                       "--json", "--period", "access=15")
    periods = {p["kind"]: p for p in json.loads(out)["periods"]}
    assert code == 0 and periods["access"]["days"] == 15
    assert periods["deletion"]["sentence"].endswith("within no more than 30 days.")
    assert "no policy version" in cli("policy", "list")[1]  # a dry run adds nothing

    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    code, out, err = cli("policy", "add", str(text), "--effective", "2019-06-02")
    assert code == 6 and "not confirmed" in err
    assert "  deletion           30 days  Part III. Your Information" in out
    assert "  access             30 days  not in the policy" in out
    assert f"line 1: {HEADER}" in out

    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    code, out, _ = cli("policy", "add", str(text), "--effective", "2019-06-02",
                       "--period", "dispute=45")
    assert code == 0 and "policy version #1" in out
    code, out, _ = cli("policy", "show", "1", "--json")
    shown = {p["kind"]: p for p in json.loads(out)["periods"]}
    assert shown["dispute"]["days"] == 45 and shown["dispute"]["source"] == "set by supervisor"
    code, _, err = cli("policy", "periods", "1", "dispute=50")
    assert code == 5 and "took effect" in err
    assert cli("policy", "periods", "1", "dispute")[0] == 6
    assert cli("policy", "show", "9")[0] == 3


def test_cli_periods_of_a_future_version(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = tmp_path / "notice.txt"
    text.write_text(POLICY_2026, encoding="utf-8")
    assert cli("policy", "add", str(text), "--effective", "2027-01-01", "--yes")[0] == 0
    code, out, _ = cli("policy", "periods", "1", "dispute=30", "deletion=14", "--json")
    assert code == 0 and json.loads(out)["periods"]["deletion"] == 14
    assert cli("agent", "add", "bob")[0] == 0
    assert cli("policy", "periods", "1", "dispute=31", agent="bob")[0] == 4


def test_cli_consent_names_the_policy_and_a_version_given_later(
    cli, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    assert cli("customer", "add", "--name", "Mira", "--email", "mira@example.org")[0] == 0
    assert cli("consent", "optout", "--customer", "1")[0] == 0
    code, out, _ = cli("consent", "show", "1")
    assert code == 0 and "POLICY" in out and "(none loaded)" in out
    text = tmp_path / "notice.txt"
    text.write_text(POLICY_2019, encoding="utf-8")
    assert cli("policy", "add", str(text), "--effective", "2019-06-02", "--yes")[0] == 0
    code, out, _ = cli("consent", "show", "1")
    [row] = [line for line in out.splitlines() if "opt_out" in line]
    assert code == 0 and "Privacy policy effective 2019-06-02" in row
    assert "LOADED LATER ON" in out  # and when the version was given to the event:
    assert re.search(r"effective 2019-06-02 +\d{4}-\d\d-\d\dT\d\d:\d\d", row)
    code, out, _ = cli("consent", "show", "1", "--json")
    [event] = json.loads(out)["history"]
    assert event["policy_label"] == "Privacy policy effective 2019-06-02"
    assert event["policy_assigned_at"] is not None


# --- upgrading a database written before versions carried periods -------------------------------

def test_upgrade_gives_old_versions_the_periods_they_were_run_with(tmp_path: Path) -> None:
    from helpdesk.db import migrate
    from helpdesk.db.engine import create_db_engine, open_database

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_db_engine(url)
    migrate.upgrade(engine, "0002")
    t = "2026-01-10 09:00:00"
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO agent (id, name, display_name, role, active, created_at, version) "
            "VALUES (1, 'alice', 'Alice', 'supervisor', 1, :t, 1)"), {"t": t})
        conn.execute(sa.text(
            "INSERT INTO policy_version (id, label, effective_on, text, sha256, added_at) "
            "VALUES (1, 'v2019', '2019-06-02', :text, 'x', :t)"), {"text": POLICY_2019, "t": t})
        for cid, override, policy_due in ((1, None, "2026-02-10 23:00:00"),
                                          (2, "2026-04-01 22:00:00", "2026-02-10 23:00:00")):
            conn.execute(sa.text(
                "INSERT INTO support_case (id, kind, status, received_at, due_at, policy_due_at, "
                "due_rule, override_due_at, escalated, created_at, updated_at, version) VALUES "
                "(:id, 'deletion', 'open', :t, :due, :pdue, 'policy', :ovr, 0, :t, :t, 1)"),
                {"id": cid, "t": t, "due": override or "2026-02-09 23:00:00", "pdue": policy_due,
                 "ovr": override})
        conn.execute(sa.text(
            "INSERT INTO message (case_id, direction, at, created_at, is_machine) "
            "VALUES (1, 'inbound', :t, :t, 0)"), {"t": t})
    engine.dispose()

    db = open_database(url)
    try:
        with db.engine.connect() as conn:
            periods, header = conn.execute(sa.text(
                "SELECT periods, header_lines FROM policy_version")).one()
            due = dict(conn.execute(sa.text("SELECT id, rule_due_at FROM support_case")).all())
            messages = conn.execute(sa.text("SELECT count(*) FROM message")).scalar()
    finally:
        db.dispose()
    assert json.loads(periods) == {"access": 30, "correction": 30, "deletion": 30,
                                   "objection": 30, "under_13": 30, "posting_removal": 30,
                                   "dispute": 90}
    assert header == 2 and messages == 1
    assert str(due[1]).startswith("2026-02-09 23:00") and str(due[2]).startswith("2026-02-10")
