"""Every command and option of ``helpdesk``, read from its own argument parser (a new command is
covered without touching this file), driven with hostile arguments from ``tests.hostile.ARGV``.

Each call must end with an exit code ``helpdesk --help`` documents and without a traceback; a
refusal is said on standard error, in one line for the desk's own errors. The run is in-process
(``main(argv)``) on each test backend, with a fixed sample per option: the few strings every
option gets (undecodable bytes, an over-long name, a huge number) and a rotating share of the
rest, about 1,100 calls (a minute or so). ``HELPDESK_FUZZ_ALL=1`` gives every option every
string (some 18,000 calls, half an hour) for a deliberate long run.

Standard output and error are real UTF-8 streams here, strict and backslash-replacing like a
terminal's, so text that could not be printed fails as it would for a person.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import traceback
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpdesk.cli import build_parser, main
from helpdesk.errors import EXIT_CODES
from helpdesk.services import agents, cases, customers
from helpdesk.services.context import Desk
from tests.conftest import is_postgres
from tests.hostile import ARGV, LONG_NAME, UNDECODABLE

EVERY = os.environ.get("HELPDESK_FUZZ_ALL") == "1"
ALWAYS = [UNDECODABLE, LONG_NAME, "2147483647", " "]  # every option gets these
ROTATING = 2  # and this many more from ARGV, a different share for each option (one on
# PostgreSQL: argument handling is the same there, the run only checks what reaches the server)

#: Values that let a command get past its other arguments to the one under test.
FILLERS = {
    "email": "new@example.org", "emails": "new@example.org", "address": "new@example.org",
    "name": "bob", "effective": "2015-04-17", "due": "2026-12-31", "on": "2026-01-01",
    "date": "2026-01-01", "period": "dispute=60", "relation": "purchase", "items": "1",
    "template": "acknowledgement", "topic": "cookies", "recipient": "Billing Ltd",
    "purpose": "invoicing", "data": "name", "basis": "contract", "reason": "cover",
    "product": "Cloud Pro", "status": "in_progress",
}
SKIPPED = (argparse._HelpAction, argparse._VersionAction, argparse._StoreTrueAction,
           argparse._SubParsersAction, argparse._StoreConstAction)


@dataclass(frozen=True)
class Slot:
    """One place a value goes: an option or positional of one command (``action`` None: the
    command run once with fillers only)."""

    command: tuple[str, ...]
    parser: argparse.ArgumentParser
    action: argparse.Action | None

    @property
    def name(self) -> str:
        where = self.action and (self.action.option_strings[:1] or [self.action.dest])[0]
        return " ".join(self.command) + (f" {where}" if where else "")


Leaf = tuple[tuple[str, ...], argparse.ArgumentParser]


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[Leaf]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
        return
    for name, child in subs[0].choices.items():
        yield from _leaves(child, (*path, name))


def _slots() -> list[Slot]:
    root = build_parser()
    out = [Slot((), root, a) for a in root._actions if not isinstance(a, SKIPPED)]
    for path, parser in _leaves(root):
        actions = [a for a in parser._actions if not isinstance(a, SKIPPED)]
        out += [Slot(path, parser, a) for a in actions] or [Slot(path, parser, None)]
    return out


def _filler(action: argparse.Action) -> str:
    if action.choices:
        return str(next(iter(action.choices)))
    if action.dest in FILLERS:
        return FILLERS[action.dest]
    if action.type is int:
        return "1"
    if action.type is Path:
        return "filler-path"
    return "x"


def _argv(slot: Slot, value: str, db_url: str) -> list[str]:
    """The command line with ``value`` in the slot and fillers in the other required places;
    options as ``--opt=value`` and positionals after ``--``, so a value starting with a dash
    reaches the command."""
    if not slot.command:  # a global option: the cheapest command that opens the database
        assert slot.action is not None
        rest = [] if slot.action.dest == "db" else ["--db", db_url]
        return [f"{slot.action.option_strings[0]}={value}", *rest, "agent", "whoami"]
    options: list[str] = []
    positionals: list[str] = []
    for action in slot.parser._actions:
        if isinstance(action, SKIPPED):
            continue
        mine = action is slot.action
        if not (mine or action.required):
            continue
        text = value if mine else _filler(action)
        if not action.option_strings:
            positionals.append(text)
        elif action.nargs in ("+", "*"):
            options += [action.option_strings[0], text]
        else:
            options.append(f"{action.option_strings[0]}={text}")
    return ["--db", db_url, *slot.command, *options, "--", *positionals]


def _sample(index: int, rotating: int) -> list[str]:
    if EVERY:
        return ARGV
    start = index * rotating % len(ARGV)
    return ALWAYS + [ARGV[(start + k) % len(ARGV)] for k in range(rotating)]


def _terminal() -> tuple[io.TextIOWrapper, io.TextIOWrapper]:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", newline="\n")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace",
                           newline="\n")
    return out, err


def _read(stream: io.TextIOWrapper) -> str:
    stream.flush()
    return stream.buffer.getvalue().decode("utf-8", "replace")  # type: ignore[attr-defined]


@pytest.fixture
def fuzz_url(desk: Desk, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test database with a customer, a case and a second agent; the working folder is
    deep inside the test's folder, so relative paths (``../../etc/passwd``) stay in it."""
    agents.add(desk, name="bob")
    c = customers.create(desk, name="Robin", emails=["robin@example.org"])
    cases.create(desk, kind="deletion", customer_id=c.id, subject="erase me")
    work = tmp_path / "w" / "o" / "r" / "k"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    return desk.settings.db_url


