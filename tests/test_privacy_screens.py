"""Privacy keys on the profile and case view, by keyboard (SQLite; the screens call the same
services the service tests cover on both backends)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from textual.widgets import Input, Static

from helpdesk.services import agents, customers, disclosures, policy
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.case import CaseScreen
from screens.customer import CustomerScreen
from screens.dialogs import FormDialog, TextDialog
from tests.conftest import settle, verified_request
from tests.hostile import HOSTILE

POLICY = ("Part III. Access to Your Information\nWrite to us to delete your data. "
          "[@click=app.quit]copies[/] may remain in archives.\n")





def _customer(desk: Desk) -> tuple[int, int]:
    cid = customers.create(desk, name=HOSTILE[2], emails=["lee@example.org"]).id
    case = verified_request(desk, cid, "deletion").case.id
    return cid, case


async def test_profile_opt_out_and_erase_with_confirmation(ui_desk: Desk, tmp_path: Path) -> None:
    cid, case = _customer(ui_desk)
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(110, 36)) as pilot:
        await settle(pilot)
        app.open_customer(cid)
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        await pilot.press("o")  # asks first: Escape keeps things as they are
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert not customers.get(ui_desk, cid).marketing_opted_out
        await pilot.press("o", "y")
        await settle(pilot)
        assert customers.get(ui_desk, cid).marketing_opted_out

        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, FormDialog) and app.screen.name == "privacy.erase"
        await pilot.press(*str(case), "enter", *"erase", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog)  # lower-case word: refused, dialog stays
        assert "to confirm" in str(app.screen.query_one("#form-error", Static).render())
        assert customers.get(ui_desk, cid).erased_at is None
        confirm = app.screen.query_one("#f-confirm", Input)
        confirm.value = ""
        await pilot.press(*"ERASE", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        erased = customers.get(ui_desk, cid)
        assert erased.erased_at is not None and erased.name is None


async def test_disclosure_and_export_dialogs(ui_desk: Desk, tmp_path: Path) -> None:
    cid, _ = _customer(ui_desk)
    verified_request(ui_desk, cid, "access")  # the export answers this request
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    target = tmp_path / "out.json"
    async with app.run_test(size=(110, 40)) as pilot:
        await settle(pilot)
        app.open_customer(cid)
        await settle(pilot)
        await pilot.press("d")
        await pilot.pause()
        # the kind is picked: integral partner, contractor, affiliate ...
        await pilot.press(*"Broker", "enter", "j", "j", "enter", *"sale of leads", "enter",
                          *"email", "enter", *"2026-03-01", "enter", *"none", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog) and app.screen.name == "privacy.disclosure"
        assert "does not sell" in str(app.screen.query_one("#form-error", Static).render())
        app.screen.query_one("#f-purpose", Input).value = "group support desk"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert [d.recipient for d in disclosures.list_for(ui_desk, customer_id=cid)] == [
            "Broker"]

        await pilot.press("P")
        await pilot.pause()
        await pilot.press(*str(target), "ctrl+s")
        await settle(pilot)
        await pilot.press("U")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(pilot)
        flagged = customers.get(ui_desk, cid)
        assert flagged.under_13 and flagged.marketing_opted_out
        assert "under_13" in [c.kind for c in flagged.cases]
    data = json.loads(target.read_text())
    assert data["name"] == HOSTILE[2] and data["disclosures"][0]["recipient"] == "Broker"
    assert oct(target.stat().st_mode & 0o777) == "0o600"


async def test_case_view_policy_part_and_opt_out(ui_desk: Desk, tmp_path: Path) -> None:
    policy.add(ui_desk, text=POLICY, effective_on=date(2020, 1, 1))
    cid, case = _customer(ui_desk)
    agents.add(ui_desk, name="bob")
    app = DeskApp(ui_desk.as_agent("bob"), state_file=tmp_path / "ui.json")
    async with app.run_test(size=(110, 36)) as pilot:
        await settle(pilot)
        app.open_case(case)
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, TextDialog) and app.screen.name == "privacy.policy"
        shown = str(app.screen.query_one("#dialog-text", Static).render())
        assert "Part III. Access to Your Information" in shown
        assert "[@click=app.quit]copies[/]" in shown  # literal, not an action link
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("o")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        status = customers.get(ui_desk, cid)
        assert status.marketing_opted_out and status.consent[-1].source_case_id == case
