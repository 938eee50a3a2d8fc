"""Identity nobody can type: the acting agent is the real account, whatever the environment says.

The attempts come from the issue that found them: LOGNAME/USER/HELPDESK_AGENT naming the
supervisor, ``--as`` with impersonation off, a configuration file (or a second HELPDESK_HOME)
that turns it on, a deactivated agent reactivating himself. Each is refused; an impersonation a
supervisor turned on is recorded with the real account.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.cli import main
from helpdesk.errors import Forbidden
from helpdesk.services import agents, desk_settings
from helpdesk.services.context import Desk, os_account


@pytest.fixture
def me(desk: Desk, home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The real account of this process, registered as a plain agent on a desk whose first
    supervisor is alice; the environment claims to be alice every way it can."""
    agents.whoami(desk)  # alice bootstraps as the supervisor
    agents.add(desk, name=desk.real_account)
    agents.add(desk, name="bob")
    monkeypatch.delenv("HELPDESK_CONFIG", raising=False)
    for name in ("LOGNAME", "USER", "USERNAME", "HELPDESK_AGENT"):
        monkeypatch.setenv(name, "alice")
    return desk.real_account


def _run(desk: Desk, *argv: str) -> int:
    return main(["--db", desk.settings.db_url, *argv])


def _names(desk: Desk) -> set[str]:
    return {a.name for a in agents.list_agents(desk)}


def test_real_account_is_the_uid_not_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import pwd

    monkeypatch.setenv("LOGNAME", "alice")
    monkeypatch.setenv("USER", "alice")
    assert os_account() == pwd.getpwuid(os.getuid()).pw_name


def test_environment_naming_the_supervisor_changes_nothing(
    desk: Desk, me: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert _run(desk, "agent", "whoami", "--json") == 0
    who = json.loads(capsys.readouterr().out)
    assert (who["name"], who["role"], who["real_account"]) == (me, "agent", me)
    # LOGNAME=alice helpdesk agent add mallory --role supervisor: acts as the real account
    assert _run(desk, "agent", "add", "mallory", "--role", "supervisor") == 4
    assert "only a supervisor" in capsys.readouterr().err
    # ... and --as, with impersonation off (the default)
    assert _run(desk, "--as", "alice", "agent", "add", "mallory", "--role", "supervisor") == 4
    assert "off for this database" in capsys.readouterr().err
    assert "mallory" not in _names(desk)


def test_no_configuration_file_turns_impersonation_on(
    desk: Desk, me: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    forged = tmp_path / "forged.toml"
    forged.write_text("allow_impersonation = true\n")
    monkeypatch.setenv("HELPDESK_CONFIG", str(forged))
    assert _run(desk, "--as", "alice", "agent", "add", "mallory", "--role", "supervisor") == 4
    monkeypatch.delenv("HELPDESK_CONFIG")
    second = tmp_path / "second-home"
    (second / "config").mkdir(parents=True)
    (second / "config" / "config.toml").write_text(
        f"db_url = '{desk.settings.db_url}'\nallow_impersonation = true\n")
    monkeypatch.setenv("HELPDESK_HOME", str(second))
    assert main(["--as", "alice", "agent", "add", "mallory", "--role", "supervisor"]) == 4
    err = capsys.readouterr().err
    assert "off for this database" in err and "Traceback" not in err
    assert "mallory" not in _names(desk)


def test_deactivated_agent_cannot_reactivate_himself(
    desk: Desk, me: str, capsys: pytest.CaptureFixture[str]
) -> None:
    agents.update(desk, name=me, role="supervisor")
    desk_settings.set_impersonation(desk, allowed=True)
    agents.update(desk, name=me, active=False)
    capsys.readouterr()
    assert _run(desk, "--as", "alice", "agent", "set", me, "--active", "yes") == 4
    assert "only an active supervisor" in capsys.readouterr().err
    assert _run(desk, "agent", "set", me, "--active", "yes") == 4
    assert not agents.get_by_name(desk, me).active


def test_only_supervisors_may_act_as_another_and_it_is_recorded(
    desk: Desk, me: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(Forbidden):
        desk_settings.set_impersonation(desk.as_agent("bob"), allowed=True)
    assert _run(desk, "agent", "impersonation", "on") == 4  # the real account is an agent
    desk_settings.set_impersonation(desk, allowed=True)
    capsys.readouterr()
    assert _run(desk, "--as", "bob", "agent", "whoami") == 4  # on, but not for agents
    assert "only an active supervisor" in capsys.readouterr().err
    agents.update(desk, name=me, role="supervisor")
    assert _run(desk, "--as", "bob", "customer", "add", "--name", "Ann", "--email",
                "ann@example.com") == 0
    with desk.db.engine.connect() as conn:
        acted, real = conn.execute(sa.text(
            "SELECT a.name, e.real_account FROM audit_event e JOIN agent a ON a.id = e.actor_id "
            "WHERE e.action = 'customer.create'")).one()
        setting = conn.execute(sa.text(
            "SELECT a.name, e.real_account, e.details FROM audit_event e "
            "JOIN agent a ON a.id = e.actor_id WHERE e.action = 'setting.change'")).one()
    assert (acted, real) == ("bob", me)
    assert setting[0] == "alice" and setting[1] == me
    # a supervisor turns it off again: --as is refused at once
    assert _run(desk, "agent", "impersonation", "off") == 0
    assert _run(desk, "--as", "bob", "agent", "whoami") == 4
    capsys.readouterr()
    assert _run(desk, "agent", "impersonation", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"allow_impersonation": False}


def test_naming_yourself_is_not_impersonation(
    desk: Desk, me: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert _run(desk, "--as", me, "agent", "whoami", "--json") == 0
    assert json.loads(capsys.readouterr().out)["name"] == me


def test_every_audit_event_records_the_real_account(desk: Desk, me: str) -> None:
    agents.add(desk.as_agent("alice"), name="carol")  # in-process, as tests do
    with desk.db.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT action, real_account FROM audit_event ORDER BY id")).all()
    assert rows and {r.real_account for r in rows} == {me}


def test_postgres_fills_the_real_account_from_the_session(desk: Desk) -> None:
    if desk.db.backend != "postgresql":
        pytest.skip("the database-side account is PostgreSQL's session role")
    agents.whoami(desk)
    with desk.db.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO audit_event (at, action, object_type, details, prev_hash, hash, "
            "real_account) VALUES (now(), 'x', 'y', '{}', 'p', 'forged-hash', 'mallory')"))
        real = conn.execute(sa.text(
            "SELECT real_account FROM audit_event WHERE hash = 'forged-hash'")).scalar_one()
    assert real == desk.real_account != "mallory"


def test_a_real_process_ignores_the_environment(tmp_path: Path) -> None:
    """The same attempt as a person would type it, in a separate process."""
    url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    env = {**os.environ, "HELPDESK_HOME": str(tmp_path / "home"), "PYTHONPATH": os.getcwd()}
    base = [sys.executable, "-m", "helpdesk", "--db", url]
    first = subprocess.run([*base, "agent", "whoami", "--json"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["name"] == os_account()  # the first person: supervisor
    env.update(LOGNAME="root", USER="root", HELPDESK_AGENT="mallory")
    done = subprocess.run([*base, "--as", "mallory", "agent", "whoami"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 4, done.stderr
    assert done.stderr.count("\n") == 1 and "off for this database" in done.stderr
