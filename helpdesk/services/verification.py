"""Requester verification: nobody's data leaves or changes on an impostor's letter.

An access, correction or deletion request releases or changes a person's data, and the From
line of an e-mail is written by the sender. So before the desk exports, corrects or erases,
the case records how the requester proved who they are:

* a reply from an address that was on file before the request came in, carrying the desk's
  code (the code goes out in the acknowledgement to that address; a forged From never sees
  it);
* an identity document seen, a letter to the postal address on file answered, or a call-back
  to the phone number on file, each recorded by the agent who did it;
* or a supervisor's override, with a reason.

Mail from an address not on file never verifies by its address alone, with or without the
code. Each verification is a case history entry (who, when, how, and any note) and an audit
event (ids and the method only).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from helpdesk.db.models import Agent, Case, CaseEvent, CustomerEmail, Message, RequestVerification
from helpdesk.domain import (
    VERIFIED_KINDS,
    CaseKind,
    MessageDirection,
    Role,
    VerificationMethod,
)
from helpdesk.errors import Forbidden, Invalid, NotFound
from helpdesk.services import audit
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import VerificationInfo
from helpdesk.services.validation import clean_text, normalize_email, parse_choice

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud and typed back
_CODE_LEN = 8
#: Methods an agent attests to; the e-mail code is checked against the thread instead.
ATTESTED = (VerificationMethod.IDENTITY_DOCUMENT, VerificationMethod.POSTAL_LETTER,
            VerificationMethod.PHONE_CALLBACK)


def required(kind: CaseKind | str) -> bool:
    return CaseKind(kind) in VERIFIED_KINDS


def _format(raw: str) -> str:
    return f"{raw[:4]}-{raw[4:]}"


def _squash(text: str) -> str:
    """Upper-case letters and digits only, so 'abcd efgh', 'ABCD-EFGH' and 'ABCDEFGH' match."""
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def _row(s: Session, case_id: int) -> RequestVerification | None:
    return s.exec(select(RequestVerification)
                  .where(RequestVerification.case_id == case_id)).first()


def code_for(s: Session, desk: Desk, case: Case) -> str | None:
    """The case's verification code, made when first needed (None for kinds that need none).

    Two desks making it at once agree: the second insert hits the unique case id and reads the
    first desk's code."""
    if not required(case.kind):
        return None
    row = _row(s, case.id or 0)
    if row is None:
        code = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_LEN))
        try:
            with s.begin_nested():
                s.add(RequestVerification(case_id=case.id or 0, code=code,
                                          code_created_at=desk.now()))
        except sa.exc.IntegrityError:
            pass
        row = _row(s, case.id or 0)
        assert row is not None
    return _format(row.code)


def info(s: Session, case: Case) -> VerificationInfo | None:
    """The case's verification state, for the case screen (None: its kind needs none)."""
    if not required(case.kind):
        return None
    row = _row(s, case.id or 0)
    by = s.get(Agent, row.verified_by_id) if row and row.verified_by_id else None
    return state(case, code_sent=row is not None, verified_at=row.verified_at if row else None,
                 method=row.method if row else None, verified_by=by.name if by else None)


def state(case: Case, *, code_sent: bool, verified_at: datetime | None, method: str | None,
          verified_by: str | None) -> VerificationInfo | None:
    """:func:`info` from values already read (opening a case reads them with the case)."""
    if not required(case.kind):
        return None
    return VerificationInfo(
        case_id=case.id or 0,
        verified=verified_at is not None,
        method=VerificationMethod(method) if method else None,
        verified_at=verified_at,
        verified_by=verified_by,
        code_sent=code_sent,
    )


def require_verified(s: Session, case: Case, *, action: str) -> None:
    """Refuse ``action`` (export, correction, erasure) until the case's requester is verified."""
    state = info(s, case)
    if state is None or state.verified:
        return
    raise Forbidden(
        f"case #{case.id} is not verified: the requester has not yet proven who they are, so "
        f"the {action} is refused. Record how with 'helpdesk case verify {case.id} --method "
        "…' (a reply with the code from the address on file, an identity document, a letter "
        "or a call-back), or a supervisor overrides with a reason"
    )


def _on_file(s: Session, case: Case) -> set[str]:
    """The customer's addresses that were on file before the request came in: an address the
    request itself brought, or one added to the profile since, proves nothing."""
    if case.customer_id is None:
        return set()
    return set(s.exec(select(CustomerEmail.normalized).where(
        CustomerEmail.customer_id == case.customer_id,
        col(CustomerEmail.created_at) < case.created_at)).all())


