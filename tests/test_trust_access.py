"""Access: deactivated agents cannot act, roles hold in the service layer, identity rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpdesk.cli import main
from helpdesk.errors import Forbidden
from helpdesk.services import agents, audit_query, backup, customers
from helpdesk.services.context import Desk


def test_deactivated_agent_cannot_act(desk: Desk, home: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    agents.add(desk, name="bob")
    c = customers.create(desk.as_agent("bob"), name="Ann", emails=["ann@example.com"])
    agents.update(desk, name="bob", active=False)
    with pytest.raises(Forbidden, match="deactivated"):
        customers.get(desk.as_agent("bob"), c.id)
    with pytest.raises(Forbidden, match="deactivated"):
        customers.find(desk.as_agent("bob"), "Ann")
    capsys.readouterr()
    url = desk.settings.db_url
    assert main(["--db", url, "customer", "show", str(c.id)], agent="bob") == 4
    assert "deactivated" in capsys.readouterr().err
    assert main(["--db", url, "agent", "whoami"], agent="bob") == 4
    # reactivated, bob may act again: the refusal came from the flag, nothing else
    agents.update(desk, name="bob", active=True)
    assert main(["--db", url, "customer", "show", str(c.id)], agent="bob") == 0


def test_roles_hold_for_cli_and_services_alike(desk: Desk, home: Path, tmp_path: Path) -> None:
    agents.add(desk, name="bob")
    bob = desk.as_agent("bob")
    with pytest.raises(Forbidden):
        agents.add(bob, name="carol")
    with pytest.raises(Forbidden):
        audit_query.query(bob)
    url = desk.settings.db_url
    assert main(["--db", url, "agent", "add", "carol"], agent="bob") == 4
    assert main(["--db", url, "audit", "list"], agent="bob") == 4
    if desk.db.sqlite_path is not None:
        with pytest.raises(Forbidden):
            backup.backup(bob, target=tmp_path / "b.sqlite3")
        assert main(["--db", url, "backup", str(tmp_path / "b.sqlite3")], agent="bob") == 4
        assert not (tmp_path / "b.sqlite3").exists()
    # strangers are not agents at all
    assert main(["--db", url, "customer", "find", "a"], agent="mallory") == 4
