"""Case view (thread, history, deadline; note, status, take, open customer) and new case form."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.widget import AwaitMount
from textual.widgets import Static

from helpdesk.domain import CaseKind, CaseStatus, MessageDirection, VerificationMethod
from helpdesk.errors import Invalid
from helpdesk.services import cases, changes, customers, verification
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import (
    CaseDetail,
    FieldChangeInfo,
    MessageInfo,
    VerificationInfo,
)
from screens.base import DeskChanged, RecordScreen
from screens.dialogs import Field, FormDialog, FormValues, SearchDialog
from screens.text import BODY_LIMIT, clean, days_left_text, urgency, when
from screens.widgets import DetailScroll

#: Matches the link dialog lists (refine the search for more).
LINK_MATCHES = 20

#: How much of a thread an open builds before its first paint: the messages that fill this
#: many screens (one on screen, one for a Page Down right away); the rest follows the paint.
FIRST_SCREENS = 2

_DIRECTION = {
    MessageDirection.INBOUND: "⇐ from customer",
    MessageDirection.OUTBOUND: "⇒ to customer",
    MessageDirection.NOTE: "✎ internal note",
}


class CaseScreen(RecordScreen):
    """One case: what was said, what happened, and when it is due. Changes to it made
    anywhere (another desk, the CLI) show within seconds; the scroll position stays."""

    SLOT = "case"
    AUTO_FOCUS = "#detail"
    BINDINGS = [
        Binding("n", "note", "Note", id="case.note"),
        Binding("s", "status", "Status", id="case.status"),
        Binding("a", "take", "Take", id="case.assign"),
        Binding("c", "customer", "Customer", id="case.customer"),
        Binding("v", "verify", "Verify requester", id="case.verify"),
        Binding("r", "reload", "Reload", id="case.reload"),
    ]

    detail: CaseDetail | None

    @property
    def case_id(self) -> int:
        return self.record_id

    def compose(self) -> ComposeResult:
        self.thread_items: list[Static] = []  # the thread's widgets, in order (see show_thread)
        with DetailScroll(id="detail"):
            yield Static(f"Case #{self.case_id} — loading…", id="case-head", classes="headline")
            yield Static("Thread", classes="section")
            yield Vertical(id="thread")
            yield Static("History", classes="section")
            yield Static("", id="history")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "verify":  # only requests that wait for it, until they have it
            v = self.detail.verification if self.detail else None
            return v is not None and not v.verified
        return super().check_action(action, parameters)

    def action_reload(self) -> None:
        self.load("case", lambda: cases.get(self.desk, self.case_id), self.show_detail,
                  failed=self.gone)

    def desk_changed(self, event: DeskChanged) -> None:
        if not event.touches("case", [self.case_id]):
            return
        shown = self.detail.case.version if self.detail else None
        self.load("case-version", lambda: changes.versions(self.desk, "case", [self.case_id]),
                  lambda found: self._show_version(found.get(self.case_id), shown))

    def _show_version(self, version: int | None, shown: int | None) -> None:
        current = self.detail.case.version if self.detail else None
        if version is None or version not in (shown, current):
            self.action_reload()

    def present(self, record_id: int, detail: CaseDetail) -> None:
        self.detail = None  # another open: it starts at the top, nothing is kept from the last
        super().present(record_id, detail)

    def show_detail(self, d: CaseDetail) -> None:
        """Show (again) ``d``; the scroll position stays.

        An open (nothing shown yet, or :meth:`present`) starts at the top: before its first
        paint it builds the messages that fill the first screens; the rest of the thread and
        the history, all off screen, follow right after that paint (``DetailScroll.defer``).
        A long thread then opens as fast as a short one."""
        opening = self.detail is None or self.detail is d  # ``is d``: the first mount
        self.detail = d
        tz = self.desk.settings.tz
        self.query_one("#case-head", Static).update(head_text(d, tz))
        detail = self.query_one("#detail", DetailScroll)
        scroll = detail.scroll_y
        history = self.query_one("#history", Static)
        now = first_screens(d.messages, self.app.size) if opening else len(d.messages)
        with self.app.batch_update():
            self.show_thread([message_content(m, tz) for m in d.messages[:now]]
                             or [(Text("no messages yet"), "note-plain")])
            history.update(history_text(d, tz) if now == len(d.messages) else "")
        if now < len(d.messages):
            def rest() -> AwaitMount:
                history.update(history_text(d, tz))
                return self.show_thread([message_content(m, tz) for m in d.messages[now:]],
                                        start=now)
            detail.defer(rest)
        else:
            detail.defer(None)  # a rest still waiting is of what was shown before
        if not opening:  # (an open starts at the top: keys typed meanwhile, e.g. End, count)
            detail.call_after_refresh(detail.scroll_to, y=scroll, animate=False)
        self.sub_title = f"case #{d.case.id}"
        self.refresh_bindings()

    def show_thread(self, parts: list[tuple[Text, str]], *, start: int = 0) -> AwaitMount:
        """Show ``parts`` (content and CSS classes, a Static each) in the thread from position
        ``start`` on. The widgets already there take the new content, which costs far less
        than new ones (building, styling, mounting); those left over go, missing ones are
        mounted. ``thread_items`` tracks them: a removal finishes later, so the thread's
        children may still hold widgets on their way out."""
        thread = self.query_one("#thread", Vertical)
        kept = self.thread_items[start:]
        for widget, (content, classes) in zip(kept, parts, strict=False):
            widget.update(content)
            widget.set_classes(classes)
        if len(kept) > len(parts):
            thread.remove_children(kept[len(parts):])
        new = [Static(content, classes=classes) for content, classes in parts[len(kept):]]
        self.thread_items[start:] = kept[:len(parts)] + new
        return thread.mount_all(new)

    # --- actions ----------------------------------------------------------------------------

    def action_note(self) -> None:
        if self.detail is not None:
            self.app.push_screen(note_form(self.desk, self.detail), self._changed)

    def action_status(self) -> None:
        if self.detail is not None:
            self.app.push_screen(status_form(self.desk, self.detail, reload=self.action_reload),
                                 self._changed)

    def _changed(self, detail: CaseDetail | None) -> None:
        if detail is not None:
            self.show_detail(detail)

    def action_take(self) -> None:
        if self.detail is None:
            return

        def refused(exc: Exception) -> bool:
            self.action_reload()  # show who has it now (the app says so)
            return False

        self.change("change", lambda: cases.take(self.desk, case_id=self.case_id), self.show_detail,
                    failed=refused)

    def action_verify(self) -> None:
        if self.detail is not None:
            self.app.push_screen(verify_form(self.desk, self.detail,
                                             supervisor=self.desk_app.is_supervisor),
                                 self._changed)

    def action_customer(self) -> None:
        """Open the case's customer; with none linked yet, find and link one."""
        if self.detail is None:
            return
        if self.detail.case.customer_id:
            self.desk_app.open_customer(self.detail.case.customer_id)
        else:
            self.app.push_screen(link_form(self.desk, self.detail), self._changed)


