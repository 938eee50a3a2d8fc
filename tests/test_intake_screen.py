"""The intake screen by keyboard: import with progress (worker thread), unmatched and
quarantined items with reasons, new customer from a letter, re-processing, hostile text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from textual.widgets import Input, ProgressBar, Static

from helpdesk.config import Settings
from helpdesk.db.engine import open_database
from helpdesk.domain import CaseKind, Queue
from helpdesk.services import cases, customers, intake
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.dialogs import FormDialog
from screens.intake import IntakeScreen
from screens.main import CaseTable, MainScreen
from screens.widgets import ListTable
from tests.conftest import settle
from tests.hostile import HOSTILE
from tests.intake_mail import mail, write_mbox


@pytest.fixture
def ui_desk(tmp_path: Path) -> Iterator[Desk]:
    db = open_database(f"sqlite:///{tmp_path / 'ui.sqlite3'}")
    desk = Desk(db=db, settings=Settings(db_url="x", timezone="Europe/Berlin",
                                         key_file=tmp_path / "key"),
                actor_name="alice", clock=lambda: datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    customers.create(desk, name="Ann", emails=["ann@example.com"])
    yield desk
    db.dispose()




async def test_import_and_work_the_items_by_keyboard(ui_desk: Desk, tmp_path: Path) -> None:
    hostile = HOSTILE[2] + HOSTILE[6]  # markup action + ANSI escape
    box = write_mbox(tmp_path / "box", [
        mail(),
        mail(msgid="<s@x>", frm="stranger@else.example", subject=hostile,
             body="Please send me a copy of my data. " + hostile),
        b"\x00\x01 junk\n",
    ])
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("I")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        assert screen.query_one("#path", Input).has_focus
        await pilot.press(*str(box), "enter")
        await settle(pilot)
        assert screen.result is not None
        assert (screen.result.new_cases, screen.result.unmatched,
                screen.result.quarantined) == (1, 1, 1)
        assert not screen.query(ProgressBar)  # shown while importing only: idle bars animate
        assert "1 new case," in str(screen.query_one("#status", Static).render())

        table = screen.query_one("#items", ListTable)
        assert table.row_count == 2
        states = [table.cell_of(key, "state").plain for key in table.row_keys()]
        assert states == ["quarantined", "unmatched"]  # most urgent first: nobody read it yet
        first, second = table.row_keys()
        subject = table.cell_of(second, "subject")
        assert "[@click=app.quit]" in subject.plain and "\x1b" not in subject.plain
        assert "does not look like an e-mail" in table.cell_of(first, "reason").plain

        table.focus()
        await pilot.press("j", "enter")
        await settle(pilot)
        letter = str(screen.query_one("#letter", Static).render())
        assert "Suggested: access" in letter and "[@click=app.quit]" in letter

        await pilot.press("k", "p")  # the quarantined junk stays quarantined, with its reason
        await settle(pilot)
        assert table.row_count == 2

        await pilot.press("j", "c")
        await pilot.pause()
        assert isinstance(app.screen, FormDialog) and app.screen.name == "intake.new_customer"
        await pilot.press(*"Stan Ger", "ctrl+s")
        await settle(pilot)
        assert app.screen is screen and table.row_count == 1
        resolved = intake.list_items(ui_desk, state="done").items[0].resolved_case_id
        assert cases.get(ui_desk, resolved or 0).case.customer_name == "Stan Ger"

        await pilot.press("f")
        await settle(pilot)
        assert table.row_count == 2  # all items, the filed one included
        assert app.is_running  # the hostile [@click=app.quit] never ran


async def test_the_tray_shows_kind_and_deadline_and_spam_is_dismissed(
    ui_desk: Desk, tmp_path: Path
) -> None:
    intake.import_paths(ui_desk, paths=[write_mbox(tmp_path / "box", [
        mail(msgid="<d@x>", frm="bea@else.example", body="Please delete my account."),
        mail(msgid="<s@x>", frm="seo@spam.example", body="Cheap ranking, reply YES!"),
    ])])
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("I")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, IntakeScreen)
        table = screen.query_one("#items", ListTable)
        rows = [(table.cell_of(k, "kind").plain, table.cell_of(k, "due").plain)
                for k in table.row_keys()]
        assert rows == [("Question", "4d"), ("Deletion", "29d")]  # by urgency
        table.focus()
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, FormDialog) and app.screen.name == "intake.dismiss"
        await pilot.press(*"spam", "ctrl+s")
        await settle(pilot)
        assert app.screen is screen and table.row_count == 1
        assert [i.kind for i in intake.list_items(ui_desk).items] == [CaseKind.DELETION]


async def test_an_unknown_senders_deletion_near_its_deadline_is_due_soon_and_stays_when_linked(
    ui_desk: Desk, tmp_path: Path
) -> None:
    letter = mail(
        msgid="<lucia@correo.example>", frm="=?utf-8?q?Luc=C3=ADa_Fern=C3=A1ndez?= "
        "<lucia.f@correo.example>", subject="=?utf-8?q?Supresi=C3=B3n_de_datos?=",
        date="Fri, 09 Jan 2026 10:00:00 +0100",  # the sender's clock: a month too early
        received="Thu, 12 Feb 2026 16:20:00 +0100",  # our server: 30 days end on 14 March
        body="Estimados señores:\n\nPor medio del presente ejerzo mi derecho de supresión "
             "(art. 17 RGPD) y les solicito que borren todos mis datos personales.\n\nLes "
             "recuerdo que disponen de un mes para contestar. En caso contrario, presentaré "
             "una reclamación ante la Agencia Española de Protección de Datos.\n\n"
             "Atentamente,\nLucía Fernández\nDNI 12345678Z\n")
    intake.import_paths(ui_desk, paths=[write_mbox(tmp_path / "box", [letter])])
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        banner = str(main.query_one("#banner", Static).render())
        assert "Intake: 1 letter from unknown senders, 1 due within 7 days" in banner
        main.select_queue("due_soon")
        await settle(pilot)
        assert main.totals is not None and main.totals.of(Queue.DUE_SOON) == 1
        table = main.query_one(CaseTable)
        (row,) = table.row_keys()
        assert "Supresión de datos" in table.cell_of(row, "subject").plain
        assert "4" in table.cell_of(row, "left").plain  # due 14 March, seen on 10 March

        await pilot.press("I")
        await settle(pilot)
        tray = app.screen.query_one("#items", ListTable)
        (item,) = tray.row_keys()
        assert (tray.cell_of(item, "kind").plain, tray.cell_of(item, "due").plain) == (
            "Deletion", "4d")
        ann = customers.create(ui_desk, name="Lucía Fernández", emails=["lucia@home.example"])
        intake.link(ui_desk, item_id=intake.list_items(ui_desk).items[0].id, customer_id=ann.id)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and app.screen.spec.key == "due_soon"
        (row,) = table.row_keys()
        assert "Lucía Fernández" in table.cell_of(row, "customer").plain
        assert "4" in table.cell_of(row, "left").plain
        assert "Intake:" not in str(main.query_one("#banner", Static).render())
