"""Shared plumbing for commands: the lazily opened desk, JSON or text output, error reporting."""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from helpdesk.errors import HelpdeskError
from helpdesk.services.context import Desk, open_desk
from helpdesk.services.readmodels import Page, to_jsonable

T = TypeVar("T")


class CliContext:
    """Opens the desk on first use, so ``--help`` and usage errors never touch the database."""

    def __init__(
        self, *, db_url: str | None, act_as: str | None = None, agent: str | None = None
    ) -> None:
        self.db_url = db_url
        self.act_as = act_as  # --as: checked when the desk opens
        self.agent = agent  # in-process callers only (see helpdesk.cli.main)
        self._desk: Desk | None = None

    def desk(self) -> Desk:
        if self._desk is None:
            self._desk = open_desk(db_url=self.db_url, act_as=self.act_as, agent=self.agent)
        return self._desk

    def close(self) -> None:
        if self._desk is not None:
            self._desk.db.dispose()


Handler = Callable[[argparse.Namespace, CliContext], "int | None"]


def command(
    sub: Any, name: str, handler: Handler, help: str, *, json_output: bool = False
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(handler=handler)
    if json_output:
        parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


def group(sub: Any, name: str, help: str) -> Any:
    """A command with sub-commands (``helpdesk case ...``)."""
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(handler=None, group_parser=parser)
    return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")


def subcommands(sub: Any, name: str) -> Any:
    """The sub-command set of a group another module registered (e.g. ``customer`` from core)."""
    parser = sub.choices[name]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def safe(value: Any) -> str:
    """Text for a terminal: control characters (ANSI escapes included) shown, not executed."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    text = str(value)
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cf", "Cs"}
        else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def emit(args: argparse.Namespace, data: Any, text: Callable[[], Iterable[str]]) -> None:
    """Print ``data`` as JSON when ``--json`` was given, otherwise the lines ``text`` yields."""
    if getattr(args, "json", False):
        json.dump(to_jsonable(data), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        for line in text():
            print(line)


def print_records(records: Iterable[str]) -> None:
    """Records (CSV from :mod:`helpdesk.csvout`, or JSON lines) on standard output, their text
    made terminal-safe like everything else printed; each still ends in a plain line break."""
    sys.stdout.writelines(safe(record) for record in records)


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> list[str]:
    """A plain text table; cells are made terminal-safe and clipped to keep lines readable."""
    cells = [[safe(c).replace("\n", " ")[:60] for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*headers).rstrip()] + [fmt.format(*row).rstrip() for row in cells]


def if_version(parser: argparse.ArgumentParser, record: str = "case") -> None:
    """The ``--if-version N`` option of a change decided on what the person saw."""
    parser.add_argument("--if-version", dest="expected_version", type=int, metavar="N",
                        help=f"refuse (exit 5) unless the {record} is still at version N, "
                             "as you saw it")


def page_lines(page: Page[T], rows: Callable[[tuple[T, ...]], list[str]],
               empty: str) -> list[str]:
    """A page of a list as text, saying how to get the next page when there is one."""
    out = rows(page.items) if page.items else [empty]
    if page.next_cursor:
        out.append(f"more: --cursor '{page.next_cursor}'")
    return out


def fail(exc: HelpdeskError) -> int:
    """Say the error on standard error in one line (line breaks in a value shown as escapes)."""
    text = safe(exc.message).replace("\n", "\\n").replace("\t", "\\t")
    print(f"helpdesk: {exc.label}: {text}", file=sys.stderr)
    return exc.exit_code

