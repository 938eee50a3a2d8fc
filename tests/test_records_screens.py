"""The desk's side of the inbox, the customer record and topic answers, driven by keys."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from textual.widgets import Static

from helpdesk.domain import CaseKind
from helpdesk.services import agents, cases, consent, customers, inbox, intake, policy
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.case import MESSAGE_KINDS, CaseScreen, CaseView
from screens.customer import CustomerScreen
from screens.dialogs import FormDialog, TextDialog
from screens.inbox import InboxScreen
from screens.widgets import ListTable, Picker
from screens.workload import WorkloadScreen
from tests.conftest import settle, verified_request
from tests.hostile import HOSTILE
from tests.intake_mail import write_mbox
from tests.policy_texts import POLICY_2019


def _banner(app: DeskApp) -> str:
    return str(app.screen.query_one("#banner", Static).render())


async def _pick(pilot, dialog: FormDialog, field: str, value: object) -> None:  # type: ignore[no-untyped-def]
    """Move a choice field's highlight to ``value`` with the keys a person would press."""
    choices = [v for _, v in next(f for f in dialog.fields if f.name == field).choices]
    picker = dialog.query_one(f"#f-{field}", Picker)
    picker.focus()
    await pilot.pause()
    for _ in range(choices.index(value) - (picker.highlighted or 0)):
        await pilot.press("down")


async def _open_profile(pilot, app: DeskApp, customer_id: int) -> None:  # type: ignore[no-untyped-def]
    await settle(pilot)
    app.open_customer(customer_id)
    await settle(pilot)
    assert isinstance(app.screen, CustomerScreen)


async def test_reassigning_in_the_desk_reaches_the_new_assignees_inbox(
    ui_desk: Desk, tmp_path: Path
) -> None:
    """Done when: reassigning a case puts a notification in the new assignee's inbox."""
    agents.add(ui_desk, name="bob", display_name="Bob Ito")
    cust = customers.create(ui_desk, name=HOSTILE[1], emails=["h@example.org"]).id
    case_id = cases.create(ui_desk, kind=CaseKind.DELETION, customer_id=cust,
                           subject=HOSTILE[0]).case.id

    app = DeskApp(ui_desk, state_file=tmp_path / "alice.json")
    async with app.run_test(size=(110, 36)) as pilot:
        await settle(pilot)
        await pilot.press("W")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WorkloadScreen)
        names = screen.query_one("#agents", ListTable).row_keys()
        assert names[0] == "(unassigned)"
        await pilot.press("enter")  # the unassigned cases
        await settle(pilot)
        await pilot.press("space", "r")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FormDialog) and dialog.name == "workload.reassign"
        await _pick(pilot, dialog, "assignee", "bob")
        await pilot.press("tab", *"she is on leave", "ctrl+s")
        await settle(pilot)
    assert cases.get(ui_desk, case_id).case.assignee_name == "Bob Ito"

    bob = ui_desk.as_agent("bob")
    app = DeskApp(bob, state_file=tmp_path / "bob.json")
    async with app.run_test(size=(110, 36)) as pilot:
        await settle(pilot)
        assert "Inbox: 1 new" in _banner(app)
        await pilot.press("N")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, InboxScreen) and screen.page is not None
        [notice] = screen.page.items
        assert notice.case_id == case_id and "assigned to you by alice" in notice.text
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and app.screen.case_id == case_id
        assert inbox.inbox(bob).unread == 0
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("t")  # all notices: the read one is still there
        await settle(pilot)
        assert isinstance(app.screen, InboxScreen) and app.screen.page is not None
        assert [n.read for n in app.screen.page.items] == [True]
        await pilot.press("escape")
        await settle(pilot)
        assert "Inbox: 0 new" in _banner(app)


async def test_the_whole_record_from_the_profile(ui_desk: Desk, tmp_path: Path) -> None:
    cust = customers.create(ui_desk, name="Quin Archerr", emails=["quinn@example.com"]).id
    case_id = verified_request(ui_desk, cust, CaseKind.CORRECTION).case.id
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(110, 40)) as pilot:
        await _open_profile(pilot, app, cust)

        await pilot.press("e")  # a correction under the case
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FormDialog) and dialog.name == "customer.edit"
        dialog.query_one("#f-name").value = "Quinn Archer"  # type: ignore[attr-defined]
        dialog.query_one("#f-case").value = f"#{case_id}"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(pilot)

        await pilot.press("a")
        await pilot.pause()
        assert app.screen.name == "records.email_add"
        await pilot.press(*"q@work.example", "tab", "space", "tab", *str(case_id), "ctrl+s")
        await settle(pilot)

        await pilot.press("b")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FormDialog) and dialog.name == "records.product_add"
        await _pick(pilot, dialog, "relation", "registration")
        await pilot.press("tab", *"Quiver", "tab", *"SN-9", "tab", *"2025-02-03", "ctrl+s")
        await settle(pilot)

        await pilot.press("E")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FormDialog) and dialog.name == "records.email_change"
        emails = customers.get(ui_desk, cust).emails
        old = next(e for e in emails if e.address == "quinn@example.com")
        await _pick(pilot, dialog, "address", old.id)
        await _pick(pilot, dialog, "what", "remove")
        await pilot.press("ctrl+s")
        await settle(pilot)

        assert isinstance(app.screen, CustomerScreen)
        profile = str(app.screen.query_one("#more", Static).render())
        assert "name: Quin Archerr → Quinn Archer  by alice, case #" in profile
        assert "email: quinn@example.com → (empty)" in profile
        assert "registration" in profile and "Quiver" in profile and "2025-02-03" in profile

    d = customers.get(ui_desk, cust)
    assert [e.address for e in d.emails] == ["q@work.example"] and d.emails[0].is_primary
    assert {c.field for c in cases.get(ui_desk, case_id).corrections} == {
        "name", "email", "primary_email"}


