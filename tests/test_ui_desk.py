"""The desk by keyboard (Pilot): queues, lookup, profile, case, notes, palette, help, keymap,
themes, conflicts and hostile text on every screen. SQLite in tmp_path, built with the services."""

from __future__ import annotations

import gc
import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, Static

from helpdesk import uistate
from helpdesk.config import Settings
from helpdesk.db.engine import open_database
from helpdesk.db.models import AuditEvent, Message
from helpdesk.domain import CaseKind, CaseStatus, MessageDirection
from helpdesk.services import agents, cases, customers
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.case import CaseScreen, CaseView
from screens.customer import CRUCIAL_MAIL, CustomerScreen
from screens.dialogs import ConflictDialog, FormDialog, HelpScreen
from screens.lookup import LookupScreen
from screens.main import FIRST_PAGE, PAGE_SIZE, QUEUES, CaseTable, MainScreen, QueueList
from screens.widgets import DetailScroll, ListTable
from tests.conftest import FakeClock
from tests.hostile import HOSTILE


@pytest.fixture
def ui_desk(tmp_path: Path, _sqlite_template: Path, clock: FakeClock,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    monkeypatch.setenv("HELPDESK_HOME", str(tmp_path / "home"))
    target = tmp_path / "desk.sqlite3"
    shutil.copyfile(_sqlite_template, target)
    url = f"sqlite:///{target}"
    db = open_database(url)
    desk = Desk(db=db, settings=Settings(db_url=url, timezone="Europe/Berlin",
                                         key_file=tmp_path / "key"),
                actor_name="alice", clock=clock)
    agents.whoami(desk)  # alice bootstraps as supervisor
    yield desk
    db.dispose()


def make_app(desk: Desk, tmp_path: Path) -> DeskApp:
    return DeskApp(desk, state_file=tmp_path / "ui-state.json")


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and their results land (results can start further workers)."""
    for _ in range(4):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def table_text(table: ListTable[object]) -> str:
    """The rows as shown: the cells of the columns on screen."""
    return "\n".join(
        " | ".join(str(table.cell_of(key, column)) for column in table.shown_columns)
        for key in table.row_keys()
    )


def static_text(widget: Static) -> str:
    return str(widget.visual) if hasattr(widget, "visual") else str(widget.render())


def screen_text(app: DeskApp) -> str:
    """Everything the current screen shows in Statics, tables and a case view, as plain text."""
    parts = [str(w.render()) for w in app.screen.query(Static)]
    parts += [table_text(t) for t in app.screen.query(ListTable)]
    parts += [b.text.plain for view in app.screen.query(CaseView) for b in view.blocks]
    return "\n".join(parts)


def seed_case(desk: Desk, clock: FakeClock, *, name: str = "Ada Lovelace",
              email: str = "ada@example.org", subject: str = "Please delete me",
              days_ago: int = 1, mine: bool = False,
              kind: CaseKind = CaseKind.DELETION) -> tuple[int, int]:
    customer = customers.create(desk, name=name, emails=[email])
    detail = cases.create(desk, kind=kind, customer_id=customer.id, subject=subject,
                          received_at=clock.now - timedelta(days=days_ago), assign_to_me=mine,
                          note="first note")
    return customer.id, detail.case.id


async def test_banner_queue_and_open_case(
    ui_desk: Desk, clock: FakeClock, tmp_path: Path
) -> None:
    _, overdue_id = seed_case(ui_desk, clock, subject="Old question", days_ago=20, mine=True,
                              kind=CaseKind.QUESTION)
    seed_case(ui_desk, clock, name="Bob", email="bob@example.org", subject="Fresh", days_ago=0,
              mine=True)
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        banner = static_text(app.screen.query_one("#banner", Static))
        assert "1 of your cases overdue" in banner
        assert "2 open" in banner
        table = app.screen.query_one(CaseTable)
        assert table.row_count == 2
        # Most urgent first, coloured red.
        first = table.row_keys()[0]
        left = table.cell_of(first, "left")
        assert "Old question" in str(table.cell_of(first, "subject")) and "overdue" in str(left)
        assert "red" in str(left.style)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == overdue_id
        assert "Old question" in app.screen.query_one(CaseView).blocks[0].text.plain
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)


async def test_queue_pages_load_as_cursor_nears_the_end(
    ui_desk: Desk, clock: FakeClock, tmp_path: Path
) -> None:
    total = FIRST_PAGE + PAGE_SIZE + 30
    for i in range(total):
        cases.create(ui_desk, kind=CaseKind.QUESTION, customer_id=None, subject=f"case {i}",
                     received_at=clock.now - timedelta(minutes=i))
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        main.select_queue("unassigned")
        await settle(pilot)
        table = main.query_one(CaseTable)
        assert table.row_count == FIRST_PAGE  # one page, not the whole queue
        table.focus()
        await pilot.press("G")  # last loaded row: near the end, so the next page comes
        await settle(pilot)
        assert table.row_count == FIRST_PAGE + PAGE_SIZE
        await pilot.press("G")
        await settle(pilot)
        assert table.row_count == total
        ids = [int(k) for k in table.row_keys()]
        assert len(set(ids)) == total


def drawn_lines(widget: Widget) -> list[str]:
    """What ``widget`` shows line by line, as the screen has it: lines not redrawn since
    they were last drawn come from the widget's cache, so a missed redraw shows here."""
    return [line.text for line in widget.render_lines(Region(0, 0, *widget.size))]


def highlighted_lines(picker: QueueList) -> list[int]:
    """Lines of ``picker`` drawn with the highlight (as the screen has them)."""
    highlight = picker.get_component_rich_style("option-list--option-highlighted").bgcolor
    lines = picker.render_lines(Region(0, 0, *picker.size))
    return [y for y, line in enumerate(lines)
            if any(segment.style and segment.style.bgcolor == highlight for segment in line)]


async def test_moving_through_queues_redraws_highlight_and_title(
    ui_desk: Desk, clock: FakeClock, tmp_path: Path
) -> None:
    seed_case(ui_desk, clock, subject="Old question", days_ago=20, mine=True)
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        queues = main.query_one(QueueList)
        assert highlighted_lines(queues) == [0]
        await pilot.press("tab")  # to the queues
        for key, line in (("j", 1), ("j", 2), ("j", 3), ("k", 2), ("G", len(QUEUES) - 1),
                          ("g", 0)):
            await pilot.press(key)
            await settle(pilot)
            assert highlighted_lines(queues) == [line], key
            assert main.spec is QUEUES[line]
            title = drawn_lines(main.query_one("#queue-title"))[0]
            assert title.strip().startswith(QUEUES[line].label.strip()), (key, title)
            assert ("nothing here" in title) != (main.query_one(CaseTable).row_count > 0)


async def test_clicks_on_the_case_table(ui_desk: Desk, clock: FakeClock, tmp_path: Path) -> None:
    seed_case(ui_desk, clock, subject="Old question", days_ago=20, mine=True)
    seed_case(ui_desk, clock, name="Bob", email="bob@example.org", subject="Fresh", days_ago=0,
              mine=True)
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(CaseTable)
        second = int(table.row_keys()[1])
        for x in (2, 30, table.size.width - 4):  # the header, in several columns: nothing opens
            assert await pilot.click(table, offset=(x, 0))
            await settle(pilot)
            assert isinstance(app.screen, MainScreen)
        # The second row, towards its end: the first click moves the cursor there, a click
        # on the row under the cursor opens its case.
        assert await pilot.click(table, offset=(table.size.width - 10, 2))
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and table.current_key == str(second)
        assert await pilot.click(table, offset=(20, 2))
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == second


async def test_what_the_desk_starts_with_is_frozen_until_it_closes(
    ui_desk: Desk, tmp_path: Path
) -> None:
    gc.unfreeze()
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.query_one(CaseTable).row_count == 0  # first rows (none) are shown
        assert gc.get_freeze_count() > 0  # out of the full collections' walks
    assert gc.get_freeze_count() == 0  # collectable again once the desk is closed


async def test_lookup_as_you_type_and_open_profile(
    ui_desk: Desk, clock: FakeClock, tmp_path: Path
) -> None:
    customer_id, _ = seed_case(ui_desk, clock, name="Grace Hopper", email="grace@navy.example")
    customers.create(ui_desk, name="Alan Turing", emails=["alan@example.org"])
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(app.screen, LookupScreen)
        await pilot.press("g", "r")  # two characters already find her
        await settle(pilot)
        results = app.screen.query_one("#results", ListTable)
        assert results.row_count == 1 and "Grace Hopper" in table_text(results)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        text = screen_text(app)
        assert "grace@navy.example" in text and "Please delete me" in text
        assert CRUCIAL_MAIL in text
    with ui_desk.db.session() as s:
        views = s.exec(select(AuditEvent).where(AuditEvent.action == "customer.view",
                                                AuditEvent.object_id == customer_id)).all()
    assert len(views) == 1


async def test_a_profile_opens_at_its_top_on_a_small_terminal(
    ui_desk: Desk, clock: FakeClock, tmp_path: Path
) -> None:
    """On 80x24 a profile opened scrolled down, its name and number off the top: focusing the
    cases list before the first layout scrolled the profile to centre the list. The same
    with the reports' list of kinds below their summary."""
    customer_id = customers.create(
        ui_desk, name="Leila Nguyen", emails=["leila@example.net"], phone="+34 91 5728639",
        billing_address="12 Rue de la Paix\nSpringfield 62704, USA",
        shipping_address="27 Kurfürstendamm\n10719 Berlin, Germany").id
    for i in range(2):
        cases.create(ui_desk, kind=CaseKind.QUESTION, customer_id=customer_id,
                     subject=f"question {i}")
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_customer(customer_id)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CustomerScreen)
        assert screen.query_one(DetailScroll).scroll_y == 0
        assert f"#{customer_id} Leila Nguyen" in screen_text(app)
        assert app.focused is screen.query_one("#customer-cases", ListTable)
        # the reports too: their summary stays in view, the list of kinds has the focus
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        reports = app.screen
        assert type(reports).__name__ == "ReportsScreen"
        assert reports.query_one(VerticalScroll).scroll_y == 0
        assert app.focused is reports.query_one("#kinds", ListTable)


