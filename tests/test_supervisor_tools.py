"""Supervisor tools: bulk reassignment, workload, escalation, deadline overrides, role refusals."""

from datetime import date

import pytest
from sqlmodel import select

from helpdesk.db.models import AuditEvent, CaseEvent
from helpdesk.domain import Queue
from helpdesk.errors import Conflict, Forbidden, Invalid, NotFound
from helpdesk.services import agents, cases, customers, disputes, supervisor
from helpdesk.services.context import Desk


@pytest.fixture
def team(desk: Desk) -> dict[str, Desk]:
    for name in ("bob", "carol", "dave"):
        agents.add(desk, name=name)
    return {name: desk.as_agent(name) for name in ("bob", "carol", "dave")}


@pytest.fixture
def customer(desk: Desk) -> int:
    return customers.create(desk, name="Ana Núñez", emails=["ana@example.org"]).id


def _case(desk: Desk, customer: int, kind: str = "correction", assignee: str | None = None) -> int:
    cid = cases.create(desk, kind=kind, customer_id=customer).case.id
    if assignee:
        cases.assign(desk, case_id=cid, assignee=assignee, reason="setup")
    return cid


def _assignees(desk: Desk, ids: list[int]) -> list[str | None]:
    return [cases.get(desk, i).case.assignee_name for i in ids]


def test_five_overdue_disputes_move_from_an_absent_agent_to_two_colleagues(
    desk: Desk, team: dict[str, Desk], customer: int, clock
) -> None:  # type: ignore[no-untyped-def]
    handled = _case(desk, customer)
    ids = []
    for _ in range(5):
        d = disputes.open_dispute(desk, case_id=handled).case.id
        cases.assign(desk, case_id=d, assignee="bob", reason="on duty")
        ids.append(d)
    clock.advance(days=95)
    agents.update(desk, name="bob", active=False)
    load = {r.agent_name: r for r in supervisor.workload(desk)}
    assert (load["bob"].open_disputes, load["bob"].overdue, load["bob"].active) == (5, 5, False)

    moved = supervisor.reassign(desk, case_ids=ids[:3], assignee="carol", reason="bob is away")
    moved += supervisor.reassign(desk, case_ids=ids[3:], assignee="dave", reason="bob is away")
    assert [c.assignee_name for c in moved] == ["carol"] * 3 + ["dave"] * 2
    assert all(c.overdue for c in moved)

    load = {r.agent_name: r for r in supervisor.workload(desk)}
    assert "bob" not in load  # inactive and nothing left: off the view
    assert (load["carol"].overdue, load["dave"].overdue) == (3, 2)
    # new assignees see them in their queue and banner; the old one no longer does
    assert {c.id for c in cases.list_queue(team["carol"], Queue.MINE).items} == set(ids[:3])
    assert cases.my_counts(team["dave"]).mine_overdue == 2
    with desk.db.session() as s:
        events = s.exec(select(CaseEvent).where(CaseEvent.action == "assigned",
                                                CaseEvent.note == "bob is away")).all()
        assert sorted((e.case_id, e.from_value, e.to_value) for e in events) == sorted(
            [(i, "bob", "carol") for i in ids[:3]] + [(i, "bob", "dave") for i in ids[3:]])
        audited = s.exec(select(AuditEvent).where(AuditEvent.action == "case.assign")).all()
        assert {a.object_id for a in audited} >= set(ids)
        assert all("bob is away" not in str(a.details) for a in audited)


def test_bulk_reassignment_is_all_or_nothing_and_names_the_failing_case(
    desk: Desk, team: dict[str, Desk], customer: int, clock
) -> None:  # type: ignore[no-untyped-def]
    ids = [_case(desk, customer, assignee="bob") for _ in range(3)]
    versions = {i: cases.get(desk, i).case.version for i in ids}
    clock.advance(minutes=1)
    cases.add_note(team["bob"], case_id=ids[1], body="working on it")  # ids[1] is now stale
    with pytest.raises(Conflict, match=f"case #{ids[1]} was changed by bob"):
        supervisor.reassign(desk, case_ids=ids, assignee="carol", reason="rebalance",
                            expected_versions=versions)
    assert _assignees(desk, ids) == ["bob"] * 3
    with pytest.raises(NotFound, match="#999"):
        supervisor.reassign(desk, case_ids=[ids[0], 999], assignee="carol", reason="x")
    with pytest.raises(NotFound, match=f"case #{ids[0]}: no agent named 'zed'"):
        supervisor.reassign(desk, case_ids=ids, assignee="zed", reason="x")
    with pytest.raises(Invalid, match=f"case #{ids[0]}: a reassignment needs a reason"):
        supervisor.reassign(desk, case_ids=ids, assignee="carol", reason="  ")
    with pytest.raises(Invalid, match="at least one"):
        supervisor.reassign(desk, case_ids=[], assignee="carol", reason="x")
    assert _assignees(desk, ids) == ["bob"] * 3
    done = supervisor.reassign(desk, case_ids=[*ids, ids[0]], assignee="carol", reason="ok")
    assert [c.id for c in done] == ids  # duplicates collapse, order kept


def test_agents_take_unassigned_cases_but_cannot_move_others(
    desk: Desk, team: dict[str, Desk], customer: int
) -> None:
    free = [_case(desk, customer) for _ in range(2)]
    taken = supervisor.reassign(team["bob"], case_ids=free, assignee="bob", reason=None)
    assert [c.assignee_name for c in taken] == ["bob", "bob"]
    carols = _case(desk, customer, assignee="carol")
    unassigned = _case(desk, customer)
    with pytest.raises(Forbidden, match=f"case #{carols}: only a supervisor"):
        supervisor.reassign(team["bob"], case_ids=[unassigned, carols], assignee="bob",
                            reason="mine now")
    assert _assignees(desk, [unassigned, carols]) == [None, "carol"]
    with pytest.raises(Forbidden, match="only a supervisor"):
        supervisor.reassign(team["bob"], case_ids=free, assignee="dave", reason="swap")
    assert _assignees(desk, free) == ["bob", "bob"]


