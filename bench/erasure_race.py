"""Import while erasing: nothing of an erased person may survive, on SQLite and PostgreSQL.

One trial: a fresh desk holds the person (two addresses, a phone, an earlier letter already
filed, a deletion request) and two bystanders. A mailbox export then arrives: the person's
letters (signed with their name and phone, Message-IDs made from their address, one replying to
the desk's own reply), with ``oversize`` an over-size letter the importer quarantines, and the
bystanders' mail, one of them copying the person's address. The import runs in a thread in
small batches; after a random pause the person is erased. When both are done the trial counts
what is left: the final scan of the live tables (:func:`helpdesk.services.traces.scan`), the
cases still attached to the person with any text, and, on SQLite, the identifiers in the bytes
of the database file and its write-ahead log.

``python -m bench erasure_race --repeat 50`` runs 50 trials on SQLite and, when
``HELPDESK_TEST_PG_URL`` names a server where the user may create databases, 50 on PostgreSQL
(each in a database of its own, dropped afterwards). Figures: clean trials against trials run;
a ratio of 1.00 is the only pass.
"""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from bench.common import Figure, Options, workdir

NAME = "Zebediah Quillfeather"
EMAIL = "zeb.quillfeather@example.org"
OTHER = "ZQ.Private@example.net"
PHONE = "+44 20 7946 0958"
SECRETS = (NAME, EMAIL, OTHER.lower(), PHONE)
#: A short policy of the bench's own (the replies quote the policy in force).
POLICY = ("Part III. Access to Your Information\nWrite to us to correct or delete your data. "
          "Copies may remain on databases kept for archival purposes.\n"
          "Part VI. Contact Information\nWrite to us with any question.\n")
LETTERS = 24
BATCH = 3


