"""Intake: import exported mail with a live progress bar, then work what it could not file.

The import runs in a thread worker (the desk stays responsive; progress arrives through
``call_from_thread``). Below it, the unmatched and quarantined items with their reasons.
Keys on the list: Enter shows the item's letter, ``l`` links it to a customer, ``c`` creates a
customer from the sender, ``p`` re-processes a quarantined item (``P``: leniently, importing
over-size mail truncated), ``f`` switches between open items and all, ``u`` reloads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Label, ProgressBar, Static

from helpdesk.errors import Invalid
from helpdesk.services import intake
from helpdesk.services.intake import ImportResult, IntakeItemDetail, IntakeItemInfo, Progress
from helpdesk.services.readmodels import Page
from screens.base import DeskModal, DeskScreen, KeyBar
from screens.registry import DeskCommand, register
from screens.text import cell, lit, when


class ItemDialog(DeskModal[IntakeItemDetail | None]):
    """One text field for an item action; Ctrl+S (or Enter) saves, Escape cancels."""

    DEFAULT_CSS = """
    ItemDialog { align: center middle; }
    ItemDialog > Vertical {
        width: 70; height: auto; border: thick $accent; background: $surface; padding: 1 2;
    }
    ItemDialog #error { color: $error; }
    """
    BINDINGS = [Binding("ctrl+s", "save", "Save", id="intake.dialog.save")]

    def __init__(self, title: str, placeholder: str,
                 submit: Callable[[str], IntakeItemDetail]) -> None:
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.submit = submit

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(lit(self.title_text))
            yield Input(placeholder=self.placeholder, id="value")
            yield Static("", id="error")
            yield Static("Ctrl+S save · Esc cancel")

    def action_save(self) -> None:
        value = self.query_one("#value", Input).value.strip()
        self.load("intake-dialog", lambda: self.submit(value), self.dismiss, failed=self._inline)

    def _inline(self, exc: Exception) -> bool:
        if not isinstance(exc, Invalid):
            return False
        self.query_one("#error", Static).update(lit(exc.message))
        return True

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()


class IntakeScreen(DeskScreen[None]):
    """Import at the top, items below, the selected item's letter at the bottom."""

    CSS_PATH = "intake.tcss"
    BINDINGS = [
        Binding("j", "cursor(1)", "Down", show=False, id="intake.down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="intake.up"),
        Binding("l", "link", "Link", id="intake.link"),
        Binding("c", "new_customer", "New customer", id="intake.new_customer"),
        Binding("p", "reprocess(False)", "Re-process", id="intake.reprocess"),
        Binding("P", "reprocess(True)", "Re-process leniently", id="intake.reprocess_lenient"),
        Binding("f", "toggle_filter", "Open/all", id="intake.filter"),
        Binding("u", "reload", "Reload", id="intake.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state = "open"
        self.items: tuple[IntakeItemInfo, ...] = ()
        self.result: ImportResult | None = None
        self.importing = False

    def compose(self) -> ComposeResult:
        yield Label("Intake: import mail (.eml file, mbox file, Maildir or folder), Enter starts")
        yield Input(placeholder="path to import", id="path")
        yield ProgressBar(id="progress", show_eta=False)
        yield Static("", id="status")
        yield Label("Open items (unmatched and quarantined)", id="items-title")
        yield DataTable(id="items", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="letter-box"):
            yield Static("", id="letter")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#items", DataTable).add_columns(
            "Item", "State", "Received", "From", "Subject", "Reason")
        self.action_reload()

    # --- import ----------------------------------------------------------------------------

    @on(Input.Submitted, "#path")
    def start_import(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path or self.importing:
            return
        self.importing = True
        self.query_one("#status", Static).update(lit(f"importing {path} ..."))
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=None, progress=0)
        app = self.app

        def progress(p: Progress) -> None:  # runs in the worker thread
            app.call_from_thread(self._progress, p)

        self.load("import", lambda: intake.import_paths(self.desk, paths=[path],
                                                        progress=progress),
                  self._imported, failed=self._import_failed)

    def _progress(self, p: Progress) -> None:
        self.query_one("#progress", ProgressBar).update(total=max(p.total_bytes, 1),
                                                        progress=p.done_bytes)
        self.query_one("#status", Static).update(f"{p.messages:,} messages read")

    def _imported(self, r: ImportResult) -> None:
        self.importing = False
        self.result = r
        self.query_one("#status", Static).update(
            f"{r.seen} messages: {r.new_cases} new cases, {r.threaded} onto existing cases, "
            f"{r.unmatched} unmatched, {r.machine} machine mail, {r.duplicates} duplicates "
            f"skipped, {r.quarantined} quarantined")
        self.desk_app.changes += 1
        self.action_reload()

    def _import_failed(self, exc: Exception) -> bool:
        self.importing = False
        self.query_one("#status", Static).update(lit(f"import stopped: {exc}"))
        return False  # the desk shows the error too

    # --- items -----------------------------------------------------------------------------

    def action_reload(self) -> None:
        self.load("items", lambda: intake.list_items(self.desk, state=self.state, limit=500),
                  self._show_items)

    def _show_items(self, page: Page[IntakeItemInfo]) -> None:
        self.items = page.items
        table = self.query_one("#items", DataTable)
        table.clear()
        tz = self.desk.settings.tz
        for i in page.items:
            table.add_row(cell(i.id), cell(i.state), cell(when(i.received_at, tz)),
                          cell(i.from_address), cell(i.subject, limit=60),
                          cell(i.reason, limit=100), key=str(i.id))
        title = "Open items (unmatched and quarantined)" if self.state == "open" else "All items"
        more = " (first 500)" if page.next_cursor else ""
        self.query_one("#items-title", Label).update(f"{title}: {len(page.items)}{more}")

    def action_toggle_filter(self) -> None:
        self.state = "all" if self.state == "open" else "open"
        self.action_reload()

    def action_cursor(self, step: int) -> None:
        table = self.query_one("#items", DataTable)
        table.move_cursor(row=table.cursor_row + step)

    def current(self) -> IntakeItemInfo | None:
        table = self.query_one("#items", DataTable)
        if not self.items or table.cursor_row < 0 or table.cursor_row >= len(self.items):
            return None
        return self.items[table.cursor_row]

    @on(DataTable.RowSelected, "#items")
    def show_item(self) -> None:
        item = self.current()
        if item is not None:
            self.load("letter", lambda: intake.get_item(self.desk, item.id), self._show_letter)

    def _show_letter(self, d: IntakeItemDetail) -> None:
        i = d.item
        lines: list[Any] = [f"Item #{i.id} ({i.state}): {i.reason or ''}"]
        if i.message_id:
            lines += [f"From: {i.from_address or '-'}", f"Subject: {i.subject or '-'}"]
            if d.suggestion:
                lines.append(f"Suggested: {d.suggestion['primary']} "
                             f"({d.suggestion['phrase'] or 'no phrase'})")
            lines += ["", d.body or ""]
        elif d.raw_preview is not None:
            lines += [f"{i.raw_size} bytes, beginning:", "", d.raw_preview]
        self.query_one("#letter", Static).update(lit("\n".join(lines), limit=20_000))

    def _acted(self, detail: IntakeItemDetail | None) -> None:
        if detail is None:
            return
        i = detail.item
        where = f" on case #{i.resolved_case_id}" if i.resolved_case_id else ""
        self.notify(f"item #{i.id} is {i.state}{where}", markup=False)
        self.desk_app.changes += 1
        self.action_reload()

    def _unmatched(self) -> IntakeItemInfo | None:
        item = self.current()
        if item is None or item.state != intake.UNMATCHED:
            self.notify("Choose an unmatched item.", severity="warning", markup=False)
            return None
        return item

    def action_link(self) -> None:
        item = self._unmatched()
        if item is None:
            return

        def submit(value: str) -> IntakeItemDetail:
            if not value.lstrip("#").isdigit():
                raise Invalid("type the customer's number, e.g. 42", field="customer")
            return intake.link(self.desk, item_id=item.id, customer_id=int(value.lstrip("#")),
                               expected_version=item.version)

        self.app.push_screen(ItemDialog(f"Link item #{item.id} to customer", "customer number",
                                        submit), self._acted)

    def action_new_customer(self) -> None:
        item = self._unmatched()
        if item is None:
            return
        self.app.push_screen(ItemDialog(
            f"New customer from {item.from_address or 'the sender'}", "name (optional)",
            lambda name: intake.new_customer(self.desk, item_id=item.id, name=name or None,
                                             expected_version=item.version),
        ), self._acted)

    def action_reprocess(self, lenient: bool) -> None:
        item = self.current()
        if item is None or item.state != intake.QUARANTINED:
            self.notify("Choose a quarantined item.", severity="warning", markup=False)
            return
        self.load("reprocess", lambda: intake.reprocess(
            self.desk, item_id=item.id, expected_version=item.version, lenient=lenient),
            self._acted, reload=self.action_reload)


register(DeskCommand(
    id="intake.open", title="Intake", help="Import mail; unmatched and quarantined items",
    key="I", open=lambda app: app.push_screen(IntakeScreen()),
))
