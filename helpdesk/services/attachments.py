"""Attachments: listed with type and size, saved to a private file, never opened by the desk.

Identity documents and scanned letters arrive as attachments. The desk lists them (name, type,
size, checksum, whether it kept the content) and saves one to a file for the agent to open with
their own tools: created 0600, never over an existing file or through a link, under a name the
desk makes safe (the sender's file name can hold anything: ``../../.bashrc``, control
characters, a name that hides its extension). The desk never executes, opens or renders one;
what it keeps is bounded by ``attachment_max_bytes`` and ``attachment_types`` (see the
importer). Saving is an export of personal data: audited, and noted on the case with the file's
place, so an erasure can say that copies exist outside the desk.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, col, select

from helpdesk import files
from helpdesk.db.models import Attachment, Case, CaseEvent, Message
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import audit, cases
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import AttachmentInfo
from helpdesk.services.replies import kept_if_committed

MAX_NAME = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._()+ -]+")


@dataclass(frozen=True, slots=True)
class CaseAttachment:
    """One attachment of a case, with the message it came with."""

    message_id: int
    attachment: AttachmentInfo


@dataclass(frozen=True, slots=True)
class SavedAttachment:
    id: int
    case_id: int
    path: str
    size: int
    content_type: str
    sha256: str


def safe_name(attachment_id: int, filename: str | None) -> str:
    """A file name that cannot climb out of the folder, hide in it or carry control
    characters: ``attachment-ID-`` and the sender's name reduced to plain characters."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = _UNSAFE.sub("_", base).strip(" ._")[:MAX_NAME]
    return f"attachment-{attachment_id}" + (f"-{base}" if base else "")


def for_case(desk: Desk, case_id: int) -> tuple[CaseAttachment, ...]:
    """The attachments of every message on the case, oldest message first (a view of
    personal data: file names; audited)."""
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        cases.load(s, case_id)
        ids = list(s.exec(select(Message.id).where(Message.case_id == case_id)
                          .order_by(col(Message.at), col(Message.id))).all())
        found = cases.attachment_infos(s, [i for i in ids if i is not None])
        audit.record(s, desk, actor, "attachment.list", "case", case_id,
                     attachments=sum(len(v) for v in found.values()))
        return tuple(CaseAttachment(message_id=mid, attachment=a)
                     for mid in ids if mid is not None for a in found.get(mid, ()))


def _load(s: Session, attachment_id: int) -> tuple[Attachment, Case]:
    row = s.get(Attachment, attachment_id)
    message = s.get(Message, row.message_id) if row is not None else None
    case = s.get(Case, message.case_id) if message is not None and message.case_id else None
    if row is None or case is None:
        raise NotFound(f"no attachment #{attachment_id} on a case")
    return row, case


def save(
    desk: Desk, *, attachment_id: int, out: Path | None = None, folder: Path | None = None
) -> SavedAttachment:
    """Write one attachment's content to ``out`` (or a safe name in ``folder``, default the
    current folder): 0600, never overwriting, checked against the checksum taken at import."""
    if out is not None and folder is not None:
        raise Invalid("give a file or a folder, not both", field="out")
    with kept_if_committed() as written, desk.db.session(write=True) as s:
        actor = desk.actor(s)
        row, case = _load(s, attachment_id)
        if row.content is None:
            why = row.withheld or "it was erased"
            raise Conflict(f"the desk did not keep attachment #{attachment_id}'s content: {why}")
        if hashlib.sha256(row.content).hexdigest() != row.sha256:
            raise Conflict(f"attachment #{attachment_id} no longer matches the checksum taken "
                           "when it arrived; it was not saved")
        target = out if out is not None else (folder or Path.cwd()) / safe_name(
            attachment_id, row.filename)
        path = files.write_private(target, row.content)
        written.append(path)  # removed again if the case cannot record it
        s.add(CaseEvent(case_id=case.id, at=desk.now(), actor_id=actor.id,
                        action="attachment_saved", to_value=f"attachment #{attachment_id}",
                        note=f"saved to {path}"))
        audit.record(s, desk, actor, "attachment.save", "case", case.id,
                     attachment_id=attachment_id, size=row.size)
        return SavedAttachment(id=attachment_id, case_id=case.id or 0, path=str(path),
                               size=len(row.content), content_type=row.content_type,
                               sha256=row.sha256)


def save_all_for_customer(desk: Desk, *, customer_id: int, folder: Path) -> list[SavedAttachment]:
    """Save every kept attachment of the customer's cases into ``folder`` (for an access
    request's export); attachments whose content the desk did not keep are skipped (the export
    lists them with the reason)."""
    with desk.db.session() as s:
        desk.actor(s)
        ids = s.exec(
            select(Attachment.id).join(Message, col(Message.id) == col(Attachment.message_id))
            .join(Case, col(Case.id) == col(Message.case_id))
            .where(Case.customer_id == customer_id, col(Attachment.content).is_not(None))
            .order_by(col(Attachment.id))).all()
    if not folder.is_dir():
        raise Invalid(f"folder {folder} does not exist; create it first", field="attachments")
    return [save(desk, attachment_id=i, folder=folder) for i in ids if i is not None]