async def test_stale_lookup_results_are_dropped(ui_desk: Desk, tmp_path: Path) -> None:
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        screen = app.screen
        assert isinstance(screen, LookupScreen)
        release = threading.Event()
        delivered: list[str] = []

        def slow() -> str:
            release.wait(5)
            return "old"

        screen.load("find", slow, delivered.append)
        screen.load("find", lambda: "new", delivered.append)
        await settle(pilot)
        release.set()
        await settle(pilot)
        assert delivered == ["new"]


async def test_new_customer_bad_email_then_good(ui_desk: Desk, tmp_path: Path) -> None:
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"Marie Curie", "ctrl+n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, FormDialog) and form.name == "customer.new"
        assert form.query_one("#f-name", Input).value == "Marie Curie"
        form.query_one("#f-email", Input).value = "marie at example"
        await pilot.press("ctrl+s")
        await settle(pilot)
        error = form.query_one("#form-error", Static)
        assert error.display and "e-mail" in static_text(error).lower()
        assert app.screen is form and form.focused is form.query_one("#f-email", Input)
        form.query_one("#f-email", Input).value = "marie@example.org"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert "marie@example.org" in screen_text(app)
    assert [c.name for c in customers.find(ui_desk, "marie")] == ["Marie Curie"]


async def test_add_note(ui_desk: Desk, clock: FakeClock, tmp_path: Path) -> None:
    _, case_id = seed_case(ui_desk, clock)
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        await pilot.press("n")
        assert isinstance(app.screen, FormDialog) and app.screen.name == "case.note"
        await pilot.press(*"called back")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        notes = [b for b in app.screen.query_one(CaseView).blocks if b.kind == "note"]
        assert any("called back" in n.text.plain for n in notes)
    with ui_desk.db.session() as s:
        bodies = [m.body for m in s.exec(select(Message).where(
            Message.case_id == case_id, Message.direction == MessageDirection.NOTE))]
    assert "called back" in bodies


