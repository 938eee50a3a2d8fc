"""Mail import throughput against merely parsing the same mbox with the standard library.

Generates a 10,000-message mbox (new requests in six languages, replies threaded by
In-Reply-To and by ``[Case #N]`` tags, unknown senders, auto-replies, HTML-only letters, a few
attachments) for a desk with 500 customers, then measures in the same run:

* baseline: ``mailbox.mbox`` + ``email.policy.default`` reading what the desk needs from each
  message (From, To, Subject, Date, Message-ID, In-Reply-To, References and the text body);
* ``import``: ``helpdesk.services.intake.import_paths`` into a fresh SQLite desk (parse, match,
  thread, classify, open cases, commit);
* ``re-import``: the same mbox again, every message a duplicate.

Figures are messages per second; the ratio is against the baseline (target >= 1.0).

Then memory: a 50 MB letter (a short request with a 50 MB scan attached) is imported, which
quarantines it as over-size, and ``helpdesk intake reprocess --all --lenient`` runs in a child
process. The figure is the child's peak resident memory beyond that of the same command with
nothing to re-process, in MB, against the letter's size: the ratio is the multiple of the
letter that reading it cost (lower is better; tests/test_intake_parse.py holds a smaller
letter under 2.5).
"""

from __future__ import annotations

import base64
import email
import mailbox
import os
import random
import shutil
import subprocess
import sys
from email import policy
from pathlib import Path

from bench.common import Figure, Options, desk_home, timed, workdir

MESSAGES = 10_000
CUSTOMERS = 500
BIG_LETTER_MB = 50
_MB = 1024 * 1024

_LETTERS = [
    ("Delete my data", "Hello,\n\nplease delete my data and close my account. I withdraw my "
     "consent to marketing.\n\nThank you"),
    ("Auskunft", "Sehr geehrte Damen und Herren,\n\nich bitte um Auskunft: welche Daten "
     "speichern Sie über mich? Bitte senden Sie mir eine Kopie meiner Daten.\n\nDanke"),
    ("Désabonnement", "Bonjour,\n\nje ne veux plus recevoir vos publicités, merci de me "
     "désabonner de la newsletter.\n\nCordialement"),
    ("Rectificación", "Hola,\n\nmi dirección es incorrecta, por favor corregir mis datos "
     "para el envío.\n\nGracias"),
    ("Reclamo", "Buongiorno,\n\nscrivo per un reclamo: avete venduto i miei dati? Vi chiedo "
     "di cancellare i miei dati.\n\nGrazie"),
    ("Bezwaar", "Beste,\n\nik maak bezwaar tegen het gebruik van mijn gegevens voor reclame "
     "en wil een kopie van mijn gegevens.\n\nBedankt"),
    ("Question", "Hi,\n\nwhat are your opening hours on Sunday? Is the shop with the red "
     "door open?\n\nThanks"),
]


def _message(i: int, rng: random.Random, sent: list[tuple[str, int]]) -> bytes:
    """Message number ``i``; ``sent`` collects (message id, customer) of new requests."""
    roll = rng.random()
    customer = rng.randrange(CUSTOMERS)
    sender = f"customer{customer}@example.com"
    headers = [f"Message-ID: <bench{i}@mail.example>",
               f"Date: Mon, {1 + i % 28:02d} Feb 2026 {i % 24:02d}:{i % 60:02d}:00 +0100",
               "To: info@shop.example", "MIME-Version: 1.0"]
    subject, body = _LETTERS[i % len(_LETTERS)]
    content_type = "text/plain; charset=utf-8"
    if roll < 0.15 and sent:
        ref, customer = rng.choice(sent)
        sender = f"customer{customer}@example.com"
        subject = f"Re: {subject}"
        headers.append(f"In-Reply-To: {ref}")
        body = "Thanks, any news?\n\n> earlier text quoted here"
    elif roll < 0.20:
        sender = f"stranger{i}@elsewhere.example"
    elif roll < 0.25:
        headers.append("Auto-Submitted: auto-replied")
        subject = "Out of office"
    elif roll < 0.30:
        content_type = "text/html; charset=utf-8"
        body = f"<html><body><p>{body.replace(chr(10), '<br>')}</p></body></html>"
    else:
        sent.append((f"<bench{i}@mail.example>", customer))
    headers += [f"From: Customer {customer} <{sender}>", f"Subject: {subject}",
                f"Content-Type: {content_type}"]
    return ("\n".join(headers) + "\n\n" + body + "\n").encode()


def generate(path: Path, seed: int) -> None:
    rng = random.Random(seed)
    sent: list[tuple[str, int]] = []
    with path.open("wb") as fh:
        for i in range(MESSAGES):
            fh.write(b"From someone@example.com Mon Feb  2 10:00:00 2026\n")
            fh.write(_message(i, rng, sent).replace(b"\nFrom ", b"\n>From ") + b"\n")


def baseline(path: Path) -> int:
    """The standard library reading what the desk needs from every message."""
    box = mailbox.mbox(path, factory=None, create=False)
    count = 0
    for key in box.iterkeys():
        msg = email.message_from_bytes(box.get_bytes(key), policy=policy.default)
        for name in ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To",
                     "References"):
            msg.get(name)
        body = msg.get_body(preferencelist=("plain", "html"))
        if body is not None:
            body.get_content()
        count += 1
    box.close()
    return count


