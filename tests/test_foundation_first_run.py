"""First run: the desk opened on a brand-new database works at once, with no error notices."""

from pathlib import Path

import pytest
from textual.widgets import Static

from helpdesk.services import agents
from helpdesk.services.context import open_desk


async def test_desk_opens_cleanly_on_an_empty_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from screens.app import DeskApp

    monkeypatch.setenv("HELPDESK_HOME", str(tmp_path))
    desk = open_desk(agent="first.person")
    app = DeskApp(desk)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        title = str(app.screen.query_one("#queue-title", Static).render())
        assert "loading" not in title
        assert [n.message for n in app._notifications] == []
    assert agents.whoami(desk).role == "supervisor"
    desk.db.dispose()
