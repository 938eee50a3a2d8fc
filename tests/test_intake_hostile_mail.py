"""Hostile mail that must be read, not quarantined (issue 18): charset labels naming codecs that
are no character sets, an impossible Date, 500 nested forwarded messages, raw 8-bit headers,
and a 50 MB letter re-processed leniently. Each is imported through the service or the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpdesk.db.models import Case
from helpdesk.domain import CaseKind
from helpdesk.intake import parse as parse_mod
from helpdesk.services import cases, customers, intake
from helpdesk.services.context import Desk
from tests.conftest import FakeClock, Run
from tests.intake_mail import mail
from tests.test_intake_parse import NOT_CHARSETS, _nested

LETTER = "Bitte löschen Sie meine Daten. Danke."


def _eml(tmp_path: Path, raw: bytes, name: str = "letter.eml") -> Path:
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def _import_one(desk: Desk, tmp_path: Path, raw: bytes) -> cases.CaseDetail:
    r = intake.import_paths(desk, paths=[_eml(tmp_path, raw)])
    assert (r.quarantined, r.new_cases) == (0, 1), r
    return cases.get(desk, r.case_ids[0])


@pytest.fixture
def ann(desk: Desk) -> int:
    return customers.create(desk, name="Ann Example", emails=["ann@example.com"]).id


@pytest.mark.parametrize("label", NOT_CHARSETS)
def test_codec_labels_import_with_readable_text(
    desk: Desk, ann: int, tmp_path: Path, label: str
) -> None:
    detail = _import_one(desk, tmp_path, mail(
        content_type=f"text/plain; charset={label}", body=LETTER,
        subject=f"=?{label}?q?L=C3=B6schung?="))
    (message,) = detail.messages
    assert message.body == LETTER and message.subject == "Löschung"
    assert detail.case.kind is CaseKind.DELETION
    assert [a.content_type for a in message.attachments] == ["text/plain"]  # the raw bytes


def test_impossible_date_falls_back_to_receipt_and_says_so(
    desk: Desk, ann: int, tmp_path: Path, clock: FakeClock
) -> None:
    detail = _import_one(desk, tmp_path, mail(date="Fri, 31 Dec 9999 23:59:59 -1400",
                                              body=LETTER))
    assert detail.case.received_at == clock.now and detail.messages[0].body == LETTER
    with desk.db.session() as s:
        case = s.get(Case, detail.case.id)
        assert case is not None and case.classification is not None
        notes = case.classification["notes"]
    assert "unreadable Date header" in notes
    assert any("import time" in n for n in notes)


def test_500_nested_forwards_import_the_outer_letter(
    desk: Desk, ann: int, tmp_path: Path
) -> None:
    detail = _import_one(desk, tmp_path, _nested(500, "message"))
    (message,) = detail.messages
    assert message.body == "Please delete my data."
    assert [a.content_type for a in message.attachments] == ["message/rfc822"]


def test_raw_8bit_headers_import_readable(desk: Desk, ann: int, tmp_path: Path) -> None:
    raw = mail(subject="Löschung meiner Daten", body=LETTER).replace(
        "ö".encode(), "ö".encode("latin-1"))
    detail = _import_one(desk, tmp_path, raw)
    assert detail.messages[0].subject == "Löschung meiner Daten"
    assert detail.messages[0].body == LETTER  # body without charset, Latin-1 bytes


def test_reprocess_all_lenient_imports_an_over_size_letter(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_mod, "MAX_MESSAGE_BYTES", 512 * 1024)
    assert cli("customer", "add", "--name", "Ann", "--email", "ann@example.com")[0] == 0
    big = mail(body=LETTER + "\n" + "Lorem ipsum dolor sit amet.\n" * 40_000)
    code, out, _ = cli("import", str(_eml(tmp_path, big)), "--json")
    assert code == 0 and json.loads(out)["quarantined"] == 1
    code, out, _ = cli("intake", "reprocess", "--all", "--lenient", "--json")
    assert code == 0 and json.loads(out) | {"item_ids": []} == {
        "filed": 1, "still_quarantined": 0, "item_ids": []}
    code, out, _ = cli("case", "show", "1", "--json")
    body = json.loads(out)["messages"][0]["body"]
    assert body.startswith(LETTER) and len(body) == parse_mod.MAX_BODY_CHARS
