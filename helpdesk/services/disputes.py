"""Disputes (policy Part VI): opening one about an earlier case, and walking it through its stages.

A dispute is a case of kind ``dispute`` whose ``dispute_stage`` moves along ``TRANSITIONS``. Every
move is a case event (who, when, note). The 90-day clock and its warning days are the case's
ordinary deadline (see :mod:`helpdesk.clock`); reaching ``resolved`` or ``withdrawn`` closes the
case, which is the only way a dispute closes.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from helpdesk.db.models import Case, Message
from helpdesk.domain import CaseKind, CaseStatus, DisputeStage, MessageDirection
from helpdesk.errors import Invalid, NotFound
from helpdesk.services import audit, cases
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import CaseDetail
from helpdesk.services.validation import clean_text

#: Legal next stages. A proposal the customer rejects goes back to investigating; a dispute may
#: be withdrawn at any point before it is resolved.
TRANSITIONS: dict[DisputeStage, tuple[DisputeStage, ...]] = {
    DisputeStage.RECEIVED: (DisputeStage.ACKNOWLEDGED, DisputeStage.WITHDRAWN),
    DisputeStage.ACKNOWLEDGED: (DisputeStage.INVESTIGATING, DisputeStage.WITHDRAWN),
    DisputeStage.INVESTIGATING: (DisputeStage.RESOLUTION_PROPOSED, DisputeStage.WITHDRAWN),
    DisputeStage.RESOLUTION_PROPOSED: (
        DisputeStage.RESOLVED,
        DisputeStage.INVESTIGATING,
        DisputeStage.WITHDRAWN,
    ),
    DisputeStage.RESOLVED: (),
    DisputeStage.WITHDRAWN: (),
}

#: Final stages and the case status each one closes the case with.
CLOSING_STATUS: dict[DisputeStage, CaseStatus] = {
    DisputeStage.RESOLVED: CaseStatus.RESOLVED,
    DisputeStage.WITHDRAWN: CaseStatus.CLOSED,
}

LETTER_REF_MAX = 200  # fits case_event.to_value


def next_stages(stage: DisputeStage | str) -> tuple[DisputeStage, ...]:
    """Where a dispute at ``stage`` may go next (empty once it is resolved or withdrawn)."""
    return TRANSITIONS[cases.parse_stage(stage)]


def open_dispute(
    desk: Desk,
    *,
    case_id: int | None = None,
    message_id: int | None = None,
    note: str | None = None,
    assign_to_me: bool = False,
) -> CaseDetail:
    """Open a dispute about an earlier case ("the customer disputes how we handled this").

    Give the case, or the customer's message that raises the dispute: then the 90-day clock runs
    from that message's receipt instead of from now. The new case links back to the disputed one
    and belongs to the same customer (even an erased one: the dispute is about our handling).
    """
    if (case_id is None) == (message_id is None):
        raise Invalid("give either the disputed case or the customer's message, not both")
    note = clean_text(note, field="note", multiline=True)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        received = desk.now()
        if message_id is not None:
            message = s.get(Message, message_id)
            if message is None:
                raise NotFound(f"no message #{message_id}")
            if message.case_id is None:
                raise Invalid(f"message #{message_id} is not on a case yet; file it on one first",
                              field="message")
            if message.direction != MessageDirection.INBOUND:
                raise Invalid(f"message #{message_id} is not from the customer", field="message")
            case_id = message.case_id
            received = message.at
        assert case_id is not None
        disputed = cases.load(s, case_id)
        if disputed.kind == CaseKind.DISPUTE:
            raise Invalid(f"case #{case_id} is itself a dispute; advance it instead",
                          field="case")
        dispute = cases.new_case(
            s, desk, actor, kind=CaseKind.DISPUTE, customer_id=disputed.customer_id,
            subject=f"Dispute about case #{case_id}", received_at=received,
            assignee_id=actor.id if assign_to_me else None, related_case_id=case_id,
        )
        if note:
            s.add(Message(case_id=dispute.id, direction=MessageDirection.NOTE, at=desk.now(),
                          body=note, author_id=actor.id))
        # The disputed case's history points at the dispute; its version is left alone so
        # whoever has it open can still save.
        cases._event(s, desk, disputed, actor, "disputed", to_value=f"case #{dispute.id}")
        audit.record(s, desk, actor, "dispute.open", "case", dispute.id,
                     related_case_id=case_id, message_id=message_id)
        return cases.detail(s, desk, dispute)


#: The letter each stage sends the customer (the desk writes it with the step).
STAGE_LETTERS: dict[DisputeStage, str] = {
    DisputeStage.ACKNOWLEDGED: "dispute_acknowledged",
    DisputeStage.RESOLVED: "dispute_resolved",
}


def advance(
    desk: Desk,
    *,
    case_id: int,
    to: DisputeStage | str,
    note: str | None = None,
    expected_version: int | None = None,
    outcome: str | None = None,
    letter_message_id: int | None = None,
    letter_reference: str | None = None,
    write_letter: bool = False,
    letter_out: Path | None = None,
) -> CaseDetail:
    """Move a dispute to its next stage.

    An outcome given at any stage is kept on the case, so the one proposed carries over to the
    resolution. Resolving needs that outcome and the letter telling the customer: the desk
    writes the stage's letter (:data:`STAGE_LETTERS`) with the step (``write_letter``; the .eml
    to ``letter_out`` when given), or it names one already sent: an outbound message on the
    case, or a reference to a letter sent another way. Resolving or withdrawing closes the case.
    """
    # Letters (templates, policy quotes, e-mail) load with the first move, not with the queues
    # that list the stages (the main screen imports this module on the way to the desk).
    from helpdesk.services import replies

    target = cases.parse_stage(to)
    note = clean_text(note, field="note", multiline=True)
    outcome = clean_text(outcome, field="outcome", multiline=True)
    letter_reference = clean_text(letter_reference, field="letter_reference")
    if letter_reference and len(letter_reference) > LETTER_REF_MAX:
        raise Invalid(f"letter reference is too long (at most {LETTER_REF_MAX} characters)",
                      field="letter_reference")
    if write_letter and target not in STAGE_LETTERS:
        raise Invalid(f"the {target.label} stage sends no letter", field="letter")
    with replies.kept_if_committed() as files, desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = cases.load_for_change(s, case_id, expected_version)
        if case.kind != CaseKind.DISPUTE or case.dispute_stage is None:
            raise Invalid(f"case #{case_id} is not a dispute", field="case")
        current = DisputeStage(case.dispute_stage)
        allowed = TRANSITIONS[current]
        if target not in allowed:
            options = ", ".join(st.label for st in allowed) or "none: the dispute is finished"
            raise Invalid(
                f"dispute #{case_id} cannot go from {current.label} to {target.label}; "
                f"next stages: {options}",
                field="stage",
            )
        outcome = outcome or case.outcome
        letter = None
        if target is DisputeStage.RESOLVED:
            if not outcome:
                raise Invalid("resolving a dispute needs its outcome", field="outcome")
            if not write_letter:
                letter = _letter(s, case, letter_message_id, letter_reference)
        elif letter_message_id is not None or letter_reference is not None:
            raise Invalid("only resolving a dispute records a letter sent another way",
                          field="letter")
        now = desk.now()
        case.dispute_stage = target
        case.updated_at = now
        case.outcome = outcome
        old_status = CaseStatus(case.status)
        new_status = CLOSING_STATUS.get(target) or (
            CaseStatus.OPEN if old_status is CaseStatus.NEW else old_status
        )
        if new_status is not old_status:
            case.status = new_status
            case.closed_at = now if new_status.is_closed else None
            cases._event(s, desk, case, actor, "status", old_status.value, new_status.value)
        cases._event(s, desk, case, actor, "stage", current.value, target.value, note)
        s.add(case)
        s.flush()
        if write_letter:  # rendered now: it states the stage and outcome just recorded
            written = replies.record(s, desk, actor, case, template=STAGE_LETTERS[target],
                                     out=letter_out, files=files)
            letter_message_id = written.message_row_id
            if target is DisputeStage.RESOLVED:
                letter = f"message #{letter_message_id}"
        if letter:
            cases._event(s, desk, case, actor, "resolution_letter", to_value=letter)
        s.flush()
        audit.record(s, desk, actor, "dispute.stage", "case", case.id, stage=target.value,
                     status=new_status.value, letter_message_id=letter_message_id)
        return cases.detail(s, desk, case)


def _letter(s: Session, case: Case, message_id: int | None, reference: str | None) -> str:
    """How a resolution letter sent before is recorded: ``message #N`` or ``ref: ...``."""
    if (message_id is None) == (reference is None):
        raise Invalid(
            "resolving a dispute needs the letter sent: let the desk write it now, or name "
            "one sent already (an outbound message on the case, or a reference to a letter "
            "sent another way; one of them)",
            field="letter",
        )
    if reference is not None:
        return f"ref: {reference}"
    message = s.get(Message, message_id)
    if message is None or message.case_id != case.id:
        raise Invalid(f"message #{message_id} is not on dispute #{case.id}", field="letter")
    if message.direction != MessageDirection.OUTBOUND:
        raise Invalid(f"message #{message_id} was not sent to the customer", field="letter")
    return f"message #{message_id}"
