"""Clean refusals: a database that cannot be used is one line saying what is wrong and what to
do, with its documented exit code, never a traceback — from the CLI and when opening the desk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from helpdesk.cli import main
from helpdesk.errors import EXIT_CODES
from tests.conftest import PG_URL


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELPDESK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HELPDESK_DB_URL", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    monkeypatch.delenv("PGPASSWORD", raising=False)


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str], code: int,
             *needles: str) -> str:
    """Both as a command and as opening the desk (no command): the same single line."""
    for args in ([*argv, "agent", "whoami"], argv):
        assert main(args) == code, (args, capsys.readouterr())
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        for needle in needles:
            assert needle in err, (needle, err)
    assert code in EXIT_CODES
    return err


def test_a_db_value_that_is_not_a_url(capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(capsys, ["--db", "helpdesk.sqlite3"], 6, "not given as a URL",
                   "sqlite:///")
    _refused(capsys, ["--db", "postgresql://u:s3cret@host:port/db"], 6, "not given as a URL")
    assert "s3cret" not in err
    _refused(capsys, ["--db", "mysql://u@host/db"], 6, "use sqlite or postgresql")


def test_a_folder_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(capsys, ["--db", f"sqlite:///{tmp_path / 'nope' / 'x.sqlite3'}"], 6,
             "does not exist", "create it first")


def test_a_path_too_long_for_the_file_system(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _refused(capsys, ["--db", f"sqlite:///{tmp_path / ('x' * 300)}.sqlite3"], 6, "too long")


def test_names_that_are_not_valid_text(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    # a file name in a legacy encoding reaches Python as lone surrogates
    bad = os.fsdecode(b"caf\xe9")
    _refused(capsys, ["--db", f"sqlite:///{tmp_path / bad}.sqlite3"], 6, "not valid text")
    url = f"sqlite:///{tmp_path / 'ok.sqlite3'}"
    _refused(capsys, ["--db", url, "--as", bad], 6, "agent names")


def test_a_file_that_is_not_a_database(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "notes.sqlite3"
    junk.write_bytes(b"these are my notes, not a database\n" * 200)
    _refused(capsys, ["--db", f"sqlite:///{junk}"], 6, "is not a SQLite database")


needs_pg = pytest.mark.skipif(not PG_URL, reason="HELPDESK_TEST_PG_URL is not set")


def _pg(**parts: object) -> str:
    """CI's server URL with ``parts`` changed, always naming a database that does not exist,
    so that a login that unexpectedly succeeds can never create a schema anywhere."""
    base = make_url(PG_URL or "postgresql://x@localhost/x")
    fields = {"drivername": base.drivername, "username": base.username,
              "password": base.password, "host": base.host, "port": base.port,
              "database": "helpdesk_no_such_database_x", **parts}
    return URL.create(**fields).render_as_string(hide_password=False)  # type: ignore[arg-type]


@needs_pg
@pytest.mark.postgres
def test_postgres_login_refusals(capsys: pytest.CaptureFixture[str]) -> None:
    err = _refused(capsys, ["--db", _pg(password="wrong-password")], 4, "refused the login",
                   "~/.pgpass")
    assert "wrong-password" not in err
    _refused(capsys, ["--db", _pg(password=None)], 4, "password")
    _refused(capsys, ["--db", _pg(username="helpdesk_no_such_role_x")], 4)


@needs_pg
@pytest.mark.postgres
def test_postgres_missing_database_and_unreachable_server(
    capsys: pytest.CaptureFixture[str]
) -> None:
    _refused(capsys, ["--db", _pg()], 3, "no database 'helpdesk_no_such_database_x'")
    err = _refused(capsys, ["--db", _pg(port=1)], 9, "cannot reach", ":1")
    assert "cipass" not in err and "password" not in err.lower().replace("pgpass", "")
