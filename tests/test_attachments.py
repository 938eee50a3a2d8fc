"""Attachments from real-looking mail: listed with type and size, kept within the configured
limits, saved to a private new file under a safe name (never opened), exported, erased."""

from __future__ import annotations

import base64
import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.config import load_settings
from helpdesk.db.models import Attachment
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import access_export, attachments, cases, customers, erasure, intake
from helpdesk.services.context import Desk
from tests.conftest import verified_request
from tests.intake_mail import write_mbox

PDF = b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n1 0 obj <</Type/Catalog>> endobj\ntrailer <<>>\n%%EOF\n"
EXE = b"MZ\x90\x00" + b"\x00" * 60 + b"This program cannot be run in DOS mode."
HOSTILE_NAME = "../../.bashrc\x1b[31m ausweis köln.pdf"


def _part(content_type: str, filename: str, data: bytes) -> bytes:
    encoded = base64.encodebytes(data)
    name = filename.encode("utf-8")
    return (b"--B\nContent-Type: " + content_type.encode() + b"\n"
            b"Content-Disposition: attachment; filename*=utf-8''"
            + b"".join(b"%%%02X" % c for c in name) + b"\n"
            b"Content-Transfer-Encoding: base64\n\n" + encoded)


def letter(*parts: bytes, msgid: str = "<scan@example.org>") -> bytes:
    return (b"From: Ines Duarte <ines@example.org>\nTo: info@shop.example\n"
            b"Subject: my ID for the deletion request\nDate: Mon, 09 Mar 2026 10:00:00 +0000\n"
            b"Message-ID: " + msgid.encode() + b"\nMIME-Version: 1.0\n"
            b'Content-Type: multipart/mixed; boundary="B"\n\n'
            b"--B\nContent-Type: text/plain; charset=utf-8\n\nPlease delete my data; my ID is "
            b"attached.\n" + b"".join(parts) + b"--B--\n")


@pytest.fixture
def case_id(desk: Desk, tmp_path: Path) -> int:
    desk.settings = replace(desk.settings, attachment_max_bytes=4096)
    customers.create(desk, name="Ines Duarte", emails=["ines@example.org"])
    big = b"\x89PNG\r\n\x1a\n" + os.urandom(5000)
    raw = letter(_part("application/pdf", HOSTILE_NAME, PDF),
                 _part("application/x-msdownload", "invoice.pdf.exe", EXE),
                 _part("image/png", "scan.png", big))
    result = intake.import_paths(desk, paths=[write_mbox(tmp_path / "box", [raw])])
    return result.case_ids[0]


def test_listed_with_type_size_and_what_was_kept(desk: Desk, case_id: int) -> None:
    listed = [i.attachment for i in attachments.for_case(desk, case_id)]
    assert [(a.content_type, a.size, a.kept) for a in listed] == [
        ("application/pdf", len(PDF), True),
        ("application/x-msdownload", len(EXE), False),
        ("image/png", 5008, False)]
    assert "is not one the desk keeps (attachment_types)" in (listed[1].withheld or "")
    assert "larger than the 4,096 bytes" in (listed[2].withheld or "")
    shown = cases.get(desk, case_id).messages[0].attachments
    assert [a.id for a in shown] == [a.id for a in listed]


def test_saved_to_a_private_new_file_under_a_safe_name(
    desk: Desk, case_id: int, tmp_path: Path
) -> None:
    pdf = attachments.for_case(desk, case_id)[0].attachment
    folder = tmp_path / "saved"
    folder.mkdir()
    saved = attachments.save(desk, attachment_id=pdf.id, folder=folder)
    path = Path(saved.path)
    assert path.parent == folder and path.name.startswith(f"attachment-{pdf.id}-")
    assert "/" not in path.name[len("attachment-"):] and "\x1b" not in path.name
    assert path.name.endswith("ausweis koln.pdf")
    assert path.read_bytes() == PDF and stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(Conflict, match="never overwrites"):
        attachments.save(desk, attachment_id=pdf.id, folder=folder)
    assert path.read_bytes() == PDF
    link = tmp_path / "link.pdf"
    link.symlink_to(tmp_path / "elsewhere.pdf")
    with pytest.raises(Invalid, match="symbolic link"):
        attachments.save(desk, attachment_id=pdf.id, out=link)
    assert not (tmp_path / "elsewhere.pdf").exists()
    history = cases.get(desk, case_id).events
    assert [e.to_value for e in history if e.action == "attachment_saved"] == [
        f"attachment #{pdf.id}"]


