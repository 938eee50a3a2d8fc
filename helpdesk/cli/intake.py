"""Mail intake commands: ``helpdesk import PATH...`` and ``helpdesk intake ...``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from helpdesk.cli.output import CliContext, command, emit, group, safe, table
from helpdesk.domain import CaseKind
from helpdesk.errors import Invalid
from helpdesk.services import intake
from helpdesk.services.intake import IntakeItemDetail, Progress

BAR_WIDTH = 30
REFRESH_SECONDS = 0.1


def register(sub: Any) -> None:
    p = command(sub, "import", import_mail, "import exported mail (.eml files, mbox files, "
                "Maildir folders, or folders holding them)", json_output=True)
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")

    it = group(sub, "intake", "mail the importer could not file on its own")
    p = command(it, "list", item_list, "list intake items (default: unmatched and quarantined)",
                json_output=True)
    p.add_argument("--state", default="open",
                   choices=["open", "all", *intake.ITEM_STATES])
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--cursor", help="continue after a previous page")
    p = command(it, "show", item_show, "show an item with its letter (audited)", json_output=True)
    p.add_argument("id", type=int)
    p = command(it, "link", item_link, "file an unmatched letter under an existing customer",
                json_output=True)
    p.add_argument("id", type=int)
    p.add_argument("--customer", type=int, required=True, metavar="ID")
    p.add_argument("--add-email", action="store_true",
                   help="also record the sender's address on the customer")
    p.add_argument("--version", type=int, help="the item version you looked at")
    p = command(it, "new-customer", item_new_customer, "create a customer from an unmatched "
                "letter's sender and file the letter", json_output=True)
    p.add_argument("id", type=int)
    p.add_argument("--name", help="the customer's name (nothing else is taken from the mail)")
    p.add_argument("--version", type=int, help="the item version you looked at")
    p = command(it, "dismiss", item_dismiss, "close an unmatched letter that asks nothing "
                "(spam, misdirected mail); the letter is kept", json_output=True)
    p.add_argument("id", type=int)
    p.add_argument("--reason", required=True, help="why it is no request, e.g. 'spam'")
    p.add_argument("--version", type=int, help="the item version you looked at")
    p = command(it, "reprocess", item_reprocess, "read quarantined mail again",
                json_output=True)
    p.add_argument("id", type=int, nargs="?")
    p.add_argument("--all", action="store_true", help="every quarantined item")
    p.add_argument("--lenient", action="store_true",
                   help="import over-size mail with its text truncated")
    p = command(it, "kind", case_kind, "confirm a case's suggested kind, or change it",
                json_output=True)
    p.add_argument("case", type=int)
    p.add_argument("kind", nargs="?", choices=[k.value for k in CaseKind])
    p.add_argument("--version", type=int, help="the case version you looked at")


class ProgressBar:
    """A one-line progress bar on a terminal, in plain text (no rich), redrawn at most
    every :data:`REFRESH_SECONDS`."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        finished = p.done_bytes >= p.total_bytes
        if not finished and now - self._last < REFRESH_SECONDS:
            return
        self._last = now
        share = p.done_bytes / p.total_bytes if p.total_bytes else 1.0
        filled = int(share * BAR_WIDTH)
        self.stream.write(f"\r[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {share:4.0%} "
                          f"{p.messages:,} messages")
        if finished:
            self.stream.write("\n")
        self.stream.flush()


def import_mail(args: argparse.Namespace, ctx: CliContext) -> int:
    progress: Callable[[Progress], None] | None = (
        ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    )
    r = intake.import_paths(ctx.desk(), paths=args.paths, progress=progress)
    emit(args, r, lambda: [
        f"{r.seen} messages in {r.sources} source(s): {r.imported} imported "
        f"({r.new_cases} new cases, {r.threaded} onto existing cases, {r.unmatched} unmatched, "
        f"{r.machine} machine mail), {r.duplicates} duplicates skipped, "
        f"{r.quarantined} quarantined"
        + (f", {r.erased} from erased people not kept" if r.erased else ""),
        *(["see them with: helpdesk intake list"] if r.unmatched or r.quarantined else []),
    ])
    return 0


