"""Privacy commands end to end: JSON output, files written, exit codes and role refusals."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

POLICY = ("Part II. Information Usage\nWe may use cookies. We do not sell information "
          "collected from customers.\nPart III. Access to Your Information\nAsk us to delete "
          "your data. Copies may stay in archival databases.\n")




def _setup(cli, tmp_path: Path) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    policy = tmp_path / "policy.txt"
    policy.write_text(POLICY)
    assert cli("policy", "add", str(policy), "--effective", "2015-04-17", "--yes")[0] == 0
    assert cli("agent", "add", "bob")[0] == 0
    code, out, _ = cli("customer", "add", "--name", "Robin \x1b[31mRed", "--email",
                       "robin@example.com", "--json")
    assert code == 0
    customer = json.loads(out)["id"]
    return customer, _request(cli, customer, "deletion")


def _request(cli, customer: int, kind: str) -> int:  # type: ignore[no-untyped-def]
    """A request case of ``kind`` whose requester was verified (identity document seen)."""
    code, out, _ = cli("case", "new", "--kind", kind, "--customer", str(customer), "--json")
    assert code == 0
    case = json.loads(out)["case"]["id"]
    assert cli("case", "verify", str(case), "--method", "identity_document")[0] == 0
    return case


def test_optout_consent_and_suppression_export(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    customer, case = _setup(cli, tmp_path)
    addresses = tmp_path / "unsubscribes.txt"
    addresses.write_text("# from the mailing tool\nstranger@example.org\nnot-an-address\n")
    code, out, _ = cli("optout", "robin@example.com", "--from-file", str(addresses), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["customers_opted_out"] == [customer]
    assert report["suppressed_by_hash"] == 1 and report["rejected"][0][0] == 3
    assert cli("optout", "nonsense")[0] == 6

    code, out, _ = cli("consent", "show", str(customer), "--json")
    status = json.loads(out)
    assert not status["marketing_allowed"] and status["transactional_allowed"]
    code, out, err = cli("consent", "optin", "--customer", str(customer), "--case", str(case),
                         agent="bob")
    assert code == 4 and "supervisor" in err

    code, out, _ = cli("suppression", "export", "--hashed", agent="bob")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][0] == "email_hash" and len(rows) == 3
    assert "robin" not in out
    assert cli("suppression", "export", agent="bob")[0] == 4
    target = tmp_path / "suppressed.csv"
    assert cli("suppression", "export", "--out", str(target))[0] == 0
    assert "robin@example.com" in target.read_text()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_export_erase_letter_and_archive(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    customer, case = _setup(cli, tmp_path)
    _request(cli, customer, "access")
    code, out, _ = cli("export", str(customer))
    assert code == 0 and "robin@example.com" in out
    assert "\x1b" not in out and "[31mRed" in out  # no escape reaches the terminal
    target = tmp_path / "export.json"
    assert cli("export", str(customer), "--format", "json", "--out", str(target))[0] == 0
    assert json.loads(target.read_text())["emails"][0]["address"] == "robin@example.com"
    assert cli("export", "999")[0] == 3

    assert cli("erase", str(customer), "--case", "999")[0] == 3
    code, out, _ = cli("erase", str(customer), "--case", str(case), "--json", agent="bob")
    assert code == 0
    info = json.loads(out)
    assert info["status"] == "complete" and not info["already_erased"]
    code, out, _ = cli("erase", str(customer), "--case", str(case))
    assert code == 0 and "already erased" in out
    code, out, _ = cli("erasure", "letter", str(info["id"]))
    assert code == 0 and "Copies may stay in archival databases." in out
    code, out, _ = cli("customer", "find", "robin")
    assert "robin@example.com" not in out


def test_disclosures_corrections_and_answers(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    customer, case = _setup(cli, tmp_path)
    base = ["disclosure", "add", str(customer), "--recipient", "Parcel Co", "--purpose",
            "delivery", "--data", "name", "--on", "2026-03-01", "--basis", "contract"]
    code, _, err = cli(*base, "--kind", "sale")
    assert code == 6 and "does not sell customer information" in err
    assert cli(*base, "--kind", "contractor", "--json")[0] == 0
    code, out, _ = cli("disclosure", "answer", str(customer))
    assert "Parcel Co" in out and "We do not sell" in out

    fix = _request(cli, customer, "correction")
    code, out, _ = cli("correct", str(fix), "--billing-address", "2 New St", "--json")
    result = json.loads(out)
    assert code == 0 and result["fields"] == ["billing_address"]
    assert [d["recipient"] for d in result["notify"]] == ["Parcel Co"]
    assert cli("correct", str(fix))[0] == 6
    assert cli("correct", str(case), "--phone", "+1 555 0100")[0] == 6  # a deletion request

    code, out, _ = cli("answer", "topic", "cookies")
    assert code == 0 and "We may use cookies." in out
    code, out, _ = cli("answer", "case", str(case))
    assert code == 0 and out.startswith("Part III. Access to Your Information")
