"""Dispute and supervisor actions on the case view: advance a dispute's stage, open a dispute
about a case, escalate / de-escalate, override a deadline.

Each is a small dialog: fields take text, Ctrl+S saves, Escape cancels. The save runs in a thread
worker; an ``Invalid`` answer is shown in the dialog (it stays open), anything else (Forbidden,
Conflict with reload) goes to the desk's error display. The dialog answers with the new case
detail, or None when cancelled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from helpdesk.domain import CaseKind
from helpdesk.errors import Invalid
from helpdesk.services import disputes, supervisor
from helpdesk.services.readmodels import CaseDetail
from screens.base import DeskModal
from screens.registry import CaseAction, register
from screens.text import lit

if TYPE_CHECKING:
    from screens.app import DeskApp

#: (input id, placeholder) pairs a dialog asks for.
Fields = tuple[tuple[str, str], ...]
Submit = Callable[[dict[str, str]], CaseDetail]

_MESSAGE_REF = re.compile(r"^(?:message\s*)?#?(\d+)$", re.IGNORECASE)


class CaseDialog(DeskModal[CaseDetail | None]):
    """A titled form whose values go to ``submit`` (run off the UI thread) on Ctrl+S."""

    DEFAULT_CSS = """
    CaseDialog { align: center middle; }
    CaseDialog > Vertical {
        width: 76; height: auto; max-height: 90%; border: thick $accent; background: $surface;
        padding: 1 2;
    }
    CaseDialog .dialog-title { text-style: bold; }
    CaseDialog #error { color: $error; }
    CaseDialog OptionList { height: auto; max-height: 6; margin-bottom: 1; }
    """
    BINDINGS = [Binding("ctrl+s", "save", "Save", id="case_dialog.save")]

    def __init__(self, title: str, fields: Fields, submit: Submit, *, hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.fields = fields
        self.submit = submit
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(lit(self.title_text), classes="dialog-title")
            yield from self.extra()
            for field_id, placeholder in self.fields:
                yield Input(placeholder=placeholder, id=field_id)
            if self.hint:
                yield Static(lit(self.hint))
            yield Static("", id="error")
            yield Static("Ctrl+S save · Esc cancel")

    def extra(self) -> ComposeResult:
        """Widgets above the text fields (subclasses)."""
        yield from ()

    def values(self) -> dict[str, str]:
        return {f: self.query_one(f"#{f}", Input).value.strip() for f, _ in self.fields}

    def action_save(self) -> None:
        values = self.values()
        self.load("case-dialog", lambda: self.submit(values), self.dismiss, failed=self._inline)

    def _inline(self, exc: Exception) -> bool:
        """Input errors stay in the dialog, next to the field when it is one of ours."""
        if not isinstance(exc, Invalid):
            return False
        self.query_one("#error", Static).update(lit(exc.message))
        ids = {f for f, _ in self.fields}
        if exc.field in ids:
            self.query_one(f"#{exc.field}", Input).focus()
        return True

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self.action_save()


class AdvanceDialog(CaseDialog):
    """Pick the next stage (only legal ones are offered), with a note; resolving also asks for
    the outcome and the letter (an outbound message number, or a reference)."""

    def __init__(self, detail: CaseDetail, desk_submit: Callable[..., CaseDetail]) -> None:
        case = detail.case
        stage = case.dispute_stage
        super().__init__(
            f"Dispute #{case.id}: {stage.value if stage else '-'}, move to",
            (("note", "note (optional)"), ("outcome", "outcome (to resolve)"),
             ("letter", "letter: outbound message number, or a reference (to resolve)")),
            self._submit,
        )
        self.options = disputes.next_stages(stage) if stage else ()
        self.case_id = case.id
        self.version = case.version
        self.desk_submit = desk_submit

    def extra(self) -> ComposeResult:
        yield OptionList(*(Option(s.value.replace("_", " "), id=s.value) for s in self.options),
                         id="stage")

    def on_mount(self) -> None:
        if not self.options:
            self.query_one("#error", Static).update("This dispute is finished: no next stage.")
        self.query_one("#stage", OptionList).focus()

    @on(OptionList.OptionSelected, "#stage")
    def _stage_chosen(self) -> None:
        self.query_one("#note", Input).focus()

    def values(self) -> dict[str, str]:
        index = self.query_one("#stage", OptionList).highlighted
        chosen = self.options[index].value if index is not None and self.options else ""
        return {**super().values(), "stage": chosen}

    def _submit(self, values: dict[str, str]) -> CaseDetail:
        if not values["stage"]:
            raise Invalid("choose the next stage", field="stage")
        letter = values["letter"]
        ref = _MESSAGE_REF.match(letter)
        return self.desk_submit(
            case_id=self.case_id, to=values["stage"], note=values["note"] or None,
            outcome=values["outcome"] or None, expected_version=self.version,
            letter_message_id=int(ref.group(1)) if ref else None,
            letter_reference=None if ref or not letter else letter,
        )


def _after(app: DeskApp, what: str) -> Callable[[CaseDetail | None], None]:
    """Once a dialog saved: say so and let the case view show the new state."""

    def done(detail: CaseDetail | None) -> None:
        if detail is None:
            return
        app.changes += 1  # lists reload when they see this move
        app.notify(f"{what} (case #{detail.case.id}).", markup=False)
        reload = getattr(app.screen, "action_reload", None)  # the case view beneath
        if callable(reload):
            reload()

    return done


def advance_stage(app: DeskApp, detail: CaseDetail) -> None:
    if detail.case.kind is not CaseKind.DISPUTE:
        app.notify(f"Case #{detail.case.id} is not a dispute.", severity="warning")
        return
    desk = app.desk
    dialog = AdvanceDialog(detail, lambda **kw: disputes.advance(desk, **kw))
    app.push_screen(dialog, _after(app, "Dispute stage changed"))


def open_dispute(app: DeskApp, detail: CaseDetail) -> None:
    desk, case_id = app.desk, detail.case.id

    def submit(values: dict[str, str]) -> CaseDetail:
        return disputes.open_dispute(desk, case_id=case_id, note=values["note"] or None,
                                     assign_to_me=True)

    app.push_screen(
        CaseDialog(f"The customer disputes how case #{case_id} was handled",
                   (("note", "what they dispute (internal note, optional)"),), submit,
                   hint="Opens a dispute case (90-day clock from now), assigned to you."),
        _after(app, "Dispute opened"),
    )


def escalate_or_clear(app: DeskApp, detail: CaseDetail) -> None:
    desk, case = app.desk, detail.case
    call = supervisor.deescalate if case.escalated else supervisor.escalate
    verb = "De-escalate" if case.escalated else "Escalate"

    def submit(values: dict[str, str]) -> CaseDetail:
        return call(desk, case_id=case.id, note=values["note"] or None,
                    expected_version=case.version)

    app.push_screen(CaseDialog(f"{verb} case #{case.id}", (("note", "note (optional)"),),
                               submit), _after(app, f"{verb}d"))


def override_deadline(app: DeskApp, detail: CaseDetail) -> None:
    desk, case = app.desk, detail.case

    def submit(values: dict[str, str]) -> CaseDetail:
        try:
            new_due = date.fromisoformat(values["due"])
        except ValueError:
            raise Invalid("the new due date must look like 2026-03-31", field="due") from None
        return supervisor.override_deadline(desk, case_id=case.id, new_due=new_due,
                                            reason=values["reason"],
                                            expected_version=case.version)

    app.push_screen(
        CaseDialog(f"Override the deadline of case #{case.id} (due {case.due_date})",
                   (("due", "new last day on time, YYYY-MM-DD"), ("reason", "reason (required)")),
                   submit, hint="The policy deadline stays on record; missing it still shows "
                                "as a breach."),
        _after(app, "Deadline overridden"),
    )


register(
    CaseAction(id="disputes.advance", title="Dispute stage", key="t",
               help="Move a dispute to its next stage", run=advance_stage),
    CaseAction(id="disputes.open", title="Customer disputes this", key="y",
               help="Open a dispute about this case", run=open_dispute),
    CaseAction(id="cases.escalate", title="Escalate / de-escalate", key="E",
               help="Flag for a supervisor (supervisors clear it)", run=escalate_or_clear),
    CaseAction(id="cases.override", title="Override deadline", key="O",
               help="Record a justified deadline override", run=override_deadline,
               supervisor_only=True),
)
