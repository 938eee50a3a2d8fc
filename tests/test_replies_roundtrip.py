"""Done-when of issue 8: a deletion request answered with a .eml, and the customer's answer to it
imported by intake lands on the same case (by its headers, or by the subject tag alone)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from helpdesk.db.models import Message
from helpdesk.domain import CaseKind
from helpdesk.services import cases, intake, replies
from helpdesk.services.context import Desk
from tests.replies_support import add_customer, add_policy


def _mail(path: Path, desk: Desk, *, message_id: str, subject: str, body: str,
          in_reply_to: str | None = None) -> Path:
    msg = EmailMessage()
    msg["From"] = "Jana Nováková <jana@example.org>"
    msg["To"] = "info@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg["Date"] = format_datetime(desk.now())
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    path.write_bytes(bytes(msg))
    return path


def _case_of(desk: Desk, message_id: str) -> int | None:
    with desk.db.session() as s:
        return s.exec(select(Message.case_id).where(col(Message.message_id) == message_id)).one()


@pytest.mark.parametrize("threading", ["headers", "subject tag"])
def test_deletion_answered_and_customer_reply_threads_back(
    desk: Desk, tmp_path: Path, threading: str
) -> None:
    add_policy(desk)
    add_customer(desk)
    request = _mail(tmp_path / "in.eml", desk, message_id="<req-1@mail.example>",
                    subject="Please delete my data",
                    body="Please delete all my personal data from your database.")
    imported = intake.import_paths(desk, paths=[request])
    assert imported.new_cases == 1
    case_id = imported.case_ids[0]
    assert cases.get(desk, case_id).case.kind is CaseKind.DELETION

    draft = replies.preview(desk, case_id=case_id, template="deletion_done")
    assert draft.in_reply_to == "<req-1@mail.example>"
    sent = replies.write(desk, case_id=case_id, template="deletion_done",
                         out=tmp_path / "out.eml")

    if threading == "headers":
        answer = _mail(tmp_path / "answer.eml", desk, message_id="<ans-1@mail.example>",
                       subject="Thanks", body="Thank you.", in_reply_to=sent.message_id)
    else:
        answer = _mail(tmp_path / "answer.eml", desk, message_id="<ans-1@mail.example>",
                       subject=f"Re: {sent.draft.subject}", body="Thank you.")
    result = intake.import_paths(desk, paths=[answer])
    assert result.new_cases == 0 and result.threaded == 1
    assert _case_of(desk, "<ans-1@mail.example>") == case_id