def test_workload_counts_and_is_for_supervisors(
    desk: Desk, team: dict[str, Desk], customer: int, clock
) -> None:  # type: ignore[no-untyped-def]
    old = _case(desk, customer, "question", assignee="bob")  # 5-day service level
    clock.advance(days=10)
    _case(desk, customer, "deletion", assignee="bob")  # due in 30 days
    soon = _case(desk, customer, "question", assignee="bob")  # due in 5 days
    dispute = disputes.open_dispute(desk, case_id=old).case.id
    cases.assign(desk, case_id=dispute, assignee="bob", reason="x")
    supervisor.escalate(team["bob"], case_id=soon)
    _case(desk, customer)  # unassigned
    closed = _case(desk, customer, assignee="bob")
    cases.set_status(desk, case_id=closed, status="resolved")
    clock.advance(days=61)  # dispute at 61 days: first warning; all but the dispute overdue
    rows = supervisor.workload(desk)
    by = {r.agent_name: r for r in rows}
    bob = by["bob"]
    assert (bob.open_cases, bob.open_disputes, bob.overdue, bob.dispute_warnings,
            bob.escalated) == (4, 1, 3, 1, 1)
    assert by[None].open_cases == 1 and by["carol"].open_cases == 0
    clock.advance(days=-61 + 1)  # back to day 11: 'soon' is due in 4 days
    assert {r.agent_name: r.due_soon for r in supervisor.workload(desk)}["bob"] == 1
    assert supervisor.agent_cases(desk, agent="bob").items[0].id == old  # most urgent first
    for call in (lambda: supervisor.workload(team["bob"]),
                 lambda: supervisor.agent_cases(team["bob"], agent="bob")):
        with pytest.raises(Forbidden, match="only a supervisor"):
            call()
    with pytest.raises(NotFound):
        supervisor.agent_cases(desk, agent="nobody")


def test_agents_escalate_and_only_supervisors_deescalate(
    desk: Desk, team: dict[str, Desk], customer: int
) -> None:
    cid = _case(desk, customer, assignee="bob")
    d = supervisor.escalate(team["bob"], case_id=cid, note="customer threatens regulator")
    assert d.case.escalated
    assert d.events[-1].action == "escalated"
    with pytest.raises(Forbidden, match="only a supervisor"):
        supervisor.deescalate(team["bob"], case_id=cid)
    assert cases.get(desk, cid).case.escalated
    with pytest.raises(Conflict):
        supervisor.deescalate(desk, case_id=cid, expected_version=d.case.version - 1)
    d = supervisor.deescalate(desk, case_id=cid, expected_version=d.case.version)
    assert not d.case.escalated
    cases.set_status(desk, case_id=cid, status="resolved")
    with pytest.raises(Invalid, match="closed"):
        supervisor.escalate(team["bob"], case_id=cid)


def test_override_keeps_the_policy_date_and_shows_the_breach(
    desk: Desk, team: dict[str, Desk], customer: int, clock
) -> None:  # type: ignore[no-untyped-def]
    cid = _case(desk, customer, "deletion", assignee="bob")
    before = cases.get(desk, cid)
    with pytest.raises(Forbidden, match="only a supervisor"):
        supervisor.override_deadline(team["bob"], case_id=cid, new_due=date(2026, 5, 1),
                                     reason="complex")
    with pytest.raises(Invalid, match="reason is required"):
        supervisor.override_deadline(desk, case_id=cid, new_due=date(2026, 5, 1), reason=" ")
    with pytest.raises(Invalid, match="before the case was received"):
        supervisor.override_deadline(desk, case_id=cid, new_due=date(2026, 1, 1), reason="x")
    assert cases.get(desk, cid) == before  # refused: nothing changed
    d = supervisor.override_deadline(desk, case_id=cid, new_due=date(2026, 5, 1),
                                     reason="archive restore needed",
                                     expected_version=before.case.version)
    assert d.case.due_date == date(2026, 5, 1)
    assert d.policy_due_at == before.policy_due_at  # the promise is kept on record
    assert d.override_due_at == d.case.due_at
    assert d.override_reason == "archive restore needed"
    assert d.due_rule == "supervisor override"
    assert d.events[-1].from_value == before.case.due_date.isoformat()
    assert d.events[-1].to_value == "2026-05-01"
    assert not d.case.policy_breach
    clock.advance(days=35)  # past the 30-day promise, within the override
    c = cases.get(desk, cid).case
    assert (c.overdue, c.policy_breach) == (False, True)
    cases.set_status(desk, case_id=cid, status="resolved")
    c = cases.get(desk, cid).case
    assert c.policy_breach  # closed late against the policy, whatever the override said
    with pytest.raises(Invalid, match="closed"):
        supervisor.override_deadline(desk, case_id=cid, new_due=date(2026, 6, 1), reason="x")


def test_override_date_is_the_last_local_day(desk: Desk, customer: int, clock) -> None:  # type: ignore[no-untyped-def]
    cid = _case(desk, customer, "question")
    supervisor.override_deadline(desk, case_id=cid, new_due=date(2026, 3, 29), reason="DST day")
    clock.now = clock.now.replace(month=3, day=29, hour=21, minute=59)  # 23:59 CEST
    assert cases.get(desk, cid).case.overdue is False
    clock.advance(minutes=1)
    assert cases.get(desk, cid).case.overdue is True
    assert cases.get(desk, cid).case.days_left == -1
