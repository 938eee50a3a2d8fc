"""The agents' inbox: who is told what, once, and only their own notices."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from helpdesk.domain import CaseKind
from helpdesk.errors import Invalid
from helpdesk.services import agents, cases, customers, inbox, intake, supervisor
from helpdesk.services.context import Desk
from tests.conftest import FakeClock
from tests.intake_mail import mail, write_mbox


@pytest.fixture
def team(desk: Desk) -> dict[str, Desk]:
    """alice (supervisor), carol (supervisor), bob and dan (agents)."""
    agents.whoami(desk)
    agents.add(desk, name="carol", role="supervisor", display_name="Carol Reyes")
    agents.add(desk, name="bob", role="agent", display_name="Bob Ito")
    agents.add(desk, name="dan", role="agent")
    return {n: desk.as_agent(n) for n in ("alice", "carol", "bob", "dan")}


def _case(desk: Desk, kind: CaseKind = CaseKind.DELETION, **kw: object) -> int:
    cid = customers.create(desk, name="Ines Duarte", emails=[f"ines{_case.n}@example.org"]).id
    _case.n += 1
    return cases.create(desk, kind=kind, customer_id=cid, **kw).case.id  # type: ignore[arg-type]


_case.n = 0  # type: ignore[attr-defined]


def test_reassigning_a_case_tells_the_new_assignee(team: dict[str, Desk]) -> None:
    case_id = _case(team["alice"])
    cases.assign(team["alice"], case_id=case_id, assignee="bob", reason="Dan is on leave")

    page = inbox.inbox(team["bob"])
    assert page.unread == 1
    [notice] = page.items
    assert (notice.kind, notice.case_id, notice.actor_name, notice.read) == (
        inbox.NoticeKind.REASSIGNED, case_id, "alice", False)
    assert f"Case #{case_id} (Deletion) was assigned to you by alice" in notice.text
    assert "leave" not in notice.text  # the reason stays on the case, not in the inbox
    assert inbox.inbox(team["dan"]).unread == 0
    assert inbox.inbox(team["alice"]).unread == 0  # never told about one's own act


def test_taking_a_case_yourself_is_no_news(team: dict[str, Desk]) -> None:
    case_id = _case(team["bob"])
    cases.assign(team["bob"], case_id=case_id, assignee="bob")
    assert inbox.inbox(team["bob"]).unread == 0


def test_supervisor_bulk_reassignment_tells_each_new_assignee(team: dict[str, Desk]) -> None:
    ids = [_case(team["alice"]) for _ in range(3)]
    supervisor.reassign(team["carol"], case_ids=ids, assignee="dan", reason="rebalancing")
    page = inbox.inbox(team["dan"])
    assert sorted(n.case_id for n in page.items) == ids  # type: ignore[type-var]
    assert {n.actor_name for n in page.items} == {"Carol Reyes"}


def test_an_escalation_reaches_every_supervisor(team: dict[str, Desk]) -> None:
    case_id = _case(team["bob"])
    supervisor.escalate(team["bob"], case_id=case_id, note="the customer threatens to sue")
    for name in ("alice", "carol"):
        [n] = inbox.inbox(team[name]).items
        assert n.kind is inbox.NoticeKind.ESCALATED and "escalated by Bob Ito" in n.text
    assert inbox.inbox(team["bob"]).unread == 0 and inbox.inbox(team["dan"]).unread == 0


def test_warning_days_are_announced_once_each(
    team: dict[str, Desk], clock: FakeClock
) -> None:
    received = clock.now - timedelta(days=76)
    case_id = _case(team["alice"], kind=CaseKind.DISPUTE, received_at=received)
    cases.assign(team["alice"], case_id=case_id, assignee="bob", reason="hers now")
    inbox.mark_read(team["bob"], everything=True)

    bob = inbox.inbox(team["bob"])
    assert [(n.kind, n.case_id) for n in bob.items if not n.read] == [
        (inbox.NoticeKind.WARNING, case_id)]
    assert "reached day 75" in bob.items[0].text
    assert inbox.inbox(team["bob"]).unread == 1  # reading again posts nothing new
    for name in ("alice", "carol"):  # the supervisors hear about the whole team's disputes
        assert [n.kind for n in inbox.inbox(team[name]).items] == [inbox.NoticeKind.WARNING]
    assert inbox.inbox(team["dan"]).unread == 0

    clock.advance(days=10)  # day 86: the 85-day warning
    texts = [n.text for n in inbox.inbox(team["bob"], unread_only=True).items]
    assert len(texts) == 2 and "reached day 85" in texts[0]


def test_a_customer_answering_a_waiting_case_tells_its_assignee(
    team: dict[str, Desk], tmp_path: Path
) -> None:
    desk = team["alice"]
    customers.create(desk, name="Ann", emails=["ann@example.com"])
    first = intake.import_paths(desk, paths=[write_mbox(tmp_path / "a", [mail(
        frm="Ann <ann@example.com>", msgid="<first@example.com>")])])
    [customer_case] = first.case_ids
    cases.assign(desk, case_id=customer_case, assignee="bob", reason="his")
    cases.set_status(team["bob"], case_id=customer_case, status="waiting",
                     note="asked for proof of identity")
    inbox.mark_read(team["bob"], everything=True)

    intake.import_paths(desk, paths=[write_mbox(tmp_path / "c", [mail(
        frm="Ann <ann@example.com>", msgid="<reply@example.com>",
        subject=f"Re: Hello [Case #{customer_case}]", body="Here is my passport scan.",
        extra="In-Reply-To: <first@example.com>")])])

    [n] = inbox.inbox(team["bob"], unread_only=True).items
    assert n.kind is inbox.NoticeKind.REPLY and n.case_id == customer_case
    assert "passport" not in n.text  # the letter's words never go into the inbox


def test_only_your_own_notices_can_be_read(team: dict[str, Desk]) -> None:
    case_id = _case(team["alice"])
    cases.assign(team["alice"], case_id=case_id, assignee="bob", reason="his")
    [n] = inbox.inbox(team["bob"]).items
    assert inbox.mark_read(team["dan"], ids=[n.id]) == 0
    assert inbox.inbox(team["bob"]).unread == 1
    assert inbox.mark_read(team["bob"], ids=[n.id]) == 1
    assert inbox.inbox(team["bob"]).unread == 0 and inbox.inbox(team["bob"]).items[0].read
    with pytest.raises(Invalid):
        inbox.mark_read(team["bob"])
    with pytest.raises(Invalid):
        inbox.inbox(team["bob"], limit=0)


def test_cli_inbox_lists_and_marks(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("agent", "add", "bob")[0] == 0
    assert cli("customer", "add", "--name", "Ines", "--email", "ines@example.org")[0] == 0
    assert cli("case", "new", "--kind", "deletion", "--customer", "1")[0] == 0
    code, _, _ = cli("case", "assign", "1", "bob", "--reason", "his now")
    assert code == 0

    code, out, _ = cli("inbox", "--json", agent="bob")
    page = json.loads(out)
    assert code == 0 and page["unread"] == 1
    assert page["items"][0]["kind"] == "reassigned" and page["items"][0]["case_id"] == 1
    code, out, _ = cli("inbox", agent="bob")
    assert "1 unread" in out and "reassigned" in out and "#1" in out
    code, out, _ = cli("inbox", "--read", str(page["items"][0]["id"]), "--json", agent="bob")
    assert code == 0 and json.loads(out) == {"marked_read": 1}
    assert "nothing new" in cli("inbox", agent="bob")[1]
    assert "reassigned" in cli("inbox", "--all", agent="bob")[1]
    assert cli("inbox", "--limit", "0", agent="bob")[0] == 6
    assert cli("inbox", agent="mallory")[0] == 4