async def test_conflict_offers_reload(ui_desk: Desk, clock: FakeClock, tmp_path: Path) -> None:
    _, case_id = seed_case(ui_desk, clock)
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CaseScreen) and screen.detail is not None
        seen = screen.detail.case.version
        cases.set_status(ui_desk, case_id=case_id, status=CaseStatus.WAITING)  # someone else
        await pilot.press("s")  # this agent decides on what the screen still shows (new)
        await settle(pilot)
        await pilot.press("down", "enter")  # -> open
        await settle(pilot)
        assert isinstance(app.screen, ConflictDialog)
        await pilot.press("r")
        await settle(pilot)
        assert app.screen is screen and screen.detail is not None
        assert screen.detail.case.version > seen
        assert screen.detail.case.status is CaseStatus.WAITING


async def test_note_on_a_stale_screen_goes_in_and_shows_the_other_change(
    ui_desk: Desk, clock: FakeClock, tmp_path: Path
) -> None:
    _, case_id = seed_case(ui_desk, clock)
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CaseScreen)
        cases.set_status(ui_desk, case_id=case_id, status=CaseStatus.WAITING)  # someone else
        await pilot.press("n", *"mine", "ctrl+s")
        await settle(pilot)
        assert app.screen is screen and screen.detail is not None  # no conflict dialog
        assert screen.detail.messages[-1].body == "mine"
        assert screen.detail.case.status is CaseStatus.WAITING


async def test_palette_goes_to_queue_and_opens_case_by_number(
    ui_desk: Desk, clock: FakeClock, tmp_path: Path
) -> None:
    _, case_id = seed_case(ui_desk, clock)
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"queue overdue")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and app.screen.spec.key == "overdue"
        await pilot.press("ctrl+p", *f"#{case_id}")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == case_id


