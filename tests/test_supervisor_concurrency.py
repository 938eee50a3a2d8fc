"""Two people, one case: stale saves are conflicts on SQLite and PostgreSQL, nothing is lost."""

import threading
from collections.abc import Callable, Iterator
from datetime import date
from functools import partial

import pytest
from sqlmodel import select

from helpdesk.db.engine import open_database
from helpdesk.db.models import Message
from helpdesk.domain import CaseStatus, MessageDirection
from helpdesk.errors import Conflict
from helpdesk.services import agents, cases, customers, disputes, supervisor
from helpdesk.services.context import Desk


@pytest.fixture
def second(desk: Desk) -> Iterator[Callable[[str], Desk]]:
    """Desks for other agents, each on its own engine (a separate process would do the same)."""
    opened = []

    def make(name: str) -> Desk:
        db = open_database(desk.settings.db_url)
        opened.append(db)
        return Desk(db=db, settings=desk.settings, actor_name=name, clock=desk.clock)

    yield make
    for db in opened:
        db.dispose()


@pytest.fixture
def case_id(desk: Desk) -> int:
    agents.add(desk, name="bob")
    agents.add(desk, name="carol")
    cust = customers.create(desk, name="Li Wei", emails=["li@example.org"])
    cid = cases.create(desk, kind="deletion", customer_id=cust.id).case.id
    cases.assign(desk, case_id=cid, assignee="bob", reason="start")
    return cid


def _notes(desk: Desk, case_id: int) -> list[str | None]:
    with desk.db.session() as s:
        return [m.body for m in s.exec(select(Message).where(
            Message.case_id == case_id, Message.direction == MessageDirection.NOTE))]


def test_stale_save_is_refused_naming_the_other_change_and_nothing_is_lost(
    desk: Desk, second: Callable[[str], Desk], case_id: int
) -> None:
    bob = second("bob")
    seen = cases.get(bob, case_id)  # bob opens the case
    supervisor.escalate(desk, case_id=case_id, expected_version=seen.case.version)  # alice
    with pytest.raises(Conflict, match=r"changed by alice \(escalated\)"):
        cases.set_status(bob, case_id=case_id, status="waiting",
                         expected_version=seen.case.version)
    fresh = cases.get(bob, case_id)  # reload shows alice's change ...
    assert fresh.case.escalated and fresh.case.status is CaseStatus.NEW
    done = cases.set_status(bob, case_id=case_id, status="waiting",
                            expected_version=fresh.case.version)  # ... and bob's save goes in
    assert done.case.escalated and done.case.status is CaseStatus.WAITING


def test_reassignment_reaches_the_old_assignee_beside_his_note_not_instead_of_it(
    desk: Desk, second: Callable[[str], Desk], case_id: int, clock
) -> None:  # type: ignore[no-untyped-def]
    bob = second("bob")
    open_copy = cases.get(bob, case_id)
    clock.advance(minutes=5)
    supervisor.reassign(desk, case_ids=[case_id], assignee="carol", reason="bob is off sick")
    after = cases.add_note(bob, case_id=case_id, body="called the customer back")
    assert _notes(desk, case_id) == ["called the customer back"]
    assert after.case.assignee_name == "carol"  # what bob sees next to his note
    with pytest.raises(Conflict, match=r"changed by bob \(note\)"):
        cases.set_status(bob, case_id=case_id, status="waiting",
                         expected_version=open_copy.case.version)


def test_override_against_a_stale_copy_is_a_conflict(
    desk: Desk, second: Callable[[str], Desk], case_id: int
) -> None:
    other_window = second("alice")  # the same supervisor in a second window
    seen = cases.get(other_window, case_id)
    dispute = disputes.open_dispute(desk, case_id=case_id)  # not a change to the case itself
    assert cases.get(desk, case_id).case.version == seen.case.version
    cases.set_status(desk.as_agent("bob"), case_id=case_id, status="open")
    with pytest.raises(Conflict, match="status: new -> open"):
        supervisor.override_deadline(other_window, case_id=case_id, new_due=date(2026, 6, 1),
                                     reason="x", expected_version=seen.case.version)
    assert cases.get(desk, case_id).override_due_at is None
    assert dispute.related_case_id == case_id


def _race(calls: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Run the calls in threads released together; each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: dict[str, object] = {}

    def run(name: str, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[name] = call()
        except Exception as exc:  # kept for the caller's assertions
            results[name] = exc

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_two_writers_at_once_exactly_one_wins(
    desk: Desk, second: Callable[[str], Desk], case_id: int
) -> None:
    """Two threads, two engines, the same expected version: one save, one conflict.

    On PostgreSQL both may pass the version check and race to the UPDATE; the row lock plus the
    version column turn the loser's write into a conflict. On SQLite writers queue on the
    database lock and the loser sees the new version.
    """
    bob, alice = second("bob"), second("alice")
    for _ in range(5):
        before = cases.get(desk, case_id).case
        target = "open" if before.status is CaseStatus.WAITING else "waiting"
        flip = supervisor.deescalate if before.escalated else supervisor.escalate
        results = _race({
            "bob": partial(cases.set_status, bob, case_id=case_id, status=target,
                           expected_version=before.version),
            "alice": partial(flip, alice, case_id=case_id, expected_version=before.version),
        })
        assert sorted(type(r).__name__ for r in results.values()) == ["CaseDetail", "Conflict"]
        after = cases.get(desk, case_id).case
        assert after.version == before.version + 1
        if isinstance(results["alice"], Conflict):  # bob's change only
            assert (after.status, after.escalated) == (target, before.escalated)
        else:  # alice's change only
            assert (after.status, after.escalated) == (before.status, not before.escalated)
