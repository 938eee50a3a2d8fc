"""Every CSV the CLI writes (suppression list, audit export, report), read back with the csv
module: no cell a spreadsheet would evaluate, proper line ends on standard output and in files,
and the value itself still there behind the escaping apostrophe."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from helpdesk import csvout
from helpdesk.services import agents, cases, customers
from helpdesk.services.context import Desk
from tests.conftest import Run

FORMULA = "=cmd|'/Ccalc'!A0@example.org"  # a valid address, and a formula in a spreadsheet
FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")


def _cells(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows, "empty CSV"
    return rows


def _assert_inert(text: str) -> list[list[str]]:
    """No cell starts with a formula character (a plain negative number is no formula)."""
    rows = _cells(text)
    for row in rows:
        for value in row:
            assert not value.startswith(FORMULA_CHARS) or value.lstrip("-").replace(
                ".", "", 1).isdigit(), (value, row)
    return rows


def _assert_line_ends(text: str) -> None:
    assert "\r" not in text and "\\r" not in text, text[:300]
    assert text.endswith("\n")


def _export(cli: Run, command: list[str], target: Path | None) -> list[list[str]]:
    """Run an export to standard output or to ``target`` and check what it wrote."""
    code, out, err = cli(*command, *(["--out", str(target)] if target else []))
    assert code == 0, err
    text = target.open(newline="").read() if target else out
    _assert_line_ends(text)
    return _assert_inert(text)


@pytest.fixture
def hostile_case(desk: Desk) -> int:
    """A supervisor, an agent whose login starts with a dash, and a customer whose name and
    address are formulas, with a case the agent has."""
    agents.add(desk, name="-sum")
    c = customers.create(desk, name="@SUM(1+1)*cmd|' /C calc'!A0", emails=[FORMULA])
    kase = cases.create(desk, kind="deletion", customer_id=c.id, subject="+1 555 0100")
    cases.assign(desk, case_id=kase.case.id, assignee="-sum", reason="=HYPERLINK(\"x\")")
    return kase.case.id


@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "file"])
def test_suppression_export_neutralises_a_formula_address(
        hostile_case: int, cli: Run, tmp_path: Path, to_file: bool) -> None:
    for address in (FORMULA, "+stranger@example.org"):
        code, _, err = cli("optout", address)
        assert code == 0, err
    rows = _export(cli, ["suppression", "export"], tmp_path / "suppressed.csv" if to_file else None)
    assert rows[0][0] == "address"
    # the customer's address (the list keeps it as compared, lower case); the stranger's is
    # suppressed by keyed hash only
    addresses = sorted(row[0] for row in rows[1:])
    assert addresses == ["", "'" + FORMULA.casefold()]
    # nothing is lost: one leading apostrophe comes off to give the address back
    assert addresses[1][1:] == FORMULA.casefold()


@pytest.mark.parametrize("to_file", [False, True], ids=["stdout", "file"])
def test_audit_export_neutralises_agent_names(hostile_case: int, cli: Run, tmp_path: Path,
                                              to_file: bool) -> None:
    assert cli("case", "show", str(hostile_case), agent="-sum")[0] == 0  # an audited view
    rows = _export(cli, ["audit", "export"], tmp_path / "audit.csv" if to_file else None)
    assert "'-sum" in {row[2] for row in rows[1:]}  # the actor column of the view


def test_report_csv_neutralises_agent_names(hostile_case: int, cli: Run) -> None:
    rows = _export(cli, ["report", "--csv"], None)
    assert any(row[1] == "'-sum" for row in rows), "the agent's rows are missing"


def test_cell_rule() -> None:
    assert csvout.cell("=1+1") == "'=1+1"
    assert csvout.cell("\tx") == "'\tx" and csvout.cell("\rx") == "'\rx"
    assert csvout.cell("'quoted") == "''quoted"  # undone by dropping one apostrophe
    assert csvout.cell("-3") == "-3" and csvout.cell("-0.25") == "-0.25"
    assert csvout.cell("-3+1") == "'-3+1"
    assert csvout.cell(None) == "" and csvout.cell(7) == "7"
    assert csvout.line(["a\nb", "c"]) == '"a\nb",c\n'