def test_withheld_tampered_and_unknown_are_refused(
    desk: Desk, case_id: int, tmp_path: Path
) -> None:
    listed = [i.attachment for i in attachments.for_case(desk, case_id)]
    with pytest.raises(Conflict, match="attachment_types"):
        attachments.save(desk, attachment_id=listed[1].id, folder=tmp_path)
    with desk.db.session(write=True) as s:
        s.execute(sa.update(Attachment).where(Attachment.id == listed[0].id)
                  .values(content=PDF + b"<script>"))
    with pytest.raises(Conflict, match="checksum"):
        attachments.save(desk, attachment_id=listed[0].id, folder=tmp_path)
    with pytest.raises(NotFound):
        attachments.save(desk, attachment_id=9999, folder=tmp_path)
    assert list(tmp_path.glob("attachment-*")) == []


def test_export_lists_and_saves_and_erasure_removes(
    desk: Desk, case_id: int, tmp_path: Path
) -> None:
    cid = cases.get(desk, case_id).case.customer_id or 0
    access = verified_request(desk, cid, "access").case.id
    data = json.loads(access_export.to_json(access_export.export(desk, customer_id=cid,
                                                                 case_id=access)))
    exported = data["cases"][0]["messages"][0]["attachments"]
    assert (exported[0]["content_type"], exported[0]["size"], exported[0]["kept"]) == (
        "application/pdf", len(PDF), True)
    folder = tmp_path / "export"
    folder.mkdir()
    saved = attachments.save_all_for_customer(desk, customer_id=cid, folder=folder)
    assert len(saved) == 1 and Path(saved[0].path).read_bytes() == PDF

    deletion = verified_request(desk, cid, "deletion").case.id
    info = erasure.erase(desk, customer_id=cid, case_id=deletion)
    assert len(info.steps["copies_outside"]) == 1
    with desk.db.engine.connect() as conn:
        rows = conn.execute(sa.select(Attachment.filename, Attachment.content)).all()
    assert rows == [(None, None)] * 3
    with pytest.raises(Conflict, match="erased"):
        attachments.save(desk, attachment_id=exported[0]["id"], folder=tmp_path)


@pytest.mark.parametrize(("text", "field"), [
    ("attachment_max_bytes = -1\n", "attachment_max_bytes"),
    ("attachment_max_bytes = 999999999999\n", "attachment_max_bytes"),
    ('attachment_types = ["pdf"]\n', "attachment_types"),
    ('attachment_types = "application/pdf"\n', "attachment_types"),
])
def test_limits_are_checked_in_the_configuration(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(Invalid) as exc:
        load_settings(path)
    assert exc.value.field == field


def test_configured_types_with_wildcards(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('attachment_types = ["Image/*", "application/pdf"]\n'
                    "attachment_max_bytes = 2048\n")
    settings = load_settings(path)
    assert settings.attachment_types == ("image/*", "application/pdf")
    from helpdesk.intake.importer import attachment_withheld

    assert attachment_withheld("image/heic", 100, False, settings) is None
    assert attachment_withheld("text/html", 100, False, settings)
    assert attachment_withheld("image/png", 4096, False, settings)


def test_ceiling_matches_the_largest_message() -> None:
    from helpdesk.config import ATTACHMENT_CEILING
    from helpdesk.intake.parse import MAX_MESSAGE_BYTES

    assert ATTACHMENT_CEILING == MAX_MESSAGE_BYTES


def test_cli_list_and_save(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("customer", "add", "--name", "Ines", "--email", "ines@example.org")[0] == 0
    box = write_mbox(tmp_path / "box", [letter(_part("application/pdf", HOSTILE_NAME, PDF))])
    assert cli("import", str(box))[0] == 0
    code, out, _ = cli("attachment", "list", "1", "--json")
    [item] = json.loads(out)
    assert code == 0 and item["attachment"]["content_type"] == "application/pdf"
    code, out, _ = cli("attachment", "list", "1")
    assert "application/pdf" in out and "\x1b" not in out
    target = tmp_path / "id.pdf"
    code, out, _ = cli("attachment", "save", str(item["attachment"]["id"]), "--out",
                       str(target), "--json")
    assert code == 0 and json.loads(out)["path"] == str(target) and target.read_bytes() == PDF
    assert cli("attachment", "save", str(item["attachment"]["id"]), "--out", str(target))[0] == 5
    assert cli("attachment", "save", "77", "--dir", str(tmp_path))[0] == 3
    assert cli("attachment", "save", "x", "--dir", str(tmp_path))[0] == 6
    assert cli("attachment", "save", "1", "--dir", str(tmp_path / "missing"))[0] == 6
    code, out, _ = cli("case", "show", "1")
    assert f"attachment #{item['attachment']['id']}" in out and "application/pdf" in out
    folder = tmp_path / "export"
    folder.mkdir()
    code, out, _ = cli("case", "new", "--kind", "access", "--customer", "1", "--json")
    access = str(json.loads(out)["case"]["id"])
    assert cli("case", "verify", access, "--method", "identity_document")[0] == 0
    code, _, err = cli("export", "1", "--format", "json", "--attachments", str(folder))
    assert code == 0 and "saved 1 attachment(s)" in err and len(list(folder.iterdir())) == 1
