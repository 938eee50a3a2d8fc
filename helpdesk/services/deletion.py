"""A deletion request from received to closed (policy Part III; the register of Parts II/IV).

One call does the whole flow, each step recorded on the case:

1. **erasure** of the customer under the case (:func:`helpdesk.services.erasure.erase`);
2. **letter**: the ``deletion_done`` reply to the person, quoting the policy part on archives and
   naming the backups that still hold them until they expire. It is rendered before the erasure
   and written inside the erasure's unit of work, the only moment the desk still knows the
   address and no longer holds anything else: the .eml goes out with the address, the case
   keeps the letter without the address and with the name erased;
3. **notices** to every recipient in the disclosure register: an .eml to the address the
   register gives, or, when it gives none, a checklist item naming the recipient to tell by
   hand. The notice names the person (the recipient must find the record); the case keeps it
   with the person's identifiers erased;
4. the case **closed**, once the erasure is complete and the letter and notices are recorded.

A step that cannot happen is named on the case (a ``deletion.left`` history entry) and in the
result; a file that cannot be written stops the flow before anything is erased. Letters and
notices need the person's address, so once a customer was erased outside this flow they can no
longer be written: the case says so, and an agent closes it by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from sqlmodel import Session, col, select

from helpdesk import files
from helpdesk.db.models import Agent, Case, CaseEvent, Customer, Disclosure, Erasure
from helpdesk.domain import CaseKind, CaseStatus
from helpdesk.errors import Invalid
from helpdesk.services import cases, erasure, replies, traces
from helpdesk.services.context import Desk
from helpdesk.services.templates import case_tag
from helpdesk.services.validation import normalize_email

LETTER_TEMPLATE = "deletion_done"
STEPS = ("erasure", "letter", "notices")
WRITTEN, BY_HAND = "written", "by hand"
_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+\.[^\s<>()\[\],;:\"']+")


@dataclass(frozen=True, slots=True)
class Notice:
    disclosure_id: int
    recipient: str
    state: str  # "written" (an .eml at ``path``) or "by hand" (a checklist item)
    path: str | None


@dataclass(frozen=True, slots=True)
class DeletionFlow:
    """Where a deletion request stands; ``left``: the steps still to do, in order."""

    case_id: int
    customer_id: int
    erasure_id: int | None
    erasure_status: str | None
    letter_message_id: int | None
    letter_path: str | None
    notices: tuple[Notice, ...]
    closed: bool
    left: tuple[str, ...]


def letter_path(folder: Path, case_id: int) -> Path:
    return folder / f"case-{case_id}-deletion-letter.eml"


def notice_path(folder: Path, case_id: int, disclosure_id: int) -> Path:
    return folder / f"case-{case_id}-notice-{disclosure_id}.eml"


def _recipient_address(recipient: str) -> str | None:
    """The e-mail address the register's recipient text gives, if any."""
    for candidate in _ADDRESS.findall(recipient):
        try:
            return normalize_email(candidate, field="recipient")[0]
        except Invalid:
            continue
    return None


def _request(s: Session, case_id: int) -> Case:
    case = cases.load(s, case_id)
    if case.kind != CaseKind.DELETION or case.customer_id is None:
        raise Invalid(f"case #{case_id} is not a deletion request with a customer", field="case")
    return case


def _state(s: Session, case: Case) -> DeletionFlow:
    customer_id = case.customer_id or 0
    events = s.exec(select(CaseEvent).where(
        CaseEvent.case_id == case.id,
        col(CaseEvent.action).in_(("deletion.letter", "deletion.notice")))
        .order_by(col(CaseEvent.id))).all()
    letter = next((e for e in events if e.action == "deletion.letter"), None)
    notices = {int((e.from_value or "0").removeprefix("disclosure ")): e
               for e in events if e.action == "deletion.notice"}
    register = s.exec(select(Disclosure.id).where(Disclosure.customer_id == customer_id)).all()
    ledger = s.exec(select(Erasure).where(Erasure.customer_id == customer_id)
                    .order_by(col(Erasure.id).desc()).limit(1)).first()
    customer = s.get(Customer, customer_id)
    erased = ledger is not None and customer is not None and customer.erased_at is not None
    done = {"erasure": erased and ledger is not None and ledger.status == erasure.COMPLETE,
            "letter": letter is not None,
            "notices": all(d in notices for d in register)}
    return DeletionFlow(
        case_id=case.id or 0, customer_id=customer_id,
        erasure_id=ledger.id if erased and ledger else None,
        erasure_status=ledger.status if erased and ledger else None,
        letter_message_id=int(letter.to_value or 0) if letter else None,
        letter_path=letter.note if letter else None,
        notices=tuple(Notice(disclosure_id=d, recipient=(e.to_value or "").split(": ", 1)[-1],
                             state=(e.to_value or "").split(": ", 1)[0], path=e.note)
                      for d, e in notices.items()),
        closed=CaseStatus(case.status).is_closed,
        left=tuple(step for step in STEPS if not done[step]))


def status(desk: Desk, *, case_id: int) -> DeletionFlow:
    """Where the deletion request ``case_id`` stands."""
    with desk.db.session() as s:
        desk.actor(s)
        return _state(s, _request(s, case_id))


