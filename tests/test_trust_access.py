"""Access: deactivated agents cannot act, roles hold in the service layer, identity rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.cli import main
from helpdesk.errors import Forbidden
from helpdesk.services import agents, audit_query, backup, customers
from helpdesk.services.context import Desk, os_user
from tests.conftest import FakeClock


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HELPDESK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HELPDESK_AGENT", raising=False)
    monkeypatch.delenv("HELPDESK_DB_URL", raising=False)
    return tmp_path / "home"


def _config(home: Path, text: str) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(text)


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
    assert main(["--db", url, "--as", "bob", "customer", "show", str(c.id)]) == 4
    assert "deactivated" in capsys.readouterr().err
    assert main(["--db", url, "--as", "bob", "agent", "whoami"]) == 4
    # reactivated, bob may act again: the refusal came from the flag, nothing else
    agents.update(desk, name="bob", active=True)
    assert main(["--db", url, "--as", "bob", "customer", "show", str(c.id)]) == 0


def test_roles_hold_for_cli_and_services_alike(desk: Desk, home: Path, tmp_path: Path) -> None:
    agents.add(desk, name="bob")
    bob = desk.as_agent("bob")
    with pytest.raises(Forbidden):
        agents.add(bob, name="carol")
    with pytest.raises(Forbidden):
        audit_query.query(bob)
    url = desk.settings.db_url
    assert main(["--db", url, "--as", "bob", "agent", "add", "carol"]) == 4
    assert main(["--db", url, "--as", "bob", "audit", "list"]) == 4
    if desk.db.sqlite_path is not None:
        with pytest.raises(Forbidden):
            backup.backup(bob, target=tmp_path / "b.sqlite3")
        assert main(["--db", url, "--as", "bob", "backup", str(tmp_path / "b.sqlite3")]) == 4
        assert not (tmp_path / "b.sqlite3").exists()
    # strangers are not agents at all
    assert main(["--db", url, "--as", "mallory", "customer", "find", "a"]) == 4


def test_impersonation_allowed_records_the_chosen_agent(
    desk: Desk, clock: FakeClock, home: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    agents.add(desk, name="bob")
    url = desk.settings.db_url
    capsys.readouterr()
    assert main(["--db", url, "--as", "bob", "agent", "whoami", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "bob"
    monkeypatch.setenv("HELPDESK_AGENT", "bob")
    assert main(["--db", url, "customer", "add", "--name", "Ann", "--email", "a@example.com"]) == 0
    with desk.db.engine.connect() as conn:
        actor = conn.execute(sa.text(
            "SELECT a.name FROM audit_event e JOIN agent a ON a.id = e.actor_id "
            "WHERE e.action = 'customer.create'"
        )).scalar_one()
    assert actor == "bob"


def test_impersonation_refused_when_configuration_forbids_it(
    desk: Desk, home: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    agents.add(desk, name="bob")
    _config(home, "allow_impersonation = false\n")
    url = desk.settings.db_url
    capsys.readouterr()
    assert main(["--db", url, "--as", "bob", "agent", "whoami"]) == 4
    assert "disabled" in capsys.readouterr().err
    monkeypatch.setenv("HELPDESK_AGENT", "bob")
    assert main(["--db", url, "agent", "whoami"]) == 4
    monkeypatch.delenv("HELPDESK_AGENT")
    # naming yourself is not impersonation; the OS user is the identity
    if os_user() != "alice":
        agents.add(desk, name=os_user())
    assert main(["--db", url, "--as", os_user(), "agent", "whoami", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == os_user()
    assert main(["--db", url, "agent", "whoami", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == os_user()