def head_text(d: CaseDetail, tz: ZoneInfo) -> Text:
    """The case's headline: kind, status, stage, subject, customer, assignee, dates."""
    c = d.case
    head = Text()
    head.append(f"Case #{c.id}  {c.kind.label}  ", "bold")
    head.append(c.status.value.upper(), "reverse")
    if c.dispute_stage:
        head.append(f"  stage: {c.dispute_stage.label}")
    head.append("\nSubject   ", "dim")
    head.append_text(Text(clean(c.subject or "(no subject)", one_line=True, limit=500)))
    head.append("\nCustomer  ", "dim")
    head.append_text(Text(clean(c.customer_name or "none linked", one_line=True, limit=200)))
    head.append(f"  #{c.customer_id} (c opens)" if c.customer_id else "  (c links one)", "dim")
    head.append("\nAssignee  ", "dim")
    head.append_text(Text(clean(c.assignee_name or "unassigned", one_line=True)))
    head.append("\nReceived  ", "dim")
    head.append(when(c.received_at, tz))
    if d.received_by:
        head.append(f" ({d.received_by})", "dim")
    head.append("   Due ", "dim")
    head.append(f"{c.due_date.isoformat()} ({days_left_text(c.days_left, c.overdue)})",
                urgency(c.days_left, c.overdue) or "bold")
    if c.policy_breach:
        head.append("  PROMISED DEADLINE MISSED", "bold red")
    if c.flags:
        head.append("\nIntake    ", "dim")
        head.append(", ".join(c.flags), "bold yellow")
    head.append("\nPolicy    ", "dim")
    head.append_text(Text(clean(d.policy_version_label or d.policy_note or "-", one_line=True)))
    head.append(f"  (rule: {d.due_rule})", "dim")
    if d.override_due_at:
        head.append("\nDeadline overridden: ", "dim")
        head.append_text(Text(clean(d.override_reason or "", one_line=True, limit=300)))
    if d.verification is not None:
        head.append("\nRequester ", "dim")
        head.append_text(verification_text(d.verification, tz))
    return head


