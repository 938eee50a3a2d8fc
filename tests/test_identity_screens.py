"""On screen: who acts and where (the header line), and the case screen's verify action."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from helpdesk.domain import CaseKind
from helpdesk.services import agents, cases, customers
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.case import CaseScreen, CaseView
from screens.dialogs import FormDialog
from screens.widgets import IdentityBar, Picker
from tests.conftest import settle


def _shown(app: DeskApp, kind: str) -> str:
    """The case screen's part of ``kind`` (head, history), as plain text."""
    return "".join(b.text.plain for b in app.screen.query_one(CaseView).blocks if b.kind == kind)


def _header(app: DeskApp) -> str:
    return str(app.screen.query_one(IdentityBar).render())


async def test_every_screen_says_who_acts_and_on_which_database(
    ui_desk: Desk, tmp_path: Path
) -> None:
    agents.whoami(ui_desk)
    cid = customers.create(ui_desk, name="[b]Head[/b] Line", emails=["h@example.com"]).id
    case_id = cases.create(ui_desk, kind="question", customer_id=cid).case.id
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(170, 30)) as pilot:
        await settle(pilot)
        line = _header(app)
        # tests act as alice in-process: the real account at the keyboard is named first
        assert line.startswith(f"{ui_desk.real_account} acting as alice (supervisor)")
        assert str(ui_desk.db.sqlite_path) in line
        app.open_case(case_id)
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and _header(app) == line


async def test_the_header_for_the_real_account_shows_no_acting(tmp_path: Path) -> None:
    from helpdesk.config import Settings
    from helpdesk.db.engine import open_database

    db = open_database(f"sqlite:///{tmp_path / 'own.sqlite3'}")
    desk = Desk(db=db, settings=Settings(db_url="x", timezone="UTC", key_file=tmp_path / "k"))
    app = DeskApp(desk, state_file=tmp_path / "ui.json")
    try:
        async with app.run_test(size=(100, 24)) as pilot:
            await settle(pilot)
            line = _header(app)
            assert line.startswith(f"{desk.real_account} (supervisor)")
            assert "acting" not in line and line.endswith("own.sqlite3")  # the end stays
    finally:
        db.dispose()


async def _open_verify(pilot, app: DeskApp, case_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Open the case, press v; the verify dialog's methods, as the picker lists them."""
    app.open_case(case_id)
    await settle(pilot)
    head = _shown(app, "head")
    assert "NOT VERIFIED" in head
    await pilot.press("v")
    await pilot.pause()
    assert isinstance(app.screen, FormDialog) and app.screen.name == "case.verify"
    return [str(o.prompt) for o in app.screen.query_one("#f-method", Picker).options]


async def test_verify_from_the_case_screen_with_a_picker(ui_desk: Desk, tmp_path: Path) -> None:
    agents.whoami(ui_desk)
    cid = customers.create(ui_desk, name="Vera Verify", emails=["vera@example.com"]).id
    case_id = cases.create(ui_desk, kind=CaseKind.DELETION, customer_id=cid).case.id
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        labels = await _open_verify(pilot, app, case_id)
        assert labels[0].startswith("Reply with the code") and "Supervisor override" in labels[-1]
        await pilot.press("down", "enter")  # identity document seen
        await pilot.press(*"ID card seen", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        head = _shown(app, "head")
        assert "verified: Identity document seen" in head and "alice" in head
        history = _shown(app, "history")
        assert "verified" in history and "ID card seen" in history
        assert app.screen.check_action("verify", ()) is False  # the key goes away
    state = cases.get(ui_desk, case_id).verification
    assert state is not None and state.verified and state.method == "identity_document"


async def test_agents_are_not_offered_the_override(ui_desk: Desk, tmp_path: Path) -> None:
    agents.whoami(ui_desk)
    agents.add(ui_desk, name="bob")
    bob = ui_desk.as_agent("bob")
    cid = customers.create(bob, name="Otto Override", emails=["otto@example.com"]).id
    case_id = cases.create(bob, kind=CaseKind.ACCESS, customer_id=cid).case.id
    app = DeskApp(bob, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        labels = await _open_verify(pilot, app, case_id)
        assert not any("override" in label.lower() for label in labels)
        # a reply with the code that is not on the thread: refused in the dialog, nothing saved
        await pilot.press("enter", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog)
        assert "never verifies" in str(app.screen.query_one("#form-error", Static).render())
    state = cases.get(ui_desk, case_id).verification
    assert state is not None and not state.verified
