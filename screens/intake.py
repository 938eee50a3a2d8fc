"""Intake: import exported mail with a live progress bar, then work what it could not file.

The import runs in a thread worker (the desk stays responsive; progress arrives through
``call_from_thread``). Below it, the unmatched and quarantined items with their reasons.
The tray is ordered by urgency: quarantined mail first (nobody knows yet what it asks), then
letters from unknown senders by the deadline their case runs to, with the kind read in them.
Keys on the list: Enter shows the item's letter, ``l`` links it to a customer, ``c`` creates a
customer from the sender, ``x`` dismisses a letter that asks nothing (spam), ``p``
re-processes a quarantined item (``P``: leniently, importing over-size mail truncated), ``f``
switches between open items and all, ``u`` reloads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Input, Label, ProgressBar, Static

from helpdesk.services import parsing
from helpdesk.wording import counted
from screens.base import DeskChanged, DeskScreen
from screens.dialogs import Field, FormDialog
from screens.registry import lazy_module
from screens.text import cell, days_left_text, lit, urgency, when
from screens.widgets import ListColumn, ListTable, Row

if TYPE_CHECKING:
    from helpdesk.services import intake
    from helpdesk.services.intake import ImportResult, IntakeItemDetail, IntakeItemInfo, Progress
else:  # loaded when the intake screen is first used, not when the desk starts
    intake = lazy_module("helpdesk.services.intake")

#: Items listed at once (the oldest open items first; the rest after these are dealt with).
ITEMS_SHOWN = 500

ITEM_COLUMNS = (
    ListColumn("id", "Item", 6, priority=0),
    ListColumn("state", "State", 11, priority=0),
    ListColumn("due", "Due", 11, priority=0),
    ListColumn("kind", "Kind", 14, priority=1),
    ListColumn("received", "Received", 16, priority=2),
    ListColumn("from", "From", 24, priority=1),
    ListColumn("subject", "Subject", 20, priority=1, flex=True),
    ListColumn("reason", "Reason", 24, priority=1),
)


class IntakeScreen(DeskScreen[None]):
    """Import at the top, items below, the selected item's letter at the bottom."""

    CSS_PATH = "intake.tcss"
    FOCUS = "#path"
    BINDINGS = [
        Binding("l", "link", "Link", id="intake.link"),
        Binding("c", "new_customer", "New customer", id="intake.new_customer"),
        Binding("x", "dismiss_item", "Dismiss", id="intake.dismiss"),
        Binding("p", "reprocess(False)", "Re-process", id="intake.reprocess"),
        Binding("P", "reprocess(True)", "Re-process leniently", id="intake.reprocess_lenient"),
        Binding("f", "toggle_filter", "Open/all", id="intake.filter"),
        Binding("u", "reload", "Reload", id="intake.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state = "open"
        self.result: ImportResult | None = None
        self.importing = False

    def compose(self) -> ComposeResult:
        yield Label("Intake: import mail (.eml file, mbox file, Maildir or folder), Enter starts")
        yield Input(placeholder="path to import", id="path")
        yield Static("", id="status")
        yield Label("Open items (unmatched and quarantined)", id="items-title")
        yield ListTable(ITEM_COLUMNS, self._row, first_page=ITEMS_SHOWN, prefetch=0,
                        id="items")
        with VerticalScroll(id="letter-box"):
            yield Static("", id="letter")

    def on_mount(self) -> None:
        self.action_reload()

    def _row(self, i: IntakeItemInfo) -> Row:
        due = days_left_text(i.days_left, i.overdue) if i.days_left is not None else "-"
        return str(i.id), (
            cell(i.id), cell(i.state), cell(due, urgency(i.days_left, i.overdue)),
            cell(i.kind.label if i.kind else "-"), cell(when(i.received_at, self.desk.settings.tz)),
            cell(i.from_address), cell(i.subject, limit=60), cell(i.reason, limit=100),
        )

    def desk_changed(self, event: DeskChanged) -> None:
        if event.kind in {"intake_item", "intake"}:
            self.query_one("#items", ListTable).refresh_rows()

    # --- import ----------------------------------------------------------------------------

    @on(Input.Submitted, "#path")
    def start_import(self, event: Input.Submitted) -> None:
        path = event.value.strip()
        if not path or self.importing:
            return
        self.importing = True
        self.query_one("#status", Static).update(lit(f"importing {path} ..."))
        # The bar exists only while an import runs: an idle bar would animate (and wake the
        # desk 15 times a second) for as long as the screen stays open.
        self.mount(ProgressBar(id="progress", show_eta=False), before="#status")
        app = self.app

        def progress(p: Progress) -> None:  # runs in the worker thread
            app.call_from_thread(self._progress, p)

        self.change("import", lambda: intake.import_paths(self.desk, paths=[path],
                                                          progress=progress),
                    self._imported, failed=self._import_failed)

    def _progress(self, p: Progress) -> None:
        for bar in self.query("#progress").results(ProgressBar):
            bar.update(total=max(p.total_bytes, 1), progress=p.done_bytes)
        self.query_one("#status", Static).update(f"{counted(p.messages, 'message')} read")

    def _import_ended(self) -> None:
        self.importing = False
        self.query("#progress").remove()

    def _imported(self, r: ImportResult) -> None:
        self._import_ended()
        self.result = r
        self.query_one("#status", Static).update(
            f"{counted(r.seen, 'message')}: {counted(r.new_cases, 'new case')}, "
            f"{r.threaded:,} onto existing cases, {r.unmatched:,} unmatched, "
            f"{r.machine:,} machine mail, {counted(r.duplicates, 'duplicate')} skipped, "
            f"{r.quarantined:,} quarantined"
            + (f", {r.erased:,} from erased people not kept" if r.erased else ""))

    def _import_failed(self, exc: Exception) -> bool:
        self._import_ended()
        self.query_one("#status", Static).update(lit(f"import stopped: {exc}"))
        return False  # the desk shows the error too

    # --- items -----------------------------------------------------------------------------

    def action_reload(self) -> None:
        desk, state = self.desk, self.state
        self.query_one("#items", ListTable).show(
            lambda cursor, limit: intake.list_items(desk, state=state, cursor=cursor, limit=limit))

    def on_list_table_loaded(self, event: ListTable.Loaded) -> None:
        title = "Open items (unmatched and quarantined)" if self.state == "open" else "All items"
        more = f" (first {event.count})" if event.more else ""
        self.query_one("#items-title", Label).update(f"{title}: {event.count}{more}")

    def action_toggle_filter(self) -> None:
        self.state = "all" if self.state == "open" else "open"
        self.action_reload()

    def current(self) -> IntakeItemInfo | None:
        return self.query_one("#items", ListTable).current

    @on(ListTable.RowSelected, "#items")
    def show_item(self) -> None:
        item = self.current()
        if item is not None:
            self.load("letter", lambda: intake.get_item(self.desk, item.id), self._show_letter)

    def _show_letter(self, d: IntakeItemDetail) -> None:
        i = d.item
        lines: list[Any] = [f"Item #{i.id} ({i.state}): {i.reason or ''}"]
        if i.message_id:
            lines += [f"From: {i.from_address or '-'}", f"Subject: {i.subject or '-'}"]
            if i.due_at is not None:
                lines.append(f"Due: {when(i.due_at, self.desk.settings.tz)} "
                             f"({days_left_text(i.days_left, i.overdue)}, running since receipt)")
            if d.suggestion:
                lines.append(f"Suggested: {d.suggestion['primary']} "
                             f"({d.suggestion['phrase'] or 'no phrase'})")
                if d.suggestion.get("needs_person"):
                    lines.append("Needs a person: it may be "
                                 + ", ".join(d.suggestion.get("candidates") or ()))
            lines += ["", d.body or ""]
        elif d.raw_preview is not None:
            lines += [f"{i.raw_size} bytes, beginning:", "", d.raw_preview]
        self.query_one("#letter", Static).update(lit("\n".join(lines), limit=20_000))

    def _acted(self, detail: IntakeItemDetail | None) -> None:
        if detail is not None:
            i = detail.item
            where = f" on case #{i.resolved_case_id}" if i.resolved_case_id else ""
            self.notify(f"item #{i.id} is {i.state}{where}", markup=False)

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
        desk = self.desk
        self.app.push_screen(FormDialog(
            f"Link item #{item.id} to customer", [Field.text("customer", "Customer number")],
            lambda v: intake.link(desk, item_id=item.id, expected_version=item.version,
                                  customer_id=parsing.record_id(v["customer"], what="customer",
                                                                field="customer")),
            name="intake.link"), self._acted)

    def action_new_customer(self) -> None:
        item = self._unmatched()
        if item is None:
            return
        desk = self.desk
        self.app.push_screen(FormDialog(
            f"New customer from {item.from_address or 'the sender'}",
            [Field.text("name", "Name (optional)")],
            lambda v: intake.new_customer(desk, item_id=item.id, name=v["name"] or None,
                                          expected_version=item.version),
            name="intake.new_customer"), self._acted)

    def action_dismiss_item(self) -> None:
        item = self._unmatched()
        if item is None:
            return
        desk = self.desk
        self.app.push_screen(FormDialog(
            f"Dismiss item #{item.id}: it asks nothing (its case is closed, the letter kept)",
            [Field.text("reason", "Why", placeholder="spam, misdirected ...")],
            lambda v: intake.dismiss(desk, item_id=item.id, reason=v["reason"],
                                     expected_version=item.version),
            name="intake.dismiss"), self._acted)

    def action_reprocess(self, lenient: bool) -> None:
        item = self.current()
        if item is None or item.state != intake.QUARANTINED:
            self.notify("Choose a quarantined item.", severity="warning", markup=False)
            return
        self.change("reprocess", lambda: intake.reprocess(
            self.desk, item_id=item.id, expected_version=item.version, lenient=lenient),
            self._acted, reload=self.action_reload)
