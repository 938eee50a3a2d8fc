"""Customer lookup: results update as you type; Enter opens the profile."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from helpdesk.services import customers
from helpdesk.services.readmodels import CustomerSummary
from screens.base import DeskScreen, KeyBar
from screens.text import cell

#: Enough to fill a tall terminal; more would only cost time per keystroke (refine instead).
RESULTS = 30


class ResultTable(DataTable[Text]):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("k", "cursor_up", "Up", show=False, id="list.up"),
    ]


class LookupScreen(DeskScreen[None]):
    """Find a customer by any part of name, e-mail, company or phone."""

    BINDINGS = [
        Binding("ctrl+n", "new_customer", "New customer", id="lookup.new_customer"),
        Binding("down", "to_results", "Results", show=False, id="lookup.results"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_text = ""

    def compose(self) -> ComposeResult:
        yield Static("Find a customer: name, any e-mail, company or phone", id="lookup-hint")
        yield Input(placeholder="type to search…", id="search")
        yield ResultTable(id="results", cursor_type="row")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(ResultTable)
        for label in ("Name", "E-mail", "Company", "Phone"):
            table.add_column(label, key=label.lower())
        self.focus_search()

    def focus_search(self) -> None:
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        self.query_text = text
        if not text:
            self.forget("find")
            self._show([], "")
            return
        self.load("find", lambda: customers.find(self.desk, text, limit=RESULTS),
                  lambda hits: self._show(hits, text))

    def _show(self, hits: list[CustomerSummary], text: str) -> None:
        table = self.query_one(ResultTable)
        table.clear()
        for hit in hits:
            table.add_row(
                cell(hit.name or "(erased)", "bold" if hit.name else "dim", limit=40),
                cell(hit.primary_email or "-", limit=48),
                cell(hit.company or "", limit=30),
                cell(hit.phone or "", limit=20),
                key=str(hit.id),
            )
        hint = self.query_one("#lookup-hint", Static)
        if not text:
            hint.update("Find a customer: name, any e-mail, company or phone")
        elif hits:
            more = "+" if len(hits) >= RESULTS else ""
            hint.update(f"{len(hits)}{more} found · ↓ to pick, Enter opens, ctrl+n new customer")
        else:
            hint.update("No customer matches · ctrl+n creates one")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        table = self.query_one(ResultTable)
        if table.row_count:
            self._open_row(table)

    def action_to_results(self) -> None:
        table = self.query_one(ResultTable)
        if table.row_count:
            table.focus()

    def on_key(self, event: events.Key) -> None:
        """Typing a character while the results have focus goes back to the search field."""
        table = self.query_one(ResultTable)
        keys_of_the_list = {"j", "k", "/", "?"}
        if self.focused is table and event.is_printable and event.character not in keys_of_the_list:
            search = self.query_one(Input)
            search.focus()
            search.insert_text_at_cursor(event.character or "")
            event.stop()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self._open_row(self.query_one(ResultTable))

    def _open_row(self, table: ResultTable) -> None:
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key:
            self.desk_app.open_customer(int(key))

    def action_new_customer(self) -> None:
        text = self.query_text
        self.desk_app.action_new_customer({"email": text} if "@" in text else {"name": text})
