"""A long thread opens with the messages of its first screens; the rest of the thread and the
history follow right after the first paint, and End pressed at once still lands on the real end."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from helpdesk.domain import CaseKind
from helpdesk.services import cases
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.case import MESSAGE_KINDS, Block, CaseScreen, CaseView
from tests.conftest import settle
from tests.screenshot import screen_lines

NOTES = 60


def _long_case(desk: Desk) -> int:
    case_id = cases.create(desk, kind=CaseKind.QUESTION, customer_id=None,
                           subject="a long thread").case.id
    for n in range(1, NOTES + 1):
        cases.add_note(desk, case_id=case_id, body=f"note {n} [b]not bold[/b]\nsecond line\nthird")
    cases.add_note(desk, case_id=case_id, body="the very last note")
    return case_id


def _messages(view: CaseView) -> list[Block]:
    return [b for b in view.blocks if b.kind in MESSAGE_KINDS]


def _at_real_end(screen: CaseScreen) -> None:
    """The whole thread and history are there, and the pane shows their end (the history's
    last line: it comes after the thread)."""
    detail = screen.query_one("#detail", CaseView)
    messages = _messages(detail)
    assert len(messages) == NOTES + 1
    assert "the very last note" in messages[-1].text.plain
    history = detail.blocks[-1]
    assert history.kind == "history"
    assert history.text.plain.count("note") >= NOTES + 1  # one history line per note
    assert detail.max_scroll_y > 0 and detail.scroll_y == detail.max_scroll_y
    last = history.text.plain.strip().splitlines()[-1]  # the pane's last line is in view
    assert any(last in line for line in screen_lines(screen.app))


async def _open(pilot: Pilot[None], case_id: int) -> CaseScreen:
    app = pilot.app
    assert isinstance(app, DeskApp)
    app.open_case(case_id)
    await settle(pilot)
    assert isinstance(app.screen, CaseScreen) and app.screen.case_id == case_id
    return app.screen


async def test_long_thread_arrives_whole_and_end_at_once_reaches_it(
    ui_desk: Desk, tmp_path: Path
) -> None:
    """End typed as the case opens (the screen is still coming up) goes to the real end;
    every message is there, in order, its text literal."""
    case_id = _long_case(ui_desk)
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await app.workers.wait_for_complete()
        await pilot.press("end")
        await settle(pilot)
        await pilot.wait_for_scheduled_animations()
        screen = app.screen
        assert isinstance(screen, CaseScreen) and screen.case_id == case_id
        _at_real_end(screen)
        shown = [m.text.plain.split("\n")[1] for m in _messages(screen.query_one(CaseView))]
        assert shown[:NOTES] == [f"note {n} [b]not bold[/b]" for n in range(1, NOTES + 1)]


async def test_end_pressed_while_the_rest_waits_lands_on_the_real_end(
    ui_desk: Desk, tmp_path: Path
) -> None:
    """The kept case view is handed the long case (as an open does): only its first screens
    are built; End, pressed before anything else happens, waits for the rest."""
    case_id = _long_case(ui_desk)
    short = cases.create(ui_desk, kind=CaseKind.QUESTION, customer_id=None,
                         subject="short", note="hello").case.id
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        kept = await _open(pilot, short)
        await pilot.press("escape")
        await settle(pilot)
        kept.present(case_id, cases.get(ui_desk, case_id))
        detail = kept.query_one("#detail", CaseView)
        built = len(_messages(detail))
        assert 0 < built < NOTES + 1, "an open builds the first screens, not the whole thread"
        assert "history" not in [b.kind for b in detail.blocks]
        app.push_screen(kept)
        assert detail.waiting is not None
        await detail.run_action("scroll_end")  # End, before the paint that the rest waits for
        await settle(pilot)
        await pilot.wait_for_scheduled_animations()
        assert app.screen is kept
        _at_real_end(kept)


async def test_live_refresh_builds_the_whole_thread_and_keeps_the_place(
    ui_desk: Desk, tmp_path: Path
) -> None:
    """A refresh of the case shown is no open: all of it is built at once, the place stays."""
    case_id = _long_case(ui_desk)
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await _open(pilot, case_id)
        detail = screen.query_one("#detail", CaseView)
        detail.scroll_to(y=40, animate=False)
        await settle(pilot)
        assert detail.scroll_y == 40
        screen.show_detail(cases.add_note(ui_desk, case_id=case_id, body="one more"))
        assert detail.waiting is None, "nothing left for later"
        await settle(pilot)
        assert len(_messages(detail)) == NOTES + 2
        assert detail.scroll_y == 40
