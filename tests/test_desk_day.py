"""A day's work in the desk (issue 15), by keyboard with Pilot: each bug a person ran into is
reproduced here as they met it, then the whole flows (deletion, dispute, correction,
questions) are walked from received to closed. What the screen shows is read from Textual's
own screenshot (:mod:`tests.screenshot`), so cut-off columns and stale text count as
failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import LoadingIndicator, OptionList, Static

from helpdesk.domain import CaseKind, CaseStatus, MessageDirection, Queue, Role
from helpdesk.services import (
    agents,
    answers,
    cases,
    customers,
    disclosures,
    disputes,
    policy,
    supervisor,
    verification,
)
from helpdesk.services.context import Desk
from screens import registry
from screens.app import DeskApp
from screens.case import CaseScreen
from screens.customer import CustomerScreen
from screens.dialogs import FormDialog
from screens.main import MainScreen
from screens.widgets import ListTable, motion_bindings
from screens.workload import WorkloadScreen
from tests.conftest import settle
from tests.intake_mail import mail, write_mbox
from tests.policy_texts import POLICY_2019
from tests.screenshot import line_with, screen_lines


@pytest.fixture
def day(ui_desk: Desk) -> Iterator[Desk]:
    """The desk as alice (the first agent, so a supervisor), with colleagues Lena and Tom."""
    agents.whoami(ui_desk)
    agents.add(ui_desk, name="lena", display_name="Lena Fischer")
    agents.add(ui_desk, name="tom", display_name="Tom Berg", role=Role.AGENT)
    yield ui_desk


def make_app(desk: Desk, tmp_path: Path) -> DeskApp:
    return DeskApp(desk, state_file=tmp_path / "ui-state.json")


def open_case(desk: Desk, subject: str, *, kind: CaseKind = CaseKind.DELETION,
              customer_id: int | None = None, days_ago: int = 1, mine: bool = False) -> int:
    return cases.create(desk, kind=kind, customer_id=customer_id, subject=subject,
                        received_at=desk.now() - timedelta(days=days_ago),
                        assign_to_me=mine).case.id


def screen(app: DeskApp) -> str:
    return "\n".join(screen_lines(app))


def dialog_text(app: DeskApp) -> str:
    """The text of the dialog on top (not of the screen beneath it), choices included."""
    parts = [str(w.render()) for w in app.screen.query(Static)]
    parts += [str(picker.get_option_at_index(i).prompt)
              for picker in app.screen.query(OptionList) for i in range(picker.option_count)]
    return "\n".join(parts)


def press_fast(app: DeskApp, *keys: str) -> None:
    """Keys as a person types them quickly: all queued before the desk handles the first
    (Pilot's ``press`` waits for the desk after each key, which hides feedback loops)."""
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app.post_message(event)


async def wait_for(pilot: Pilot[None], ready: object, seconds: float = 4.0) -> bool:
    """Let the desk run, no key pressed, until ``ready()`` holds (live refresh is ~1 s)."""
    for _ in range(int(seconds / 0.05)):
        if ready():  # type: ignore[operator]
            return True
        await pilot.pause(0.05)
    return bool(ready())  # type: ignore[operator]


# --- bug 1: the queue list's highlight loop -------------------------------------------------------

async def test_fast_keys_in_the_queue_list_settle_on_one_queue(day: Desk, tmp_path: Path) -> None:
    """Tab to the queues, j nine times fast, Enter, Tab, Enter: the desk shows the ninth queue
    below the first and then goes quiet (no queue is selected again while idle). The keys are
    queued at once as a fast typist's are (Pilot's ``press`` would wait after each)."""
    for i in range(3):
        open_case(day, f"Open {i}", days_ago=i)
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        selected: list[str] = []
        original = main.select_queue

        def counting(key: str) -> None:
            selected.append(key)
            original(key)

        main.select_queue = counting  # type: ignore[method-assign]
        await pilot.press("tab")
        press_fast(app, *"j" * 9)
        await pilot.pause(0.2)
        await pilot.press("enter", "tab", "enter")
        await settle(pilot)
        await pilot.pause(0.5)
        settled = len(selected)
        await pilot.pause(1.0)
        assert len(selected) == settled, f"queues re-selected while idle: {selected[settled:]}"
        assert main.spec.key == "open"
        title = line_with(app, "All open")
        assert title is not None and "loading" not in title and "3 cases" in title, screen(app)


# --- bug 2: columns at 80 and 120 --------------------------------------------------------------

LIST_HEADERS = {
    # screen -> (the deadline column's header, columns that must show at 120)
    "main": ("Left", ("Kind", "Customer", "Subject", "Assignee", "Received")),
    "customer": ("Left", ("Kind", "Subject", "Received")),
    "workload": ("Days left", ("Case", "Kind", "Customer", "Due")),
    "intake": ("Due", ("Item", "State", "Kind", "From", "Subject")),
}


async def _open_list(app: DeskApp, pilot: Pilot[None], which: str, customer_id: int) -> None:
    if which == "customer":
        app.open_customer(customer_id)
    elif which == "workload":
        await pilot.press("W")
        await settle(pilot)
        await pilot.press("enter")  # the unassigned pile
    elif which == "intake":  # a deletion request from no one the desk knows: in the tray
        box = write_mbox(app.state_file.parent / "in.mbox", [mail(
            frm="Stranger <stranger@example.net>", subject="Please delete all my data",
            date=format_datetime(app.desk.now() - timedelta(days=40)))])
        await pilot.press("I")
        await settle(pilot)
        await pilot.press(*str(box), "enter")
    await settle(pilot)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
@pytest.mark.parametrize("which", sorted(LIST_HEADERS))
async def test_every_case_list_shows_its_deadline_column(
    day: Desk, tmp_path: Path, size: tuple[int, int], which: str
) -> None:
    customer = customers.create(day, name="Ana-Maria Gonçalves-Oliveira",
                                emails=["ana@example.org"], company="Müller & Söhne KG")
    open_case(day, "A subject long enough to need every column it can get " * 2,
              customer_id=customer.id, days_ago=40)
    app = make_app(day, tmp_path)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await _open_list(app, pilot, which, customer.id)
        deadline, wide = LIST_HEADERS[which]
        header = line_with(app, deadline)
        assert header is not None, f"no '{deadline}' header on screen:\n{screen(app)}"
        assert header.rstrip().endswith(deadline) or deadline in header
        row = line_with(app, "overdue")
        assert row is not None, screen(app)
        if size[0] >= 120:
            for label in wide:
                assert label in header, f"'{label}' cut at {size}: {header!r}"


@pytest.mark.parametrize("width", [80, 120])
async def test_lookup_results_keep_the_name_readable_after_fast_typing(
    day: Desk, tmp_path: Path, width: int
) -> None:
    for i in range(5):
        customers.create(day, name=f"Ana-Maria Gonçalves {i}", emails=[f"ana{i}@example.org"])
    app = make_app(day, tmp_path)
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        await pilot.press(*"ana-m", *["backspace"] * 4, *"na-maria g")
        await settle(pilot)
        row = line_with(app, "Ana-Maria Gonçalves 0")
        assert row is not None, screen(app)


# --- bug 3: stale screens -------------------------------------------------------------------------

async def test_erasing_from_the_profile_clears_it_at_once_and_it_cannot_be_edited(
    day: Desk, tmp_path: Path
) -> None:
    customer = customers.create(day, name="Greta Erasmus", emails=["greta@example.org"],
                                phone="+49 30 1234567", billing_address="Hauptstr. 1\n10115 Berlin")
    request = open_case(day, "Delete my data", customer_id=customer.id)
    verification.verify(day, case_id=request, method="phone_callback")
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.open_customer(customer.id)
        await settle(pilot)
        assert "Greta Erasmus" in screen(app)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog)
        assert "Greta Erasmus" in dialog_text(app), "the erase dialog names the person"
        await pilot.press(*str(request), "enter", *"ERASE", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        shown = screen(app)
        for personal in ("Greta Erasmus", "1234567", "Hauptstr", "greta@example.org"):
            assert personal not in shown, f"{personal!r} still on screen after erasure"
        assert "erased" in shown
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen), "an erased profile opened for editing"


