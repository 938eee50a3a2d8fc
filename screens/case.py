"""Case view (thread, history, deadline; note, status, take, open customer) and new case form."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Input, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from helpdesk.domain import CaseKind, CaseStatus, MessageDirection
from helpdesk.services import cases
from helpdesk.services.readmodels import CaseDetail, MessageInfo
from screens import registry
from screens.base import DeskModal, DeskScreen, FormModal, KeyBar
from screens.text import BODY_LIMIT, clean, days_left_text, urgency, when

_DIRECTION = {
    MessageDirection.INBOUND: "⇐ from customer",
    MessageDirection.OUTBOUND: "⇒ to customer",
    MessageDirection.NOTE: "✎ internal note",
}


class CaseScreen(DeskScreen[None]):
    """One case: what was said, what happened, and when it is due."""

    BINDINGS = [
        Binding("n", "note", "Note", id="case.note"),
        Binding("s", "status", "Status", id="case.status"),
        Binding("a", "take", "Take", id="case.assign"),
        Binding("c", "customer", "Customer", id="case.customer"),
        Binding("r", "reload", "Reload", id="case.reload"),
    ]

    def __init__(self, case_id: int) -> None:
        super().__init__()
        self.case_id = case_id
        self.detail: CaseDetail | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield Static(f"Case #{self.case_id} — loading…", id="case-head", classes="headline")
            yield Static("Thread", classes="section")
            yield VerticalScroll(id="thread")
            yield Static("History", classes="section")
            yield Static("", id="history")
        yield KeyBar()

    def on_mount(self) -> None:
        for action in registry.CASE_ACTIONS:
            if action.key:
                self._bindings._add_binding(Binding(
                    action.key, f"extension({action.id!r})", action.title, id=action.id))
        self.action_reload()
        self.query_one("#detail").focus()

    def action_reload(self) -> None:
        self.load("case", lambda: cases.get(self.desk, self.case_id), self._show,
                  failed=self.gone)

    def _show(self, d: CaseDetail) -> None:
        self.detail = d
        c = d.case
        tz = self.desk.settings.tz
        head = Text()
        head.append(f"Case #{c.id}  {c.kind.label}  ", "bold")
        head.append(c.status.value.upper(), "reverse")
        if c.dispute_stage:
            head.append(f"  stage: {c.dispute_stage.value.replace('_', ' ')}")
        head.append("\nSubject   ", "dim")
        head.append_text(Text(clean(c.subject or "(no subject)", one_line=True, limit=500)))
        head.append("\nCustomer  ", "dim")
        head.append_text(Text(clean(c.customer_name or "none linked", one_line=True, limit=200)))
        if c.customer_id:
            head.append(f"  #{c.customer_id} (c opens)", "dim")
        head.append("\nAssignee  ", "dim")
        head.append_text(Text(clean(c.assignee_name or "unassigned", one_line=True)))
        head.append("\nReceived  ", "dim")
        head.append(when(c.received_at, tz))
        head.append("   Due ", "dim")
        head.append(f"{c.due_date.isoformat()} ({days_left_text(c.days_left, c.overdue)})",
                    urgency(c.days_left, c.overdue) or "bold")
        if c.policy_breach:
            head.append("  POLICY DEADLINE MISSED", "bold red")
        if d.override_due_at:
            head.append("\nDeadline overridden: ", "dim")
            head.append_text(Text(clean(d.override_reason or "", one_line=True, limit=300)))
        self.query_one("#case-head", Static).update(head)

        thread = self.query_one("#thread", VerticalScroll)
        thread.remove_children()
        thread.mount_all([message_widget(m, tz) for m in d.messages] or
                         [Static("no messages yet", classes="note-plain")])
        history = Text()
        for e in d.events:
            history.append(f"{when(e.at, tz)}  ")
            history.append_text(Text(clean(e.actor_name or "system", one_line=True)))
            history.append(f"  {e.action}")
            if e.from_value or e.to_value:
                history.append_text(Text(clean(f": {e.from_value or '-'} → {e.to_value or '-'}",
                                               one_line=True)))
            if e.note:
                history.append("  — ")
                history.append_text(Text(clean(e.note, one_line=True, limit=300)))
            history.append("\n")
        self.query_one("#history", Static).update(history)
        self.sub_title = f"case #{c.id}"

    # --- actions ----------------------------------------------------------------------------

    def _changed(self, detail: CaseDetail) -> None:
        self.desk_app.changes += 1
        self._show(detail)

    def action_note(self) -> None:
        if self.detail is None:
            return

        def written(body: str | None) -> None:
            if body:  # an append: it goes in whatever changed meanwhile (shown on reload)
                self.load("change", lambda: cases.add_note(
                    self.desk, case_id=self.case_id, body=body),
                    self._changed, reload=self.action_reload)

        self.app.push_screen(NoteDialog(), written)

    def action_status(self) -> None:
        if self.detail is None:
            return
        version = self.detail.case.version

        def chosen(status: CaseStatus | None) -> None:
            if status is not None:
                self.load("change", lambda: cases.set_status(
                    self.desk, case_id=self.case_id, status=status, expected_version=version),
                    self._changed, reload=self.action_reload)

        self.app.push_screen(StatusDialog(self.detail.case.status), chosen)

    def action_take(self) -> None:
        me = self.desk_app.me
        if self.detail is None or me is None:
            return
        version = self.detail.case.version
        self.load("change", lambda: cases.assign(
            self.desk, case_id=self.case_id, assignee=me.name, expected_version=version),
            self._changed, reload=self.action_reload)

    def action_customer(self) -> None:
        if self.detail and self.detail.case.customer_id:
            self.desk_app.open_customer(self.detail.case.customer_id)
        else:
            self.notify("No customer is linked to this case.", markup=False)

    def action_extension(self, action_id: str) -> None:
        action = next((a for a in registry.CASE_ACTIONS if a.id == action_id), None)
        if action is None or self.detail is None:
            return
        if action.supervisor_only and not self.desk_app.is_supervisor:
            self.notify("Only a supervisor may do this.", severity="warning", markup=False)
            return
        action.run(self.desk_app, self.detail)


def message_widget(m: MessageInfo, tz: ZoneInfo) -> Static:
    """One message, literal, marked by direction (CSS classes inbound/outbound/note)."""
    head = Text(f"{_DIRECTION[m.direction]}  {when(m.at, tz)}  ", "bold")
    who = m.author_name if m.direction is MessageDirection.NOTE else (
        m.from_address if m.direction is MessageDirection.INBOUND else m.to_address)
    head.append_text(Text(clean(who or "", one_line=True, limit=200)))
    if m.subject:
        head.append("\n")
        head.append_text(Text(clean(m.subject, one_line=True, limit=300), "italic"))
    for a in m.attachments:
        head.append(f"\n📎 {a.size:,} bytes ", "dim")
        head.append_text(Text(clean(a.filename or "unnamed", one_line=True, limit=120)))
    body = Text(clean(m.body if m.body is not None else "(body erased)", limit=BODY_LIMIT))
    return Static(Text("\n").join([head, body]), classes=f"message {m.direction.value}")


class NoteDialog(DeskModal[str]):
    """Write an internal note: ctrl+s saves, Escape discards."""

    BINDINGS = [
        Binding("ctrl+s,f2", "save", "Save", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="form")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form-box"):
            yield Static("Internal note (never sent)   ctrl+s save · Esc cancel",
                         classes="form-title")
            yield TextArea(id="note-body")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_save(self) -> None:
        body = self.query_one(TextArea).text
        if body.strip():
            self.dismiss(body)
        else:
            self.notify("A note needs some text.", severity="warning", markup=False)


class StatusDialog(DeskModal[CaseStatus]):
    """Pick a status with the arrows (or j/k) and Enter."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel")]

    def __init__(self, current: CaseStatus) -> None:
        super().__init__(classes="form")
        self.current = current

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form-box"):
            yield Static("Change status   Enter picks · Esc cancels", classes="form-title")
            yield OptionList(*(Option(s.value + (" (current)" if s is self.current else ""),
                                      id=s.value) for s in CaseStatus), id="statuses")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = list(CaseStatus).index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(CaseStatus(event.option.id))


