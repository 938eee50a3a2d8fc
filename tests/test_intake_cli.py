"""``helpdesk import`` and ``helpdesk intake ...``: JSON counts, item work, safe output, the
progress bar, and an import killed mid-run then resumed (each message exactly once)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from helpdesk.cli.intake import ProgressBar
from helpdesk.db.engine import create_db_engine
from helpdesk.services.intake import Progress
from tests.conftest import Run
from tests.intake_mail import mail, write_mbox


def test_import_json_counts_and_item_commands(cli: Run, tmp_path: Path) -> None:
    assert cli("customer", "add", "--name", "Ann", "--email", "ann@example.com")[0] == 0
    box = write_mbox(tmp_path / "box", [
        mail(),
        mail(msgid="<r@x>", extra="In-Reply-To: <m1@example.com>"),
        mail(msgid="<s@x>", frm="stranger@else.example",
             subject="\x1b[31mred [/b] [@click=app.quit]x[/]"),
        mail(msgid="<o@x>", extra="Auto-Submitted: auto-replied"),
        b"\x00junk\n",
    ])
    code, out, _ = cli("import", str(box), "--json")
    assert code == 0
    counts = json.loads(out)
    assert {k: counts[k] for k in ("imported", "new_cases", "threaded", "unmatched", "machine",
                                   "duplicates", "quarantined")} == {
        "imported": 4, "new_cases": 1, "threaded": 1, "unmatched": 1, "machine": 1,
        "duplicates": 0, "quarantined": 1}
    code, out, _ = cli("import", str(box))
    assert code == 0 and "5 duplicates skipped" in out

    code, out, _ = cli("intake", "list")
    assert code == 0 and "unmatched" in out and "quarantined" in out
    assert "\x1b" not in out and "[31mred [/b] [@click=app.quit]x[/]" in out
    items = json.loads(cli("intake", "list", "--json")[1])["items"]
    unmatched = next(i for i in items if i["state"] == "unmatched")
    quarantined = next(i for i in items if i["state"] == "quarantined")

    code, out, _ = cli("intake", "show", str(unmatched["id"]))
    assert code == 0 and "stranger@else.example" in out and "\x1b" not in out
    code, out, _ = cli("intake", "new-customer", str(unmatched["id"]), "--name", "Stan")
    assert code == 0 and "filed on case #" in out

    code, out, _ = cli("intake", "reprocess", str(quarantined["id"]), "--json")
    assert code == 0 and json.loads(out)["item"]["state"] == "quarantined"
    code, out, err = cli("intake", "reprocess")
    assert code == 6 and "--all" in err
    code, out, _ = cli("intake", "reprocess", "--all", "--json")
    assert code == 0 and json.loads(out)["still_quarantined"] == 1

    code, out, _ = cli("intake", "kind", "1", "access")
    assert code == 0 and "Access case" in out
    code, _, err = cli("intake", "link", "999", "--customer", "1")
    assert code == 3 and "no intake item #999" in err


def test_missing_path_is_a_clear_error(cli: Run, tmp_path: Path) -> None:
    code, _, err = cli("import", str(tmp_path / "nope.mbox"))
    assert code == 6 and "does not exist" in err


def test_progress_bar_is_plain_text() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar(Progress(50, 100, 10))
    bar(Progress(60, 100, 12))  # within the refresh interval: not redrawn
    bar(Progress(100, 100, 20))
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("100% 20 messages\n")
    assert "[" + "#" * 15 + "-" * 15 + "]" in text and "\x1b" not in text


def _count(url: str, sql: str) -> int:
    engine = create_db_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql(sql).scalar_one())
    finally:
        engine.dispose()


def test_interrupted_import_resumes_exactly_once(db_url: str, tmp_path: Path) -> None:
    total = 3000
    messages = [mail(msgid=f"<k{i}@x>", frm=f"person{i % 50}@example.com",
                     body=f"Please delete my data, letter {i}.") for i in range(total)]
    box = write_mbox(tmp_path / "big", messages)
    env = {**os.environ, "HELPDESK_HOME": str(tmp_path / "home"), "PYTHONPATH": os.getcwd()}
    args = [sys.executable, "-m", "helpdesk", "--db", db_url, "import",
            str(box), "--json"]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    seen = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:
            seen = _count(db_url, "SELECT count(*) FROM message")
        except sa.exc.OperationalError:
            continue  # tables not created yet
        if seen >= 200:
            break
    assert proc.poll() is None, "the import finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _count(db_url, "SELECT count(*) FROM message")
    assert 0 < partial < total
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["duplicates"] == partial
    assert result["imported"] == total - partial
    assert _count(db_url, "SELECT count(*) FROM message") == total
    assert _count(db_url, "SELECT count(DISTINCT message_id) FROM message") == total
    assert _count(db_url, "SELECT count(*) FROM intake_item") == total  # unknown senders
