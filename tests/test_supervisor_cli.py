"""CLI for disputes, supervisor tools and reports: JSON, CSV, exit codes, role refusals."""

import csv
import io
import json

import pytest

from helpdesk.db.engine import open_database
from helpdesk.services import agents, cases, customers
from helpdesk.services.context import Desk


@pytest.fixture
def ids(desk: Desk) -> list[int]:
    """Three cases assigned to bob (desk acts as alice, the supervisor)."""
    agents.add(desk, name="bob")
    agents.add(desk, name="carol")
    cust = customers.create(desk, name="[bold]Mal[/] \x1b[31mory", emails=["m@example.org"]).id
    out = []
    for _ in range(3):
        cid = cases.create(desk, kind="deletion", customer_id=cust).case.id
        cases.assign(desk, case_id=cid, assignee="bob", reason="start")
        out.append(cid)
    return out


def _fresh(desk: Desk, case_id: int):  # type: ignore[no-untyped-def]
    """Read through a new engine: what another process would see."""
    db = open_database(desk.settings.db_url)
    try:
        return cases.get(Desk(db=db, settings=desk.settings, actor_name="alice"), case_id)
    finally:
        db.dispose()


def test_agent_is_refused_and_nothing_changes(cli, desk: Desk, ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    other = cases.create(desk, kind="question", customer_id=None,
                         subject="Unsigned letter").case.id
    cases.assign(desk, case_id=other, assignee="carol", reason="x")
    refusals = [
        ("case", "assign", str(ids[0]), str(other), "bob", "--reason", "grab"),
        ("case", "assign", str(ids[0]), "carol", "--reason", "give away"),
        ("case", "override", str(ids[0]), "--due", "2030-01-01", "--reason", "slow"),
        ("case", "deescalate", str(ids[0])),
        ("workload",),
        ("workload", "--agent", "bob"),
    ]
    for args in refusals:
        code, out, err = cli(*args, agent="bob")
        assert code == 4, args
        assert "forbidden: " in err and "only a supervisor" in err and out == ""
    for cid in ids:
        d = _fresh(desk, cid)
        assert (d.case.assignee_name, d.override_due_at, d.case.version) == ("bob", None, 2)
    assert _fresh(desk, other).case.assignee_name == "carol"


def test_supervisor_bulk_assign_and_workload(cli, desk: Desk, ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("case", "assign", *map(str, ids[:2]), "carol", "--reason", "away",
                         "--json")
    assert code == 0, err
    assert [(c["id"], c["assignee_name"]) for c in json.loads(out)] == [
        (ids[0], "carol"), (ids[1], "carol")]
    code, out, _ = cli("workload", "--json")
    rows = {r["agent_name"]: r for r in json.loads(out)}
    assert (rows["bob"]["open_cases"], rows["carol"]["open_cases"]) == (1, 2)
    code, out, _ = cli("workload")
    assert code == 0 and "(unassigned)" in out and "carol" in out
    code, out, _ = cli("workload", "--agent", "carol")
    assert code == 0 and f"#{ids[0]}" in out and f"#{ids[2]}" not in out
    code, _, err = cli("case", "assign", str(ids[2]), "carol")
    assert code == 6 and "needs a reason" in err
    code, _, err = cli("case", "assign", "carol")
    assert code == 6 and "case ids" in err
    code, _, err = cli("case", "assign", str(ids[2]), "999", "carol", "--reason", "x")
    assert code == 3 and "#999" in err
    assert _fresh(desk, ids[2]).case.assignee_name == "bob"  # all or nothing


def test_agent_takes_unassigned_cases(cli, desk: Desk) -> None:  # type: ignore[no-untyped-def]
    agents.add(desk, name="bob")
    free = [cases.create(desk, kind="question", customer_id=None,
                         subject="Unsigned letter").case.id for _ in range(2)]
    code, out, err = cli("case", "assign", *map(str, free), "bob", agent="bob")
    assert code == 0, err
    assert "assigned 2 cases" in out


def test_dispute_open_advance_escalate_override(cli, desk: Desk, ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("dispute", "open", str(ids[0]), "--json", agent="bob")
    assert code == 0, err
    dispute = json.loads(out)
    assert (dispute["related_case_id"], dispute["case"]["dispute_stage"]) == (ids[0], "received")
    did = str(dispute["case"]["id"])
    code, out, err = cli("dispute", "advance", did, "--to", "investigating")
    assert code == 6 and "next stages: acknowledged, withdrawn" in err
    code, out, err = cli("dispute", "advance", did, "--to", "acknowledged", "--note", "sent",
                         "--if-version", str(dispute["case"]["version"]))
    assert code == 0 and "is acknowledged [open]; next: investigating, withdrawn" in out
    code, _, err = cli("dispute", "advance", did, "--to", "withdrawn", "--if-version", "1")
    assert code == 5 and "changed by alice" in err
    code, _, err = cli("dispute", "advance", did, "--to", "nowhere")
    assert code == 2
    code, out, _ = cli("case", "escalate", did, agent="bob")
    assert code == 0 and "escalated" in out
    code, out, _ = cli("case", "deescalate", did)
    assert code == 0 and "no longer escalated" in out
    code, out, err = cli("case", "override", str(ids[1]), "--due", "2031-01-31", "--reason",
                         "regulator asked us to wait", "--json")
    assert code == 0, err
    assert json.loads(out)["case"]["due_date"] == "2031-01-31"
    code, _, err = cli("case", "override", str(ids[1]), "--due", "31/01/2031", "--reason", "x")
    assert code == 6 and "--due" in err


def test_report_json_csv_text(cli, desk: Desk, ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("report", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["received"] == 3
    assert {a["agent_name"] for a in data["agents"]} == {"alice", "bob", "carol"}
    code, out, _ = cli("report", "--csv", "--from", "2000-01-01", "--to", "2000-12-31")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["section", "key", "metric", "value"]
    assert ["total", "all", "received", "0"] in rows
    code, out, _ = cli("report")
    assert code == 0 and "deletion" in out and "Disputes by stage" in out
    assert "\x1b" not in out
    code, _, err = cli("report", "--from", "yesterday")
    assert code == 6 and "--from" in err
    code, _, _ = cli("report", "--json", "--csv")
    assert code == 2
