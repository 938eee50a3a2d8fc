"""Several desk processes writing to one case at the same instant, on SQLite and PostgreSQL.

Only a write that carries the version its person looked at (``--if-version``) may be refused
as a conflict. Notes are appends and never conflict; a status change without a version applies
to the case as it is when it runs and says what it changed.
"""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
from sqlmodel import col, select

from helpdesk.db.models import (
    Case,
    CaseEvent,
    ConsentEvent,
    FieldChange,
    Message,
    SuppressionEntry,
)
from helpdesk.domain import MessageDirection
from helpdesk.services import agents, cases, consent, customers, suppression
from helpdesk.services.context import Desk
from tests.conftest import verified_request
from tests.intake_mail import mail
from tests.multiproc import Outcome, run_together

AGENTS = ("bob", "carol", "dave", "erin", "frank")
WRITES = 4  # per process: note, status, note, status


@pytest.fixture
def team_env(desk: Desk, tmp_path: Path) -> dict[str, str]:
    """Environment for desk processes sharing the test desk's key and time zone."""
    config = tmp_path / "team.toml"
    config.write_text(f'key_file = "{desk.settings.key_file}"\n'
                      f'timezone = "{desk.settings.timezone}"\n')
    return {"HELPDESK_HOME": str(tmp_path / "home"), "HELPDESK_CONFIG": str(config)}


@pytest.fixture
def case_id(desk: Desk) -> int:
    for name in AGENTS:
        agents.add(desk, name=name)
    cust = customers.create(desk, name="Li Wei", emails=["li@example.org"])
    return cases.create(desk, kind="deletion", customer_id=cust.id).case.id


def _cli(db_url: str, agent: str, *args: str) -> tuple[str, list[str]]:
    return agent, ["--db", db_url, *args]


def _history(desk: Desk, case_id: int) -> tuple[list[str], list[tuple[str | None, str | None]]]:
    with desk.db.session() as s:
        notes = s.exec(select(Message.body).where(
            Message.case_id == case_id, Message.direction == MessageDirection.NOTE)).all()
        statuses = s.exec(select(CaseEvent.from_value, CaseEvent.to_value).where(
            CaseEvent.case_id == case_id, CaseEvent.action == "status",
        ).order_by(col(CaseEvent.id))).all()
    return [n or "" for n in notes], [tuple(row) for row in statuses]


def test_simultaneous_notes_and_blind_status_changes_all_apply(
    desk: Desk, db_url: str, case_id: int, team_env: dict[str, str]
) -> None:
    scripts = []
    for i, name in enumerate(AGENTS):
        script = []
        for k in range(WRITES):
            if k % 2 == 0:
                script.append(_cli(db_url, name, "case", "note", str(case_id), f"{name} {k}"))
            else:
                target = ("open", "waiting")[(i + k) % 2]
                script.append(_cli(db_url, name, "case", "status", str(case_id), target))
        scripts.append(script)

    results = run_together(scripts, env=team_env)

    flat: list[Outcome] = [o for outcomes in results for o in outcomes]
    assert [(o.code, o.err) for o in flat] == [(0, "")] * len(flat)
    notes, statuses = _history(desk, case_id)
    assert sorted(notes) == sorted(f"{n} {k}" for n in AGENTS for k in range(0, WRITES, 2))
    # Every status change said what it did, and the history holds exactly those changes.
    said = []
    for outcomes in results:
        for o in outcomes[1::2]:
            moved = re.fullmatch(rf"case #{case_id}: status (\w+) -> (\w+)\n", o.out)
            kept = re.fullmatch(rf"case #{case_id} is already (\w+); nothing changed\n", o.out)
            assert moved or kept, o.out
            if moved:
                said.append(moved.groups())
    assert sorted(said) == sorted(statuses)
    for (_, before), (after, _) in pairwise(statuses):
        assert before == after  # each change started from the status the last one left
    final = cases.get(desk, case_id).case
    assert final.status.value == statuses[-1][1]


def test_simultaneous_versioned_changes_one_wins_the_rest_conflict(
    desk: Desk, db_url: str, case_id: int, team_env: dict[str, str]
) -> None:
    seen = cases.get(desk, case_id).case.version
    targets = ("open", "waiting", "resolved", "closed", "open")
    scripts = [[_cli(db_url, name, "case", "status", str(case_id), target,
                     "--if-version", str(seen))] for name, target in zip(AGENTS, targets,
                                                                          strict=True)]

    outcomes = [o for (o,) in run_together(scripts, env=team_env)]

    assert sorted(o.code for o in outcomes) == [0, 5, 5, 5, 5]
    assert not any(o.traceback for o in outcomes)
    winner = AGENTS[[o.code for o in outcomes].index(0)]
    for o in outcomes:
        if o.code == 5:
            assert f"changed by {winner}" in o.err
    after = cases.get(desk, case_id).case
    assert after.version == seen + 1