def _notice_text(d: Disclosure, identity: traces.Identity, desk: Desk, case_id: int) -> str:
    addresses = ", ".join(identity.addresses) or "none on record"
    return "\n".join([
        "Dear colleagues,",
        "",
        f"On {d.disclosed_on.isoformat()} we disclosed to you, for {d.purpose} ({d.legal_basis}), "
        f"personal information of our customer {identity.name or '(no name on record)'} "
        f"(e-mail: {addresses}): {', '.join(d.data_categories)}.",
        "",
        "The customer asked us to delete their personal information and we have deleted it from "
        "our live database. Please delete the information we gave you, and let us know when "
        f"you have, quoting {case_tag(case_id)}.",
        "",
        "Kind regards,",
        f"The support desk ({desk.settings.mail_from})",
    ]) + "\n"


def _write_all(
    s: Session, desk: Desk, actor: Agent, case: Case, letter: replies.ReplyDraft,
    folder: Path, written: list[Path], ledger: Erasure, identity: traces.Identity,
) -> None:
    """Inside the erasure's unit of work: the letter and the notices, each recorded on the
    case without the person's identifiers."""
    words = identity.everything

    def kept(draft: replies.ReplyDraft, **changes: object) -> replies.ReplyDraft:
        return replace(draft, to_name=None, in_reply_to=None, references=(),
                       body=traces.scrub(draft.body, words),
                       subject=traces.scrub(draft.subject, words), **changes)

    body = letter.body
    for holding in erasure.backups_holding(ledger.steps):
        until = holding.keep_until.astimezone(desk.settings.tz).date().isoformat()
        body += (f"\nA backup copy of our database made on "
                 f"{holding.made_at.astimezone(desk.settings.tz).date().isoformat()} still "
                 f"holds your information until {until}, when it is deleted.\n")
    letter = replace(letter, body=body)
    out = letter_path(folder, case.id or 0)
    sent = replies.store(s, desk, actor, case, letter, out=out, files=written,
                         recorded=kept(letter, to_address=""), template=LETTER_TEMPLATE)
    s.add(CaseEvent(case_id=case.id, at=desk.now(), actor_id=actor.id,
                    action="deletion.letter", to_value=str(sent.message_row_id), note=str(out)))
    for d in s.exec(select(Disclosure).where(Disclosure.customer_id == case.customer_id)
                    .order_by(col(Disclosure.id))).all():
        recipient = traces.scrub(d.recipient, words)
        address = _recipient_address(recipient)
        path = None
        if address is not None:
            path = notice_path(folder, case.id or 0, d.id or 0)
            notice = replies.ReplyDraft(
                case_id=case.id or 0, template="deletion_notice", language="en",
                transactional=True, from_address=replies.desk_address(desk),
                to_address=address, to_name=None,
                subject=f"Please delete a customer's data we disclosed to you "
                        f"{case_tag(case.id or 0)}",
                body=_notice_text(d, identity, desk, case.id or 0), in_reply_to=None,
                references=())
            replies.store(s, desk, actor, case, notice, out=path, files=written,
                          recorded=kept(notice), disclosure_id=d.id)
        state = WRITTEN if path else BY_HAND
        s.add(CaseEvent(case_id=case.id, at=desk.now(), actor_id=actor.id,
                        action="deletion.notice", from_value=f"disclosure {d.id}",
                        to_value=f"{state}: {recipient}"[:200],
                        note=str(path) if path else None))


def complete(desk: Desk, *, case_id: int, folder: Path) -> DeletionFlow:
    """Run what is left of the deletion request ``case_id``; letters go to ``folder``."""
    folder = folder.expanduser()
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = _request(s, case_id)
        before = _state(s, case)
        draft = None
        if "erasure" in before.left and before.erasure_id is None:
            register = s.exec(select(Disclosure).where(
                Disclosure.customer_id == case.customer_id)).all()
            targets = [letter_path(folder, case_id)] + [
                notice_path(folder, case_id, d.id or 0) for d in register
                if _recipient_address(d.recipient)]
            for target in targets:  # before anything is erased
                files.check_target(target, field="out")
            draft, _ = replies.draft_template(s, desk, actor, case, LETTER_TEMPLATE, None)
    if "erasure" in before.left:
        hook = None
        if draft is not None:
            letter = draft

            def hook(s: Session, actor: Agent, ledger: Erasure,
                     identity: traces.Identity) -> None:
                _write_all(s, desk, actor, cases.load(s, case_id), letter, folder, written,
                           ledger, identity)

        with replies.kept_if_committed() as written:
            erasure.erase(desk, customer_id=before.customer_id, case_id=case_id,
                          before_commit=hook)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        case = cases.load(s, case_id, for_change=True)
        after = _state(s, case)
        if after.left and not after.closed:
            s.add(CaseEvent(case_id=case_id, at=desk.now(), actor_id=actor.id,
                            action="deletion.left", to_value=", ".join(after.left)))
    if not after.left and not after.closed:
        cases.set_status(desk, case_id=case_id, status=CaseStatus.CLOSED,
                         note=f"deletion done: erasure #{after.erasure_id}, letter and notices "
                              "recorded")
        after = replace(after, closed=True)
    return after