def _letter(sender: str, subject: str, body: str, msgid: str, when: datetime,
            extra: str = "", content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = [f"From: {sender}", "To: info@shop.example", f"Subject: {subject}",
            f"Date: {format_datetime(when)}", f"Message-ID: {msgid}", "MIME-Version: 1.0",
            f"Content-Type: {content_type}"]
    if extra:
        head.append(extra)
    return ("\n".join(head) + "\n\n" + body + "\n").encode("utf-8")


def _signature() -> str:
    return f"\n\nKind regards,\n{NAME}\n{PHONE}"


def mailbox(path: Path, *, reply_id: str | None, oversize: bool, rng: random.Random,
            now: datetime) -> Path:
    """The export: the person's letters shuffled among the bystanders' (all dated before now)."""
    from helpdesk.intake import parse

    letters = []
    for i in range(LETTERS):
        when = now - timedelta(days=20, minutes=i)
        if i % 3 == 0:
            letters.append(_letter(f"{NAME} <{EMAIL}>", f"About my order {i}",
                                   f"Hello, where is order {i}?" + _signature(),
                                   f"<{i}.{EMAIL.replace('@', '.')}@mail.example.org>", when))
        elif i % 3 == 1:
            letters.append(_letter(f'"Quillfeather, Zebediah" <{OTHER}>',
                                   "Please delete my data",
                                   "Please delete everything you hold about me." + _signature(),
                                   f"<{uuid.UUID(int=rng.getrandbits(128))}@example.net>", when))
        else:
            letters.append(_letter("Ada Bystander <ada@example.com>", f"Question {i}",
                                   f"My partner ({EMAIL}) asked me to write. Is the shop open?",
                                   f"<ada{i}@example.com>", when))
    if reply_id:
        letters.append(_letter(f"{NAME} <{EMAIL}>", "Re: your request",
                               "Thanks, but did you also delete my phone number?" + _signature(),
                               "<reply.zeb@mail.example.org>", now - timedelta(days=19),
                               extra=f"In-Reply-To: {reply_id}"))
    letters.append(_letter(f"{NAME} <{EMAIL}>", "Bestellung", "Grüße von " + NAME,
                           "<klingon.zeb@mail.example.org>", now - timedelta(days=18),
                           content_type="text/plain; charset=x-mac-klingon"))
    if oversize:
        filler = "A" * (parse.MAX_MESSAGE_BYTES + 1024)
        letters.append(_letter(f"{NAME} <{EMAIL}>", "Scan of my passport",
                               f"Attached, {NAME}, {PHONE}\n{filler}",
                               "<big.zeb@mail.example.org>", now - timedelta(days=18)))
    rng.shuffle(letters)
    with path.open("wb") as fh:
        for raw in letters:
            fh.write(b"From someone@example.com Mon Feb  2 10:00:00 2026\n")
            fh.write(raw.replace(b"\nFrom ", b"\n>From ") + b"\n")
    return path


@dataclass
class Trial:
    status: str = ""
    reruns: int = 0  # erasure runs needed after the first (a desk was reading: documented)
    left: dict[str, list[int]] = field(default_factory=dict)  # the final scan's findings
    attached: int = 0  # cases or messages of the erased person still holding text
    file_hits: list[str] = field(default_factory=list)  # identifiers in the SQLite files
    erased_letters: int = 0  # letters the import kept nothing of (sent before the erasure)

    @property
    def clean(self) -> bool:
        return (self.status == "complete" and not self.left and not self.attached
                and not self.file_hits)


def file_hits(path: Path) -> list[str]:
    """Identifiers of the person found in the SQLite file and its write-ahead log."""
    data = b"".join(f.read_bytes().lower() for f in (path, path.with_name(path.name + "-wal"))
                    if f.exists())
    return [s for s in SECRETS if s.lower().encode() in data]


def trial(url: str, folder: Path, *, seed: int, oversize: bool = False) -> Trial:
    """One import-while-erase trial on the database at ``url`` (fresh, at the newest schema)."""
    import sqlalchemy as sa
    from sqlmodel import col, select

    from helpdesk.config import Settings
    from helpdesk.db.engine import open_database
    from helpdesk.db.models import Case, Message
    from helpdesk.domain import CaseKind
    from helpdesk.services import (
        cases,
        customers,
        erasure,
        intake,
        policy,
        replies,
        traces,
        verification,
    )
    from helpdesk.services.context import Desk

    rng = random.Random(seed)
    db = open_database(url)
    result = Trial()
    try:
        desk = Desk(db=db, settings=Settings(db_url=url, timezone="Europe/Berlin",
                                             key_file=folder / "trial.key"), actor_name="alice")
        now = desk.now()
        policy.add(desk, text=POLICY, effective_on=date(2015, 4, 17))
        person = customers.create(desk, name=NAME, emails=[EMAIL, OTHER], phone=PHONE)
        customers.create(desk, name="Ada Bystander", emails=["ada@example.com"])
        first = folder / f"first-{seed}.eml"
        first.write_bytes(_letter(f"{NAME} <{EMAIL}>", "Delete me", "Delete my account please."
                                  + _signature(), f"<first.{EMAIL}>", now - timedelta(days=21)))
        intake.import_paths(desk, paths=[first])
        request = cases.create(desk, kind=CaseKind.DELETION, customer_id=person.id,
                               subject=f"Deletion for {NAME}",
                               received_at=now - timedelta(days=2))
        verification.verify(desk, case_id=request.case.id, method="identity_document")
        with db.session() as s:
            filed = s.exec(select(Case.id).where(Case.customer_id == person.id,
                                                 Case.id != request.case.id)).first()
        reply = replies.write(desk, case_id=filed, template="acknowledgement") if filed else None
        box = mailbox(folder / f"export-{seed}.mbox", reply_id=reply.message_id if reply else None,
                      oversize=oversize, rng=rng, now=now)
        imported: list[intake.ImportResult] = []
        failure: list[BaseException] = []

        def run_import() -> None:
            try:
                imported.append(intake.import_paths(desk, paths=[box], batch_size=BATCH))
            except BaseException as exc:  # reported by the trial, not lost in the thread
                failure.append(exc)

        worker = threading.Thread(target=run_import)
        worker.start()
        time.sleep(rng.random() * 0.15)
        info = erasure.erase(desk, customer_id=person.id, case_id=request.case.id)
        worker.join()
        if failure:
            raise failure[0]
        while info.status != "complete" and result.reruns < 3:
            result.reruns += 1
            info = erasure.erase(desk, customer_id=person.id, case_id=request.case.id)
        result.status = info.status
        result.erased_letters = sum(r.erased for r in imported)
        identity = traces.Identity(addresses=(EMAIL, OTHER.lower()), name=NAME, phone=PHONE)
        with db.session() as s:
            result.left = traces.scan(s, identity, customer_id=person.id)
            result.attached = s.exec(select(sa.func.count()).select_from(Message).join(
                Case, col(Case.id) == col(Message.case_id)).where(
                Case.customer_id == person.id, sa.or_(col(Message.body).is_not(None),
                                                      col(Message.subject).is_not(None))
                & (col(Message.direction) == "inbound"))).one()
            result.attached += s.exec(select(sa.func.count()).select_from(Case).where(
                Case.customer_id == person.id, col(Case.subject).is_not(None))).one()
        if db.sqlite_path is not None:
            result.file_hits = file_hits(db.sqlite_path)
    finally:
        db.dispose()
    return result


@contextmanager
def pg_database(base_url: str) -> Iterator[str]:
    """A throwaway PostgreSQL database on the server of ``base_url``."""
    import sqlalchemy as sa

    from helpdesk.db.engine import create_db_engine, normalize_url

    name = f"helpdesk_race_{uuid.uuid4().hex[:10]}"
    admin = create_db_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield normalize_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        for attempt in range(5):  # an autovacuum worker may still be in the fresh database
            try:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
                break
            except sa.exc.OperationalError:
                time.sleep(0.5 * (attempt + 1))
        admin.dispose()


def run(opts: Options) -> list[Figure]:
    trials = max(1, opts.repeat)
    backends = ["sqlite"] + (["postgresql"] if os.environ.get("HELPDESK_TEST_PG_URL") else [])
    figures = []
    with workdir(opts) as folder:
        for backend in backends:
            clean = reruns = kept_nothing = 0
            for n in range(trials):
                seed = opts.seed * 1000 + n
                oversize = n % 10 == 0
                if backend == "sqlite":
                    path = folder / f"race-{n}.sqlite3"
                    result = trial(f"sqlite:///{path}", folder, seed=seed, oversize=oversize)
                    for suffix in ("", "-wal", "-shm"):
                        path.with_name(path.name + suffix).unlink(missing_ok=True)
                else:
                    with pg_database(os.environ["HELPDESK_TEST_PG_URL"]) as url:
                        result = trial(url, folder, seed=seed, oversize=oversize)
                clean += result.clean
                reruns += result.reruns
                kept_nothing += result.erased_letters
                if not result.clean:
                    print(f"{backend} trial {n} (seed {seed}): {result}")
            figures += [
                Figure(f"{backend}: clean import-while-erase trials", clean, trials, "trials"),
                Figure(f"{backend}: erasure re-runs needed", reruns, trials, "runs"),
                Figure(f"{backend}: letters from the erased person not kept", kept_nothing,
                       trials, "letters"),
            ]
    return figures
