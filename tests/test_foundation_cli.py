"""The scriptable CLI: every command's help, JSON output, and distinct exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk.cli import build_parser, main


def test_help_lists_exit_codes() -> None:
    text = build_parser().format_help()
    for code in ("2", "3", "4", "5", "6"):
        assert f"  {code}  " in text


def _subcommands(parser):  # type: ignore[no-untyped-def]
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                for inner_name, inner in _subcommands(sub):
                    yield f"{name} {inner_name}", inner


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    names = [name for name, _ in _subcommands(build_parser())]
    assert {
        "db upgrade",
        "demo",
        "agent add",
        "agent list",
        "customer add",
        "customer find",
        "customer show",
        "case new",
        "case list",
        "case show",
    } <= set(names)
    for name in names:
        with pytest.raises(SystemExit) as exit_:
            main([*name.split(), "--help"])
        assert exit_.value.code == 0
        assert "usage: helpdesk" in capsys.readouterr().out


def test_customer_and_case_flow_with_json(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(
        "customer",
        "add",
        "--name",
        "Ilse Jansen",
        "--email",
        "ilse@example.nl",
        "--company",
        "Tulp BV",
        "--json",
    )
    assert code == 0
    customer = json.loads(out)
    assert customer["emails"][0]["address"] == "ilse@example.nl"
    code, out, _ = cli("customer", "find", "tulp", "--json")
    found = json.loads(out)
    assert [c["id"] for c in found["items"]] == [customer["id"]] and found["more"] is False
    code, out, _ = cli(
        "case",
        "new",
        "--kind",
        "deletion",
        "--customer",
        str(customer["id"]),
        "--subject",
        "Please delete me",
        "--json",
    )
    case = json.loads(out)["case"]
    assert code == 0 and case["kind"] == "deletion" and case["days_left"] == 30
    code, out, _ = cli("case", "list", "--json")
    assert [c["id"] for c in json.loads(out)["items"]] == [case["id"]]
    code, out, _ = cli("case", "show", str(case["id"]))
    assert code == 0 and "Please delete me" in out
    code, out, _ = cli("customer", "show", str(customer["id"]))
    assert code == 0 and "Ilse Jansen" in out


def test_someone_who_is_not_an_agent_is_told_so_before_the_desk_opens(
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """The desk opened for them and stayed on "Loading…" (the refusal flashed by as a notice
    while the first queue failed to load); now they get the refusal and what to do, exit 4."""
    import screens.app

    opened: list[object] = []
    monkeypatch.setattr(screens.app, "run_desk", opened.append)
    assert cli("agent", "whoami")[0] == 0  # alice bootstraps as supervisor
    code, _, err = cli(agent="mallory")
    assert code == 4 and "'mallory' is not a desk agent" in err
    assert "helpdesk agent add mallory" in err and opened == []
    assert cli("agent", "add", "mallory")[0] == 0
    assert cli(agent="mallory")[0] == 0 and len(opened) == 1


def test_exit_codes_are_distinct(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("agent", "whoami")[0] == 0  # alice bootstraps as supervisor
    code, _, err = cli("customer", "show", "999")
    assert code == 3 and "not found" in err
    code, _, err = cli("case", "list", agent="mallory")
    assert code == 4 and "not a desk agent" in err
    code, _, err = cli("customer", "add", "--name", "X", "--email", "not-an-address")
    assert code == 6 and "not a valid e-mail" in err
    assert cli("customer", "add", "--name", "X", "--email", "x@example.com")[0] == 0
    code, _, err = cli("customer", "add", "--name", "Y", "--email", "X@example.com")
    assert code == 5 and "already belongs" in err
    assert cli("case", "new", "--kind", "sale", "--customer", "1")[0] == 2
    assert cli("agent", "add", "bob")[0] == 0
    code, _, err = cli("agent", "add", "carol", agent="bob")
    assert code == 4 and "supervisor" in err


def test_terminal_output_neutralises_escape_sequences(cli) -> None:  # type: ignore[no-untyped-def]
    cli(
        "customer", "add", "--name", "Evil \x1b[2J\x1b]0;pwned\x07 Name", "--email", "e@example.com"
    )
    code, out, _ = cli("customer", "find", "evil")
    assert code == 0 and "\x1b" not in out


def test_policy_add_from_a_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "policy.txt"
    policy.write_text("Part III. Access to Your Information\nWithin 30 days.\n", encoding="utf-8")
    code, _, err = cli("policy", "add", str(policy), "--effective", "2015-04-17", "--json")
    assert code == 6 and "not confirmed" in err  # periods are confirmed, never assumed
    assert "no policy version" in cli("policy", "list")[1]
    code, out, _ = cli("policy", "add", str(policy), "--effective", "2015-04-17", "--json",
                       "--yes")
    added = json.loads(out)
    assert code == 0 and added["effective_on"] == "2015-04-17"
    assert added["periods"] == {"access": 30}
    code, _, err = cli("policy", "add", str(policy), "--effective", "2016-01-01", "--yes")
    assert code == 5
    code, _, err = cli("policy", "add", str(tmp_path / "missing.txt"), "--effective", "2016-01-01")
    assert code == 6 and "cannot read" in err
    code, _, err = cli("policy", "add", str(policy), "--effective", "17/04/2015")
    assert code == 6


def test_python_dash_m_and_db_upgrade(tmp_path: Path) -> None:
    env = {"HELPDESK_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "helpdesk", "db", "upgrade"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "helpdesk.sqlite3").exists()
