"""Core commands: database, demo data, agents, customers, cases, policy versions."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from helpdesk.cli.arguments import number_between
from helpdesk.cli.output import (
    CliContext,
    command,
    emit,
    group,
    if_version,
    page_lines,
    safe,
    table,
)
from helpdesk.cli.records import change_lines
from helpdesk.demo import MAX_CUSTOMERS
from helpdesk.domain import CaseKind, Queue, Role
from helpdesk.errors import Invalid
from helpdesk.services import (
    agents,
    answers,
    cases,
    customers,
    desk_settings,
    parsing,
    policy,
)
from helpdesk.services.readmodels import (
    CaseDetail,
    CaseSummary,
    CustomerDetail,
    VerificationInfo,
    to_jsonable,
)
from helpdesk.wording import counted, hanging


def register(sub: Any) -> None:
    db = group(sub, "db", "database maintenance")
    command(db, "upgrade", db_upgrade, "bring the database schema up to date (Alembic)")
    command(db, "compact", db_compact, "rewrite the tables so no old copy of erased data is "
            "left in the database files (supervisors; a maintenance window: other desks "
            "wait)", json_output=True)

    demo = command(sub, "demo", demo_data, "fill the database with realistic synthetic data",
                   json_output=True)
    demo.add_argument("--customers", type=number_between(1, MAX_CUSTOMERS), default=200,
                      metavar="N", help=f"how many customers (1 to {MAX_CUSTOMERS:,}; about a "
                      "quarter as many cases)")
    demo.add_argument("--seed", type=int, default=1, metavar="S")

    ag = group(sub, "agent", "desk agents and supervisors")
    p = command(ag, "add", agent_add, "add an agent (supervisors only)", json_output=True)
    p.add_argument("name", help="login name (the OS user name the agent runs the desk as)")
    p.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
    p.add_argument("--display-name", metavar="TEXT")
    command(ag, "list", agent_list, "list agents", json_output=True)
    p = command(ag, "set", agent_set, "change an agent's role or active flag", json_output=True)
    p.add_argument("name")
    p.add_argument("--role", choices=[r.value for r in Role])
    p.add_argument("--active", choices=["yes", "no"])
    command(ag, "whoami", agent_whoami, "show the acting agent, the real account and the "
            "database", json_output=True)
    p = command(ag, "impersonation", agent_impersonation, "show, or turn on or off, acting as "
                "another agent with --as for every desk of this database (supervisors only)",
                json_output=True)
    p.add_argument("state", nargs="?", choices=["on", "off"])

    cu = group(sub, "customer", "customers")
    p = command(cu, "add", customer_add, "add a customer", json_output=True)
    p.add_argument("--name", required=True)
    p.add_argument("--email", action="append", required=True,
                   help="e-mail address (repeat for more; the first is primary)")
    p.add_argument("--phone")
    p.add_argument("--company")
    p.add_argument("--billing-address")
    p.add_argument("--shipping-address")
    p.add_argument("--under-13", action="store_true", help="the customer is a child under 13")
    p = command(cu, "find", customer_find, "find customers by any part of name, e-mail, "
                "company or phone", json_output=True)
    p.add_argument("text")
    p.add_argument("--limit", type=int, default=50)
    p = command(cu, "show", customer_show, "show a customer's profile (audited)",
                json_output=True)
    p.add_argument("id", type=int)

    ca = group(sub, "case", "cases")
    p = command(ca, "new", case_new, "open a case", json_output=True)
    p.add_argument("--kind", required=True, choices=[k.value for k in CaseKind])
    p.add_argument("--customer", type=int, metavar="ID",
                   help="the customer (or link one later with 'case link')")
    p.add_argument("--subject", help="what the case is about (needed without --customer)")
    p.add_argument("--note", help="internal note to start the case with")
    p.add_argument("--mine", action="store_true", help="assign the case to yourself")
    p = command(ca, "list", case_list, "list the cases of a queue", json_output=True)
    p.add_argument("--queue", choices=[q.value for q in Queue], default=Queue.OPEN.value)
    p.add_argument("--limit", type=int, default=cases.DEFAULT_PAGE)
    p.add_argument("--cursor", help="continue after a previous page")
    p = command(ca, "show", case_show, "show a case with its thread and history (audited)",
                json_output=True)
    p.add_argument("id", type=int)
    p = command(ca, "status", case_status, "change a case's status", json_output=True)
    p.add_argument("id", type=int)
    p.add_argument("status")
    p.add_argument("--note")
    if_version(p)
    p = command(ca, "link", case_link, "link a case to its customer (or to the right one)",
                json_output=True)
    p.add_argument("id", type=int, metavar="CASE")
    p.add_argument("customer", type=int, metavar="CUSTOMER")
    if_version(p)
    p = command(ca, "take", case_take, "take a case for yourself (refused, naming who has it, "
                "when someone else does)", json_output=True)
    p.add_argument("id", type=int)
    p = command(ca, "note", case_note, "add an internal note", json_output=True)
    p.add_argument("id", type=int)
    p.add_argument("text")

    po = group(sub, "policy", "privacy policy versions")
    p = command(po, "add", policy_add, "register a policy text (supervisors only): shows the "
                "periods read from it and asks to confirm them", json_output=True)
    p.add_argument("file", type=Path)
    p.add_argument("--effective", required=True, metavar="YYYY-MM-DD")
    p.add_argument("--label")
    p.add_argument("--period", action="append", default=[], metavar="KIND=DAYS",
                   help="set a kind's period instead of (or where missing from) the text; "
                   "repeat for more")
    p.add_argument("--header-lines", type=int, metavar="N",
                   help="leading lines of the file that are not policy text (default: as read)")
    p.add_argument("--yes", action="store_true",
                   help="confirm the periods without asking (needed when not at a terminal)")
    p.add_argument("--dry-run", action="store_true",
                   help="show what would be stored and stop")
    command(po, "list", policy_list, "list policy versions", json_output=True)
    p = command(po, "show", policy_show, "a version's periods per kind and where each comes "
                "from", json_output=True)
    p.add_argument("id", type=int)
    p = command(po, "periods", policy_periods, "change a version's periods before it takes "
                "effect (supervisors only)", json_output=True)
    p.add_argument("id", type=int)
    p.add_argument("period", nargs="+", metavar="KIND=DAYS")


# --- handlers ------------------------------------------------------------------------------------

def db_upgrade(args: argparse.Namespace, ctx: CliContext) -> int:
    ctx.desk()  # opening upgrades (copying an existing SQLite file aside first)
    print("database is up to date")
    return 0


def db_compact(args: argparse.Namespace, ctx: CliContext) -> int:
    from helpdesk.services import erasure

    report = erasure.compact(ctx.desk())
    emit(args, report, lambda: [
        f"rewrote {len(report.tables)} tables ({report.backend}): {report.bytes_before:,} -> "
        f"{report.bytes_after:,} bytes",
        "erasures whose old row versions are now gone from the files: "
        + (", ".join(f"#{i}" for i in report.erasures) or "none pending"),
        *([f"not complete: {report.problem}"] if report.problem else []),
    ])
    return 0


def demo_data(args: argparse.Namespace, ctx: CliContext) -> int:
    from helpdesk import demo

    report = demo.generate(ctx.desk(), customers=args.customers, seed=args.seed)
    emit(args, report, lambda: [f"{k}: {v}" for k, v in report.items()])
    return 0


def _agent_lines(items: list[agents.AgentInfo]) -> list[str]:
    return table(
        [(a.name, a.display_name, a.role.value, "yes" if a.active else "no") for a in items],
        ["NAME", "DISPLAY NAME", "ROLE", "ACTIVE"],
    )


def agent_add(args: argparse.Namespace, ctx: CliContext) -> int:
    info = agents.add(ctx.desk(), name=args.name, role=args.role, display_name=args.display_name)
    emit(args, info, lambda: [f"added {info.role.value} '{safe(info.name)}'"])
    return 0


def agent_list(args: argparse.Namespace, ctx: CliContext) -> int:
    items = agents.list_agents(ctx.desk())
    emit(args, items, lambda: _agent_lines(items))
    return 0


def agent_set(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.role is None and args.active is None:
        raise Invalid("nothing to change: give --role and/or --active")
    info = agents.update(ctx.desk(), name=args.name, role=args.role,
                         active=None if args.active is None else args.active == "yes")
    emit(args, info, lambda: _agent_lines([info]))
    return 0


def agent_whoami(args: argparse.Namespace, ctx: CliContext) -> int:
    who = agents.identity(ctx.desk())
    data = {**to_jsonable(who.agent), "real_account": who.real_account, "database": who.database}
    emit(args, data, lambda: [*_agent_lines([who.agent]),
                              f"real account: {safe(who.real_account)}",
                              f"database:     {safe(who.database)}"])
    return 0


def agent_impersonation(args: argparse.Namespace, ctx: CliContext) -> int:
    desk = ctx.desk()
    if args.state is None:
        allowed = desk_settings.get_impersonation(desk)
    else:
        allowed = desk_settings.set_impersonation(desk, allowed=args.state == "on")
    emit(args, {"allow_impersonation": allowed}, lambda: [
        "acting as another agent (--as) is " + ("on: supervisors may" if allowed else "off")
    ])
    return 0


def customer_add(args: argparse.Namespace, ctx: CliContext) -> int:
    detail = customers.create(
        ctx.desk(), name=args.name, emails=args.email, phone=args.phone, company=args.company,
        billing_address=args.billing_address, shipping_address=args.shipping_address,
        under_13=args.under_13,
    )
    emit(args, detail, lambda: [f"added customer #{detail.id} {safe(detail.name)}"])
    return 0


def customer_find(args: argparse.Namespace, ctx: CliContext) -> int:
    found = customers.lookup(ctx.desk(), args.text, limit=args.limit)
    hits = found.items

    def lines() -> list[str]:
        if not hits:
            return ["no customer matches"]
        out = table([(f"#{h.id}", h.name, h.primary_email, h.company, h.phone) for h in hits],
                    ["ID", "NAME", "E-MAIL", "COMPANY", "PHONE"])
        if found.more:
            out.append(f"more customers match: showing the first {len(hits)}; type more of "
                       "the name, or raise --limit")
        return out

    emit(args, found, lines)
    return 0


def customer_show(args: argparse.Namespace, ctx: CliContext) -> int:
    detail = customers.get(ctx.desk(), args.id)
    emit(args, detail, lambda: _customer_lines(detail))
    return 0


def _customer_lines(d: CustomerDetail) -> list[str]:
    lines = [
        f"Customer #{d.id}{'  (erased)' if d.erased_at else ''}",
        f"  name:      {safe(d.name)}",
        f"  company:   {safe(d.company)}",
        f"  phone:     {safe(d.phone)}",
        hanging("  billing:   ", safe(d.billing_address)),
        hanging("  shipping:  ", safe(d.shipping_address)),
        f"  under 13:  {'yes' if d.under_13 else 'no'}",
        "  marketing: " + ("opted out (crucial product/service information still allowed)"
                           if d.marketing_opted_out else "allowed"),
        "  e-mail:",
        *[f"    {safe(e.address)}{'  (primary)' if e.is_primary else ''}" for e in d.emails],
    ]
    if d.products:
        lines.append("  products:")
        lines += [f"    {p.relation}: {safe(p.product)} {safe(p.reference)}"
                  f"{f' ({p.occurred_on})' if p.occurred_on else ''}" for p in d.products]
    if d.changes:
        lines.append("  changes:")
        lines += change_lines(d.changes)
    if d.cases:
        lines.append("  cases:")
        lines += ["    " + line for line in _case_rows(d.cases)]
    return lines


def _case_rows(items: tuple[CaseSummary, ...] | list[CaseSummary]) -> list[str]:
    return table(
        [
            (f"#{c.id}", c.kind.value, c.status.value, c.customer_name, c.subject,
             c.assignee_name, c.received_at, "-" if c.days_left is None else c.days_left)
            for c in items
        ],
        ["CASE", "KIND", "STATUS", "CUSTOMER", "SUBJECT", "ASSIGNEE", "RECEIVED", "DAYS LEFT"],
    )


def verification_lines(v: VerificationInfo | None) -> list[str]:
    """The state for a case's text output (empty for kinds that need no verification)."""
    if v is None:
        return []
    if not v.verified or v.method is None:
        return ["  verified:  no: export, correction and erasure wait for it "
                f"('helpdesk case verify {v.case_id} --method ...')"]
    return [f"  verified:  {v.method.label}, by {safe(v.verified_by or 'the desk')} "
            f"at {safe(v.verified_at)}"]