async def test_the_profile_names_the_policy_a_consent_event_was_given_later(
    ui_desk: Desk, tmp_path: Path
) -> None:
    cust = customers.create(ui_desk, name="Mira Okafor", emails=["mira@example.org"]).id
    consent.opt_out(ui_desk, customer_id=cust)
    policy.add(ui_desk, text=POLICY_2019, effective_on=date(2019, 6, 2))
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(110, 40)) as pilot:
        await _open_profile(pilot, app, cust)
        profile = str(app.screen.query_one("#more", Static).render())
        assert ("under Privacy policy effective 2019-06-02 (loaded later, on 2026-03-10 10:00)"
                in " ".join(profile.split()))


async def test_a_refused_address_stays_in_the_form(ui_desk: Desk, tmp_path: Path) -> None:
    cust = customers.create(ui_desk, name="Rhea Vance", emails=["rhea@example.com"]).id
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(110, 40)) as pilot:
        await _open_profile(pilot, app, cust)
        await pilot.press("a", *"not an address", "ctrl+s")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, FormDialog) and dialog.name == "records.email_add"
        assert str(dialog.query_one("#form-error", Static).render())


async def test_policy_answer_by_topic(ui_desk: Desk, tmp_path: Path) -> None:
    policy.add(ui_desk, text=POLICY_2019, effective_on=date(2019, 6, 2))
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(110, 40)) as pilot:
        await settle(pilot)
        await pilot.press("Q")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FormDialog) and dialog.name == "records.answer"
        await _pick(pilot, dialog, "topic", "links")
        await pilot.press("ctrl+s")
        await settle(pilot)
        shown = app.screen
        assert isinstance(shown, TextDialog)
        text = str(shown.query_one("#dialog-text", Static).render())
        assert "other web sites, which follow their own privacy rules" in text
        assert "archived on" not in text  # the file's header line is not policy text


async def test_saving_an_attachment_from_the_case(ui_desk: Desk, tmp_path: Path) -> None:
    from tests.test_attachments import PDF, _part, letter

    customers.create(ui_desk, name="Ines Duarte", emails=["ines@example.org"])
    box = write_mbox(tmp_path / "box", [letter(_part("application/pdf", "id.pdf", PDF))])
    [case_id] = intake.import_paths(ui_desk, paths=[box]).case_ids
    folder = tmp_path / "downloads"
    folder.mkdir()
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(110, 40)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        thread = " ".join(b.text.plain for b in app.screen.query_one(CaseView).blocks
                          if b.kind in MESSAGE_KINDS)
        assert "application/pdf" in thread and "id.pdf" in thread
        await pilot.press("f")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FormDialog) and dialog.name == "records.attachment_save"
        dialog.query_one("#f-folder").value = str(folder)  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
    [saved] = folder.iterdir()
    assert saved.read_bytes() == PDF and saved.name.endswith("id.pdf")


async def test_forwarding_from_the_case(ui_desk: Desk, tmp_path: Path) -> None:
    from tests.test_cc_forward import CC_LETTER

    customers.create(ui_desk, name="Ines Duarte", emails=["ines@example.org"])
    [case_id] = intake.import_paths(ui_desk, paths=[write_mbox(tmp_path / "box", [CC_LETTER])]
                                    ).case_ids
    out = tmp_path / "fwd.eml"
    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(110, 40)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        thread = " ".join(b.text.plain for b in app.screen.query_one(CaseView).blocks
                          if b.kind in MESSAGE_KINDS)
        assert "Cc Jürgen Anwalt <anwalt@kanzlei.example>" in thread
        await pilot.press("F")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, FormDialog) and dialog.name == "records.forward"
        dialog.query_one("#f-to").value = "legal@shop.example"  # type: ignore[attr-defined]
        dialog.query_one("#f-out").value = str(out)  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen) and out.exists()
        await settle(pilot)
        thread = " ".join(b.text.plain for b in app.screen.query_one(CaseView).blocks
                          if b.kind in MESSAGE_KINDS)
        assert "Fwd: Deletion of my data" in thread
    assert out.exists() and b"legal@shop.example" in out.read_bytes()