def first_screens(messages: Sequence[MessageInfo], size: Size) -> int:
    """How many of ``messages`` fill :data:`FIRST_SCREENS` screens of ``size``, counting their
    lines generously (wrapped at the full width, so rather one more than one too few)."""
    budget = size.height * FIRST_SCREENS
    width = max(size.width, 20)
    for count, m in enumerate(messages, 1):
        body = (m.body or "")[:BODY_LIMIT]
        budget -= (2 + bool(m.cc_address) + bool(m.subject) + len(m.attachments)
                   + sum(1 + len(line) // width for line in body.split("\n")))
        if budget <= 0:
            return count
    return len(messages)


def verification_text(v: VerificationInfo, tz: ZoneInfo) -> Text:
    if not v.verified or v.method is None:
        return Text("NOT VERIFIED: export, correction and erasure wait for it (v)", "bold")
    out = Text(f"verified: {v.method.label}", "bold")
    out.append(f", {when(v.verified_at, tz) if v.verified_at else ''} by ")
    out.append_text(Text(clean(v.verified_by or "the desk (reply with the code)", one_line=True)))
    return out


def history_text(d: CaseDetail, tz: ZoneInfo) -> Text:
    history = Text()
    for e in d.events:
        history.append(f"{when(e.at, tz)}  ")
        history.append_text(Text(clean(e.actor_name or "system", one_line=True)))
        history.append(f"  {e.action}")
        if e.from_value or e.to_value:
            history.append_text(Text(clean(f": {e.from_shown or '-'} → {e.to_shown or '-'}",
                                           one_line=True)))
        if e.note:
            history.append("  — ")
            history.append_text(Text(clean(e.note, one_line=True, limit=300)))
        history.append("\n")
    if d.corrections:
        history.append("\nChanges to the customer's record under this case\n", "bold")
        history.append_text(changes_text(d.corrections, tz))
    return history


def changes_text(changes: tuple[FieldChangeInfo, ...], tz: ZoneInfo) -> Text:
    """A record's change history: when, field, old → new, by whom, under which case."""
    out = Text()
    for c in changes:
        out.append(f"{when(c.at, tz)}  {c.field.replace('_', ' ')}: ")
        for i, value in enumerate((c.old_value, c.new_value)):
            if i:
                out.append(" → ")
            if c.values_erased:
                out.append("(erased)", "dim")
            elif value is None:
                out.append("(empty)", "dim")
            else:
                out.append_text(Text(clean(value, one_line=True, limit=300)))
        out.append("  by ", "dim")
        out.append_text(Text(clean(c.agent_name or "-", one_line=True)))
        if c.case_id:
            out.append(f", case #{c.case_id}", "dim")
        out.append("\n")
    return out


def message_content(m: MessageInfo, tz: ZoneInfo) -> tuple[Text, str]:
    """One message, literal, and its CSS classes (marked by direction: inbound/outbound/note)."""
    head = Text(f"{_DIRECTION[m.direction]}  {when(m.at, tz)}  ", "bold")
    who = m.author_name if m.direction is MessageDirection.NOTE else (
        m.from_address if m.direction is MessageDirection.INBOUND else m.to_address)
    head.append_text(Text(clean(who or "", one_line=True, limit=200)))
    head.append(f"  (message #{m.id})", "dim")
    if m.cc_address:
        head.append("\nCc ", "dim")
        head.append_text(Text(clean(m.cc_address, one_line=True, limit=300)))
    if m.subject:
        head.append("\n")
        head.append_text(Text(clean(m.subject, one_line=True, limit=300), "italic"))
    for a in m.attachments:  # listed, never rendered: save one with the attachments key
        head.append(f"\n📎 #{a.id} {clean(a.content_type, one_line=True, limit=80)}, "
                    f"{a.size:,} bytes ", "dim")
        head.append_text(Text(clean(a.filename or "unnamed", one_line=True, limit=120)))
    body = Text(clean(m.body if m.body is not None else "(body erased)", limit=BODY_LIMIT))
    return Text("\n").join([head, body]), f"message {m.direction.value}"


# --- forms ---------------------------------------------------------------------------------------

def note_form(desk: Desk, detail: CaseDetail) -> FormDialog[CaseDetail]:
    """An internal note on the case: an append, so it goes in whatever changed meanwhile."""
    case_id = detail.case.id
    return FormDialog(
        f"Internal note on case #{case_id} (never sent)", [Field.area("note", "Note")],
        lambda v: cases.add_note(desk, case_id=case_id, body=v["note"]), name="case.note",
    )


def verify_form(desk: Desk, detail: CaseDetail, *, supervisor: bool) -> FormDialog[CaseDetail]:
    """How the requester proved who they are, from a picker; a supervisor may also override
    (the note is then the reason). A reply with the code is checked against the thread."""
    case_id = detail.case.id
    methods = [VerificationMethod.EMAIL_CODE, *verification.ATTESTED]
    if supervisor:
        methods.append(VerificationMethod.SUPERVISOR_OVERRIDE)

    def submit(v: FormValues) -> CaseDetail:
        verification.verify(desk, case_id=case_id, method=v["method"], note=v["note"] or None)
        return cases.get(desk, case_id)

    return FormDialog(
        f"Verify the requester of case #{case_id}",
        [Field.choice("method", "How did they prove who they are?",
                      [(m.label, m) for m in methods], VerificationMethod.EMAIL_CODE),
         Field.area("note", "Note: what was checked (for an override: the reason)")],
        submit, name="case.verify",
        hint="Export, correction and erasure wait for this. A reply from an address not on "
             "file never counts, whatever it says.",
    )


def status_form(desk: Desk, detail: CaseDetail, *,
                reload: Callable[[], None] | None = None) -> FormDialog[CaseDetail]:
    """Pick a status (Enter picks and saves); decided on a stale copy, it offers ``reload``."""
    case = detail.case
    return FormDialog(
        f"Status of case #{case.id}",
        [Field.choice("status", "Status",
                      [(s.value + (" (current)" if s is case.status else ""), s)
                       for s in CaseStatus], case.status)],
        lambda v: cases.set_status(desk, case_id=case.id, status=v["status"],
                                   expected_version=case.version),
        name="case.status", reload=reload,
    )


def link_form(desk: Desk, detail: CaseDetail) -> SearchDialog[CaseDetail]:
    """Find the customer the case is about and link it (Enter on a match saves)."""
    case = detail.case

    def search(text: str) -> list[tuple[str, int]]:
        found = customers.find(desk, text, limit=LINK_MATCHES)
        return [(f"#{c.id}  {c.name or '(erased)'}  {c.primary_email or ''}  {c.company or ''}"
                 .rstrip(), c.id) for c in found]

    def submit(v: FormValues) -> CaseDetail:
        if v["pick"] is None:
            raise Invalid("type part of the customer's name, e-mail, company or phone, then "
                          "pick them", field="find")
        return cases.link_customer(desk, case_id=case.id, customer_id=v["pick"],
                                   expected_version=case.version)

    return SearchDialog(f"Link case #{case.id} to its customer", search, submit,
                        label="Find the customer (name, e-mail, company or phone)",
                        name="case.link")


def new_case_form(desk: Desk, customer_id: int | None = None) -> FormDialog[CaseDetail]:
    """Open a case, optionally for a customer."""
    whom = f"for customer #{customer_id}" if customer_id else "(no customer yet)"
    return FormDialog(
        f"New case {whom}",
        [Field.choice("kind", "Kind", [(k.label, k) for k in CaseKind], CaseKind.QUESTION),
         Field.text("subject", "Subject"),
         Field.area("note", "First note (optional)")],
        lambda v: cases.create(desk, kind=v["kind"], customer_id=customer_id,
                               subject=v["subject"] or None, note=v["note"] or None),
        name="case.new",
    )
