"""CLI: ``reply``, ``template list|show|edit|add``, ``customer merge|duplicates``."""

from __future__ import annotations

import email
import json
from email import policy as email_policy
from pathlib import Path

import pytest

from helpdesk.domain import CaseKind, Role
from helpdesk.services import agents
from helpdesk.services.context import Desk
from tests.conftest import Run
from tests.replies_support import add_customer, add_policy, open_case, set_customer


def test_reply_writes_eml_and_reports_json(desk: Desk, cli: Run, tmp_path: Path) -> None:
    add_policy(desk)
    case_id = open_case(desk, add_customer(desk), CaseKind.DELETION)
    out = tmp_path / "reply.eml"
    code, text, err = cli("reply", str(case_id), "--template", "deletion_done",
                          "--out", str(out), "--json")
    assert code == 0, err
    data = json.loads(text)
    msg = email.message_from_bytes(out.read_bytes(), policy=email_policy.default)
    assert msg["Message-ID"] == data["message_id"]
    assert data["draft"]["subject"].endswith(f"[Case #{case_id}]")
    # a second write to the same file is refused (exit 5) unless --force
    assert cli("reply", str(case_id), "--template", "deletion_done", "--out", str(out))[0] == 5
    assert cli("reply", str(case_id), "--template", "deletion_done", "--out", str(out),
               "--force")[0] == 0


def test_reply_preview_and_errors(desk: Desk, cli: Run) -> None:
    add_policy(desk)
    customer = add_customer(desk)
    set_customer(desk, customer, name="[b]Eve\x1b[31m")  # uncleaned, as a raw import might
    case_id = open_case(desk, customer, CaseKind.DELETION)
    code, text, _ = cli("reply", str(case_id), "--template", "deletion_done", "--preview")
    assert code == 0 and "[Case #" in text and "Dear [b]Eve\\x1b[31m," in text
    assert "\x1b" not in text
    code, _, err = cli("reply", str(case_id), "--template", "deadline_override", "--preview")
    assert code == 6 and "override_due_date" in err
    assert cli("reply", str(case_id), "--template", "nope", "--preview")[0] == 3
    assert cli("reply", str(case_id), "--template", "deletion_done")[0] == 6  # no --out


def test_template_list_show_edit_add(desk: Desk, cli: Run, tmp_path: Path) -> None:
    code, text, _ = cli("template", "list", "--json")
    names = {(t["name"], t["language"]) for t in json.loads(text)}
    assert ("acknowledgement", "de") in names and ("deletion_done", "en") in names
    code, text, _ = cli("template", "list", "--kind", "deletion")
    assert "deletion_done" in text and "dispute_resolved" not in text
    code, text, _ = cli("template", "show", "acknowledgement", "--language", "de")
    assert code == 0 and "Guten Tag" in text and "${policy_text}" in text

    body = tmp_path / "body.txt"
    body.write_text("Hello ${customer_name}\n", encoding="utf-8")
    agents.add(desk, name="bob", role=Role.AGENT)
    assert cli("template", "edit", "deletion_done", "--body-file", str(body),
               agent="bob")[0] == 4
    code, text, _ = cli("template", "edit", "deletion_done", "--body-file", str(body), "--json")
    assert code == 0 and json.loads(text)["body"] == "Hello ${customer_name}\n"
    body.write_text("Hello ${nobody}\n", encoding="utf-8")
    assert cli("template", "edit", "deletion_done", "--body-file", str(body))[0] == 6
    assert cli("template", "add", "promo", "--subject", "Offers", "--body-file", str(body))[0] == 6
    body.write_text("Offers for ${customer_name}\n", encoding="utf-8")
    code, text, _ = cli("template", "add", "promo", "--subject", "Offers", "--body-file",
                        str(body), "--transactional", "no", "--json")
    assert code == 0 and json.loads(text)["transactional"] is False


def test_customer_merge_and_duplicates(desk: Desk, cli: Run) -> None:
    keep = add_customer(desk, name="Ola Berg", email="ola@acme.example", company="Acme")
    other = add_customer(desk, name="Ola Berg", email="ola@home.example", company="Acme")
    code, text, _ = cli("customer", "duplicates", "--json")
    pairs = json.loads(text)
    assert code == 0 and [(p["first"]["id"], p["second"]["id"]) for p in pairs] == [(keep, other)]
    code, text, _ = cli("customer", "merge", str(keep), str(other))
    assert code == 0 and f"merged customer #{other} into #{keep}" in text
    assert cli("customer", "merge", str(keep), str(other))[0] == 3  # gone now
    code, text, _ = cli("customer", "duplicates")
    assert "no likely duplicates" in text


@pytest.mark.parametrize("args", [
    ["template", "show", "\ud800"], ["template", "show", "x", "--language", "\ud800"],
    ["template", "edit", "\ud800", "--subject", "s"], ["reply", "1", "--template", "\ud800",
                                                        "--preview"],
])
def test_unencodable_names_are_refused_not_crashed(desk: Desk, cli: Run, args: list[str]) -> None:
    assert open_case(desk, add_customer(desk), CaseKind.DELETION) == 1
    code, _, err = cli(*args)
    assert code == 6 and "Traceback" not in err
