"""Opening the desk from the command line: what the start path does and does not load."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk.services import agents
from helpdesk.services.context import Desk


def test_opening_the_desk_collects_no_garbage_while_loading_and_restores_afterwards(
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import screens.app

    seen: dict[str, object] = {}

    def run_desk(desk: Desk) -> None:
        seen["desk"] = desk
        seen["enabled"] = gc.isenabled()
        seen["frozen"] = gc.get_freeze_count()

    monkeypatch.setattr(screens.app, "run_desk", run_desk)
    assert gc.get_freeze_count() == 0
    code, _, err = cli()
    assert code == 0, err
    assert isinstance(seen["desk"], Desk)
    # the desk runs collecting, with what start-up built set aside
    assert seen["enabled"] is True
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 1000
    # and once it closes, everything is collectable again
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_desk_that_cannot_open_leaves_collection_as_it_was(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import screens.app
    from helpdesk.cli import main

    monkeypatch.setattr(screens.app, "run_desk", lambda desk: pytest.fail("desk opened"))
    not_a_database = tmp_path / "notes.sqlite3"
    not_a_database.write_text("shopping list\n" * 500)
    assert main(["--db", f"sqlite:///{not_a_database}"], agent="alice") != 0
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


START_PATH = """
import sys
import screens.app
from helpdesk.cli import main
from helpdesk.db import models

def run_desk(desk):  # the desk command's start path, up to running the app
    screens.app.DeskApp(desk)  # reads every extension's keys (extension discovery)
    report()
    return 0

def report():
    print("classifier loaded:", "helpdesk.intake.classify" in sys.modules)
    print("mappers configured:", models.Case.__mapper__.configured)
    print("validators built:", models.Case.__pydantic_complete__)
    print("letter writing loaded:", "helpdesk.services.replies" in sys.modules)
    print("postgresql dialect loaded:", "sqlalchemy.dialects.postgresql" in sys.modules)
    print("extension screens loaded:", sorted(m for m in sys.modules if m in sys.argv[2:]))

screens.app.run_desk = run_desk
sys.exit(main(["--db", sys.argv[1]], agent="alice"))
"""

#: The desk's screens that only extensions reach (a key, the palette): none is needed to show
#: the first screen.
EXTENSION_SCREENS = ["audit", "disputes", "duplicates", "inbox", "intake", "privacy", "records",
                     "replies", "reports", "templates", "workload"]


def test_the_start_path_leaves_the_classifier_the_orm_and_the_other_screens_for_later(
    desk: Desk, home: Path
) -> None:
    """Reading letters (the classifier's rules) and configuring every ORM mapper are not on the
    way to the first screen: the one is needed for intake, the other is done by the first
    query that needs it (the queue's, in a worker) rather than by the key and identity
    checks at start.
    The tables' pydantic validators are built when first needed, which the desk never does.
    Neither is writing letters (templates, policy quotes, e-mail), SQLAlchemy's PostgreSQL
    dialect on a SQLite desk, nor the screens that open by a key: the desk knows their keys
    without importing them."""
    agents.whoami(desk)  # alice is the desk's first agent (registering her configures the ORM)
    modules = [f"screens.{name}" for name in EXTENSION_SCREENS]
    out = subprocess.run([sys.executable, "-c", START_PATH, desk.settings.db_url, *modules],
                         capture_output=True, text=True, check=True, env=os.environ.copy())
    assert out.stdout.splitlines() == [
        "classifier loaded: False",
        "mappers configured: False",
        "validators built: False",
        "letter writing loaded: False",
        f"postgresql dialect loaded: {desk.db.backend == 'postgresql'}",
        "extension screens loaded: []",
    ]