async def test_a_case_created_from_the_profile_shows_in_its_case_list(
    day: Desk, tmp_path: Path
) -> None:
    customer = customers.create(day, name="Paul Profil", emails=["paul@example.org"])
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.open_customer(customer.id)
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("tab", *"Wrong address on file", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert "Wrong address on file" in screen(app)


async def test_a_case_taken_from_the_cli_leaves_unassigned_and_take_names_who_has_it(
    day: Desk, tmp_path: Path
) -> None:
    case_id = open_case(day, "Who took me?")
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        main = app.screen
        assert isinstance(main, MainScreen)
        main.select_queue("unassigned")
        await settle(pilot)
        assert "Who took me?" in screen(app)
        app.watcher.stop()  # the row stays stale for as long as this test needs
        cases.assign(day.as_agent("lena"), case_id=case_id, assignee="lena")
        await pilot.press("a")
        await settle(pilot)
        notices = [str(n.message) for n in app._notifications]
        assert any("already taken by Lena Fischer" in n for n in notices), notices
        assert not any("needs a reason" in n for n in notices), notices
        assert "Who took me?" not in screen(app), "the taken case is still listed"


async def test_a_case_taken_elsewhere_disappears_from_unassigned_by_itself(
    day: Desk, tmp_path: Path
) -> None:
    case_id = open_case(day, "Live refresh please")
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        app.screen.select_queue("unassigned")
        await settle(pilot)
        assert "Live refresh please" in screen(app)
        cases.assign(day.as_agent("lena"), case_id=case_id, assignee="lena")
        assert await wait_for(pilot, lambda: "Live refresh please" not in screen(app))


# --- friction: counts and totals ----------------------------------------------------------------

async def test_every_queue_shows_its_count_and_lists_say_their_exact_total(
    day: Desk, tmp_path: Path
) -> None:
    for i in range(57):
        open_case(day, f"Old {i}", days_ago=40)  # overdue (30-day clock), unassigned
    open_case(day, "Mine and fresh", mine=True)
    cases.take(day.as_agent("lena"), case_id=open_case(day, "Lena's late one", days_ago=45))
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "My cases" in (line_with(app, "My cases", "1") or "")
        overdue = line_with(app, "Overdue ")
        assert overdue is not None and overdue.split("│")[0].split()[-1] == "58", overdue
        await pilot.press("tab", "j", "j", "j")  # mine, unassigned, due soon, overdue
        await settle(pilot)
        title = line_with(app, "Overdue —")
        assert title is not None and "58 cases" in title and "+" not in title, title
        await pilot.press("k", "k")  # unassigned
        await settle(pilot)
        assert "57 cases" in (line_with(app, "Unassigned —") or "")
        await pilot.press("k")
        await settle(pilot)
        assert "My cases — 1 case" in screen(app) and "1 cases" not in screen(app)
        banner = screen_lines(app)[1:3]  # under the header line
        assert "Team: 58 overdue" in "\n".join(banner), banner


async def test_the_palette_names_queues_without_stray_spaces(day: Desk, tmp_path: Path) -> None:
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"go to queue")
        await settle(pilot)
        await pilot.pause(0.3)
        shown = screen(app)
        assert "Go to queue: resolution proposed" in shown, shown
        assert "queue:  " not in shown and "resolution_proposed" not in shown