async def test_unknown_case_is_a_notice_not_a_crash(ui_desk: Desk, tmp_path: Path) -> None:
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_case(99999)
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert any("no case #99999" in n.message for n in app._notifications)


async def test_help_lists_live_bindings_and_remapped_keys(ui_desk: Desk, tmp_path: Path) -> None:
    from dataclasses import replace

    desk = replace(ui_desk, settings=replace(ui_desk.settings, keymap={"desk.lookup": "f6"}))
    app = make_app(desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        assert isinstance(app.screen, MainScreen)  # '/' no longer bound
        await pilot.press("f6")
        assert isinstance(app.screen, LookupScreen)
        await pilot.press("escape")
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        rows = {row[2]: row for row in app.screen.rows}
        assert rows["desk.lookup"][0] == "f6"
        assert "main.new_case" in rows and "main.assign" in rows
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_theme_choice_is_remembered(ui_desk: Desk, tmp_path: Path) -> None:
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.theme = "nord"
        await settle(pilot)
    assert uistate.load_state(tmp_path / "ui-state.json")["theme"] == "nord"
    again = make_app(ui_desk, tmp_path)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert again.theme == "nord"


@pytest.mark.parametrize("size", [(80, 24), (200, 60)])
async def test_layout_fits_and_uses_the_space(
    ui_desk: Desk, clock: FakeClock, tmp_path: Path, size: tuple[int, int]
) -> None:
    seed_case(ui_desk, clock, mine=True)
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = app.screen
        width, height = size
        for selector in ("#banner", "#queues", "#cases", "#queue-title"):
            region = screen.query_one(selector).region
            assert region.width > 0 and region.height > 0, selector
            assert region.right <= width and region.bottom <= height, selector
        table = screen.query_one("#cases").region
        # all rows but the header line (who acts, where), banner, title, key bar and table edge
        assert table.width >= width - 26 and table.height >= height - 5
        # Every queue name is visible without scrolling, even at 80x24.
        queues = screen.query_one("#queues")
        assert queues.virtual_size.height <= queues.region.height


async def test_hostile_text_on_every_screen(
    ui_desk: Desk, clock: FakeClock, tmp_path: Path
) -> None:
    hostile = [h for h in HOSTILE if h.strip() and "\ud800" not in h]
    body = "\n".join(hostile) + "\n" + "x" * 98_000
    customer = customers.create(ui_desk, name="[/b]", emails=["evil@example.org"],
                                company="[@click=app.quit]x[/]", phone=None,
                                billing_address="[link=http://x]y[/link]")
    for i, text in enumerate(hostile[:30]):
        cases.create(ui_desk, kind=CaseKind.QUESTION, customer_id=customer.id,
                     subject=text[:200] or f"s{i}",
                     received_at=clock.now - timedelta(hours=i), assign_to_me=True)
    detail = cases.create(ui_desk, kind=CaseKind.ACCESS, customer_id=customer.id,
                          subject="[31mred مرحبا 🎉", note=body, assign_to_me=True)
    with ui_desk.db.session(write=True) as s:  # raw inbound mail keeps its control characters
        s.add(Message(case_id=detail.case.id, direction=MessageDirection.INBOUND, at=clock.now,
                      from_address="[/b]@example.org", subject="\x1b]0;pwned\x07",
                      body="\x1b[31mred\x1b[0m\x1b[2J [@click=app.quit]x[/] " + "y" * 100_000))
    app = make_app(ui_desk, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "[/b]" in table_text(app.screen.query_one(CaseTable))
        await pilot.press("slash", *"[/b")
        await settle(pilot)
        assert "[/b]" in table_text(app.screen.query_one("#results", ListTable))
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        text = screen_text(app)
        assert "[@click=app.quit]x[/]" in text and "[link=http://x]y[/link]" in text
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog) and app.screen.name == "customer.edit"
        assert app.screen.query_one("#f-company", Input).value == "[@click=app.quit]x[/]"
        await pilot.press("escape")
        app.open_case(detail.case.id)
        await settle(pilot)
        text = screen_text(app)
        assert "\x1b" not in text and "\x07" not in text
        assert "[31mred" in text and "🎉" in text and "[@click=app.quit]x[/]" in text
        assert "more characters not shown" in text
        for _ in range(5):
            await pilot.press("pagedown", "j")
        await pilot.press("f1")
        await settle(pilot)
        await pilot.press("escape", "escape", "escape", "escape")  # help, case, profile, lookup
        await settle(pilot)
        assert app.is_running and isinstance(app.screen, MainScreen)
