"""A deletion request walked in the desk (issue 13 item 7): open the case, 'x', the folder and
the typed word, and the case shows the letter, the notices, the erasure record and its closing,
with nothing of the person left on screen (SQLite; the service runs on both backends in
tests/test_deletion_flow.py)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Static

from helpdesk.services import cases
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.case import CaseScreen, CaseView
from screens.dialogs import FormDialog
from tests.conftest import settle
from tests.screenshot import screen_lines
from tests.test_deletion_flow import EMAIL, NAME, _request


def _shown(app: DeskApp) -> str:
    widgets = [str(w.render()) for w in app.screen.query(Static)]
    widgets += [b.text.plain for view in app.screen.query(CaseView) for b in view.blocks]
    return "\n".join([*screen_lines(app), *widgets])


async def test_a_deletion_case_from_received_to_closed_in_the_desk(
    ui_desk: Desk, tmp_path: Path
) -> None:
    _, case_id = _request(ui_desk)
    out = tmp_path / "letters"
    out.mkdir()
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        assert NAME in _shown(app)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog) and app.screen.name == "privacy.deletion"
        app.screen.query_one("#f-folder", Input).value = str(out)
        app.screen.query_one("#f-confirm", Input).focus()
        await pilot.press(*"erase", "ctrl+s")  # the word in capitals only: nothing happens
        await settle(pilot)
        assert isinstance(app.screen, FormDialog)
        assert "to confirm" in str(app.screen.query_one("#form-error", Static).render())
        assert cases.get(ui_desk, case_id).case.status.value == "new"
        app.screen.query_one("#f-confirm", Input).value = ""
        await pilot.press(*"ERASE", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("r")
        await settle(pilot)
        shown = _shown(app)

    assert "new → closed" in shown
    assert "erasure: - → ledger" in shown
    assert "deletion.letter" in shown and "deletion.notice" in shown
    assert "by hand: Regional tax office" in shown
    assert "written: Parcelwise Ltd <dpo@parcelwise.example>" in shown
    assert "PART-THREE archival databases wording." in shown  # the letter, on the thread
    assert NAME not in shown and EMAIL not in shown
    letters = sorted(p.name for p in out.iterdir())
    assert letters[0] == f"case-{case_id}-deletion-letter.eml"
    assert len(letters) == 2 and letters[1].startswith(f"case-{case_id}-notice-")