def _run(argv: list[str]) -> tuple[int | None, str, str, str | None]:
    """(exit code, stdout, stderr, traceback of an escaped exception or None)."""
    out, err = _terminal()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    problem = None
    code: int | None = None
    try:
        code = main(argv, agent="alice")
    except SystemExit as exc:  # argparse's usage errors and --help
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # the very thing under test
        problem = traceback.format_exc(limit=-3)
    finally:
        sys.stdout, sys.stderr = saved
    return code, _read(out), _read(err), problem


def _drive(url: str, plan: list[tuple[Slot, list[str]]]) -> None:
    """Run each slot with each of its values; fail listing every call that went wrong."""
    failures: list[str] = []
    kinds: Counter[str] = Counter()
    calls = 0
    for slot, values in plan:
        for value in values:
            argv = _argv(slot, value, url)
            code, _out, err, problem = _run(argv)
            calls += 1
            if problem is None and code in EXIT_CODES and "Traceback" not in err and (
                    code in (0, 1, 2) or len(err.strip().splitlines()) == 1):
                continue
            what = (problem.strip().splitlines()[-1] if problem
                    else f"exit {code}, stderr {err.strip()[:300]!r}")
            kinds[f"{slot.name}: {what[:120]}"] += 1
            shown = " ".join(repr(a[:40] + "..." if len(a) > 40 else a)
                             for a in argv if a not in ("--db", url))
            failures.append(f"{slot.name} [{shown}]: {what[:400]}")
    print(f"{calls} calls over {len(plan)} options, {len(failures)} failures")
    assert not failures, (f"{len(failures)} of {calls} calls failed:\n"
                          + "\n".join(f"{n:4} x {k}" for k, n in kinds.most_common())
                          + "\n\nfirst ones:\n" + "\n".join(failures[:15]))


def test_every_option_with_hostile_arguments(fuzz_url: str) -> None:
    slots = [s for s in _slots() if not (s.action and s.action.dest == "db")]
    assert len({s.command for s in slots}) > 80  # the walk found the command tree
    rotating = 1 if is_postgres(fuzz_url) else ROTATING
    _drive(fuzz_url, [(slot, _sample(i, rotating) if slot.action else [""])
                      for i, slot in enumerate(slots)])


def test_database_option_with_hostile_values(fuzz_url: str) -> None:
    """``--db`` gets every string: each is one cheap call that stops at opening the database."""
    _drive(fuzz_url, [(slot, ARGV) for slot in _slots() if slot.action and
                      slot.action.dest == "db"])
