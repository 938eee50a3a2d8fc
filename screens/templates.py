"""Replies from the case view, the template editor, and customer merge.

Case view: ``m`` opens the reply dialog — pick a template (only those for the case's kind), read
the rendered letter, Ctrl+S writes the .eml and records it on the case, F3 copies the letter's
text to the clipboard. A template that cannot be filled for this case (no override, no outcome)
shows the reason instead of a preview, so nothing with a blank goes out.

``T`` (supervisors) lists the templates in every language; Enter edits one (subject, body,
transactional flag) with the placeholders listed beside it. ``D`` lists likely duplicate
customers; Enter opens the first of a pair. Profile: ``M`` merges another customer record of the
same person into the one shown, after a typed confirmation.

Role rules stay in the services; refusals show as errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Checkbox, DataTable, Input, Label, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from helpdesk.errors import Conflict, Invalid
from helpdesk.services import merge, replies, templates
from helpdesk.services.readmodels import CaseDetail, CustomerDetail
from helpdesk.services.templates import TemplateInfo
from screens.base import DeskModal, DeskScreen, FormModal, KeyBar
from screens.disputes import CaseDialog
from screens.registry import CaseAction, CustomerAction, DeskCommand, register
from screens.text import cell, lit

if TYPE_CHECKING:
    from screens.app import DeskApp

MERGE_WORD = "MERGE"


def default_reply_path(case_id: int) -> Path:
    return Path.home() / f"case-{case_id}-reply.eml"


class ReplyDialog(DeskModal["replies.WrittenReply | None"]):
    """Pick a template, check the rendered reply, write the .eml."""

    DEFAULT_CSS = """
    ReplyDialog { align: center middle; }
    ReplyDialog > Vertical {
        width: 100; max-width: 100%; height: 90%; border: thick $accent; background: $surface;
        padding: 0 1;
    }
    ReplyDialog .dialog-title { text-style: bold; }
    ReplyDialog #reply-templates { height: auto; max-height: 8; }
    ReplyDialog #reply-preview-box { height: 1fr; border: round $panel; }
    ReplyDialog #reply-error { color: $error; }
    ReplyDialog .form-hint { color: $text-muted; }
    """
    BINDINGS = [
        Binding("ctrl+s,f2", "save", "Write .eml", id="reply.write"),
        Binding("f3", "copy", "Copy text", id="reply.copy"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, detail: CaseDetail) -> None:
        super().__init__()
        self.case = detail.case
        self.draft: replies.ReplyDraft | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(lit(f"Reply to case #{self.case.id} ({self.case.kind.label})"),
                        classes="dialog-title")
            yield OptionList(id="reply-templates")
            yield Input(str(default_reply_path(self.case.id)), id="reply-out",
                        placeholder="write the .eml to this file")
            yield Static("", id="reply-error")
            with VerticalScroll(id="reply-preview-box"):
                yield Static("", id="reply-preview")
            yield Static("↑↓ pick template · ctrl+s write .eml · F3 copy text · Esc cancel",
                         classes="form-hint")

    def on_mount(self) -> None:
        desk, kind = self.desk, self.case.kind
        self.load("reply-templates", lambda: templates.list_templates(desk, kind=kind),
                  self._show_templates)

    def _show_templates(self, items: list[TemplateInfo]) -> None:
        languages: dict[str, list[str]] = {}
        for t in items:
            languages.setdefault(t.name, []).append(t.language)
        options = self.query_one("#reply-templates", OptionList)
        options.clear_options()
        options.add_options([Option(lit(f"{name}  ({', '.join(langs)})"), id=name)
                             for name, langs in languages.items()])
        if languages:
            options.highlighted = 0
            options.focus()

    @property
    def template_name(self) -> str | None:
        options = self.query_one("#reply-templates", OptionList)
        if options.highlighted is None:
            return None
        return options.get_option_at_index(options.highlighted).id

    @on(OptionList.OptionHighlighted, "#reply-templates")
    def _preview(self) -> None:
        name, desk, case_id = self.template_name, self.desk, self.case.id
        if name is None:
            return
        self.draft = None
        self.load("reply-preview",
                  lambda: replies.preview(desk, case_id=case_id, template=name),
                  self._show_preview, failed=self._inline)

    def _show_preview(self, draft: replies.ReplyDraft) -> None:
        self.draft = draft
        self.query_one("#reply-error", Static).update("")
        kind = "transactional" if draft.transactional else "MARKETING"
        head = (f"To: {draft.to_address}\nSubject: {draft.subject}\n"
                f"Language: {draft.language} · {kind} · replying to "
                f"{draft.in_reply_to or '(no earlier message id)'}\n\n")
        self.query_one("#reply-preview", Static).update(lit(head + draft.body))

    def _inline(self, exc: Exception) -> bool:
        """Input errors (a placeholder without a value, a file that exists) stay in the dialog."""
        if not (isinstance(exc, Invalid) or (isinstance(exc, Conflict) and exc.field == "out")):
            return False
        self.query_one("#reply-error", Static).update(lit(exc.message))
        if exc.field != "out":
            self.query_one("#reply-preview", Static).update("")
        return True

    def action_save(self) -> None:
        name = self.template_name
        raw = self.query_one("#reply-out", Input).value.strip()
        if name is None or not raw:
            self.query_one("#reply-error", Static).update(
                lit("pick a template and give the file to write"))
            return
        out = Path(raw).expanduser()
        desk, case_id, version = self.desk, self.case.id, self.case.version
        self.load("reply-write",
                  lambda: replies.write(desk, case_id=case_id, template=name, out=out,
                                        expected_version=version),
                  self.dismiss, failed=self._inline)

    def action_copy(self) -> None:
        if self.draft is None:
            self.notify("Nothing to copy yet.", severity="warning", markup=False)
            return
        self.app.copy_to_clipboard(self.draft.body)
        self.notify("Reply text copied to the clipboard.", markup=False)


def _reply(app: DeskApp, detail: CaseDetail) -> None:
    def done(result: replies.WrittenReply | None) -> None:
        if result is None:
            return
        app.notify(f"Wrote {result.path}; recorded on case #{result.draft.case_id}.",
                   title="Reply", markup=False)
        app.changes += 1
        reload = getattr(app.screen, "action_reload", None)
        if callable(reload):
            reload()

    app.push_screen(ReplyDialog(detail), done)


# --- template list and editor ---------------------------------------------------------------------

class TemplatesScreen(DeskScreen[None]):
    """Every template in every language; Enter edits the highlighted one."""

    DEFAULT_CSS = """
    TemplatesScreen #templates-table { height: 1fr; }
    TemplatesScreen .screen-title { text-style: bold; padding: 0 1; }
    """
    BINDINGS = [
        Binding("enter,e", "edit", "Edit", id="templates.edit"),
        Binding("r", "reload", "Reload", id="templates.reload"),
        Binding("j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("k", "cursor_up", "Up", show=False, id="list.up"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.items: list[TemplateInfo] = []

    def compose(self) -> ComposeResult:
        yield Static("Reply templates", classes="screen-title")
        table: DataTable[object] = DataTable(id="templates-table", cursor_type="row")
        table.add_columns("Name", "Lang", "Kind", "Transactional", "Version", "Subject")
        yield table
        yield KeyBar()

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        desk = self.desk
        self.load("templates", lambda: templates.list_templates(desk), self._show)

    def _show(self, items: list[TemplateInfo]) -> None:
        self.items = items
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for t in items:
            table.add_row(cell(t.name), cell(t.language),
                          cell(t.kind.value if t.kind else "any"),
                          cell("yes" if t.transactional else "no (marketing)"),
                          cell(t.version), cell(t.subject))
        if items:
            table.move_cursor(row=min(row, len(items) - 1))
        table.focus()

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_edit()

    def action_edit(self) -> None:
        table = self.query_one(DataTable)
        if not self.items:
            return
        chosen = self.items[table.cursor_row]

        def saved(result: TemplateInfo | None) -> None:
            if result is not None:
                self.notify(f"Template '{result.name}' ({result.language}) saved.",
                            markup=False)
                self.action_reload()

        self.app.push_screen(TemplateEditor(chosen), saved)


class TemplateEditor(FormModal[TemplateInfo]):
    """Edit one language of a template; unknown placeholders are refused by the service."""

    DEFAULT_CSS = """
    TemplateEditor #f-body { height: 18; }
    TemplateEditor #editor-placeholders { width: 40; color: $text-muted; }
    TemplateEditor #form-box { width: 120; }
    """
    BINDINGS = [
        Binding("ctrl+s,f2", "save", "Save", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, template: TemplateInfo) -> None:
        super().__init__(classes="form")
        self.template = template

    def compose(self) -> ComposeResult:
        t = self.template
        with VerticalScroll(id="form-box"):
            yield Static(lit(f"Template {t.name} ({t.language}), version {t.version}   "
                             "ctrl+s save · Esc cancel"), classes="form-title")
            yield Input(t.subject, id="f-subject", compact=True)
            yield Static("", id="err-subject", classes="field-error")
            with Horizontal():
                yield TextArea(t.body, id="f-body")
                yield Static(lit("\n".join(f"${{{n}}}  {d}"
                                           for n, d in templates.PLACEHOLDERS.items())),
                             id="editor-placeholders")
            yield Static("", id="err-body", classes="field-error")
            yield Checkbox("transactional (crucial product or service information)",
                           t.transactional, id="f-transactional")
            yield Static("", id="err-form", classes="field-error")

    def on_mount(self) -> None:
        self.clear_errors()
        self.query_one("#f-body", TextArea).focus()

    def action_save(self) -> None:
        self.clear_errors()
        t, desk = self.template, self.desk
        subject = self.query_one("#f-subject", Input).value
        body = self.query_one("#f-body", TextArea).text
        transactional = self.query_one("#f-transactional", Checkbox).value
        self.load("save", lambda: templates.update(
            desk, name=t.name, language=t.language, subject=subject, body=body,
            transactional=transactional, expected_version=t.version),
            self.dismiss, failed=self.show_error)


# --- duplicates ---------------------------------------------------------------------------------

class DuplicatesScreen(DeskScreen[None]):
    """Customer records that look like one person; Enter opens the first of the pair, where
    ``M`` merges the second into it."""

    DEFAULT_CSS = """
    DuplicatesScreen #duplicates-table { height: 1fr; }
    DuplicatesScreen .screen-title { text-style: bold; padding: 0 1; }
    """
    BINDINGS = [
        Binding("enter", "open", "Open first", id="duplicates.open"),
        Binding("r", "reload", "Reload", id="duplicates.reload"),
        Binding("j", "cursor_down", "Down", show=False, id="list.down"),
        Binding("k", "cursor_up", "Up", show=False, id="list.up"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[merge.DuplicatePair] = []

    def compose(self) -> ComposeResult:
        yield Static("Possible duplicate customers (Enter opens the first; M there merges)",
                     classes="screen-title")
        table: DataTable[object] = DataTable(id="duplicates-table", cursor_type="row")
        table.add_columns("#", "Name", "E-mail", "#", "Name", "E-mail", "Why")
        yield table
        yield KeyBar()

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        desk = self.desk
        self.load("duplicates", lambda: merge.duplicates(desk), self._show)

    def _show(self, pairs: list[merge.DuplicatePair]) -> None:
        self.pairs = pairs
        table = self.query_one(DataTable)
        table.clear()
        for p in pairs:
            table.add_row(cell(p.first.id), cell(p.first.name), cell(p.first.primary_email),
                          cell(p.second.id), cell(p.second.name), cell(p.second.primary_email),
                          cell("; ".join(p.reasons)))
        table.focus()

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        if self.pairs:
            pair = self.pairs[self.query_one(DataTable).cursor_row]
            self.desk_app.open_customer(pair.first.id)


# --- customer merge -------------------------------------------------------------------------------

def _merge_dialog(app: DeskApp, detail: CustomerDetail) -> None:
    desk = app.desk

    def submit(values: dict[str, str]) -> merge.MergeResult:
        raw = values["other"].lstrip("#")
        if not raw.isdigit():
            raise Invalid("give the number of the other customer record", field="other")
        if values["confirm"] != MERGE_WORD:
            raise Invalid(f"type {MERGE_WORD} (capitals) to confirm the merge", field="confirm")
        return merge.merge(desk, keep_id=detail.id, other_id=int(raw),
                           keep_version=detail.version)

    def done(result: merge.MergeResult | None) -> None:
        if result is None:
            return
        moved = sum(result.moved.values())
        app.notify(f"Customer #{result.merged_id} merged in; {moved} records moved.",
                   title=f"Customer #{result.customer.id}", markup=False)
        app.changes += 1
        reload = getattr(app.screen, "action_reload", None)
        if callable(reload):
            reload()

    app.push_screen(CaseDialog(
        f"Merge another record of this person into customer #{detail.id}",
        (("other", "number of the other customer record"),
         ("confirm", f"type {MERGE_WORD} to confirm")),
        submit,  # type: ignore[arg-type]
        hint="Moves the other record's addresses, cases, consent history and disclosures here "
             "and removes it. An opt-out on either record stays. This cannot be undone."), done)


register(
    CaseAction(id="replies.reply", title="Reply", key="m",
               help="Write a reply from a template as a .eml file", run=_reply),
    CustomerAction(id="customers.merge", title="Merge", key="M",
                   help="Merge another record of the same person into this one",
                   run=_merge_dialog),
    DeskCommand(id="customers.duplicates", title="Duplicate customers", key="D",
                help="Customer records that look like the same person",
                open=lambda app: app.push_screen(DuplicatesScreen())),
    DeskCommand(id="templates.open", title="Reply templates", key="T",
                help="List and edit the reply templates",
                open=lambda app: app.push_screen(TemplatesScreen()), supervisor_only=True),
)
