"""The desk makes no network connection, ever: a full session with every socket connection and
name lookup refused, proving nothing even tried."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpdesk.cli import main
from helpdesk.config import Settings
from helpdesk.db.engine import open_database
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.audit import AuditScreen
from screens.reports import ReportsScreen


class NetworkGuard:
    """Records and refuses every outgoing connection and DNS lookup."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def refuse(self, what: str) -> Any:
        def refused(*args: Any, **_kw: Any) -> Any:
            self.attempts.append(f"{what}{args[1:] if what.startswith('socket.') else args}")
            raise OSError(f"network access attempted: {what}")

        return refused


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetworkGuard]:
    guard = NetworkGuard()
    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, guard.refuse(f"socket.{name}"))
    for name in ("create_connection", "getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        monkeypatch.setattr(socket, name, guard.refuse(name))
    yield guard


def test_the_guard_catches_connections(no_network: NetworkGuard) -> None:
    with pytest.raises(OSError):
        socket.create_connection(("example.com", 80))
    with pytest.raises(OSError), socket.socket() as s:
        s.connect(("127.0.0.1", 9))
    assert len(no_network.attempts) == 2


def test_full_session_offline(no_network: NetworkGuard, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HELPDESK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HELPDESK_DB_URL", raising=False)

    def run(*argv: str) -> str:
        code = main([*argv], agent="alice")
        out = capsys.readouterr()
        assert code == 0, (argv, out)
        return out.out

    run("agent", "whoami")
    run("demo", "--customers", "30")
    run("agent", "add", "bob")
    # addresses at domains that do not exist: validation must not look them up
    ann = str(json.loads(run(
        "customer", "add", "--name", "Ann Offline", "--email", "ann@no-such-domain-4f1c9.com",
        "--phone", "+44 20 7946 0000", "--json"))["id"])
    run("customer", "add", "--name", "Ben Offline", "--email", "ben@example.com")
    assert "Ann Offline" in run("customer", "find", "Offline")
    run("customer", "show", ann)
    case = str(json.loads(run("case", "new", "--kind", "deletion", "--customer", ann,
                              "--subject", "please delete", "--json"))["case"]["id"])
    run("case", "verify", case, "--method", "postal_letter")
    run("case", "note", case, "checked the archives")
    run("case", "status", case, "open")
    run("case", "assign", case, "bob", "--reason", "holiday cover")
    run("dispute", "open", case)
    mail = tmp_path / "letter.eml"
    mail.write_text("From: Ben Offline <ben@example.com>\nTo: info@example.com\n"
                    "Subject: stop the newsletter\nMessage-ID: <offline-1@example.com>\n"
                    "Date: Tue, 10 Mar 2026 09:00:00 +0000\n\nPlease unsubscribe me.\n")
    run("import", str(mail))
    run("optout", "ben@example.com", "unknown@example.org")
    access = str(json.loads(run("case", "new", "--kind", "access", "--customer", ann,
                                "--json"))["case"]["id"])
    run("case", "verify", access, "--method", "phone_callback")
    run("export", ann, "--format", "json", "--out", str(tmp_path / "export.json"))
    run("erase", ann, "--case", case)
    run("erasures", "reapply")
    run("case", "list")
    run("report")
    run("audit", "verify")
    run("audit", "list", "--customer", "1")
    run("audit", "export", "--format", "json", "--out", str(tmp_path / "audit.jsonl"))
    run("backup", str(tmp_path / "backup.sqlite3"))
    run("config", "show")
    assert no_network.attempts == []


async def test_ui_session_offline(no_network: NetworkGuard, tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'ui.sqlite3'}")
    desk = Desk(db=db, settings=Settings(db_url="x", timezone="UTC", key_file=tmp_path / "k"),
                actor_name="alice")
    from helpdesk.services import cases, customers

    c = customers.create(desk, name="Una Offline", emails=["una@no-such-domain-4f1c9.com"])
    cases.create(desk, kind="access", customer_id=c.id)
    app = DeskApp(desk, state_file=tmp_path / "ui.json")
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            for keys in (("slash", *"Una"), ("escape",), ("A",), ("escape",), ("R",),
                         ("escape",)):
                await pilot.press(*keys)
                await app.workers.wait_for_complete()
                await pilot.pause()
                if keys == ("A",):
                    assert isinstance(app.screen, AuditScreen)
                if keys == ("R",):
                    assert isinstance(app.screen, ReportsScreen)
    finally:
        db.dispose()
    assert no_network.attempts == []