def _case_lines(d: CaseDetail) -> list[str]:
    c = d.case
    due = ("closed" if c.days_left is None else
           f"{c.due_date} (overdue by {-c.days_left} days)" if c.days_left < 0 else
           f"{c.due_date} ({c.days_left} days left)")
    lines = [
        f"Case #{c.id}  {c.kind.label}  [{c.status.value}]",
        f"  customer:  #{c.customer_id} {safe(c.customer_name)}",
        f"  subject:   {safe(c.subject)}",
        f"  assignee:  {safe(c.assignee_name)}",
        f"  received:  {safe(c.received_at)}"
        + (f"  (from the {safe(d.received_by)})" if d.received_by else ""),
        f"  due:       {due}  (rule: {d.due_rule})",
        f"  policy:    {safe(d.policy_version_label or d.policy_note)}",
        *verification_lines(d.verification),
    ]
    if c.flags:
        lines.append(f"  flags:     {', '.join(c.flags)}")
    lines += [f"  intake:    {safe(note)}" for note in d.intake_notes]
    if c.dispute_stage:
        lines.append(f"  stage:     {c.dispute_stage.label}")
    lines.append("  thread:")
    for m in d.messages:
        who = m.author_name if m.direction == "note" else m.from_address
        lines.append(f"    message #{m.id} [{m.direction.value}] {safe(m.at)} {safe(who)}: "
                     f"{safe(m.subject)}")
        if m.cc_address:
            lines.append(f"      cc: {safe(m.cc_address)}")
        lines += [f"      {safe(line)}" for line in (m.body or "").splitlines()[:20]]
        lines += [f"      attachment #{a.id}: {safe(a.filename)} ({safe(a.content_type)}, "
                  f"{a.size:,} bytes{'' if a.kept else ', content not kept'})"
                  for a in m.attachments]
    lines.append("  history:")
    lines += [
        f"    {safe(e.at)} {safe(e.actor_name)} {e.action} {safe(e.from_shown)} -> "
        f"{safe(e.to_shown)}" + (f" — {safe(e.note)}" if e.note else "") for e in d.events
    ]
    if d.corrections:
        lines.append("  corrections made under this case:")
        lines += change_lines(d.corrections)
    return lines


