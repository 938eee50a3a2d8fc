"""Reply dialog, template editor and merge dialog, by keyboard (SQLite; the services they call are
covered on both backends by the other reply and merge tests)."""

from __future__ import annotations

import email
from email import policy as email_policy
from pathlib import Path

from textual.widgets import Input, Static, TextArea

from helpdesk.domain import CaseKind, Role
from helpdesk.services import agents, customers, templates
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.case import CaseScreen
from screens.customer import CustomerScreen
from screens.dialogs import FormDialog
from screens.duplicates import DuplicatesScreen
from screens.replies import PreviewDialog
from screens.templates import TemplatesScreen
from screens.widgets import ListTable
from tests.conftest import settle
from tests.hostile import HOSTILE
from tests.replies_support import add_customer, add_policy, open_case, set_customer


def _text(widget: Static) -> str:
    return str(widget.render())


async def test_reply_dialog_previews_refuses_blanks_and_writes(
    ui_desk: Desk, tmp_path: Path
) -> None:
    add_policy(ui_desk)
    customer = add_customer(ui_desk)
    set_customer(ui_desk, customer, name=HOSTILE[2])  # [@click=app.quit]free gift[/]
    case_id = open_case(ui_desk, customer, CaseKind.DELETION)
    out = tmp_path / "reply.eml"
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("m")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, PreviewDialog)
        # the first template usable for a deletion: the acknowledgement, rendered literally
        preview = _text(dialog.query_one("#reply-preview", Static))
        assert f"[Case #{case_id}]" in preview and HOSTILE[2] in preview
        # the override notice cannot be filled for this case: the reason shows, no preview
        names = [o.id for o in dialog.query_one("#f-template").options]
        await pilot.press(*["down"] * names.index("deadline_override"))
        await settle(pilot)
        assert "override_due_date" in _text(dialog.query_one("#form-error", Static))
        assert _text(dialog.query_one("#reply-preview", Static)) == ""
        await pilot.press(*["down"] * (names.index("deletion_done")
                                       - names.index("deadline_override")))
        await settle(pilot)
        assert "deleted it" in _text(dialog.query_one("#reply-preview", Static))
        await pilot.press("f3")
        assert "deleted it" in app.clipboard
        dialog.query_one("#f-out", Input).value = str(out)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
    msg = email.message_from_bytes(out.read_bytes(), policy=email_policy.default)
    assert msg["Subject"].endswith(f"[Case #{case_id}]")
    assert msg["In-Reply-To"] == f"<letter-{case_id}@mail.example>"


async def test_template_editor_refuses_unknown_placeholders_then_saves(
    ui_desk: Desk, tmp_path: Path
) -> None:
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(140, 44)) as pilot:
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        assert isinstance(app.screen, TemplatesScreen)
        first = app.screen.query_one(ListTable).current
        await pilot.press("enter")
        await settle(pilot)
        editor = app.screen
        assert isinstance(editor, FormDialog) and editor.name == "templates.edit"
        editor.query_one("#f-body", TextArea).text = "Hello ${nobody}"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is editor
        assert "nobody" in _text(editor.query_one("#form-error", Static))
        editor.query_one("#f-body", TextArea).text = "Hello ${customer_name}"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, TemplatesScreen)
    saved = templates.get(ui_desk, name=first.name, language=first.language)
    assert saved.body == "Hello ${customer_name}\n" and saved.version == first.version + 1


async def test_agents_do_not_get_the_template_screen(ui_desk: Desk, tmp_path: Path) -> None:
    agents.whoami(ui_desk)  # alice, the supervisor, exists first
    agents.add(ui_desk, name="bob", role=Role.AGENT)
    app = DeskApp(ui_desk.as_agent("bob"), state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        assert not isinstance(app.screen, TemplatesScreen)


async def test_duplicates_lead_to_a_merge_that_needs_the_typed_word(
    ui_desk: Desk, tmp_path: Path
) -> None:
    keep = add_customer(ui_desk, name="Ola Berg", email="ola@acme.example")
    other = add_customer(ui_desk, name="Ola Berg", email="ola@home.example")
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("D")
        await settle(pilot)
        assert isinstance(app.screen, DuplicatesScreen)
        pairs = app.screen.query_one(ListTable).items.values()
        assert [(p.first.id, p.second.id) for p in pairs] == [(keep, other)]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        await pilot.press("M")
        await pilot.pause()
        assert isinstance(app.screen, FormDialog) and app.screen.name == "customers.merge"
        await pilot.press(*str(other), "enter", *"merge", "ctrl+s")
        await settle(pilot)
        assert "to confirm" in _text(app.screen.query_one("#form-error", Static))
        app.screen.query_one("#f-confirm", Input).value = ""
        await pilot.press(*"MERGE", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
    merged = customers.get(ui_desk, keep)
    assert {e.address for e in merged.emails} == {"ola@acme.example", "ola@home.example"}