def _carries_code(s: Session, case: Case, row: RequestVerification,
                  message: Message) -> bool:
    if message.case_id != case.id or message.direction != MessageDirection.INBOUND:
        return False
    try:
        _, sender = normalize_email(message.from_address or "")
    except Invalid:
        return False
    if sender not in _on_file(s, case):
        return False  # a code from any other address proves nothing (it may be forwarded)
    return row.code in _squash(f"{message.subject or ''} {message.body or ''}")


def check_reply(s: Session, desk: Desk, case_id: int, message_id: int,
                actor: Agent | None) -> bool:
    """Verify the case when ``message`` (an inbound letter on it) comes from an address on
    file and carries the case's code; returns whether the case is verified now.

    For the mail importer, inside its unit of work, after it filed a reply on the case."""
    case = s.get(Case, case_id)
    message = s.get(Message, message_id)
    if case is None or message is None or not required(case.kind):
        return False
    row = _row(s, case_id)
    if row is None or row.verified_at is not None:
        return bool(row and row.verified_at)
    if not _carries_code(s, case, row, message):
        return False
    _mark(s, desk, case, row, actor, VerificationMethod.EMAIL_CODE, message_id=message_id,
          note=None)
    return True


def _mark(s: Session, desk: Desk, case: Case, row: RequestVerification, actor: Agent | None,
          method: VerificationMethod, *, message_id: int | None, note: str | None) -> None:
    row.method = method.value
    row.verified_at = desk.now()
    row.verified_by_id = actor.id if actor else None
    row.message_id = message_id
    s.add(row)
    s.add(CaseEvent(case_id=case.id or 0, at=desk.now(), actor_id=actor.id if actor else None,
                    action="verified", to_value=method.value, note=note))
    s.flush()
    audit.record(s, desk, actor, "case.verify", "case", case.id, method=method.value,
                 message_id=message_id)


def parse_method(value: VerificationMethod | str) -> VerificationMethod:
    if value == "override":
        return VerificationMethod.SUPERVISOR_OVERRIDE
    return parse_choice(VerificationMethod, value, what="verification method",
                        plural="methods", field="method")


def verify(
    desk: Desk, *, case_id: int, method: VerificationMethod | str, note: str | None = None,
) -> VerificationInfo:
    """Record how the requester of ``case_id`` was verified.

    ``email_code`` is checked, not taken on trust: an inbound letter on the case from an
    address on file must carry the code. The attested methods record the agent and their
    note (e.g. which document, which number was called). A supervisor's override needs the
    reason as ``note``. Verifying a verified case changes nothing.
    """
    chosen = parse_method(method)
    note = clean_text(note, field="note", multiline=True)
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR
                           if chosen is VerificationMethod.SUPERVISOR_OVERRIDE else None)
        case = s.get(Case, case_id, with_for_update=True)
        if case is None:
            raise NotFound(f"no case #{case_id}")
        if not required(case.kind):
            raise Invalid(f"case #{case_id} is a {CaseKind(case.kind).label} case: only access, "
                          "correction and deletion requests are verified", field="case")
        if chosen is VerificationMethod.SUPERVISOR_OVERRIDE and not note:
            raise Invalid("an override needs the reason (--reason)", field="note")
        code_for(s, desk, case)
        row = _row(s, case_id)
        assert row is not None
        if row.verified_at is None:
            message_id = None
            if chosen is VerificationMethod.EMAIL_CODE:
                message_id = _reply_with_code(s, case, row)
            _mark(s, desk, case, row, actor, chosen, message_id=message_id, note=note)
        state = info(s, case)
        assert state is not None
        return state


def _reply_with_code(s: Session, case: Case, row: RequestVerification) -> int:
    letters = s.exec(select(Message).where(
        Message.case_id == case.id, Message.direction == MessageDirection.INBOUND,
        col(Message.at) >= row.code_created_at).order_by(col(Message.at))).all()
    for message in letters:
        if _carries_code(s, case, row, message):
            return message.id or 0
    raise Invalid(
        f"no letter on case #{case.id} from an address on file carries its code; a reply from "
        "another address never verifies by itself: use another method (identity document, "
        "letter, call-back)", field="method")


def status(desk: Desk, *, case_id: int) -> VerificationInfo | None:
    with desk.db.session() as s:
        desk.check_actor(s)
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(f"no case #{case_id}")
        return info(s, case)
