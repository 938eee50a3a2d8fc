"""The supervisor's audit screen by keyboard: filter, page, verify, tampering shown; agents
refused. SQLite only (the screen calls the same services as the CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from textual.widgets import Input, Static

from helpdesk.config import Settings
from helpdesk.db.engine import open_database
from helpdesk.services import agents, cases, customers
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.audit import AuditScreen
from screens.widgets import ListTable
from tests.conftest import FakeClock, settle
from tests.hostile import HOSTILE


@pytest.fixture
def ui_desk(tmp_path: Path, clock: FakeClock) -> Iterator[Desk]:
    db = open_database(f"sqlite:///{tmp_path / 'ui.sqlite3'}")
    desk = Desk(db=db, settings=Settings(db_url="x", timezone="Europe/Berlin",
                                         key_file=tmp_path / "key"),
                actor_name="alice", clock=clock)
    agents.add(desk, name="bob")
    c = customers.create(desk, name=HOSTILE[2], emails=["h@example.org"])
    for _ in range(3):
        customers.get(desk.as_agent("bob"), c.id)
    cases.create(desk, kind="question", customer_id=c.id, subject=HOSTILE[0])
    yield desk
    db.dispose()




def _status(screen: AuditScreen) -> str:
    return str(screen.query_one("#status", Static).render())


async def test_supervisor_filters_pages_and_verifies(ui_desk: Desk, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AuditScreen, "PAGE", 4)
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        table = screen.query_one("#events", ListTable)
        assert table.row_count == 4 and screen.next_cursor
        table.focus()
        await pilot.press("m")
        await settle(pilot)
        assert table.row_count > 4
        ids = [e.id for e in screen.entries]
        assert ids == sorted(ids, reverse=True)

        screen.query_one("#agent", Input).focus()
        await pilot.press(*"bob", "enter")
        await settle(pilot)
        assert {e.actor_name for e in screen.entries} == {"bob"}
        assert [e.action for e in screen.entries] == ["customer.view"] * 3

        screen.query_one("#since", Input).focus()
        await pilot.press(*"yesterday", "enter")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen)  # refused with a notice, nothing crashed
        assert screen.focused is screen.query_one("#since", Input)  # back to the bad field

        table.focus()
        await pilot.press("v")
        await settle(pilot)
        assert "verified" in _status(screen)
        with ui_desk.db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE audit_event SET object_id = 99 WHERE id = 3"))
        await pilot.press("v")
        await settle(pilot)
        assert "BROKEN at event #3" in _status(screen)


async def test_customer_trail_from_the_screen_shows_no_personal_data(
    ui_desk: Desk, tmp_path: Path
) -> None:
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.push_screen(AuditScreen(customer_id=1))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        assert screen.query_one("#customer", Input).value == "1"
        assert [e.action for e in screen.entries] == [
            "case.create", "customer.view", "customer.view", "customer.view", "customer.create"]
        table = screen.query_one("#events", ListTable)
        shown = " ".join(str(table.cell_of(key, column.key)) for key in table.row_keys()
                         for column in table.spec)
        assert "free gift" not in shown and "h@example.org" not in shown


async def test_agent_cannot_open_the_trail(ui_desk: Desk, tmp_path: Path) -> None:
    app = DeskApp(ui_desk.as_agent("bob"), state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        assert not isinstance(app.screen, AuditScreen)
        app.push_screen(AuditScreen())  # even reached another way, the service refuses
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen) and screen.entries == []


async def test_hostile_filter_input_is_refused_or_matches_nothing(ui_desk: Desk,
                                                                  tmp_path: Path) -> None:
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.push_screen(AuditScreen())
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AuditScreen)
        for field in ("agent", "customer", "action", "since"):
            box = screen.query_one(f"#{field}", Input)
            for text in HOSTILE[::3]:
                box.value = text
                screen.action_apply()
                await settle(pilot)
                assert app.screen is screen  # a notice at most, never a crash
            box.value = ""
        before = list(screen.entries)
        screen.query_one("#action", Input).value = "[@click=app.quit]x[/]"
        screen.action_apply()
        await settle(pilot)
        assert screen.entries == before and app.is_running  # the service refused it


async def test_opening_a_search_result_is_an_audited_view(ui_desk: Desk, tmp_path: Path) -> None:
    target = customers.create(ui_desk, name="Zora Lookup", emails=["zora@example.org"]).id

    def views() -> int:
        with ui_desk.db.engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT count(*) FROM audit_event e JOIN agent a ON a.id = e.actor_id "
                "WHERE e.action = 'customer.view' AND e.object_id = :c AND a.name = 'alice'"),
                {"c": target}).scalar_one()

    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"Zora")
        await settle(pilot)
        assert views() == 0  # results as you type are not a profile view
        await pilot.press("down", "enter")
        await settle(pilot)
        assert views() == 1
