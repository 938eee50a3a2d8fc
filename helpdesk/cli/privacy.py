"""Privacy request commands: opt-out and opt-in, suppression list, access export, erasure,
disclosures, corrections, the under-13 flag, and answers from the policy text.

Role rules live in the services (opt-in, plain suppression export and archive marks are
supervisor-only); every refusal exits with the foundation's codes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from helpdesk import csvout, files
from helpdesk.cli.output import (
    CliContext,
    command,
    emit,
    fail,
    group,
    if_version,
    print_records,
    safe,
    table,
)
from helpdesk.cli.replies import draft_lines, emit_written
from helpdesk.domain import Channel, RecipientKind
from helpdesk.errors import Invalid
from helpdesk.services import (
    access_export,
    answers,
    attachments,
    consent,
    customers,
    deletion,
    disclosures,
    erasure,
    parsing,
    questions,
    suppression,
)


def register(sub: Any) -> None:
    p = command(sub, "optout", optout_bulk, "opt addresses out of marketing (known customers "
                "are opted out; unknown addresses are suppressed by keyed hash only)",
                json_output=True)
    p.add_argument("emails", nargs="*", metavar="EMAIL")
    p.add_argument("--from-file", type=Path, metavar="F",
                   help="read addresses from F, one per line ('-' for standard input)")

    co = group(sub, "consent", "marketing consent of one customer")
    p = command(co, "show", consent_show, "what may be sent to the customer",
                json_output=True)
    p.add_argument("customer", type=int, metavar="CUSTOMER")
    for name, handler, text in (
        ("optout", consent_optout, "opt a customer out of marketing (from a case or profile)"),
        ("optin", consent_optin, "opt back in on the customer's own written request "
         "(supervisors only; --message or --case required)"),
    ):
        p = command(co, name, handler, text, json_output=True)
        p.add_argument("--customer", type=int, metavar="ID")
        p.add_argument("--case", type=int, metavar="N")
        p.add_argument("--message", type=int, metavar="M", help="the customer's letter")
        p.add_argument("--channel", choices=[c.value for c in Channel],
                       default=Channel.EMAIL.value)
    p = command(co, "under13", consent_under13, "flag a child under 13: marketing blocked, "
                "addresses suppressed, parental request case opened", json_output=True)
    p.add_argument("customer", type=int, metavar="CUSTOMER")
    p.add_argument("--case", type=int, metavar="N", help="an existing under-13 case to use")

    su = group(sub, "suppression", "the suppression list")
    p = command(su, "export", suppression_export, "export the list (plain addresses are "
                "supervisor-only; --hashed gives keyed hashes only)")
    p.add_argument("--format", choices=["csv"], default="csv")
    p.add_argument("--hashed", action="store_true", help="keyed hashes only, no addresses")
    p.add_argument("--out", type=Path, metavar="FILE", help="write to FILE (mode 0600)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")

    p = command(sub, "export", export_customer, "everything held about a customer (audited)")
    p.add_argument("customer", type=int, metavar="CUSTOMER")
    p.add_argument("--format", choices=["json", "text"], default="text")
    p.add_argument("--case", type=int, metavar="N", help="the access request it answers (default: "
                   "the customer's only open one); it must be verified")
    p.add_argument("--out", type=Path, metavar="FILE", help="write to FILE (mode 0600)")
    p.add_argument("--attachments", type=Path, metavar="DIR",
                   help="also save every attachment the desk kept into DIR (0600 files)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")

    p = command(sub, "erase", erase_customer, "erase a customer under a deletion request",
                json_output=True)
    p.add_argument("customer", type=int, metavar="CUSTOMER")
    p.add_argument("--case", type=int, required=True, metavar="N", help="the request's case")

    er = group(sub, "erasure", "one erasure: record, letter, archive copies")
    p = command(er, "show", erasure_show, "the erasure record of a customer", json_output=True)
    p.add_argument("customer", type=int, metavar="CUSTOMER")
    p = command(er, "letter", erasure_letter, "the completion letter for an erasure")
    p.add_argument("erasure", type=int, metavar="ERASURE_ID")
    p = command(er, "archive", erasure_archive, "mark an archive copy beyond use or purged "
                "(supervisors only)", json_output=True)
    p.add_argument("check", type=int, metavar="CHECK_ID")
    p.add_argument("status", choices=[erasure.ArchiveStatus.BEYOND_USE.value,
                                      erasure.ArchiveStatus.PURGED.value])
    p.add_argument("--version", type=int, metavar="V", help="the version you saw")

    de = group(sub, "deletion", "a deletion request from received to closed")
    p = command(de, "complete", deletion_complete, "erase the case's customer, write the letter "
                "and a notice to every recipient in the disclosure register, close the case",
                json_output=True)
    p.add_argument("case", type=int, metavar="CASE")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="folder for the letter and the notices (.eml, 0600)")
    p = command(de, "show", deletion_show, "where a deletion request stands", json_output=True)
    p.add_argument("case", type=int, metavar="CASE")

    di = group(sub, "disclosure", "the disclosure register (who has the customer's data)")
    p = command(di, "add", disclosure_add, "record a disclosure", json_output=True)
    p.add_argument("customer", type=int, metavar="CUSTOMER")
    p.add_argument("--recipient", required=True)
    p.add_argument("--kind", required=True, metavar="KIND",
                   help="one of " + ", ".join(k.value for k in RecipientKind))
    p.add_argument("--purpose", required=True)
    p.add_argument("--data", action="append", required=True, metavar="CATEGORY",
                   help="a category of data disclosed (repeat for more)")
    p.add_argument("--on", required=True, metavar="YYYY-MM-DD")
    p.add_argument("--basis", required=True, help="legal basis or contract")
    p = command(di, "list", disclosure_list, "a customer's register entries", json_output=True)
    p.add_argument("customer", type=int, metavar="CUSTOMER")
    p = command(di, "answer", disclosure_answer, "the 'who has my data?' reply",
                json_output=True)
    p.add_argument("customer", type=int, metavar="CUSTOMER")

    p = command(sub, "correct", correct, "apply a correction request to the case's customer",
                json_output=True)
    p.add_argument("case", type=int, metavar="CASE")
    for field in customers.EDITABLE_FIELDS:
        p.add_argument(f"--{field.replace('_', '-')}", dest=field)
    p.add_argument("--version", type=int, metavar="V", help="the customer version you saw")

    an = group(sub, "answer", "replies drawn from the privacy policy in force")
    p = command(an, "topic", answer_topic, "a canned answer to a general question",
                json_output=True)
    p.add_argument("topic", choices=[t.value for t in answers.Topic])
    p = command(an, "case", answer_case, "the policy part that governs a case's kind",
                json_output=True)
    p.add_argument("case", type=int, metavar="CASE")
    command(an, "topics", answer_topics, "every topic, the policy parts its answer quotes, and "
            "the parts no topic answers", json_output=True)
    p = command(an, "reply", answer_reply, "answer a question case from the policy: write the "
                "reply and record it on the case (or --preview it)", json_output=True)
    p.add_argument("case", type=int, metavar="CASE")
    p.add_argument("topic", choices=[t.value for t in answers.Topic])
    p.add_argument("--out", type=Path, metavar="FILE", help="write the reply here (.eml)")
    p.add_argument("--preview", action="store_true", help="only show the reply")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    if_version(p)


def _status_lines(st: consent.MarketingStatus) -> list[str]:
    lines = [f"customer #{st.customer_id}: {st.statement}"]
    if st.history:
        lines += table([(e.at, e.action, e.channel, e.agent_name,
                         f"case #{e.source_case_id}" if e.source_case_id else "-",
                         e.policy_label or "(none loaded)", e.policy_assigned_at or "-")
                        for e in st.history],
                       ["AT", "ACTION", "CHANNEL", "AGENT", "SOURCE", "POLICY",
                        "LOADED LATER ON"])
    return lines


def optout_bulk(args: argparse.Namespace, ctx: CliContext) -> int:
    addresses = list(args.emails)
    if args.from_file is not None:
        try:
            raw = (sys.stdin.read() if str(args.from_file) == "-"
                   else args.from_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise Invalid(f"cannot read {args.from_file}: {exc}", field="from_file") from None
        addresses += [line.strip() for line in raw.splitlines()
                      if line.strip() and not line.lstrip().startswith("#")]
    if not addresses:
        raise Invalid("give addresses or --from-file", field="emails")
    report = consent.bulk_opt_out(ctx.desk(), addresses=addresses, source="cli")

    def lines() -> list[str]:
        out = [f"customers opted out: {len(report.customers_opted_out)}; already opted out: "
               f"{len(report.already_opted_out)}; unknown addresses suppressed by hash: "
               f"{report.suppressed_by_hash}; already on the list: {report.already_suppressed}"]
        out += [f"line {pos}: {safe(msg)}" for pos, msg in report.rejected]
        return out

    emit(args, report, lines)
    if len(report.rejected) == len(addresses):
        # nothing was done, which neither a person nor a script may mistake for success
        return fail(Invalid(f"none of the {len(addresses)} address(es) could be used; nothing "
                            "was opted out", field="emails"))
    return 0


def consent_show(args: argparse.Namespace, ctx: CliContext) -> int:
    st = consent.status(ctx.desk(), customer_id=args.customer)
    emit(args, st, lambda: _status_lines(st))
    return 0


def consent_optout(args: argparse.Namespace, ctx: CliContext) -> int:
    st = consent.opt_out(ctx.desk(), customer_id=args.customer, case_id=args.case,
                         message_id=args.message, channel=args.channel)
    emit(args, st, lambda: _status_lines(st) if st.changed else
         [f"customer #{st.customer_id} was already opted out", *_status_lines(st)[:1]])
    return 0


def consent_optin(args: argparse.Namespace, ctx: CliContext) -> int:
    st = consent.opt_in(ctx.desk(), customer_id=args.customer, case_id=args.case,
                        message_id=args.message, channel=args.channel)
    emit(args, st, lambda: _status_lines(st))
    return 0


def consent_under13(args: argparse.Namespace, ctx: CliContext) -> int:
    result = consent.mark_under_13(ctx.desk(), customer_id=args.customer, case_id=args.case)
    emit(args, result, lambda: [
        *_status_lines(result.status)[:1],
        f"parental request case #{result.case_id}; product registrations removed: "
        f"{result.registrations_removed}"])
    return 0


def suppression_export(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.out:
        files.check_target(args.out.expanduser(), force=args.force)  # before it is audited
    rows = suppression.export(ctx.desk(), hashed=args.hashed)
    header = ["email_hash", "channel", "reason", "source", "created_at"]
    records = [header if args.hashed else ["address", *header]]
    for r in rows:
        values = [r.email_hash, r.channel, r.reason, r.source, r.created_at.isoformat()]
        records.append(values if args.hashed else [r.address or "", *values])
    if args.out:
        files.write_private(args.out, "".join(csvout.lines(records)), force=args.force)
        print(f"wrote {len(rows)} entries to {safe(args.out)}")
    else:
        print_records(csvout.lines(records))
    return 0


def export_customer(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.out:
        files.check_target(args.out.expanduser(), force=args.force)  # before it is audited
    data = access_export.export(ctx.desk(), customer_id=args.customer, case_id=args.case)
    text = (access_export.to_json(data) + "\n" if args.format == "json"
            else access_export.to_text(data))
    if args.out:
        files.write_private(args.out, text, force=args.force)
        print(f"wrote the export of customer #{data.customer_id} to {safe(args.out)}")
    else:
        sys.stdout.write(text if args.format == "json" else safe(text))
    if args.attachments:
        saved = attachments.save_all_for_customer(ctx.desk(), customer_id=data.customer_id,
                                                  folder=args.attachments)
        print(f"saved {len(saved)} attachment(s) to {safe(args.attachments)}", file=sys.stderr)
    return 0


def _erasure_lines(info: erasure.ErasureInfo, tz: ZoneInfo) -> list[str]:
    head = ("already erased: nothing changed" if info.already_erased
            else f"erasure #{info.id} {info.status}")
    lines = [f"customer #{info.customer_id}: {head}",
             f"cases: {', '.join(f'#{c}' for c in info.case_ids) or '-'}",
             f"addresses suppressed: {len(info.email_hashes)}",
             f"physical clean-up: {safe(info.steps.get('physical', '-'))}"]
    outside = info.steps.get("copies_outside") or []
    if outside:
        lines.append(f"copies outside the desk: {len(outside)} saved attachment(s) or forwarded "
                     "message(s) (case history events " + ", ".join(f"#{e}" for e in outside)
                     + "): delete those files by hand")
    for key in ("vacuumed_at", "compacted_at"):
        if key in info.steps:
            lines.append(f"{key.replace('_', ' ')}: {info.steps[key] or 'not yet'}")
    lines += [f"still named in {safe(where)}: rows {', '.join(map(str, ids)) or '-'}"
              for where, ids in info.left.items()]
    lines += [f"desk copy {safe(name)}: {safe(state)}" for name, state in info.copies]
    lines += [f"backup {safe(b.path)} (made {b.made_at.astimezone(tz):%Y-%m-%d}) holds the "
              f"person until {b.keep_until.astimezone(tz):%Y-%m-%d}" for b in info.backups]
    if info.archives:
        lines += table([(f"#{a.id}", a.system, a.status, a.by_name, a.at)
                        for a in info.archives], ["CHECK", "ARCHIVE", "STATUS", "BY", "AT"])
    return lines


def erase_customer(args: argparse.Namespace, ctx: CliContext) -> int:
    info = erasure.erase(ctx.desk(), customer_id=args.customer, case_id=args.case)
    emit(args, info, lambda: _erasure_lines(info, ctx.desk().settings.tz))
    return 0


def _deletion_lines(flow: deletion.DeletionFlow) -> list[str]:
    lines = [f"case #{flow.case_id}: {'closed' if flow.closed else 'open'}",
             f"erasure: #{flow.erasure_id} {flow.erasure_status}" if flow.erasure_id
             else "erasure: not done",
             f"letter: {safe(flow.letter_path or '-')}" if flow.letter_message_id
             else "letter: not written"]
    lines += [f"notice to {safe(n.recipient)}: written {safe(n.path or '')}"
              if n.state == deletion.WRITTEN else f"notice: by hand: {safe(n.recipient)}"
              for n in flow.notices]
    lines.append(f"left: {', '.join(flow.left) or 'nothing'}")
    return lines


def deletion_complete(args: argparse.Namespace, ctx: CliContext) -> int:
    flow = deletion.complete(ctx.desk(), case_id=args.case, folder=args.out)
    emit(args, flow, lambda: _deletion_lines(flow))
    return 0


def deletion_show(args: argparse.Namespace, ctx: CliContext) -> int:
    flow = deletion.status(ctx.desk(), case_id=args.case)
    emit(args, flow, lambda: _deletion_lines(flow))
    return 0


def erasure_show(args: argparse.Namespace, ctx: CliContext) -> int:
    info = erasure.get(ctx.desk(), customer_id=args.customer)
    emit(args, info, lambda: _erasure_lines(info, ctx.desk().settings.tz))
    return 0


def erasure_letter(args: argparse.Namespace, ctx: CliContext) -> int:
    print(safe(erasure.completion_letter(ctx.desk(), erasure_id=args.erasure)))
    return 0


def erasure_archive(args: argparse.Namespace, ctx: CliContext) -> int:
    info = erasure.mark_archive(ctx.desk(), check_id=args.check, status=args.status,
                                expected_version=args.version)
    emit(args, info, lambda: _erasure_lines(info, ctx.desk().settings.tz))
    return 0


def disclosure_add(args: argparse.Namespace, ctx: CliContext) -> int:
    on = parsing.required_day(args.on, field="disclosed_on", label="--on")
    info = disclosures.add(ctx.desk(), customer_id=args.customer, recipient=args.recipient,
                           recipient_kind=args.kind, purpose=args.purpose,
                           data_categories=args.data, disclosed_on=on, legal_basis=args.basis)
    emit(args, info, lambda: [f"disclosure #{info.id} recorded"])
    return 0


def disclosure_list(args: argparse.Namespace, ctx: CliContext) -> int:
    items = disclosures.list_for(ctx.desk(), customer_id=args.customer)
    emit(args, items, lambda: table(
        [(f"#{d.id}", d.disclosed_on, d.recipient, d.recipient_kind, d.purpose,
          ", ".join(d.data_categories)) for d in items],
        ["ID", "ON", "RECIPIENT", "KIND", "PURPOSE", "DATA"]) if items
        else ["no disclosures recorded"])
    return 0


def disclosure_answer(args: argparse.Namespace, ctx: CliContext) -> int:
    result = disclosures.who_has_my_data(ctx.desk(), customer_id=args.customer)
    emit(args, result, lambda: [safe(result.text)])
    return 0


def correct(args: argparse.Namespace, ctx: CliContext) -> int:
    changes = {f: getattr(args, f) for f in customers.EDITABLE_FIELDS
               if getattr(args, f) is not None}
    if not changes:
        raise Invalid("name at least one field to correct, e.g. --billing-address")
    result = disclosures.correct(ctx.desk(), case_id=args.case, expected_version=args.version,
                                 **changes)

    def lines() -> list[str]:
        out = [f"customer #{result.customer.id}: corrected "
               f"{', '.join(result.fields) or 'nothing (values unchanged)'} under case "
               f"#{result.case_id}"]
        if result.notify:
            out.append("tell these recipients about the correction:")
            out += [f"  {safe(d.recipient)} ({d.recipient_kind}, {d.disclosed_on})"
                    for d in result.notify]
        return out

    emit(args, result, lines)
    return 0


def answer_topic(args: argparse.Namespace, ctx: CliContext) -> int:
    result = answers.answer(ctx.desk(), topic=args.topic)
    emit(args, result, lambda: [safe(result.text)])
    return 0


def answer_reply(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.preview:
        draft = questions.preview(ctx.desk(), case_id=args.case, topic=args.topic)
        emit(args, draft, lambda: draft_lines(draft))
        return 0
    if args.out is None:
        raise Invalid("give --out FILE.eml (or --preview to only look)", field="out")
    emit_written(args, questions.reply(ctx.desk(), case_id=args.case, topic=args.topic,
                                       out=args.out, overwrite=args.force,
                                       expected_version=args.expected_version))
    return 0


def answer_topics(args: argparse.Namespace, ctx: CliContext) -> int:
    cov = answers.topic_coverage(ctx.desk())

    def lines() -> list[str]:
        out = table([(t, ", ".join(parts) or "no answer in this version")
                     for t, parts in cov.topics.items()], ["TOPIC", "QUOTES FROM"])
        if cov.unanswered_parts:
            out.append("Parts no topic answers: " + "; ".join(map(safe, cov.unanswered_parts)))
        return out

    emit(args, cov, lines)
    return 0


def answer_case(args: argparse.Namespace, ctx: CliContext) -> int:
    gov = answers.governing_part(ctx.desk(), case_id=args.case)

    def lines() -> list[str]:
        if gov.part is None:
            why = ("no policy registered" if gov.policy_version_id is None
                   else "no heading matches")
            return [f"case #{gov.case_id} ({gov.kind.label}): no policy part found ({why})"]
        return [f"Part {gov.part.number}. {safe(gov.part.title)} "
                f"({safe(gov.policy_label)})", safe(gov.part.text)]

    emit(args, gov, lines)
    return 0
