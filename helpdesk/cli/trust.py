"""Trust commands: audit trail checks, anchors and exports, the database key, backups and
restores, erasure re-application, and the effective configuration."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from helpdesk import files
from helpdesk.cli.output import CliContext, command, emit, group, print_records, safe, table
from helpdesk.config import load_settings
from helpdesk.errors import CHECK_FAILED, KeyMissing
from helpdesk.services import audit_query, backup, keys
from helpdesk.services.audit_query import AuditFilter
from helpdesk.services.readmodels import to_jsonable


def register(sub: Any) -> None:
    au = group(sub, "audit", "the audit trail: who viewed, exported or changed what")
    p = command(au, "verify", audit_verify, "check the keyed audit chain; exit 10 naming the "
                "first event that no longer matches", json_output=True)
    p.add_argument("--anchor", metavar="POSITION:HASH", action="append", default=[],
                   help="an anchor kept from 'audit anchor' (repeatable): fail, naming where, if "
                   "the trail no longer holds it (rewritten or cut off)")
    command(au, "anchor", audit_anchor, "record a checkpoint of the chain and print it, to keep "
            "somewhere the desk cannot change (supervisors only)", json_output=True)
    p = command(au, "list", audit_list, "list audit events, newest first (supervisors only)",
                json_output=True)
    _filter_args(p)
    p.add_argument("--limit", type=int, default=audit_query.DEFAULT_PAGE)
    p.add_argument("--cursor", help="continue after a previous page")
    p = command(au, "export", audit_export, "export audit events, oldest first (supervisors "
                "only)")
    _filter_args(p)
    p.add_argument("--format", choices=audit_query.EXPORT_FORMATS, default="csv",
                   help="csv, or json (one event per line)")
    p.add_argument("--out", type=Path, metavar="FILE",
                   help="write to FILE (mode 0600) instead of stdout")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")

    p = command(sub, "backup", backup_create, "copy the SQLite database to PATH while the desk "
                "stays open (supervisors only)", json_output=True)
    p.add_argument("path", type=Path)
    p.add_argument("--force", action="store_true", help="replace PATH if it exists")
    p.add_argument("--keep-days", type=int, metavar="N",
                   help="keep it N days (default: backup_keep_days, 30); erasures list it as "
                   "still holding the people they erase until then")
    bk = group(sub, "backups", "backups made with 'helpdesk backup'")
    command(bk, "list", backups_list, "every backup, its keep-until date and whether its file "
            "is still there", json_output=True)
    command(bk, "prune", backups_prune, "delete the backups past their keep-until date "
            "(supervisors only)", json_output=True)
    p = command(sub, "restore", backup_restore, "replace the SQLite database by a backup, "
                "re-applying every erasure made since (supervisors only)", json_output=True)
    p.add_argument("path", type=Path)

    ke = group(sub, "key", "the database's secret key (suppression hashes, audit chain)")
    command(ke, "show", key_show, "show the database's key fingerprint and whether this desk "
            "holds the key", json_output=True)
    p = command(ke, "export", key_export, "write the database's key to a new file (0600), for "
                "a new desk or a safe place (supervisors only)", json_output=True)
    p.add_argument("path", type=Path)
    p = command(ke, "import", key_import, "install the database's key from a file made by "
                "'key export' on another desk", json_output=True)
    p.add_argument("path", type=Path)

    er = group(sub, "erasures", "the erasure ledger")
    command(er, "reapply", erasures_reapply, "erase again anyone the ledger says was erased "
            "(after restoring a backup, e.g. with pg_restore)", json_output=True)

    co = group(sub, "config", "configuration")
    command(co, "show", config_show, "print the effective configuration (secrets masked)",
            json_output=True)


def _filter_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agent", metavar="NAME", help="events by this agent")
    p.add_argument("--customer", type=int, metavar="ID",
                   help="events about this customer or their cases")
    p.add_argument("--action", help="an action (customer.view) or a prefix ending in '.' (case.)")
    p.add_argument("--from", dest="since", metavar="DATE",
                   help="from this day (YYYY-MM-DD, desk time zone) or instant (ISO 8601)")
    p.add_argument("--to", dest="until", metavar="DATE",
                   help="up to and including this day, or before this instant")


def _filter(args: argparse.Namespace, ctx: CliContext) -> AuditFilter:
    """``--from``/``--to``: a day in the desk's zone (``--to`` includes the whole day) or an
    aware ISO 8601 instant."""
    return audit_query.parse_filter(
        ctx.desk().settings.tz, agent=args.agent, customer=args.customer, action=args.action,
        since=args.since, until=args.until, names={"since": "--from", "until": "--to"})


def audit_verify(args: argparse.Namespace, ctx: CliContext) -> int:
    result = audit_query.verify(ctx.desk(), anchors=args.anchor)

    def lines() -> list[str]:
        if not result.ok:
            at = f" at event #{result.broken_at}" if result.broken_at is not None else ""
            if result.position is not None:
                at += f" (position {result.position})" if at else f" at position {result.position}"
            return [f"audit chain BROKEN{at}: {result.reason}",
                    f"{result.checked} events before it verified"]
        out = [f"audit chain verified: {result.checked} events"
               + (f", {len(args.anchor)} anchor(s) held" if args.anchor else "")]
        if result.legacy:
            out.append(f"the first {result.legacy} were written before the chain was keyed "
                       "(checked with the old unkeyed function)")
        return [*out, f"head: {result.head or '-'}"]

    emit(args, {**to_jsonable(result), "ok": result.ok}, lines)
    return 0 if result.ok else CHECK_FAILED


def audit_anchor(args: argparse.Namespace, ctx: CliContext) -> int:
    anchor = audit_query.anchor(ctx.desk())
    emit(args, {"position": anchor.position, "hash": anchor.hash, "anchor": anchor.text},
         lambda: [f"anchor: {anchor.text}",
                  "keep this line where the desk's users cannot change it; later check with",
                  f"  helpdesk audit verify --anchor {anchor.text}"])
    return 0


def _key_lines(status: keys.KeyStatus) -> list[str]:
    if status.fingerprint is None:
        head = "no key is recorded for this database yet"
    else:
        head = f"database key fingerprint: {status.fingerprint}"
    return [head, f"this desk's key file: {safe(status.key_file)}",
            "this desk holds the key" if status.held else f"NOT HELD: {status.problem}"]


def key_show(args: argparse.Namespace, ctx: CliContext) -> int:
    status = keys.status(ctx.desk())
    emit(args, status, lambda: _key_lines(status))
    return 0 if status.held else KeyMissing.exit_code


def key_export(args: argparse.Namespace, ctx: CliContext) -> int:
    status = keys.export(ctx.desk(), target=args.path)
    emit(args, status, lambda: [
        f"key written to {safe(args.path)} (fingerprint {status.fingerprint})",
        "carry it to the new desk and run 'helpdesk key import FILE' there; keep copies apart "
        "from database backups",
    ])
    return 0


def key_import(args: argparse.Namespace, ctx: CliContext) -> int:
    status = keys.import_key(ctx.desk(), source=args.path)
    emit(args, status, lambda: _key_lines(status))
    return 0


def audit_list(args: argparse.Namespace, ctx: CliContext) -> int:
    page = audit_query.query(ctx.desk(), filter=_filter(args, ctx), cursor=args.cursor,
                             limit=args.limit)

    def lines() -> list[str]:
        if not page.items:
            return ["no audit event matches"]
        out = table(
            [(f"#{e.id}", e.at, e.actor_name, e.real_account, e.action, e.object_type,
              e.object_id, e.summary)
             for e in page.items],
            ["EVENT", "AT", "AGENT", "ACCOUNT", "ACTION", "OBJECT", "ID", "DETAILS"],
        )
        if page.next_cursor:
            out.append(f"more: --cursor {page.next_cursor}")
        return out

    emit(args, page, lines)
    return 0


def audit_export(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.out is not None:
        files.check_target(args.out.expanduser(), force=args.force)  # before it is audited
    chunks = audit_query.export(ctx.desk(), filter=_filter(args, ctx), fmt=args.format)
    if args.out is None:
        print_records(chunks)
        return 0
    with files.private_file(args.out, force=args.force) as fh:
        fh.writelines(chunks)
    print(f"audit events written to {safe(args.out)}", file=sys.stderr)
    return 0


def backup_create(args: argparse.Namespace, ctx: CliContext) -> int:
    desk = ctx.desk()
    info = backup.backup(desk, target=args.path, keep_days=args.keep_days, force=args.force)
    until = info.keep_until.astimezone(desk.settings.tz).date()
    emit(args, info, lambda: [
        f"backup #{info.id} written to {safe(info.path)} ({info.size} bytes), kept until {until}",
        f"the database key (fingerprint {info.key_fingerprint}) is not in the backup, on "
        "purpose: without it the backup's suppression list and audit chain cannot be used. "
        "Keep a copy of the key apart from the backups: 'helpdesk key export FILE'",
    ])
    return 0


def _backup_rows(infos: list[backup.BackupInfo], tz: ZoneInfo) -> list[str]:
    def day(at: datetime | None) -> str:
        return at.astimezone(tz).date().isoformat() if at else "-"

    return table([(f"#{b.id}", day(b.made_at), day(b.keep_until),
                   "removed " + day(b.removed_at) if b.removed_at else
                   ("present" if b.size is not None else "file missing"), safe(b.path))
                  for b in infos], ["ID", "MADE", "KEEP UNTIL", "STATE", "PATH"])


def backups_list(args: argparse.Namespace, ctx: CliContext) -> int:
    desk = ctx.desk()
    infos = backup.list_backups(desk)
    emit(args, infos, lambda: _backup_rows(infos, desk.settings.tz) if infos
         else ["no backups made with 'helpdesk backup'"])
    return 0


def backups_prune(args: argparse.Namespace, ctx: CliContext) -> int:
    desk = ctx.desk()
    infos = backup.prune(desk)
    emit(args, infos, lambda: (["deleted:", *_backup_rows(infos, desk.settings.tz)] if infos
                               else ["no backup is past its keep-until date"]))
    return 0


def backup_restore(args: argparse.Namespace, ctx: CliContext) -> int:
    report = backup.restore(ctx.desk(), source=args.path)

    def lines() -> list[str]:
        erased = ", ".join(f"#{i}" for i in report.re_erased) or "nobody"
        return [
            f"restored {safe(report.source)}",
            f"the database as it was before is kept at {safe(report.aside)}",
            f"erasure ledger rows carried over: {report.ledger_carried}; suppression entries "
            f"carried over: {report.suppressions_carried}",
            f"re-erased: {erased}",
        ]

    emit(args, report, lines)
    return 0


def erasures_reapply(args: argparse.Namespace, ctx: CliContext) -> int:
    from helpdesk.services import erasure

    ids = erasure.reapply_ledger(ctx.desk())
    emit(args, {"re_erased": ids}, lambda: [
        "re-erased: " + ", ".join(f"#{i}" for i in ids) if ids
        else "nothing to re-erase: every ledger entry is still erased"
    ])
    return 0


def config_show(args: argparse.Namespace, ctx: CliContext) -> int:
    view = load_settings(db_url=ctx.db_url).public_view()
    emit(args, view, lambda: [f"{key} = {safe(value)}" for key, value in view.items()])
    return 0