def _all_fine(results: list[list[Outcome]]) -> list[Outcome]:
    flat = [o for outcomes in results for o in outcomes]
    assert [(o.code, o.err) for o in flat] == [(0, "")] * len(flat)
    return flat


def test_the_same_address_opted_out_from_several_desks_at_once(
    desk: Desk, db_url: str, case_id: int, team_env: dict[str, str]
) -> None:
    # A mailing system's unsubscribe and the customer's own letter reach three desks together:
    # one known address, one nobody holds. Every desk is told it is done; one entry a hash.
    known = customers.create(desk, name="Ana Lima", emails=["ana.lima@example.org"]).id
    scripts = [[_cli(db_url, name, "optout", "Ana.Lima@example.org"),
                _cli(db_url, name, "optout", "gone@example.net")] for name in AGENTS[:3]]
    scripts.append([_cli(db_url, "erin", "consent", "optout", "--customer", str(known))])

    _all_fine(run_together(scripts, env=team_env))

    with desk.db.session() as s:
        hashes = s.exec(select(SuppressionEntry.email_hash)).all()
        optouts = s.exec(select(ConsentEvent).where(ConsentEvent.customer_id == known)).all()
    assert sorted(hashes) == sorted({suppression.email_hash(desk, "ana.lima@example.org"),
                                     suppression.email_hash(desk, "gone@example.net")})
    assert [e.action for e in optouts] == ["opt_out"]
    assert not consent.status(desk, customer_id=known).marketing_allowed


def test_a_reassignment_racing_a_reply_and_a_note_keeps_all_three(
    desk: Desk, db_url: str, case_id: int, team_env: dict[str, str], tmp_path: Path
) -> None:
    cases.assign(desk, case_id=case_id, assignee="bob", reason="start")
    rounds = 3
    scripts = [
        [_cli(db_url, "alice", "case", "assign", str(case_id), ("carol", "bob")[k % 2],
              "--reason", f"round {k}") for k in range(rounds)],
        [_cli(db_url, "bob", "reply", str(case_id), "--template", "overdue_notice",
              "--out", str(tmp_path / f"reply{k}.eml")) for k in range(rounds)],
        [_cli(db_url, "dave", "case", "note", str(case_id), f"note {k}") for k in range(rounds)],
        [_cli(db_url, "erin", "case", "escalate", str(case_id), "--note", f"look {k}")
         for k in range(rounds)],
    ]

    _all_fine(run_together(scripts, env=team_env))

    detail = cases.get(desk, case_id)
    outbound = [m for m in detail.messages if m.direction is MessageDirection.OUTBOUND]
    assert len(outbound) == rounds
    notes, _ = _history(desk, case_id)
    assert {f"note {k}" for k in range(rounds)} <= set(notes)
    assert detail.case.assignee_name == "carol" and detail.case.escalated  # the last round's


def test_the_same_letter_imported_by_two_desks_at_once_starts_one_clock(
    desk: Desk, db_url: str, team_env: dict[str, str], tmp_path: Path
) -> None:
    for name in AGENTS:
        agents.add(desk, name=name)
    customers.create(desk, name="Ann Example", emails=["ann@example.com"])
    letter = tmp_path / "letter.eml"
    letter.write_bytes(mail(msgid="<same-moment@example.com>"))
    scripts = [[_cli(db_url, name, "import", str(letter))] for name in AGENTS[:3]]

    _all_fine(run_together(scripts, env=team_env))

    with desk.db.session() as s:
        letters = s.exec(select(Message).where(
            Message.message_id == "<same-moment@example.com>")).all()
        opened = s.exec(select(Case)).all()
    assert len(letters) == 1
    assert [c.id for c in opened] == [letters[0].case_id]


def test_corrections_racing_notes_and_status_changes_on_their_case_all_apply(
    desk: Desk, db_url: str, case_id: int, team_env: dict[str, str]
) -> None:
    # The customer's correction letter is applied while colleagues write on the same case:
    # a correction request of its own, its requester verified.
    customer = cases.get(desk, case_id).case.customer_id or 0
    case_id = verified_request(desk, customer, "correction").case.id
    rounds = 3
    scripts = [
        [_cli(db_url, "bob", "correct", str(case_id), "--billing-address", f"Street {k}")
         for k in range(rounds)],
        [_cli(db_url, "carol", "correct", str(case_id), "--phone", f"+49 30 1234 56{k}")
         for k in range(rounds)],
        [_cli(db_url, "dave", "case", "note", str(case_id), f"note {k}") for k in range(rounds)],
        [_cli(db_url, "erin", "case", "status", str(case_id), ("open", "waiting")[k % 2])
         for k in range(rounds)],
    ]

    _all_fine(run_together(scripts, env=team_env))

    with desk.db.session() as s:
        fields = s.exec(select(FieldChange.field).where(FieldChange.case_id == case_id)).all()
    assert sorted(fields) == ["billing_address"] * rounds + ["phone"] * rounds
    notes, statuses = _history(desk, case_id)
    assert len(notes) == rounds and len(statuses) == rounds

