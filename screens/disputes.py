"""Dispute and supervisor actions on the case view: advance a dispute's stage, open a dispute
about a case, escalate / de-escalate, override a deadline.

Each is a :class:`~screens.dialogs.FormDialog` whose save calls the service in a thread worker;
an input error stays in the dialog, the case view refreshes itself from the change it hears.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from helpdesk.domain import CaseKind, DisputeStage
from helpdesk.errors import Invalid
from helpdesk.services import disputes, parsing, supervisor
from helpdesk.services.readmodels import CaseDetail
from screens.dialogs import Field, FormDialog, FormValues, say_saved
from screens.replies import default_reply_path

if TYPE_CHECKING:
    from screens.app import DeskApp


def _saved(app: DeskApp, what: str) -> Callable[[CaseDetail | None], None]:
    return say_saved(app, lambda d: f"{what} (case #{d.case.id}).")


def advance_stage(app: DeskApp, detail: CaseDetail) -> None:
    """Move a dispute on: the next stage is preselected (only legal ones are offered), the
    outcome proposed earlier is filled in, and a stage that tells the customer (acknowledged,
    resolved) writes its letter in the same step — unless the letter went another way."""
    case = detail.case
    if case.kind is not CaseKind.DISPUTE or case.dispute_stage is None:
        app.notify(f"Case #{case.id} is not a dispute.", severity="warning", markup=False)
        return
    stages = disputes.next_stages(case.dispute_stage)
    desk = app.desk

    def submit(v: FormValues) -> CaseDetail:
        stage = v["stage"]
        if stage is None:
            raise Invalid("this dispute is finished: there is no next stage", field="stage")
        reference = v["reference"] or None
        letter = v["letter"] and stage in disputes.STAGE_LETTERS and reference is None
        return disputes.advance(
            desk, case_id=case.id, to=stage, note=v["note"] or None,
            outcome=v["outcome"].strip() or None, expected_version=case.version,
            letter_reference=reference, write_letter=letter,
            letter_out=Path(v["out"]).expanduser() if letter and v["out"] else None,
        )

    # named after the letter of the stage preselected: each step's letter gets its own file
    letter_name = disputes.STAGE_LETTERS.get(stages[0], "dispute-letter") if stages else ""

    def stage_label(stage: DisputeStage) -> str:
        letter = disputes.STAGE_LETTERS.get(stage)
        return f"{stage.label}  (sends the '{letter}' letter)" if letter else stage.label

    app.push_screen(FormDialog(
        f"Dispute #{case.id}: {case.dispute_stage.label}, move to",
        [Field.choice("stage", "Next stage", [(stage_label(s), s) for s in stages]),
         Field.text("note", "Note (optional)"),
         Field.area("outcome", "Outcome (proposed first; carried over to the resolution)",
                    detail.outcome or ""),
         Field.check("letter", "Write the stage's letter now and record it on the case", True),
         Field.text("out", "Write the letter (.eml) to (blank: record it on the case only)",
                    str(default_reply_path(case.id, letter_name))),
         Field.text("reference", "Or: the letter went another way (its reference; the desk "
                                 "then writes none)")],
        submit, name="disputes.advance", reload=lambda: app.open_case(case.id),
    ), _saved(app, "Dispute stage changed"))


def open_dispute(app: DeskApp, detail: CaseDetail) -> None:
    desk, case_id = app.desk, detail.case.id

    def opened(dispute: CaseDetail | None) -> None:
        if dispute is not None:
            app.open_case(dispute.case.id)

    app.push_screen(FormDialog(
        f"The customer disputes how case #{case_id} was handled",
        [Field.text("note", "What they dispute (internal note, optional)")],
        lambda v: disputes.open_dispute(desk, case_id=case_id, note=v["note"] or None,
                                        assign_to_me=True),
        hint="Opens a dispute case (90-day clock from now), assigned to you.",
        name="disputes.open",
    ), opened)


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
