"""Dispute and supervisor actions on the case view: advance a dispute's stage, open a dispute
about a case, escalate / de-escalate, override a deadline.

Each is a :class:`~screens.dialogs.FormDialog` whose save calls the service in a thread worker;
an input error stays in the dialog, the case view refreshes itself from the change it hears.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from helpdesk.domain import CaseKind
from helpdesk.errors import Invalid
from helpdesk.services import disputes, parsing, supervisor
from helpdesk.services.readmodels import CaseDetail
from screens.dialogs import Field, FormDialog, FormValues, say_saved
from screens.registry import CaseAction, register

if TYPE_CHECKING:
    from screens.app import DeskApp


def _saved(app: DeskApp, what: str) -> Callable[[CaseDetail | None], None]:
    return say_saved(app, lambda d: f"{what} (case #{d.case.id}).")


def advance_stage(app: DeskApp, detail: CaseDetail) -> None:
    """Pick the next stage (only legal ones are offered), with a note; resolving also asks for
    the outcome and the letter (an outbound message number, or a reference)."""
    case = detail.case
    if case.kind is not CaseKind.DISPUTE or case.dispute_stage is None:
        app.notify(f"Case #{case.id} is not a dispute.", severity="warning", markup=False)
        return
    stages = disputes.next_stages(case.dispute_stage)
    desk = app.desk

    def submit(v: FormValues) -> CaseDetail:
        if v["stage"] is None:
            raise Invalid("this dispute is finished: there is no next stage", field="stage")
        message_id, reference = parsing.message_ref(v["letter"])
        return disputes.advance(
            desk, case_id=case.id, to=v["stage"], note=v["note"] or None,
            outcome=v["outcome"] or None, expected_version=case.version,
            letter_message_id=message_id, letter_reference=reference,
        )

    app.push_screen(FormDialog(
        f"Dispute #{case.id}: {case.dispute_stage.value.replace('_', ' ')}, move to",
        [Field.choice("stage", "Next stage", [(s.value.replace("_", " "), s) for s in stages]),
         Field.text("note", "Note (optional)"),
         Field.text("outcome", "Outcome (to resolve)"),
         Field.text("letter", "Letter (to resolve): outbound message number, or a reference")],
        submit, name="disputes.advance",
    ), _saved(app, "Dispute stage changed"))


def open_dispute(app: DeskApp, detail: CaseDetail) -> None:
    desk, case_id = app.desk, detail.case.id
    app.push_screen(FormDialog(
        f"The customer disputes how case #{case_id} was handled",
        [Field.text("note", "What they dispute (internal note, optional)")],
        lambda v: disputes.open_dispute(desk, case_id=case_id, note=v["note"] or None,
                                        assign_to_me=True),
        hint="Opens a dispute case (90-day clock from now), assigned to you.",
        name="disputes.open",
    ), _saved(app, "Dispute opened"))


def escalate_or_clear(app: DeskApp, detail: CaseDetail) -> None:
    desk, case = app.desk, detail.case
    call = supervisor.deescalate if case.escalated else supervisor.escalate
    verb = "De-escalate" if case.escalated else "Escalate"
    app.push_screen(FormDialog(
        f"{verb} case #{case.id}", [Field.text("note", "Note (optional)")],
        lambda v: call(desk, case_id=case.id, note=v["note"] or None,
                       expected_version=case.version),
        name="cases.escalate",
    ), _saved(app, f"{verb}d"))


def override_deadline(app: DeskApp, detail: CaseDetail) -> None:
    desk, case = app.desk, detail.case

    def submit(v: FormValues) -> CaseDetail:
        new_due = parsing.required_day(v["due"], field="due", label="the new due date")
        return supervisor.override_deadline(desk, case_id=case.id, new_due=new_due,
                                            reason=v["reason"], expected_version=case.version)

    app.push_screen(FormDialog(
        f"Override the deadline of case #{case.id} (due {case.due_date})",
        [Field.text("due", "New last day on time", placeholder="YYYY-MM-DD"),
         Field.text("reason", "Reason (required)")],
        submit, name="cases.override",
        hint="The policy deadline stays on record; missing it still shows as a breach.",
    ), _saved(app, "Deadline overridden"))


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
