"""Case view (thread, history, deadline; note, status, take, open customer) and new case form."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar
from zoneinfo import ZoneInfo

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

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
from screens.widgets import motion_bindings

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


@dataclass(frozen=True, slots=True)
class Block:
    """A part of the case view: its text (literal, already styled) and its ``kind``, which
    says how it is drawn: ``head``, ``section`` (a title), ``history``, ``plain`` (muted),
    or a message's direction (``inbound``, ``outbound``, ``note``)."""

    kind: str
    text: Text


#: Per kind: blank lines above, columns left empty. A bar marks the message kinds.
_LAYOUT: dict[str, tuple[int, int]] = {
    "head": (0, 0), "section": (1, 0), "history": (0, 0), "plain": (0, 0),
    "inbound": (1, 0), "outbound": (1, 4), "note": (1, 0),
}
MESSAGE_KINDS = frozenset({"inbound", "outbound", "note"})
_BAR = "▌"


class CaseView(ScrollView, can_focus=True):
    """The whole case (headline, thread, history) as one scrolling widget that draws only
    the lines in view (Textual's line API).

    A widget per message cost an open its composing, styling, a layout of every child and,
    as reused children changed height, a second layout and frame; the full rendering of each
    one in view; and the objects of all that for the garbage collector. Here an open wraps
    the text into lines and one layout places one widget of unchanged size.

    What lies below the first screens of a case being opened may come right after the first
    paint (``later`` of :meth:`show`); End (and ``G``) first builds what still waits, so it
    lands on the real end.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        *motion_bindings(down="scroll_down", up="scroll_up", first="scroll_home",
                         last="scroll_end"),
    ]
    DEFAULT_CSS = """
    CaseView { scrollbar-gutter: stable; overflow-x: hidden; }
    CaseView:focus { background: $accent 6%; }
    """
    #: The theme's colour of a message's bar, by direction.
    BARS: ClassVar[dict[str, str]] = {"inbound": "primary", "outbound": "success",
                                      "note": "warning"}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: What is shown, in order (what waits for the paint is not in it yet).
        self.blocks: list[Block] = []
        #: Makes the rest of the content, waiting for the next paint (see :meth:`show`).
        self.waiting: Callable[[], list[Block]] | None = None
        self._lines: list[tuple[str, Text]] = []  # (kind, one wrapped line) at _width
        self._width = 0
        # Per drawing pass (see render_lines): the styles of each kind's lines, of the bars.
        self._looks: dict[str, Style] = {}
        self._bars: dict[str, Style] = {}
        self._shown_width = 0

    def show(self, blocks: list[Block], later: Callable[[], list[Block]] | None = None) -> None:
        """Show ``blocks`` instead of what was there; ``later`` makes the blocks that follow
        them, right after the next paint or sooner when a key needs them."""
        self.blocks, self.waiting = [], later
        self._lines = []
        self._width = self._text_width()
        self._add(blocks)
        if later is not None:
            self.call_after_refresh(self.complete)

    def complete(self) -> None:
        """Add now what waits, if anything."""
        later, self.waiting = self.waiting, None
        if later is not None:
            self._add(later())

    def action_scroll_end(self) -> None:
        if self.waiting is None:
            super().action_scroll_end()
        else:  # (its scrollbar may come with what waits: Textual's action would refuse)
            self.complete()
            self.scroll_end()

    def on_resize(self, event: events.Resize) -> None:
        if self._text_width() != self._width:  # wrapped for another width: again
            blocks = self.blocks
            self.blocks, self._lines, self._width = [], [], self._text_width()
            self._add(blocks)

    def _text_width(self) -> int:
        """Columns for text: the pane's width (before its first layout: the screen's) less
        padding and the scrollbar, whose place is kept (so the width is the same whether
        the case needs it or not)."""
        width = self.size.width or self.app.size.width
        return max(width - self.styles.gutter.width - self.styles.scrollbar_size_vertical, 10)

    def _add(self, blocks: list[Block]) -> None:
        console = self.app.console
        for block in blocks:
            above, indent = _LAYOUT[block.kind]
            self._lines += [("", Text())] * above  # a margin
            bar = 3 if block.kind in MESSAGE_KINDS else 0  # the bar, and a column either side
            room = self._width - indent - bar
            self._lines += [(block.kind, line)
                            for line in block.text.wrap(console, max(room, 1), overflow="fold")]
        self.blocks += blocks
        self.virtual_size = Size(self._width, len(self._lines))
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        """Work out the styles of this drawing pass, then draw. The colours come from the
        theme's variables, not from component classes: Textual restyles those each time the
        screen comes back, a cost every open would pay."""
        base = self.rich_style  # (computed on each use: once here for all the lines)
        theme = self.app.theme_variables
        background = (Color.from_rich_color(base.bgcolor) if base.bgcolor is not None
                      else Color.parse(theme["background"]))
        tint = background + Color.parse(theme["warning"]).with_alpha(0.1)
        self._looks = {
            "head": base + Style(bold=True), "history": base, "plain": base + Style(dim=True),
            "section": base + Style(bold=True, color=Color.parse(theme["accent"]).rich_color),
            "note": base + Style(bgcolor=tint.rich_color), "inbound": base, "outbound": base,
        }
        self._bars = {kind: Style(color=Color.parse(theme[name]).rich_color)
                      for kind, name in self.BARS.items()}
        self._shown_width = self.scrollable_content_region.width
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width, looks = self._shown_width, self._looks
        index = self.scroll_offset.y + y
        kind, line = self._lines[index] if index < len(self._lines) else ("", Text())
        if not kind:  # a margin, or below the end
            return Strip.blank(width, looks["history"])
        style = looks[kind]
        segments = list(line.render(self.app.console))
        if kind in MESSAGE_KINDS:
            indent = _LAYOUT[kind][1]
            segments = [Segment(" " * indent), Segment(_BAR, self._bars[kind]), Segment(" "),
                        *segments]
        line_segments = Segment.adjust_line_length(list(Segment.apply_style(segments, style)),
                                                   width, style)
        return Strip(line_segments, width)


class CaseScreen(RecordScreen):
    """One case: what was said, what happened, and when it is due. Changes to it made
    anywhere (another desk, the CLI) show within seconds; the scroll position stays."""

    SLOT = "case"
    FOCUS = "#detail"
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
        yield CaseView(id="detail")

    def on_mount(self) -> None:  # (RecordScreen's shows the case, or loads it first)
        if self.detail is None:
            self.query_one(CaseView).show([Block("head", Text(f"Case #{self.case_id} — loading…"))])

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
        self.query_one(CaseView).scroll_to(y=0, animate=False, immediate=True)

    def show_detail(self, d: CaseDetail) -> None:
        """Show (again) ``d``; the scroll position stays.

        An open (nothing shown yet, or :meth:`present`) starts at the top: before its first
        paint it builds the messages that fill the first screens; the rest of the thread and
        the history, all off screen, follow right after that paint (``CaseView.show``).
        A long thread then opens as fast as a short one."""
        opening = self.detail is None or self.detail is d  # ``is d``: the first mount
        self.detail = d
        tz = self.desk.settings.tz
        view = self.query_one(CaseView)
        scroll = view.scroll_y
        now = first_screens(d.messages, self.app.size) if opening else len(d.messages)

        def rest() -> list[Block]:
            return [*(message_block(m, tz) for m in d.messages[now:]),
                    Block("section", Text("History")), Block("history", history_text(d, tz))]

        first = [Block("head", head_text(d, tz)), Block("section", Text("Thread")),
                 *(message_block(m, tz) for m in d.messages[:now])]
        if not d.messages:
            first.append(Block("plain", Text("no messages yet")))
        if now < len(d.messages):
            view.show(first, rest)
        else:
            view.show(first + rest())
            if not opening:  # (an open starts at the top: keys typed meanwhile, e.g. End, count)
                view.scroll_to(y=scroll, animate=False, immediate=True)
        self.sub_title = f"case #{d.case.id}"
        self.refresh_bindings()

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


def message_block(m: MessageInfo, tz: ZoneInfo) -> Block:
    """One message, literal, marked by its direction (inbound/outbound/note)."""
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
    return Block(m.direction.value, Text("\n").join([head, body]))


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