def item_list(args: argparse.Namespace, ctx: CliContext) -> int:
    page = intake.list_items(ctx.desk(), state=args.state, cursor=args.cursor, limit=args.limit)

    def lines() -> Iterator[str]:
        yield from table(
            [(i.id, i.state, i.kind.value if i.kind else "-", _left(i), i.received_at,
              i.from_address, i.subject, i.reason) for i in page.items],
            ["id", "state", "kind", "days left", "received", "from", "subject", "reason"],
        )
        if page.next_cursor:
            yield f"more: --cursor {page.next_cursor}"

    emit(args, page, lines)
    return 0


def _left(i: intake.IntakeItemInfo) -> str:
    if i.days_left is None:
        return "-"
    return f"{i.days_left} OVERDUE" if i.overdue else str(i.days_left)


def _item_lines(d: IntakeItemDetail) -> Iterator[str]:
    i = d.item
    yield f"intake item #{i.id}  {i.state}  (version {i.version})"
    yield f"reason:   {safe(i.reason)}"
    yield f"source:   {safe(i.source)}"
    if i.resolved_case_id or i.case_id:
        yield f"case:     #{i.resolved_case_id or i.case_id}"
    if i.due_at is not None:
        yield f"due:      {safe(i.due_at)} ({_left(i)} days left, running since receipt)"
    if i.message_id:
        yield f"from:     {safe(i.from_address)}"
        yield f"to:       {safe(d.to_address)}"
        yield f"received: {safe(i.received_at)}"
        yield f"subject:  {safe(i.subject)}"
        for a in d.attachments:
            yield f"attached: {safe(a.filename)} ({safe(a.content_type)}, {a.size} bytes)"
        if d.suggestion:
            s = d.suggestion
            others = ", ".join(s["others"]) or "-"
            yield (f"suggested: {safe(s['primary'])} (phrase: {safe(s['phrase'])}; also: "
                   f"{others}; language: {safe(s['language'])})")
            if s.get("needs_person"):
                yield (f"needs a person: it may be {', '.join(s.get('candidates') or [])}; "
                       "the shortest clock runs until someone decides")
            if s.get("reminder"):
                yield f"reminder: {safe(s.get('reminder_phrase'))}"
        yield ""
        yield safe(d.body)
    elif d.raw_preview is not None:
        yield f"raw size: {i.raw_size} bytes; beginning:"
        yield ""
        yield safe(d.raw_preview)


def item_show(args: argparse.Namespace, ctx: CliContext) -> int:
    d = intake.get_item(ctx.desk(), args.id)
    emit(args, d, lambda: _item_lines(d))
    return 0


def _filed(d: IntakeItemDetail) -> list[str]:
    return [f"intake item #{d.item.id} filed on case #{d.item.resolved_case_id}"]


def item_link(args: argparse.Namespace, ctx: CliContext) -> int:
    d = intake.link(ctx.desk(), item_id=args.id, customer_id=args.customer,
                    expected_version=args.version, add_email=args.add_email)
    emit(args, d, lambda: _filed(d))
    return 0


def item_new_customer(args: argparse.Namespace, ctx: CliContext) -> int:
    d = intake.new_customer(ctx.desk(), item_id=args.id, name=args.name,
                            expected_version=args.version)
    emit(args, d, lambda: _filed(d))
    return 0


def item_dismiss(args: argparse.Namespace, ctx: CliContext) -> int:
    d = intake.dismiss(ctx.desk(), item_id=args.id, reason=args.reason,
                       expected_version=args.version)
    emit(args, d, lambda: [f"intake item #{d.item.id} dismissed; case "
                           f"#{d.item.resolved_case_id} closed"])
    return 0


def item_reprocess(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.all == (args.id is not None):
        raise Invalid("give either an item id or --all", field="id")
    if args.all:
        r = intake.reprocess_all(ctx.desk(), lenient=args.lenient)
        emit(args, r, lambda: [f"{r.filed} filed, {r.still_quarantined} still quarantined"])
        return 0
    d = intake.reprocess(ctx.desk(), item_id=args.id, lenient=args.lenient)
    emit(args, d, lambda: [f"intake item #{d.item.id} is now {d.item.state}: "
                           f"{safe(d.item.reason)}"])
    return 0


def case_kind(args: argparse.Namespace, ctx: CliContext) -> int:
    d = intake.confirm_kind(ctx.desk(), case_id=args.case, kind=args.kind,
                            expected_version=args.version)
    emit(args, d, lambda: [f"case #{d.case.id} is a {d.case.kind.label} case, due "
                           f"{d.case.due_date}"])
    return 0