def _template(folder: Path) -> Path:
    from helpdesk.db.engine import open_database
    from helpdesk.db.models import Customer, CustomerEmail

    path = folder / "template.sqlite3"
    if path.exists():
        return path
    db = open_database(f"sqlite:///{path}")
    with db.session(write=True) as s:
        for n in range(CUSTOMERS):
            customer = Customer(name=f"Customer {n}")
            s.add(customer)
            s.flush()
            address = f"customer{n}@example.com"
            s.add(CustomerEmail(customer_id=customer.id, address=address, normalized=address,
                                is_primary=True))
    db.dispose()
    return path


def big_letter(path: Path, seed: int) -> int:
    """A 50 MB letter: a short deletion request with a scanned document attached."""
    rng = random.Random(seed)
    scan = base64.encodebytes(rng.randbytes(BIG_LETTER_MB * _MB * 3 // 4))
    path.write_bytes(
        b"From: Customer 1 <customer1@example.com>\nTo: info@shop.example\n"
        b"Subject: Delete my data\nMessage-ID: <big@mail.example>\n"
        b"Date: Mon, 02 Feb 2026 10:00:00 +0100\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="B"\n\n--B\n'
        b"Content-Type: text/plain; charset=utf-8\n\nPlease delete my data; my ID is "
        b"attached.\n--B\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
        b'Content-Disposition: attachment; filename="id.pdf"\n\n' + scan + b"--B--\n"
    )
    return path.stat().st_size


#: Runs the CLI, then prints its peak resident memory in KiB: VmHWM belongs to this program
#: alone (ru_maxrss would start from the forking parent's size, the whole benchmark's).
_PEAK = ("import sys\nfrom helpdesk.cli import main\ncode = main(sys.argv[1:], agent='bench')\n"
         "print(next(line.split()[1] for line in open('/proc/self/status') "
         "if line.startswith('VmHWM')))\nsys.exit(code)")


def _reprocess_peak_kib(url: str, home: Path) -> int:
    """Peak resident memory (KiB) of ``helpdesk intake reprocess --all --lenient``."""
    done = subprocess.run(
        [sys.executable, "-c", _PEAK, "--db", url, "intake", "reprocess", "--all", "--lenient",
         "--json"],
        check=True, capture_output=True, text=True, env={**os.environ, "HELPDESK_HOME": str(home)},
    )
    return int(done.stdout.strip().splitlines()[-1])


def memory(folder: Path, template: Path, seed: int) -> Figure:
    from helpdesk.config import Settings
    from helpdesk.db.engine import open_database
    from helpdesk.services import intake
    from helpdesk.services.context import Desk

    letter = folder / "big.eml"
    size = big_letter(letter, seed)
    home = folder / "home"
    with desk_home(home):
        key_file = Settings().key_file  # the child's key: one key for the database
    peaks = []
    for with_letter in (False, True):
        target = folder / "memory.sqlite3"
        shutil.copyfile(template, target)
        url = f"sqlite:///{target}"
        db = open_database(url)
        desk = Desk(db=db, settings=Settings(db_url=url, timezone="Europe/Berlin",
                                             key_file=key_file), actor_name="bench")
        if with_letter:
            assert intake.import_paths(desk, paths=[letter]).quarantined == 1
        db.dispose()
        peaks.append(_reprocess_peak_kib(url, home))
        target.unlink()
    letter.unlink()
    return Figure(f"reprocess --lenient {BIG_LETTER_MB} MB letter: extra peak memory (MB)",
                  (peaks[1] - peaks[0]) / 1024, size / _MB, "MB, ratio = multiple (lower "
                  "is better)")


def run(opts: Options) -> list[Figure]:
    from helpdesk.config import Settings
    from helpdesk.db.engine import open_database
    from helpdesk.services import intake
    from helpdesk.services.context import Desk

    with workdir(opts) as folder:
        box = folder / "info.mbox"
        if not box.exists():
            generate(box, opts.seed)
        template = _template(folder)
        repeat = max(1, min(opts.repeat, 3))
        base = min(timed(lambda: baseline(box)) for _ in range(repeat))
        best_import = best_again = float("inf")
        for n in range(repeat):
            target = folder / f"run{n}.sqlite3"
            shutil.copyfile(template, target)
            url = f"sqlite:///{target}"
            db = open_database(url)
            desk = Desk(db=db, settings=Settings(db_url=url, timezone="Europe/Berlin",
                                                 key_file=folder / "key"), actor_name="bench")
            best_import = min(best_import, timed(lambda d=desk: intake.import_paths(
                d, paths=[box])))
            best_again = min(best_again, timed(lambda d=desk: intake.import_paths(
                d, paths=[box])))
            db.dispose()
            target.unlink()
        return [
            memory(folder, template, opts.seed),
            Figure("import 10k mbox (msgs/s)", MESSAGES / best_import, MESSAGES / base,
                   "msgs/s"),
            Figure("re-import, all duplicates (msgs/s)", MESSAGES / best_again,
                   MESSAGES / base, "msgs/s"),
        ]
