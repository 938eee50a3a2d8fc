"""Reply and customer-hygiene commands.

``helpdesk reply CASE --template NAME --out FILE.eml``, ``helpdesk template list|show|add|edit``,
and ``helpdesk customer merge|duplicates`` (added to the ``customer`` group from core).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from helpdesk.cli.output import (
    CliContext,
    command,
    emit,
    group,
    if_version,
    safe,
    subcommands,
    table,
)
from helpdesk.domain import CaseKind
from helpdesk.errors import Invalid
from helpdesk.services import forwarding, merge, parsing, replies, templates
from helpdesk.services.templates import TemplateInfo


def register(sub: Any) -> None:
    p = command(sub, "reply", reply, "write a reply to a case as a .eml file from a template, "
                "and record it on the case", json_output=True)
    p.add_argument("case", type=int)
    p.add_argument("--template", required=True, metavar="NAME")
    p.add_argument("--out", type=Path, metavar="FILE.eml",
                   help="where to write the message (required unless --preview)")
    p.add_argument("--language", metavar="CODE",
                   help="language of the template (default: the customer's, else English)")
    p.add_argument("--preview", action="store_true",
                   help="only show the rendered reply; write and record nothing")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--cc", action="append", default=[], metavar="ADDRESS",
                   help="send a copy to ADDRESS (repeat for more)")
    if_version(p)

    p = command(sub, "forward", forward, "forward a message of a case (to legal, a colleague) as "
                "a new .eml, recorded on the case", json_output=True)
    p.add_argument("message", metavar="MESSAGE", help="the message's number (case show lists "
                   "them)")
    p.add_argument("--to", action="append", required=True, metavar="ADDRESS",
                   help="forward to ADDRESS (repeat for more)")
    p.add_argument("--cc", action="append", default=[], metavar="ADDRESS")
    p.add_argument("--note", help="a note above the forwarded message")
    p.add_argument("--out", type=Path, metavar="FILE.eml",
                   help="where to write it (a new file, 0600)")

    tp = group(sub, "template", "reply templates")
    p = command(tp, "list", template_list, "list reply templates", json_output=True)
    p.add_argument("--kind", choices=[k.value for k in CaseKind],
                   help="only templates usable for this kind of case")
    p = command(tp, "show", template_show, "show a template and the placeholders it may use",
                json_output=True)
    p.add_argument("name")
    p.add_argument("--language", metavar="CODE")
    p = command(tp, "edit", template_edit, "change a template (supervisors only)",
                json_output=True)
    p.add_argument("name")
    p.add_argument("--language", metavar="CODE", default=templates.DEFAULT_LANGUAGE)
    _template_fields(p)
    if_version(p, "template")
    p = command(tp, "add", template_add, "add a template or a language of one "
                "(supervisors only)", json_output=True)
    p.add_argument("name")
    p.add_argument("--language", metavar="CODE", default=templates.DEFAULT_LANGUAGE)
    p.add_argument("--kind", choices=[k.value for k in CaseKind],
                   help="the kind it is for (default: any kind)")
    _template_fields(p)

    cu = subcommands(sub, "customer")
    p = command(cu, "merge", customer_merge, "merge customer OTHER into KEEP (same person)",
                json_output=True)
    p.add_argument("keep", type=int)
    p.add_argument("other", type=int)
    p = command(cu, "duplicates", customer_duplicates, "suggest customers that look like the "
                "same person", json_output=True)
    p.add_argument("--limit", type=int, default=merge.DEFAULT_LIMIT)


def _template_fields(p: argparse.ArgumentParser) -> None:
    p.add_argument("--subject", help="subject line (placeholders allowed)")
    p.add_argument("--body-file", type=Path, metavar="FILE", help="UTF-8 file with the body")
    p.add_argument("--transactional", choices=["yes", "no"],
                   help="'no' marks it marketing: refused for opted-out and suppressed people")


def _body(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid(f"cannot read {path} as UTF-8 text: {exc}", field="body_file") from None


def _yes(value: str | None) -> bool | None:
    return None if value is None else value == "yes"


def draft_lines(d: replies.ReplyDraft) -> list[str]:
    return [
        f"To:       {safe(d.to_address)}",
        *([f"Cc:       {safe(', '.join(d.cc))}"] if d.cc else []),
        f"Subject:  {safe(d.subject)}",
        f"Template: {d.template} ({d.language}, "
        f"{'transactional' if d.transactional else 'marketing'})",
        f"Replying: {safe(d.in_reply_to)}",
        "",
        *[safe(line) for line in d.body.splitlines()],
    ]


def reply(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.preview:
        draft = replies.preview(ctx.desk(), case_id=args.case, template=args.template,
                                language=args.language, cc=args.cc)
        emit(args, draft, lambda: draft_lines(draft))
        return 0
    if args.out is None:
        raise Invalid("give --out FILE.eml (or --preview to only look)", field="out")
    result = replies.write(ctx.desk(), case_id=args.case, template=args.template, out=args.out,
                           language=args.language, overwrite=args.force,
                           expected_version=args.expected_version, cc=args.cc)
    emit_written(args, result)
    return 0


def emit_written(args: argparse.Namespace, result: replies.WrittenReply) -> None:
    """Say where a reply was written and as which message it is recorded on the case."""
    data = {"case_id": result.draft.case_id, "path": result.path,
            "message_id": result.message_id, "message_row_id": result.message_row_id,
            "case_version": result.case_version, "draft": result.draft}
    emit(args, data, lambda: [f"wrote {safe(result.path)} ({result.message_id}); recorded on "
                              f"case #{result.draft.case_id} as message #"
                              f"{result.message_row_id}"])


def forward(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.out is None:
        raise Invalid("give --out FILE.eml for the forwarded message", field="out")
    result = forwarding.forward(
        ctx.desk(), message_id=parsing.record_id(args.message, what="message", field="message"),
        to=args.to, cc=args.cc, note=args.note, out=args.out)
    data = {k: v for k, v in dataclasses.asdict(result).items() if k != "eml"}
    emit(args, data, lambda: [
        f"wrote {safe(result.path)}: message #{result.forwarded_message_id} forwarded to "
        f"{safe(', '.join(result.to))}" + (f" (cc {safe(', '.join(result.cc))})"
                                          if result.cc else "")
        + f" with {result.attachments} attachment(s); recorded on case #{result.case_id}"])
    return 0


def _template_rows(items: list[TemplateInfo]) -> list[str]:
    return table(
        [(t.name, t.language, t.kind.value if t.kind else "any",
          "yes" if t.transactional else "no (marketing)", t.subject) for t in items],
        ["NAME", "LANG", "KIND", "TRANSACTIONAL", "SUBJECT"],
    )


def template_list(args: argparse.Namespace, ctx: CliContext) -> int:
    items = templates.list_templates(ctx.desk(), kind=args.kind)
    emit(args, items, lambda: _template_rows(items))
    return 0


def _template_lines(t: TemplateInfo) -> list[str]:
    return [
        *_template_rows([t]),
        f"version {t.version}, updated {safe(t.updated_at)} by {safe(t.updated_by)}",
        "",
        *[safe(line) for line in t.body.splitlines()],
        "",
        "Placeholders:",
        *[f"  ${{{name}}}  {text}" for name, text in templates.PLACEHOLDERS.items()],
    ]


def template_show(args: argparse.Namespace, ctx: CliContext) -> int:
    t = templates.get(ctx.desk(), name=args.name, language=args.language)
    emit(args, {"template": t, "placeholders": templates.PLACEHOLDERS},
         lambda: _template_lines(t))
    return 0


def template_edit(args: argparse.Namespace, ctx: CliContext) -> int:
    body = _body(args.body_file)
    if args.subject is None and body is None and args.transactional is None:
        raise Invalid("nothing to change: give --subject, --body-file and/or --transactional")
    t = templates.update(ctx.desk(), name=args.name, language=args.language,
                         subject=args.subject, body=body,
                         transactional=_yes(args.transactional),
                         expected_version=args.expected_version)
    emit(args, t, lambda: [f"template '{t.name}' ({t.language}) is at version {t.version}"])
    return 0


def template_add(args: argparse.Namespace, ctx: CliContext) -> int:
    body = _body(args.body_file)
    if args.subject is None or body is None:
        raise Invalid("a new template needs --subject and --body-file")
    t = templates.create(ctx.desk(), name=args.name, language=args.language, kind=args.kind,
                         subject=args.subject, body=body,
                         transactional=_yes(args.transactional) is not False)
    emit(args, t, lambda: [f"added template '{t.name}' ({t.language})"])
    return 0


def customer_merge(args: argparse.Namespace, ctx: CliContext) -> int:
    result = merge.merge(ctx.desk(), keep_id=args.keep, other_id=args.other)
    moved = ", ".join(f"{n} {table_}" for table_, n in sorted(result.moved.items())) or "nothing"
    emit(args, result, lambda: [
        f"merged customer #{result.merged_id} into #{result.customer.id}: moved {moved}",
        "marketing: " + ("opted out (kept from either record)" if result.marketing_opted_out
                         else "allowed"),
    ])
    return 0


def customer_duplicates(args: argparse.Namespace, ctx: CliContext) -> int:
    pairs = merge.duplicates(ctx.desk(), limit=args.limit)
    emit(args, pairs, lambda: table(
        [(f"#{p.first.id}", p.first.name, p.first.primary_email, f"#{p.second.id}",
          p.second.name, p.second.primary_email, "; ".join(p.reasons)) for p in pairs],
        ["ID", "NAME", "E-MAIL", "ID", "NAME", "E-MAIL", "WHY"],
    ) if pairs else ["no likely duplicates"])
    return 0
