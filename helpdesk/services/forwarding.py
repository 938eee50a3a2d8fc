"""Forwarding a message of a case (to legal, to a colleague) as a new .eml.

The forward is a message of its own: the desk's address as sender, the agent's note on top,
then the original's headers and text, and the attachments the desk kept. It is written as a
private file (0600, never over an existing one) for the agent's mail client, and recorded on the
case as an outbound message (so erasure reaches its copy of the person's words like any other)
with a history entry naming the forwarded message; the audit trail counts recipients, never
names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlmodel import Session, col, select

from helpdesk import files
from helpdesk.db.models import Attachment, CaseEvent, Message, touch
from helpdesk.domain import MessageDirection
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import audit, cases, replies
from helpdesk.services.attachments import safe_name
from helpdesk.services.context import Desk
from helpdesk.services.replies import kept_if_committed
from helpdesk.services.templates import case_tag
from helpdesk.services.validation import clean_text

SEPARATOR = "---------- Forwarded message ----------"


@dataclass(frozen=True, slots=True)
class Forwarded:
    case_id: int
    forwarded_message_id: int  # the message forwarded
    message_row_id: int  # the forward, recorded on the case
    message_id: str  # its Message-ID header
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    attachments: int
    path: str | None
    eml: bytes


def _original(s: Session, message_id: int) -> Message:
    row = s.get(Message, message_id)
    if row is None or row.case_id is None:
        raise NotFound(f"no message #{message_id} on a case")
    if row.redacted_at is not None:
        raise Conflict(f"message #{message_id} was erased; there is nothing left to forward")
    return row


def _text(note: str | None, m: Message) -> str:
    head = [SEPARATOR, f"From: {m.from_address or '-'}",
            f"Date: {format_datetime(m.at)}", f"Subject: {m.subject or '-'}",
            f"To: {m.to_address or '-'}"]
    if m.cc_address:
        head.append(f"Cc: {m.cc_address}")
    parts = ([note, ""] if note else []) + head + ["", m.body or ""]
    return "\n".join(parts).rstrip("\n") + "\n"


def forward(
    desk: Desk,
    *,
    message_id: int,
    to: Sequence[str],
    cc: Sequence[str] = (),
    note: str | None = None,
    out: Path | None = None,
) -> Forwarded:
    """Forward message ``message_id`` of a case to ``to`` (and ``cc``) as a new .eml, written to
    ``out`` when given, and record it on the case."""
    recipients = replies.clean_cc(to)
    if not recipients:
        raise Invalid("name at least one address to forward to", field="to")
    copies = tuple(c for c in replies.clean_cc(cc) if c[1] not in {k for _, k in recipients})
    text_note = clean_text(note, field="note", multiline=True)
    with kept_if_committed() as written, desk.db.session(write=True) as s:
        actor = desk.actor(s)
        original = _original(s, message_id)
        case = cases.load(s, original.case_id or 0)
        sender = replies.desk_address(desk)
        subject = " ".join(f"Fwd: {original.subject or '(no subject)'}".split())
        if case_tag(case.id or 0) not in subject:
            subject = f"{subject} {case_tag(case.id or 0)}"
        body = _text(text_note, original)
        now = desk.now()
        new_id = make_msgid(domain=sender.rpartition("@")[2])
        msg = EmailMessage(policy=email_policy.default)
        msg["Message-ID"] = new_id
        msg["Date"] = format_datetime(now)
        msg["From"] = replies.mail_address(sender)
        msg["To"] = [replies.mail_address(shown) for shown, _ in recipients]
        if copies:
            msg["Cc"] = [replies.mail_address(shown) for shown, _ in copies]
        msg["Subject"] = subject
        if original.message_id:
            msg["References"] = original.message_id
        msg.set_content(body, charset="utf-8")
        kept = s.exec(select(Attachment).where(
            Attachment.message_id == original.id, col(Attachment.content).is_not(None))
            .order_by(col(Attachment.id))).all()
        for a in kept:
            maintype, _, subtype = a.content_type.partition("/")
            msg.add_attachment(a.content or b"", maintype=maintype or "application",
                               subtype=subtype or "octet-stream",
                               filename=safe_name(a.id or 0, a.filename))
        addresses = [sender, *(k for _, k in recipients), *(k for _, k in copies)]
        eml = msg.as_bytes(policy=email_policy.SMTPUTF8 if not all(
            a.isascii() for a in addresses) else email_policy.SMTP)
        row = Message(case_id=case.id, direction=MessageDirection.OUTBOUND, at=now,
                      message_id=new_id, references=original.message_id,
                      from_address=sender, to_address=", ".join(r for r, _ in recipients),
                      cc_address=", ".join(c for c, _ in copies) or None, subject=subject,
                      body=body, author_id=actor.id, created_at=now)
        s.add(row)
        s.flush()
        path = files.write_private(out, eml) if out is not None else None
        if path is not None:
            written.append(path)  # removed again if the case cannot record it
        s.add(CaseEvent(case_id=case.id, at=now, actor_id=actor.id, action="forwarded",
                        from_value=f"message #{original.id}", to_value=f"message #{row.id}",
                        note=f"written to {path}" if path else None))
        touch(case, now)  # a new version: an open copy of the case sees the forward
        s.add(case)
        audit.record(s, desk, actor, "message.forward", "case", case.id,
                     message_row_id=original.id, forward_row_id=row.id,
                     recipients=len(recipients) + len(copies), attachments=len(kept),
                     to_file=path is not None)
        return Forwarded(case_id=case.id or 0, forwarded_message_id=original.id or 0,
                         message_row_id=row.id or 0, message_id=new_id,
                         to=tuple(r for r, _ in recipients), cc=tuple(c for c, _ in copies),
                         subject=subject, attachments=len(kept),
                         path=str(path) if path else None, eml=eml)