class NewCaseForm(FormModal[CaseDetail]):
    """Open a case, optionally for a customer; ctrl+s creates it."""

    BINDINGS = [
        Binding("ctrl+s,f2", "save", "Save", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, customer_id: int | None = None) -> None:
        super().__init__(classes="form")
        self.customer_id = customer_id

    def compose(self) -> ComposeResult:
        whom = f"for customer #{self.customer_id}" if self.customer_id else "(no customer yet)"
        with VerticalScroll(id="form-box"):
            yield Static(f"New case {whom}   ctrl+s save · Esc cancel", classes="form-title")
            yield Select([(k.label, k.value) for k in CaseKind], value=CaseKind.QUESTION.value,
                         allow_blank=False, id="f-kind", compact=True)
            yield Static("", id="err-kind", classes="field-error")
            yield Input(placeholder="subject", id="f-subject", compact=True)
            yield Static("", id="err-subject", classes="field-error")
            yield Static("First note (optional)", classes="form-hint")
            yield TextArea(id="f-note")
            yield Static("", id="err-form", classes="field-error")

    def on_mount(self) -> None:
        self.clear_errors()
        self.query_one("#f-subject", Input).focus()

    def action_save(self) -> None:
        self.clear_errors()
        kind = str(self.query_one("#f-kind", Select).value)
        subject = self.query_one("#f-subject", Input).value or None
        note = self.query_one("#f-note", TextArea).text or None
        desk, customer_id = self.desk, self.customer_id
        self.load("save", lambda: cases.create(desk, kind=kind, customer_id=customer_id,
                                               subject=subject, note=note),
                  self.dismiss, failed=self.show_error)