def case_new(args: argparse.Namespace, ctx: CliContext) -> int:
    d = cases.create(ctx.desk(), kind=args.kind, customer_id=args.customer, subject=args.subject,
                     note=args.note, assign_to_me=args.mine)
    emit(args, d, lambda: [f"opened case #{d.case.id} ({d.case.kind.label}), due "
                           f"{d.case.due_date}"])
    return 0


def case_list(args: argparse.Namespace, ctx: CliContext) -> int:
    page = cases.list_queue(ctx.desk(), args.queue, cursor=args.cursor, limit=args.limit)
    emit(args, page, lambda: page_lines(page, _case_rows, "no cases in this queue"))
    return 0


def case_show(args: argparse.Namespace, ctx: CliContext) -> int:
    d = cases.get(ctx.desk(), args.id)
    emit(args, d, lambda: _case_lines(d))
    return 0


def case_status(args: argparse.Namespace, ctx: CliContext) -> int:
    d = cases.set_status(ctx.desk(), case_id=args.id, status=args.status, note=args.note,
                         expected_version=args.expected_version)
    emit(args, d, lambda: [
        f"case #{d.case.id}: status {e.from_value} -> {e.to_value}" for e in d.changed
    ] or [f"case #{d.case.id} is already {d.case.status.value}; nothing changed"])
    return 0


