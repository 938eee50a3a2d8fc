"""The agent's inbox: ``helpdesk inbox`` lists notices (unread first by default), marks them."""

from __future__ import annotations

import argparse
from typing import Any

from helpdesk.cli.output import CliContext, command, emit, safe, table
from helpdesk.services import inbox
from helpdesk.wording import counted


def register(sub: Any) -> None:
    p = command(sub, "inbox", show_inbox, "your notices: cases given to you, reminders, answers "
                "from customers, warning days, escalations (supervisors: the whole team's)",
                json_output=True)
    p.add_argument("--all", action="store_true", help="read notices too, not only unread ones")
    p.add_argument("--limit", type=int, default=inbox.DEFAULT_LIMIT, metavar="N")
    p.add_argument("--read", type=int, nargs="+", metavar="ID", help="mark these notices read")
    p.add_argument("--read-all", action="store_true", help="mark every notice read")


def show_inbox(args: argparse.Namespace, ctx: CliContext) -> int:
    desk = ctx.desk()
    if args.read or args.read_all:
        changed = inbox.mark_read(desk, ids=args.read or (), everything=args.read_all)
        emit(args, {"marked_read": changed}, lambda: [f"{counted(changed, 'notice')} marked read"])
        return 0
    page = inbox.inbox(desk, unread_only=not args.all, limit=args.limit)

    def lines() -> list[str]:
        head = [f"{page.unread} unread"]
        if not page.items:
            return [*head, "nothing new" if not args.all else "no notices"]
        return head + table(
            [(f"#{n.id}", "" if n.read else "*", n.at, n.kind.value,
              f"#{n.case_id}" if n.case_id else "-", safe(n.text)) for n in page.items],
            ["ID", "NEW", "AT", "KIND", "CASE", "WHAT"])

    emit(args, page, lines)
    return 0
