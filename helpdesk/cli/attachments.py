"""Attachments: ``helpdesk attachment list CASE`` and ``helpdesk attachment save ID``.

A saved attachment is a new file (0600, never over an existing one); the desk never opens it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from helpdesk.cli.output import CliContext, command, emit, group, safe, table
from helpdesk.services import attachments, parsing
from helpdesk.services.readmodels import AttachmentInfo


def register(sub: Any) -> None:
    at = group(sub, "attachment", "attachments of a case's mail: list and save to a file")
    p = command(at, "list", attachment_list, "the attachments on a case, with type and size "
                "(audited)", json_output=True)
    p.add_argument("case", metavar="CASE")
    p = command(at, "save", attachment_save, "save one attachment to a new private file "
                "(0600; never overwrites; never opened)", json_output=True)
    p.add_argument("attachment", metavar="ID")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, metavar="FILE", help="the file to create")
    where.add_argument("--dir", type=Path, metavar="DIR",
                       help="a folder to create it in, under a safe name (default: here)")


def kept(a: AttachmentInfo) -> str:
    return "yes" if a.kept else f"no: {a.withheld or 'erased'}"


def attachment_list(args: argparse.Namespace, ctx: CliContext) -> int:
    case_id = parsing.record_id(args.case, what="case", field="case")
    items = attachments.for_case(ctx.desk(), case_id)
    emit(args, items, lambda: table(
        [(f"#{i.attachment.id}", f"#{i.message_id}", i.attachment.filename,
          i.attachment.content_type, f"{i.attachment.size:,}", kept(i.attachment))
         for i in items], ["ID", "MESSAGE", "NAME", "TYPE", "BYTES", "KEPT"],
    ) if items else [f"case #{case_id} has no attachments"])
    return 0


def attachment_save(args: argparse.Namespace, ctx: CliContext) -> int:
    saved = attachments.save(
        ctx.desk(), attachment_id=parsing.record_id(args.attachment, what="attachment",
                                                    field="attachment"),
        out=args.out, folder=args.dir)
    emit(args, saved, lambda: [f"saved attachment #{saved.id} ({saved.content_type}, "
                               f"{saved.size:,} bytes) to {safe(saved.path)}; the desk did not "
                               "open it"])
    return 0
