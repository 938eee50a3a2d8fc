"""Cc kept from real mail and shown; replies that copy someone; forwarding a letter (with its
ID scan) to legal as a new .eml, recorded on the case and audited without addresses."""

from __future__ import annotations

import email
import json
import stat
from datetime import date
from email import policy as email_policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from helpdesk.db.models import AuditEvent, Message
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import (
    cases,
    customers,
    erasure,
    forwarding,
    intake,
    policy,
    replies,
    verification,
)
from helpdesk.services.context import Desk
from tests.intake_mail import write_mbox
from tests.policy_texts import POLICY_2019
from tests.test_attachments import EXE, PDF, _part

CC_LETTER = (
    b"From: Ines Duarte <ines@example.org>\nTo: info@shop.example\n"
    b"Cc: =?utf-8?q?J=C3=BCrgen_Anwalt?= <anwalt@kanzlei.example>\n"
    b"Cc: datenschutz@behoerde.example\n"
    b"Subject: Deletion of my data\nDate: Mon, 09 Mar 2026 10:00:00 +0000\n"
    b"Message-ID: <cc-letter@example.org>\nMIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="B"\n\n'
    b"--B\nContent-Type: text/plain; charset=utf-8\n\nPlease delete my data. My lawyer is in "
    b"copy.\n") + _part("application/pdf", "ausweis.pdf", PDF) + _part(
    "application/x-msdownload", "tool.exe", EXE) + b"--B--\n"


@pytest.fixture
def case_id(desk: Desk, tmp_path: Path) -> int:
    policy.add(desk, text=POLICY_2019, effective_on=date(2019, 6, 2))
    customers.create(desk, name="Ines Duarte", emails=["ines@example.org"])
    return intake.import_paths(desk, paths=[write_mbox(tmp_path / "box", [CC_LETTER])]
                               ).case_ids[0]


def _letter(desk: Desk, case_id: int) -> int:
    return cases.get(desk, case_id).messages[0].id


def test_cc_is_kept_shown_and_erased(desk: Desk, case_id: int) -> None:
    [letter] = cases.get(desk, case_id).messages
    assert letter.cc_address == ("Jürgen Anwalt <anwalt@kanzlei.example>, "
                                 "datenschutz@behoerde.example")
    customer = cases.get(desk, case_id).case.customer_id or 0
    verification.verify(desk, case_id=case_id, method="identity_document")
    erasure.erase(desk, customer_id=customer, case_id=case_id)
    with desk.db.engine.connect() as conn:
        assert conn.execute(sa.select(Message.cc_address)).scalars().all() == [None]


def test_a_reply_copies_someone(desk: Desk, case_id: int, tmp_path: Path) -> None:
    out = tmp_path / "reply.eml"
    written = replies.write(desk, case_id=case_id, template="acknowledgement", out=out,
                            cc=["Anwalt@Kanzlei.example", "INES@example.org",
                                "anwalt@kanzlei.example"])
    assert written.draft.cc == ("Anwalt@kanzlei.example",)  # the To address and repeats dropped
    parsed = email.message_from_bytes(out.read_bytes(), policy=email_policy.default)
    assert parsed["Cc"] == "Anwalt@kanzlei.example" and parsed["To"].endswith("<ines@example.org>")
    outbound = cases.get(desk, case_id).messages[-1]
    assert outbound.cc_address == "Anwalt@kanzlei.example"
    with pytest.raises(Invalid) as exc:
        replies.preview(desk, case_id=case_id, template="acknowledgement", cc=["not-an-address"])
    assert exc.value.field == "cc"


