"""Opening the desk from the command line: what the start path does and does not load."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpdesk.services import agents
from helpdesk.services.context import Desk

START_PATH = """
import sys
from screens.app import DeskApp
from helpdesk.services.context import open_desk
from helpdesk.db import models
desk = open_desk(db_url=sys.argv[1], agent="alice")
DeskApp(desk)  # imports every screen module (extension discovery)
print("classifier loaded:", "helpdesk.intake.classify" in sys.modules)
print("mappers configured:", models.Case.__mapper__.configured)
"""


def test_the_start_path_leaves_the_classifier_and_the_orm_set_up_for_later(
    desk: Desk, home: Path
) -> None:
    """Reading letters (the classifier's rules) and configuring every ORM mapper are not on the
    way to the first screen: the one is needed for intake, the other is done by the first
    query that needs it (the queue's, in a worker) rather than by the key check at start."""
    agents.whoami(desk)  # alice is the desk's first agent (registering her configures the ORM)
    out = subprocess.run([sys.executable, "-c", START_PATH, desk.settings.db_url],
                         capture_output=True, text=True, check=True, env=os.environ.copy())
    assert out.stdout.splitlines() == ["classifier loaded: False", "mappers configured: False"]
