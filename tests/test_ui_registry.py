"""Extensions plug in through screens.registry (keys, palette, roles); UI state file helpers."""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from helpdesk import uistate
from helpdesk.config import Settings
from helpdesk.db.engine import open_database
from helpdesk.services import agents, cases
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import CaseDetail
from screens import registry
from screens.app import DeskApp
from screens.case import CaseScreen
from screens.dialogs import TextDialog
from screens.main import MainScreen
from tests.conftest import FakeClock
from tests.test_ui_desk import settle


@pytest.fixture
def opened(tmp_path: Path, _sqlite_template: Path, clock: FakeClock) -> Iterator[Desk]:
    target = tmp_path / "desk.sqlite3"
    shutil.copyfile(_sqlite_template, target)
    url = f"sqlite:///{target}"
    db = open_database(url)
    desk = Desk(db=db, settings=Settings(db_url=url, timezone="UTC", key_file=tmp_path / "k"),
                actor_name="alice", clock=clock)
    agents.whoami(desk)
    agents.add(desk, name="bob")
    yield desk
    db.dispose()


@pytest.fixture
def extensions() -> Iterator[list[str]]:
    """Register test extensions; take them out again afterwards (the registry is global)."""
    calls: list[str] = []
    registry.register(
        registry.DeskCommand(id="test.hello", title="Say hello", help="test command", key="f9",
                             open=lambda app: calls.append("hello")),
        registry.DeskCommand(id="test.boss", title="Boss only", help="supervisors", key="f10",
                             open=lambda app: calls.append("boss"), supervisor_only=True),
        registry.CaseAction(id="test.case", title="Poke case", help="case action", key="f11",
                            run=lambda app, d: calls.append(f"case {d.case.id}")),
    )
    yield calls
    for items in (registry.COMMANDS, registry.ACTIONS):
        items[:] = [i for i in items if not i.id.startswith("test.")]


def test_register_replaces_same_id(extensions: list[str]) -> None:
    registry.register(registry.DeskCommand(id="test.hello", title="Hi again", help="", key=None,
                                           open=lambda app: None))
    hello = [c for c in registry.COMMANDS if c.id == "test.hello"]
    assert [c.title for c in hello] == ["Hi again"]


async def test_extension_keys_and_roles(
    opened: Desk, extensions: list[str], tmp_path: Path
) -> None:
    detail: CaseDetail = cases.create(opened, kind="question", customer_id=None, subject="s")
    app = DeskApp(opened.as_agent("bob"), state_file=tmp_path / "s.json")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and not app.is_supervisor
        await pilot.press("f9")
        await pilot.press("f10")  # bound, but refused for an agent
        assert extensions == ["hello"]
        app.open_case(detail.case.id)
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("f11")
        assert extensions == ["hello", f"case {detail.case.id}"]


async def test_palette_hides_supervisor_commands_from_agents(
    opened: Desk, extensions: list[str], tmp_path: Path
) -> None:
    from screens.app import DeskCommands

    for name, expected in (("bob", False), ("alice", True)):
        app = DeskApp(opened.as_agent(name), state_file=tmp_path / "s.json")
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            titles = [t for t, _, _ in DeskCommands(app.screen)._entries()]
            assert "Say hello" in titles
            assert ("Boss only" in titles) is expected


async def test_the_keymap_moves_the_keys_of_screens_that_load_on_first_use(
    opened: Desk, tmp_path: Path
) -> None:
    """The desk's areas are declared without importing their screens (they load when first
    used): a keymap entry still moves their keys, and the new key opens them."""
    detail = cases.create(opened, kind="question", customer_id=None, subject="s")
    keymap = {"reports.open": "f6", "privacy.policy": "f7"}
    desk = replace(opened, settings=replace(opened.settings, keymap=keymap))
    app = DeskApp(desk, state_file=tmp_path / "s.json")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("R")  # the key it had
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("f6")
        await settle(pilot)
        assert type(app.screen).__name__ == "ReportsScreen"
        app.open_case(detail.case.id)
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("f7")
        await settle(pilot)
        assert isinstance(app.screen, TextDialog)


def test_every_key_of_a_screen_that_loads_later_reaches_what_it_names() -> None:
    """Their modules load on the first key press: a name misspelt in the registry (or a
    function renamed in its module) would only show then, as an error in the desk."""
    points = registry.entry_points()
    assert ("reports", "ReportsScreen") in points and len(points) > 20
    for module, name in points:
        assert callable(getattr(importlib.import_module(f"screens.{module}"), name, None)), (
            f"screens.{module}.{name}")


def test_ui_state_round_trip_and_damage(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "ui-state.json"
    assert uistate.load_state(path) == {}
    uistate.save_state({"theme": "nord"}, path)
    uistate.save_state({"queue": "overdue"}, path)
    assert uistate.load_state(path) == {"theme": "nord", "queue": "overdue"}
    path.write_text("{not json", encoding="utf-8")
    assert uistate.load_state(path) == {}
    path.write_text("[1, 2]", encoding="utf-8")
    assert uistate.load_state(path) == {}
    assert [p.name for p in path.parent.iterdir()] == ["ui-state.json"]  # no temp files left


def test_a_broken_screen_module_does_not_stop_the_desk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    real = importlib.import_module

    def flaky(name: str, package: str | None = None) -> object:
        if name == "screens.lookup":
            raise SyntaxError("half-written module")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", flaky)
    assert registry.discover() == ["lookup"]


def test_dispute_stage_queues_list_only_stages_a_case_can_be_open_in() -> None:
    from screens.main import QUEUES

    stages = {spec.key.split(":", 1)[1] for spec in QUEUES if spec.key.startswith("disputes:")}
    assert stages == {"received", "acknowledged", "investigating", "resolution_proposed"}