def test_forwarding_to_legal(desk: Desk, case_id: int, tmp_path: Path) -> None:
    out = tmp_path / "fwd.eml"
    letter = _letter(desk, case_id)
    done = forwarding.forward(desk, message_id=letter, to=["legal@shop.example"],
                              cc=["dpo@shop.example", "LEGAL@shop.example"],
                              note="Please check the ID before we delete.", out=out)
    assert (done.to, done.cc, done.attachments) == (("legal@shop.example",),
                                                    ("dpo@shop.example",), 1)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    parsed = email.message_from_bytes(out.read_bytes(), policy=email_policy.default)
    assert parsed["Subject"] == f"Fwd: Deletion of my data [Case #{case_id}]"
    assert parsed["References"] == "<cc-letter@example.org>"
    text = parsed.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert text.startswith("Please check the ID before we delete.\n\n" + forwarding.SEPARATOR)
    assert "From: ines@example.org" in text and "Please delete my data." in text
    assert "Cc: Jürgen Anwalt <anwalt@kanzlei.example>" in text
    [pdf] = list(parsed.iter_attachments())
    assert pdf.get_content_type() == "application/pdf" and pdf.get_content() == PDF

    detail = cases.get(desk, case_id)
    recorded = detail.messages[-1]
    assert (recorded.direction.value, recorded.to_address, recorded.cc_address) == (
        "outbound", "legal@shop.example", "dpo@shop.example")
    [event] = [e for e in detail.events if e.action == "forwarded"]
    assert (event.from_value, event.to_value) == (f"message #{letter}",
                                                  f"message #{recorded.id}")
    with desk.db.session() as s:
        audit_row = s.exec(select(AuditEvent).where(AuditEvent.action == "message.forward")).one()
    assert "shop.example" not in json.dumps(audit_row.details)
    assert audit_row.details["recipients"] == 2


def test_a_refused_forward_records_nothing(desk: Desk, case_id: int, tmp_path: Path) -> None:
    letter = _letter(desk, case_id)
    taken = tmp_path / "taken.eml"
    taken.write_bytes(b"someone else's file")
    before = len(cases.get(desk, case_id).messages)
    with pytest.raises(Conflict, match="never overwrites"):
        forwarding.forward(desk, message_id=letter, to=["legal@shop.example"], out=taken)
    assert taken.read_bytes() == b"someone else's file"
    with pytest.raises(Invalid):
        forwarding.forward(desk, message_id=letter, to=[], out=tmp_path / "x.eml")
    with pytest.raises(Invalid):
        forwarding.forward(desk, message_id=letter, to=["legal at shop"],
                           out=tmp_path / "x.eml")
    with pytest.raises(NotFound):
        forwarding.forward(desk, message_id=999, to=["legal@shop.example"])
    assert len(cases.get(desk, case_id).messages) == before
    assert not (tmp_path / "x.eml").exists()
    customer = cases.get(desk, case_id).case.customer_id or 0
    verification.verify(desk, case_id=case_id, method="identity_document")
    erasure.erase(desk, customer_id=customer, case_id=case_id)
    with pytest.raises(Conflict, match="erased"):
        forwarding.forward(desk, message_id=letter, to=["legal@shop.example"])


def test_cli_forward_reply_cc_and_case_show(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notice = tmp_path / "notice.txt"
    notice.write_text(POLICY_2019, encoding="utf-8")
    assert cli("policy", "add", str(notice), "--effective", "2019-06-02", "--yes")[0] == 0
    assert cli("customer", "add", "--name", "Ines", "--email", "ines@example.org")[0] == 0
    assert cli("import", str(write_mbox(tmp_path / "box", [CC_LETTER])))[0] == 0
    code, out, _ = cli("case", "show", "1")
    assert "cc: Jürgen Anwalt <anwalt@kanzlei.example>" in out and "message #1 " in out
    target = tmp_path / "fwd.eml"
    code, out, _ = cli("forward", "1", "--to", "legal@shop.example", "--note", "FYI",
                       "--out", str(target), "--json")
    data = json.loads(out)
    assert code == 0 and data["path"] == str(target) and "eml" not in data
    assert cli("forward", "1", "--to", "legal@shop.example", "--out", str(target))[0] == 5
    assert cli("forward", "1", "--to", "nope", "--out", str(tmp_path / "a.eml"))[0] == 6
    assert cli("forward", "9", "--to", "legal@shop.example", "--out",
               str(tmp_path / "b.eml"))[0] == 3
    assert cli("forward", "1", "--out", str(tmp_path / "c.eml"))[0] == 2
    assert cli("forward", "1", "--to", "legal@shop.example")[0] == 6  # no --out
    code, out, err = cli("reply", "1", "--template", "deletion_done", "--preview",
                         "--cc", "anwalt@kanzlei.example")
    assert code == 0, err
    assert "Cc:       anwalt@kanzlei.example" in out