# --- bug 4: "mark all" stopped at 500 -------------------------------------------------------------

def pile(desk: Desk, agent: str, count: int, disputes: int) -> None:
    """``count`` open cases of ``agent`` (``disputes`` of them disputes), in one unit of work."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        owner = agents_table_id(s, agent)
        for i in range(count):
            kind = CaseKind.DISPUTE if i < disputes else CaseKind.ACCESS
            cases.new_case(s, desk, actor, kind=kind, customer_id=None, subject=f"Pile {i}",
                           received_at=desk.now() - timedelta(days=i % 60, hours=i),
                           assignee_id=owner)


def agents_table_id(s: Any, name: str) -> int:
    from sqlmodel import select

    from helpdesk.db.models import Agent
    agent = s.exec(select(Agent).where(Agent.name == name)).one()
    return int(agent.id)


async def test_mark_all_marks_every_open_case_and_reassign_moves_them_all(
    day: Desk, tmp_path: Path
) -> None:
    pile(day, "lena", 718, disputes=16)
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("W")
        await settle(pilot)
        workload = app.screen
        assert isinstance(workload, WorkloadScreen)
        agents_shown = workload.query_one("#agents", ListTable).row_keys()
        for _ in range(agents_shown.index("lena")):
            await pilot.press("j")
        await pilot.press("enter")
        await settle(pilot)
        assert "Lena Fischer: 718 open cases" in screen(app)
        await pilot.press("a")
        await settle(pilot)
        assert len(workload.marked) == 718 and "718 marked" in screen(app)
        await pilot.press("r")
        await settle(pilot)
        assert "Reassign 718 cases to" in dialog_text(app)
        # alice, then Tom Berg: Lena herself is not offered
        await pilot.press("j", "enter", *"Lena is on leave", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, WorkloadScreen)
    left = supervisor.agent_cases(day, agent="lena")
    assert left.items == () and left.next_cursor is None
    moved, cursor = [], None
    while True:
        page = supervisor.agent_cases(day, agent="tom", cursor=cursor, limit=500)
        moved += page.items
        if (cursor := page.next_cursor) is None:
            break
    assert len(moved) == 718 and sum(c.kind is CaseKind.DISPUTE for c in moved) == 16


# --- bug 10: nothing animates while the desk is idle ------------------------------------------

def animating(app: DeskApp) -> list[str]:
    """Widgets on the current screen that redraw themselves on a timer (or a loading cover)."""
    return [repr(w) for w in app.screen.walk_children()
            if w.auto_refresh or isinstance(w, LoadingIndicator) or getattr(w, "loading", False)]


async def test_an_idle_desk_animates_nothing_on_any_screen_even_after_an_import(
    day: Desk, tmp_path: Path
) -> None:
    customer = customers.create(day, name="Idle Ida", emails=["ida@example.org"])
    case_id = open_case(day, "Idle", customer_id=customer.id)
    box = write_mbox(tmp_path / "in.mbox", [mail(subject=f"Question {i}", msgid=f"<q{i}@x>")
                                             for i in range(3)])
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert animating(app) == []
        for key in ("W", "R", "T", "D", "I"):
            app.pop_screen() if len(app.screen_stack) > 2 else None
            await pilot.press(key)
            await settle(pilot)
            assert animating(app) == [], (key, animating(app))
        await pilot.press(*str(box), "enter")
        await settle(pilot)
        assert "3 messages" in screen(app)
        assert animating(app) == []
        await pilot.press("escape")
        app.open_case(case_id)
        await settle(pilot)
        app.open_customer(customer.id)
        await settle(pilot)
        assert animating(app) == []


# --- bug 6: blank cases and orphans ----------------------------------------------------------

async def test_a_blank_new_case_is_refused_and_an_orphan_gets_its_customer(
    day: Desk, tmp_path: Path
) -> None:
    paul = customers.create(day, name="Paul Orphanidis", emails=["paul@example.org"])
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog), "a blank case was created"
        assert "needs a subject or a customer" in dialog_text(app)
        assert cases.queue_totals(day).of(Queue.ALL) == 0
        await pilot.press(*"Letter without a sender", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        case_id = app.screen.case_id
        assert "none linked" in screen(app)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"orphan")
        await settle(pilot)
        assert "Paul Orphanidis" in dialog_text(app)
        await pilot.press("enter", "enter")  # to the matches, then pick the first
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        assert "Paul Orphanidis" in screen(app)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert "Letter without a sender" in screen(app)
    history = cases.get(day, case_id).events
    assert history[-1].action == "customer" and history[-1].to_value == f"#{paul.id}"


# --- bug 8: search misses, in the lookup --------------------------------------------------------

async def test_lookup_finds_companies_as_typed_and_lists_people_first(
    day: Desk, tmp_path: Path
) -> None:
    for i in range(3):
        customers.create(day, name=f"Employee {i}", emails=[f"e{i}@ms.example"],
                         company="Müller & Söhne KG")
    customers.create(day, name="Jürgen Müller", emails=["jm@example.de"])
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        await pilot.press(*"Müller & Söh")
        await settle(pilot)
        assert "Employee 2" in screen(app), screen(app)
        for _ in range(len("Müller & Söh")):
            await pilot.press("backspace")
        await pilot.press(*"Mueller")
        await settle(pilot)
        rows = [line for line in screen_lines(app) if "@" in line]
        assert rows and "Jürgen Müller" in rows[0], rows
        assert "4 customers found" in screen(app)


# --- bug 5 and the dispute flow: received to resolved by keyboard --------------------------------

@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the desk writes letters by default (the agent's home folder)."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    return folder


async def test_a_dispute_walks_from_received_to_resolved_by_keyboard_with_its_letters(
    day: Desk, tmp_path: Path, home: Path
) -> None:
    policy.add(day, text=POLICY_2019, effective_on=date(2019, 6, 1))
    ann = customers.create(day, name="Ann Beschwerde", emails=["ann.b@example.org"])
    handled = open_case(day, "Delete my account", customer_id=ann.id, days_ago=20)
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.open_case(handled)
        await settle(pilot)
        await pilot.press("y")  # the customer disputes how we handled it
        await settle(pilot)
        await pilot.press(*"They say we kept their data", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen), "the new dispute opens"
        dispute = app.screen.case_id
        assert "stage: received" in screen(app)
        steps = [
            ("acknowledged", []),
            ("investigating", []),
            ("resolution proposed", ["enter", "tab", *"We deleted the backup copy too."]),
            ("resolved", []),  # the outcome is filled in; the letter is written
        ]
        for stage, keys in steps:
            await pilot.press("t")
            await settle(pilot)
            assert isinstance(app.screen, FormDialog)
            assert app.screen.value("stage").label == stage  # the next stage is preselected
            if stage == "resolved":  # the proposed outcome carried over
                assert app.screen.value("outcome") == "We deleted the backup copy too."
            await pilot.press(*keys, "ctrl+s")
            await settle(pilot)
            assert isinstance(app.screen, CaseScreen), (stage, dialog_text(app))
            assert f"stage: {stage}" in screen(app)
    done = cases.get(day, dispute)
    assert done.case.status is CaseStatus.RESOLVED and done.case.is_closed
    letters = [m for m in done.messages if m.direction is MessageDirection.OUTBOUND]
    assert [m.subject for m in letters] == [
        f"We have received your complaint [Case #{dispute}]",
        f"Your complaint has been resolved [Case #{dispute}]"]
    assert "We deleted the backup copy too." in (letters[1].body or "")
    assert [e.action for e in done.events].count("resolution_letter") == 1
    for letter in ("dispute_acknowledged", "dispute_resolved"):
        assert (home / f"case-{dispute}-{letter}.eml").exists()


# --- bug 7 and the correction flow: received to closed by keyboard ---------------------------

async def test_a_correction_walks_from_received_to_closed_by_keyboard_with_its_letter(
    day: Desk, tmp_path: Path, home: Path
) -> None:
    # the part on correcting and deleting is headed as in the company's own policy
    policy.add(day, text=POLICY_2019.replace("Part III. Your Information",
                                             "Part III. Access to Your Information"),
               effective_on=date(2019, 6, 1))
    cora = customers.create(day, name="Cora Korrektur", emails=["cora@example.org"],
                            billing_address="Alte Straße 1\n10115 Berlin")
    disclosures.add(day, customer_id=cora.id, recipient="Parcel Co", recipient_kind="contractor",
                    purpose="deliveries", data_categories=["name", "address"],
                    disclosed_on=date(2026, 1, 5), legal_basis="delivery contract")
    case_id = open_case(day, "I moved: please update my address", kind=CaseKind.CORRECTION,
                        customer_id=cora.id, days_ago=2)
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        await pilot.press("a")  # take it
        await settle(pilot)
        await pilot.press("v", "down", "enter")  # the requester showed an identity document
        await pilot.press(*"ID card seen", "ctrl+s")
        await settle(pilot)
        await pilot.press("e")  # the customer's record, to correct under this case
        await settle(pilot)
        assert isinstance(app.screen, FormDialog) and app.screen.name == "customer.correct"
        assert f"case #{case_id}" in dialog_text(app) and "Cora Korrektur" in dialog_text(app)
        await pilot.press("tab", "tab", "tab", "f7", *"Neue Straße 2", "enter", *"10117 Berlin",
                          "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        notices = [str(n.message) for n in app._notifications]
        assert any("Parcel Co" in n and "billing address" in n for n in notices), notices
        await pilot.press("G")  # down to the history
        await settle(pilot)
        change = "billing address: Alte Straße 1 10115 Berlin → Neue Straße 2 10117 Berlin"
        assert change in screen(app), screen(app)
        await pilot.press("m")  # the reply starts on the letter for a done correction
        await settle(pilot)
        assert app.screen.value("template") == "correction_done"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen), dialog_text(app)
        await pilot.press("s")
        await settle(pilot)
        await pilot.press("j", "j", "j", "enter")  # new → open → waiting → resolved
        await settle(pilot)
        assert "RESOLVED" in screen(app)
    done = cases.get(day, case_id)
    assert done.case.status is CaseStatus.RESOLVED
    assert [(c.field, c.old_value, c.new_value) for c in done.corrections] == [
        ("billing_address", "Alte Straße 1\n10115 Berlin", "Neue Straße 2\n10117 Berlin")]
    [letter] = [m for m in done.messages if m.direction is MessageDirection.OUTBOUND]
    assert letter.subject == f"Your information has been corrected [Case #{case_id}]"
    assert (home / f"case-{case_id}-reply.eml").exists()
    profile = customers.get(day, cora.id)
    assert profile.billing_address == "Neue Straße 2\n10117 Berlin"
    assert [c.case_id for c in profile.changes] == [case_id]


# --- the deletion flow: received to closed by keyboard ------------------------------------------

async def test_a_deletion_walks_from_received_to_closed_by_keyboard_at_80_columns(
    day: Desk, tmp_path: Path, home: Path
) -> None:
    """A tired agent on a small terminal: take, verify, x, Tab, ERASE, Ctrl+S. The name and subject
    are markup and stay text; the case ends closed with its letter and erasure record."""
    policy.add(day, text=POLICY_2019, effective_on=date(2019, 6, 1))
    dora = customers.create(day, name="Dora [b]Löschen[/b]", emails=["dora@example.org"])
    disclosures.add(day, customer_id=dora.id, recipient="Parcel Co", recipient_kind="contractor",
                    purpose="deliveries", data_categories=["name", "address"],
                    disclosed_on=date(2026, 1, 5), legal_basis="delivery contract")
    case_id = open_case(day, "Please delete everything [@click=app.quit]", customer_id=dora.id,
                        days_ago=3)
    app = make_app(day, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        await pilot.press("a", "v", "down", "enter")  # take it; they showed an ID document
        await pilot.press(*"ID card seen", "ctrl+s")
        await settle(pilot)
        await pilot.press("x")  # the whole request
        await settle(pilot)
        assert isinstance(app.screen, FormDialog) and app.screen.name == "privacy.deletion"
        assert "Dora [b]Löschen[/b]" in dialog_text(app)
        assert app.screen.value("folder") == str(home)  # the letters go home unless told
        await pilot.press("tab", *"ERASE", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen), dialog_text(app)
        assert await wait_for(pilot, lambda: "CLOSED" in screen(app)), screen(app)
        assert "Löschen" not in screen(app)
        await pilot.press("G")
        await settle(pilot)
        assert "erasure: - → ledger" in screen(app), screen(app)
    assert app.is_running is False
    done = cases.get(day, case_id)
    assert done.case.is_closed and done.case.assignee_name is not None
    assert {"deletion.letter", "deletion.notice"} <= {e.action for e in done.events}
    assert [m.direction for m in done.messages].count(MessageDirection.OUTBOUND) >= 1
    assert customers.get(day, dora.id).erased_at is not None
    assert (home / f"case-{case_id}-deletion-letter.eml").exists()


# --- bug 9 and the questions flow: a topic picked, previewed, sent ---------------------------

async def test_a_question_is_answered_from_the_policy_without_its_header_or_amendment_line(
    day: Desk, tmp_path: Path, home: Path
) -> None:
    policy.add(day, text=POLICY_2019, effective_on=date(2019, 6, 1))
    quinn = customers.create(day, name="Quinn Fragt", emails=["quinn@example.org"])
    case_id = open_case(day, "Do you keep archive copies of my data?", kind=CaseKind.QUESTION,
                        customer_id=quinn.id)
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        await pilot.press("q")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, FormDialog) and dialog.name == "questions.answer"
        assert dialog.value("topic") is answers.Topic.ARCHIVES  # what the letter asks about
        preview = dialog_text(app)
        assert "archival backups" in preview
        assert "extracted and transformed" not in preview, "the file's header line is quoted"
        await pilot.press("k", "k", "k")  # archives -> access rights -> sale -> postings
        await settle(pilot)
        assert dialog.value("topic") is answers.Topic.POSTINGS
        preview = dialog_text(app)
        assert "can be read by everyone" in preview
        assert "revised version" not in preview, "the amendment sentence is not about postings"
        await pilot.press("j", "j", "j")  # back to archives
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
    done = cases.get(day, case_id)
    [answer] = [m for m in done.messages if m.direction is MessageDirection.OUTBOUND]
    assert answer.subject == f"Your question about archives [Case #{case_id}]"
    assert "archival backups" in (answer.body or "") and "extracted" not in (answer.body or "")
    assert (home / f"case-{case_id}-answer.eml").exists()


# --- friction: focus, Home, screens that do not pile up, help, key bar ------------------------

def first_line_style(widget: Any) -> str:
    return str([segment.style for segment in widget.render_line(0)])


async def test_focus_is_visible_and_a_profile_opens_on_its_cases(day: Desk, tmp_path: Path) -> None:
    customer = customers.create(day, name="Fiona Fokus", emails=["fiona@example.org"])
    open_case(day, "Focus me", customer_id=customer.id, mine=True)
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        main = app.screen
        table, queues = main.query_one("#cases"), main.query_one("#queues")
        assert app.focused is table
        focused_table, blurred_queues = first_line_style(table), first_line_style(queues)
        await pilot.press("tab")
        await settle(pilot)
        assert app.focused is queues
        assert first_line_style(table) != focused_table, "the table looks the same unfocused"
        assert first_line_style(queues) != blurred_queues, "the queue list looks the same focused"
        app.open_customer(customer.id)
        await settle(pilot)
        profile, cases_list = app.screen.query_one("#detail"), app.screen.query_one(
            "#customer-cases")
        assert app.focused is cases_list
        blurred_profile = first_line_style(profile)
        profile.focus()
        await settle(pilot)
        assert first_line_style(profile) != blurred_profile, "the profile pane looks the same"
        cases_list.focus()
        await settle(pilot)
        await pilot.press("enter")  # Enter opens the case under the cursor at once
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)


async def test_no_action_takes_a_list_key_from_the_list_it_lands_on(
    day: Desk, tmp_path: Path
) -> None:
    """A profile opens on its case list, so an action bound to j/k/g/G there would never run
    (the profile's 'E-mail: primary/remove' was on k)."""
    customer = customers.create(day, name="Kim Keys", emails=["kim@example.org",
                                                               "kim@work.example"])
    app = make_app(day, tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        motion = {b.key for b in motion_bindings()}
        taken = [(a.id, a.key) for a in [*registry.ACTIONS, *registry.COMMANDS]
                 if a.key in motion]
        assert taken == []
        app.open_customer(customer.id)
        await settle(pilot)
        await pilot.press("E")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog) and app.screen.name == "records.email_change"


async def test_home_returns_to_the_main_screen_and_screens_do_not_pile_up(
    day: Desk, tmp_path: Path
) -> None:
    customer = customers.create(day, name="Stack Stefan", emails=["stefan@example.org"])
    case_id = open_case(day, "Deep", customer_id=customer.id)
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        app.open_customer(customer.id)
        await settle(pilot)
        depth = len(app.screen_stack)
        await pilot.press("W")  # workload from deep down: opened over the main screen
        await settle(pilot)
        assert isinstance(app.screen, WorkloadScreen) and len(app.screen_stack) == depth - 1
        await pilot.press("R")
        await settle(pilot)
        assert len(app.screen_stack) == depth - 1  # reports replaced the workload
        app.open_case(case_id)
        await settle(pilot)
        await pilot.press("home")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("slash", *"stef")
        await settle(pilot)
        await pilot.press("home")  # in the search field, Home moves the cursor
        await settle(pilot)
        assert not isinstance(app.screen, MainScreen)


async def test_help_lists_the_screens_keys_first_and_textuals_last(
    day: Desk, tmp_path: Path
) -> None:
    case_id = open_case(day, "Help me")
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        titles = [title for title, _ in app.screen.sections]
        assert titles[0] == "This screen (Case)" and titles[-1] == "Textual's own keys"
        first = {row[2] for row in app.screen.sections[0][1]}
        assert {"case.note", "case.correct", "replies.reply", "disputes.advance"} <= first
        everywhere = {row[2] for title, rows in app.screen.sections for row in rows
                      if title == "Everywhere in the desk"}
        assert {"desk.lookup", "desk.home", "workload.open"} <= everywhere


@pytest.mark.parametrize("width", [80, 120])
async def test_the_key_bar_never_cuts_a_key(day: Desk, tmp_path: Path, width: int) -> None:
    case_id = open_case(day, "Keys")
    app = make_app(day, tmp_path)
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        bar = screen_lines(app)[-1]
        hints = [(app.get_key_display(active.binding), active.binding.description)
                 for active in app.screen.active_bindings.values()
                 if active.binding.show and active.binding.description]
        shown = [f"{key} {description}" for key, description in hints
                 if f"{key} {description}" in bar]
        assert shown and len(bar) <= width
        # whatever is on the bar is whole hints and the two spaces between them
        assert set(bar.strip().split("  ")) <= set(shown), bar


# --- bug 10: names, labels, reasons, boxes ------------------------------------------------------

async def test_history_and_audit_speak_of_people_by_name_and_show_the_reason(
    day: Desk, tmp_path: Path
) -> None:
    handled = open_case(day, "Handled", customer_id=customers.create(
        day, name="Hanna", emails=["hanna@example.org"]).id)
    dispute = disputes.open_dispute(day, case_id=handled).case.id
    cases.take(day.as_agent("lena"), case_id=dispute)
    supervisor.reassign(day, case_ids=[dispute], assignee="tom", reason="Lena is on leave")
    for stage in ("acknowledged", "investigating", "resolution_proposed"):
        disputes.advance(day, case_id=dispute, to=stage, outcome="refund")
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.open_case(dispute)
        await settle(pilot)
        await pilot.press("G")
        await settle(pilot)
        shown = screen(app)
        assert "assigned: - → Lena Fischer" in shown and "→ lena" not in shown
        assert "assigned: Lena Fischer → Tom Berg  — Lena is on leave" in shown
        assert "stage: investigating → resolution proposed" in shown
        assert "resolution_proposed" not in shown
        await pilot.press("home")
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"audit trail", "enter")
        await settle(pilot)
        shown = screen(app)
        assert "from_agent=Lena Fischer" in shown and "agent_id=" not in shown, shown


async def test_escape_asks_before_throwing_typed_text_away(day: Desk, tmp_path: Path) -> None:
    case_id = open_case(day, "Notes")
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        app.open_case(case_id)
        await settle(pilot)
        await pilot.press("n", *"half a note", "escape")
        await settle(pilot)
        assert "Discard what you typed?" in dialog_text(app)
        await pilot.press("escape")  # keep editing
        await settle(pilot)
        assert isinstance(app.screen, FormDialog) and app.screen.value("note") == "half a note"
        await pilot.press("escape", "d")  # discard
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
        await pilot.press("n", "escape")  # nothing typed: closes at once
        await settle(pilot)
        assert isinstance(app.screen, CaseScreen)
    assert cases.get(day, case_id).messages == ()


async def test_the_template_editor_gives_the_body_room(day: Desk, tmp_path: Path) -> None:
    app = make_app(day, tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        body = app.screen.query_one("#f-body")
        assert body.region.height >= 12 and body.region.width >= 80, body.region