def case_link(args: argparse.Namespace, ctx: CliContext) -> int:
    d = cases.link_customer(ctx.desk(), case_id=args.id, customer_id=args.customer,
                            expected_version=args.expected_version)
    emit(args, d, lambda: [f"case #{d.case.id} is for customer #{d.case.customer_id}"])
    return 0


def case_take(args: argparse.Namespace, ctx: CliContext) -> int:
    d = cases.take(ctx.desk(), case_id=args.id)
    emit(args, d, lambda: [f"case #{d.case.id} is yours"])
    return 0


def case_note(args: argparse.Namespace, ctx: CliContext) -> int:
    d = cases.add_note(ctx.desk(), case_id=args.id, body=args.text)
    emit(args, d, lambda: [f"note added to case #{d.case.id}"])
    return 0


def _periods_arg(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for raw in values:
        kind, sep, days = raw.partition("=")
        if not sep or not days.strip().isdigit():
            raise Invalid(f"'{safe(raw)}' is not KIND=DAYS (e.g. dispute=60)", field="period")
        out[kind.strip()] = int(days)
    return out


def _period_lines(periods: tuple[policy.PeriodInfo, ...]) -> list[str]:
    lines = []
    for p in periods:
        where = {"text": f"{p.part or 'text'}: \"{safe(p.sentence)}\"",
                 "service level": "not in the policy: the desk's service level applies",
                 "set by supervisor": "set by a supervisor"}.get(
            p.source, f"{p.source} (the policy names no separate period)")
        lines.append(f"  {p.kind.value:<17} {counted(p.days, 'day'):>8}  {where}")
        if p.note and p.source != "service level":
            lines.append(f"  {'':<17} {'':>8}  note: {safe(p.note)}")
    return lines


def _preview_lines(found: policy.PolicyPreview, text: str) -> list[str]:
    lines = ["Periods (calendar days from receipt):", *_period_lines(found.periods)]
    if found.header:
        lines.append("Not policy text (left out of answers and letters):")
        lines += [f"  line {i}: {safe(line)}" for i, line in enumerate(found.header, 1)]
    unanswered = answers.coverage(text, found.header_lines).unanswered_parts
    if unanswered:
        lines.append("Parts no canned answer quotes (answer those questions by hand): "
                     + "; ".join(map(safe, unanswered)))
    return lines


def _confirm(question: str) -> bool:
    import sys

    if not sys.stdin.isatty():
        return False
    print(question, end=" ", flush=True)
    return sys.stdin.readline().strip().casefold() in {"y", "yes"}


def policy_add(args: argparse.Namespace, ctx: CliContext) -> int:
    effective = parsing.required_day(args.effective, field="effective", label="--effective")
    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        raise Invalid(f"cannot read {args.file}: {exc.strerror}", field="file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(f"{args.file} is not UTF-8 text", field="file") from None
    desk = ctx.desk()
    periods = _periods_arg(args.period)
    found = policy.preview(desk, text=text, periods=periods, header_lines=args.header_lines)
    if args.dry_run:
        emit(args, found, lambda: _preview_lines(found, text))
        return 0
    question = "\n".join([*_preview_lines(found, text),
                          "Add this version with these periods? [y/N]"])
    if not args.yes and (args.json or not _confirm(question)):
        raise Invalid("the periods were not confirmed: check them with --dry-run, then add "
                      "with --yes (and --period KIND=DAYS to change one)", field="periods")
    info = policy.add(desk, text=text, effective_on=effective, label=args.label,
                      periods=periods, header_lines=found.header_lines)

    def lines() -> list[str]:
        out = [f"policy version #{info.id} '{safe(info.label)}' effective {info.effective_on}"]
        if info.cases_reached or info.consent_events_reached:
            out.append(f"given to {len(info.cases_reached)} earlier case(s) and "
                       f"{info.consent_events_reached} consent event(s) in its window; "
                       "their history says so")
        return out

    emit(args, info, lines)
    return 0


def policy_show(args: argparse.Namespace, ctx: CliContext) -> int:
    d = policy.show(ctx.desk(), args.id)
    v = d.version
    emit(args, d, lambda: [
        f"policy version #{v.id} '{safe(v.label)}' effective {v.effective_on}"
        + ("  (periods editable until it takes effect)" if v.editable else ""),
        "Periods (calendar days from receipt):", *_period_lines(d.periods),
        *(["Not policy text:"] + [f"  {safe(h)}" for h in d.header] if d.header else []),
    ])
    return 0


def policy_periods(args: argparse.Namespace, ctx: CliContext) -> int:
    info = policy.set_periods(ctx.desk(), policy_id=args.id, periods=_periods_arg(args.period))
    emit(args, info, lambda: [f"policy version #{info.id}: " + ", ".join(
        f"{k} {v} days" for k, v in sorted(info.periods.items()))])
    return 0


def policy_list(args: argparse.Namespace, ctx: CliContext) -> int:
    items = policy.list_versions(ctx.desk())
    emit(args, items, lambda: table(
        [(f"#{p.id}", p.effective_on, p.label, p.sha256[:12]) for p in items],
        ["ID", "EFFECTIVE", "LABEL", "SHA256"],
    ) if items else ["no policy version registered; add one with 'helpdesk policy add FILE'"])
    return 0


