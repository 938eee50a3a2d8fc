"""Customer lookup: results update as you type; Enter opens the profile."""

from __future__ import annotations

from textual import events
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from helpdesk.services import customers
from helpdesk.services.readmodels import CustomerSummary
from helpdesk.wording import counted
from screens.base import DeskScreen
from screens.text import cell
from screens.widgets import ListColumn, ListTable, Row, focus_now

#: Enough to fill a tall terminal; more would only cost time per keystroke (refine instead).
RESULTS = 30

RESULT_COLUMNS = (
    ListColumn("name", "Name", 24, priority=0, flex=True),
    ListColumn("email", "E-mail", 30, priority=1),
    ListColumn("company", "Company", 18, priority=3),
    ListColumn("phone", "Phone", 16, priority=2),
)


def result_row(hit: CustomerSummary) -> Row:
    return str(hit.id), (
        cell(hit.name or "(erased)", "bold" if hit.name else "dim", limit=40),
        cell(hit.primary_email or "-", limit=48),
        cell(hit.company or "", limit=30),
        cell(hit.phone or "", limit=20),
    )


class LookupScreen(DeskScreen[None]):
    """Find a customer by any part of name, e-mail, company or phone."""

    BINDINGS = [
        Binding("ctrl+n", "new_customer", "New customer", id="lookup.new_customer"),
        # priority: acted on before the keys typed after it reach the search field
        Binding("down", "to_results", "Results", show=False, id="lookup.results",
                priority=True),
    ]
    FOCUS = "#search"
    HINT = "Find a customer: name, any e-mail, company or phone"

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""

    def compose(self) -> ComposeResult:
        yield Static(self.HINT, id="lookup-hint")
        yield Input(placeholder="type to search…", id="search")
        yield ListTable(RESULT_COLUMNS, result_row, id="results")

    def focus_search(self) -> None:
        focus_now(self.query_one(Input))

    def on_input_changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        self.query_text = text
        if not text:
            self.forget("find")
            self._show(None, "")
            return
        self.load("find", lambda: customers.lookup(self.desk, text, limit=RESULTS),
                  lambda found: self._show(found, text))

    def _show(self, found: customers.Matches | None, text: str) -> None:
        self.query_one(ListTable).set_items(found.items if found else ())
        hint = self.query_one("#lookup-hint", Static)
        if not text or found is None:
            hint.update(self.HINT)
        elif found.items:
            shown = (f"the first {len(found.items)} shown, type more to narrow"
                     if found.more else f"{counted(len(found.items), 'customer')} found")
            hint.update(f"{shown} · ↓ to pick, Enter opens, ctrl+n new customer")
        else:
            hint.update("No customer matches · ctrl+n creates one")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._open_current()

    def action_to_results(self) -> None:
        table = self.query_one(ListTable)
        if self.focused is not self.query_one(Input) or not table.row_count:
            raise SkipAction  # Down in the results moves down them
        focus_now(table)

    def on_key(self, event: events.Key) -> None:
        """Typing a character while the results have focus goes back to the search field
        (unless the key is bound there: list keys move, as remapped)."""
        table = self.query_one(ListTable)
        if self.focused is table and event.is_printable and event.key not in self.active_bindings:
            search = self.query_one(Input)
            focus_now(search)
            search.insert_text_at_cursor(event.character or "")
            event.stop()

    def on_list_table_row_selected(self, event: ListTable.RowSelected) -> None:
        self._open_current()

    def _open_current(self) -> None:
        key = self.query_one(ListTable).current_key
        if key:
            self.desk_app.open_customer(int(key))

    def action_new_customer(self) -> None:
        text = self.query_text
        self.desk_app.action_new_customer({"email": text} if "@" in text else {"name": text})
