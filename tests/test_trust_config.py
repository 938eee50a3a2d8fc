"""Configuration: one TOML file, validated naming the bad key, environment overrides, `config
show` without secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpdesk.cli import main
from helpdesk.config import load_settings
from helpdesk.errors import Invalid


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HELPDESK_HOME", str(tmp_path))
    for var in ("HELPDESK_CONFIG", "HELPDESK_DB_URL", "HELPDESK_TIMEZONE", "HELPDESK_THEME"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "config").mkdir()
    return tmp_path


def _write(home: Path, text: str) -> Path:
    path = home / "config" / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


FULL = """
db_url = "sqlite:////srv/desk/helpdesk.sqlite3"
timezone = "America/New_York"
dispute_warning_days = [80, 45]
archive_systems = ["tape vault", "mail archive"]
theme = "nord"
allow_impersonation = false

[service_levels]
question = 3

[keymap]
"case.reassign" = "ctrl+r"

[[legal_rules]]
name = "state law"
kinds = ["access"]
days = 20
"""


def test_full_file_is_read(home: Path) -> None:
    _write(home, FULL)
    s = load_settings()
    assert s.timezone == "America/New_York" and s.theme == "nord"
    assert s.dispute_warning_days == (45, 80)
    assert s.archive_systems == ("tape vault", "mail archive")
    assert s.service_levels["question"] == 3 and s.service_levels["marketing_opt_out"] == 1
    assert s.keymap == {"case.reassign": "ctrl+r"}
    assert s.legal_rules[0].days == 20
    assert not hasattr(s, "allow_impersonation")  # read from the database, not this file


@pytest.mark.parametrize(("text", "key"), [
    ("colour = 'red'\n", "colour"),
    ("timezone = 'Mars/Olympus'\n", "timezone"),
    ("timezone = 5\n", "timezone"),
    ("db_url = ''\n", "db_url"),
    ("dispute_warning_days = [30, 120]\n", "dispute_warning_days"),
    ("dispute_warning_days = 30\n", "dispute_warning_days"),
    ("archive_systems = ['tape', 3]\n", "archive_systems"),
    ("key_file = 7\n", "key_file"),
    ("keymap = { quit = 1 }\n", "keymap"),
    ("[service_levels]\nquestion = -1\n", "service_levels"),
    ("[service_levels]\nsale = 2\n", "service_levels.sale"),
    ("[[legal_rules]]\nname = 'x'\nkinds = ['access']\n", "legal_rules[0]"),
    ("[[legal_rules]]\nname = 'x'\nkinds = ['sale']\ndays = 3\n", "legal_rules[0]"),
])
def test_bad_values_name_the_key(home: Path, text: str, key: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(home, text)
    with pytest.raises(Invalid) as err:
        load_settings()
    assert err.value.field == key
    assert f"'{key.split('.')[0].split('[')[0]}" in err.value.message
    assert main(["config", "show"]) == 6
    stderr = capsys.readouterr().err
    assert "invalid" in stderr and key.split(".")[0].split("[")[0] in stderr
    if key != "timezone":  # the zone is checked after the environment has had its say
        assert str(path) in stderr


def test_broken_toml_is_reported_not_raised(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(home, "db_url = 'unterminated\n")
    assert main(["config", "show"]) == 6
    assert "not valid TOML" in capsys.readouterr().err


def test_environment_overrides_the_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(home, FULL)
    monkeypatch.setenv("HELPDESK_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("HELPDESK_DB_URL", "sqlite:////tmp/other.sqlite3")
    monkeypatch.setenv("HELPDESK_THEME", "gruvbox")
    s = load_settings()
    assert (s.timezone, s.db_url, s.theme) == ("Asia/Tokyo", "sqlite:////tmp/other.sqlite3",
                                               "gruvbox")
    assert s.archive_systems == ("tape vault", "mail archive")  # the rest still from the file


def test_config_file_can_be_named_by_environment(home: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text("theme = 'monokai'\n")
    monkeypatch.setenv("HELPDESK_CONFIG", str(other))
    assert load_settings().theme == "monokai"


def test_config_show_masks_secrets(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(home, 'db_url = "postgresql://desk:hunter2@db.internal/helpdesk"\n' + FULL.replace(
        'db_url = "sqlite:////srv/desk/helpdesk.sqlite3"\n', ""))
    assert main(["config", "show", "--json"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out)
    assert "hunter2" not in out
    assert shown["db_url"] == "postgresql://desk:***@db.internal/helpdesk"
    assert shown["archive_systems"] == ["tape vault", "mail archive"]
    assert shown["legal_rules"] == [{"name": "state law", "kinds": ["access"], "days": 20}]
    assert main(["--db", "postgresql://u:s3cret@h/db", "config", "show"]) == 0
    text = capsys.readouterr().out
    assert "s3cret" not in text and "db_url = postgresql://u:***@h/db" in text


def test_config_show_needs_no_database(home: Path) -> None:
    _write(home, 'db_url = "postgresql://nobody@127.0.0.1:1/none"\n')
    assert main(["config", "show"]) == 0  # no connection attempted: the port is closed
