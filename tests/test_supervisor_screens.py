"""The supervisor's screens, by keyboard: workload -> reassign five overdue disputes -> report;
dispute stage dialog; an agent is refused. SQLite only (the screens call the same services)."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from textual.widgets import (
    Checkbox,
    Input,
    OptionList,
    Sparkline,
    Static,
    TextArea,
)

from helpdesk.config import Settings
from helpdesk.db.engine import open_database
from helpdesk.domain import CaseStatus, DisputeStage
from helpdesk.services import agents, cases, customers, disputes, policy
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.dialogs import FormDialog
from screens.disputes import advance_stage
from screens.reports import ReportsScreen
from screens.widgets import ListTable
from screens.workload import WorkloadScreen
from tests.conftest import settle
from tests.hostile import HOSTILE
from tests.policy_texts import POLICY_2019

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def ui_desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    monkeypatch.setenv("HOME", str(tmp_path))  # where the desk writes letters by default
    now = {"t": START}
    db = open_database(f"sqlite:///{tmp_path / 'ui.sqlite3'}")
    desk = Desk(db=db, settings=Settings(db_url="x", timezone="Europe/Berlin",
                                         key_file=tmp_path / "key"),
                actor_name="alice", clock=lambda: now["t"])
    desk.now_box = now  # type: ignore[attr-defined]
    yield desk
    db.dispose()


@pytest.fixture
def five(ui_desk: Desk) -> list[int]:
    """Five disputes assigned to bob, now 95 days old (overdue); bob is away (deactivated)."""
    for name in ("bob", "carol", "dave"):
        agents.add(ui_desk, name=name)
    policy.add(ui_desk, text=POLICY_2019, effective_on=date(2019, 6, 1))  # letters quote it
    cust = customers.create(ui_desk, name=HOSTILE[2], emails=["h@example.org"]).id
    base = cases.create(ui_desk, kind="deletion", customer_id=cust, subject=HOSTILE[0]).case.id
    ids = []
    for _ in range(5):
        d = disputes.open_dispute(ui_desk, case_id=base).case.id
        cases.assign(ui_desk, case_id=d, assignee="bob", reason="on duty")
        ids.append(d)
    ui_desk.now_box["t"] = START + timedelta(days=95)  # type: ignore[attr-defined]
    agents.update(ui_desk, name="bob", active=False)
    return ids




async def test_supervisor_moves_five_overdue_disputes_by_keyboard_then_reads_the_report(
    ui_desk: Desk, five: list[int], tmp_path: Path
) -> None:
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(110, 36)) as pilot:
        await settle(pilot)
        await pilot.press("W")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WorkloadScreen)
        names = screen.query_one("#agents", ListTable).row_keys()
        assert names[0] == "(unassigned)" and "bob" in names
        for _ in range(names.index("bob")):
            await pilot.press("j")
        await pilot.press("enter")
        await settle(pilot)
        assert [c.id for c in screen.cases] == five
        customer_cell = screen.query_one("#cases", ListTable).cell_of(str(five[0]), "customer")
        assert customer_cell.plain == HOSTILE[2]  # shown literally, not run as markup
        await pilot.press("space", "space", "space")
        assert screen.marked == set(five[:3])
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, FormDialog) and app.screen.name == "workload.reassign"
        # The agent is picked by name (alice, carol, dave; not bob, who is away).
        await pilot.press("j", "enter", *"bob is away", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, WorkloadScreen)
        assert [c.id for c in screen.cases] == five[3:]  # reloaded: two left with bob
        await pilot.press("a", "r")
        await pilot.pause()
        await pilot.press("j", "j", "enter", *"bob is away", "ctrl+s")
        await settle(pilot)
        assert screen.cases == ()
        assignees = [cases.get(ui_desk, i).case.assignee_name for i in five]
        assert assignees == ["carol"] * 3 + ["dave"] * 2
        detail = cases.get(ui_desk, five[0])
        assert detail.events[-1].note == "bob is away"

        await pilot.press("escape")
        await pilot.pause()
        ui_desk.now_box["t"] += timedelta(days=1)  # type: ignore[attr-defined]
        for cid in five:  # carol and dave close them, late
            for stage in ("acknowledged", "investigating", "resolution_proposed"):
                disputes.advance(ui_desk, case_id=cid, to=stage)
            disputes.advance(ui_desk, case_id=cid, to="resolved", outcome="upheld",
                             letter_reference="post")
        await pilot.press("R")
        await settle(pilot)
        report = app.screen
        assert isinstance(report, ReportsScreen)
        assert report.report is not None
        assert report.report.closing.closed == 5 and report.report.closing.on_time_rate == 0
        summary = str(report.query_one("#summary", Static).render())
        assert "on time 0%" in summary and "closed 5" in summary
        assert report.query_one("#volume", Sparkline).data
        await pilot.press("f", *"2026-04-01", "enter")
        await settle(pilot)
        assert report.report.start is not None and report.report.received == 0


async def test_agent_cannot_open_the_workload(ui_desk: Desk, five: list[int],
                                              tmp_path: Path) -> None:
    app = DeskApp(ui_desk.as_agent("carol"), state_file=tmp_path / "ui.json")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("W")
        await settle(pilot)
        assert not isinstance(app.screen, WorkloadScreen)
        # and if a screen were pushed anyway, the service refuses and nothing is shown
        app.push_screen(WorkloadScreen())
        await settle(pilot)
        assert app.screen.query_one("#agents", ListTable).row_count == 0
        assert any("only a supervisor" in n.message for n in app._notifications)


async def test_dispute_stage_dialog_offers_only_legal_stages(
    ui_desk: Desk, five: list[int], tmp_path: Path
) -> None:
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        advance_stage(app, cases.get(ui_desk, five[0]))
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FormDialog) and dialog.name == "disputes.advance"
        stages = dialog.query_one("#f-stage", OptionList)
        assert [stages.get_option_at_index(i).id for i in range(stages.option_count)] == [
            "acknowledged", "withdrawn"]
        await pilot.press("down", "enter")  # withdrawn; focus moves to the note
        await pilot.press(*"[/b] customer withdrew", "ctrl+s")
        await settle(pilot)
        after = cases.get(ui_desk, five[0])
        assert after.case.dispute_stage is DisputeStage.WITHDRAWN
        assert after.case.status is CaseStatus.CLOSED
        assert any(e.note == "[/b] customer withdrew" for e in after.events)

        advance_stage(app, cases.get(ui_desk, five[1]))
        await pilot.pause()
        await pilot.press("enter")  # acknowledged
        await pilot.press("ctrl+s")
        await settle(pilot)
        # 90 days gone: the acknowledgement letter cannot promise a date, and says why
        assert "overdue" in str(app.screen.query_one("#form-error", Static).render())
        app.screen.query_one("#f-letter", Checkbox).value = False
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert cases.get(ui_desk, five[1]).case.dispute_stage is DisputeStage.ACKNOWLEDGED

        # resolving without an outcome is refused inside the dialog, which stays open
        for stage in ("acknowledged", "investigating", "resolution_proposed"):
            disputes.advance(ui_desk, case_id=five[2], to=stage)
        advance_stage(app, cases.get(ui_desk, five[2]))
        await pilot.pause()
        await pilot.press("enter", "ctrl+s")
        await settle(pilot)
        assert app.screen.name == "disputes.advance"
        assert "outcome" in str(app.screen.query_one("#form-error", Static).render())
        app.screen.query_one("#f-outcome", TextArea).text = "apology sent"
        app.screen.query_one("#f-reference", Input).value = "letter 2026/4"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, FormDialog)
        assert cases.get(ui_desk, five[2]).case.status is CaseStatus.RESOLVED


async def test_open_dispute_escalate_and_override_dialogs(
    ui_desk: Desk, five: list[int], tmp_path: Path
) -> None:
    from screens.disputes import escalate_or_clear, open_dispute, override_deadline

    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    base = cases.get(ui_desk, five[0]).related_case_id
    assert base is not None
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        open_dispute(app, cases.get(ui_desk, base))
        await pilot.pause()
        await pilot.press(*"says we kept their data", "ctrl+s")
        await settle(pilot)
        page = cases.list_queue(ui_desk, "disputes").items
        assert len(page) == 6 and page[-1].assignee_name == "alice"

        escalate_or_clear(app, cases.get(ui_desk, base))
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert cases.get(ui_desk, base).case.escalated

        override_deadline(app, cases.get(ui_desk, base))
        await pilot.pause()
        await pilot.press(*"next week", "enter", *"regulator asked", "ctrl+s")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, FormDialog) and dialog.name == "cases.override"
        assert "2026-03-31" in str(dialog.query_one("#form-error", Static).render())
        assert dialog.focused is dialog.query_one("#f-due", Input)
        dialog.query_one("#f-due", Input).value = "2026-06-30"
        await pilot.press("ctrl+s")
        await settle(pilot)
        d = cases.get(ui_desk, base)
        assert str(d.case.due_date) == "2026-06-30" and d.override_reason == "regulator asked"
        assert d.case.policy_breach  # the 30-day promise was missed long ago


async def test_case_view_keys_open_the_dialogs(ui_desk: Desk, five: list[int],
                                               tmp_path: Path) -> None:
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_case(five[0])
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, FormDialog) and app.screen.name == "disputes.advance"
        # acknowledged; no letter (90 days gone, it could not promise a date): to the
        # letter box past the note and the outcome, untick it, save
        await pilot.press("enter", "tab", "tab", "space", "ctrl+s")
        await settle(pilot)
        assert cases.get(ui_desk, five[0]).case.dispute_stage is DisputeStage.ACKNOWLEDGED
        shown = app.screen.detail  # the case view reloaded after the save
        assert shown is not None and shown.case.dispute_stage is DisputeStage.ACKNOWLEDGED
        await pilot.press("O")
        await pilot.pause()
        assert isinstance(app.screen, FormDialog) and app.screen.name == "cases.override"
        await pilot.press("escape")

    agent_app = DeskApp(ui_desk.as_agent("carol"), state_file=tmp_path / "ui.json")
    async with agent_app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        agent_app.open_case(five[1])
        await settle(pilot)
        await pilot.press("O")
        await pilot.pause()
        assert not isinstance(agent_app.screen, FormDialog)
        # supervisor-only: hidden from the agent's keys (the service refuses it as well)
        assert "O" not in agent_app.screen.active_bindings
