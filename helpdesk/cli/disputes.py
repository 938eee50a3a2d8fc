"""Dispute, supervisor and report commands.

``helpdesk dispute open|advance``, ``helpdesk case assign|override|escalate|deescalate`` (added to
the ``case`` group that :mod:`helpdesk.cli.core` creates), ``helpdesk workload`` and
``helpdesk report``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from helpdesk import csvout
from helpdesk.cli.output import (
    CliContext,
    command,
    emit,
    group,
    if_version,
    page_lines,
    print_records,
    safe,
    table,
)
from helpdesk.domain import DisputeStage
from helpdesk.errors import Invalid
from helpdesk.services import cases, disputes, parsing, reports, supervisor
from helpdesk.services.readmodels import CaseDetail, CaseSummary
from helpdesk.wording import counted


def _subcommands(sub: Any, name: str) -> Any:
    """The sub-command set of a group another module registered (``case`` lives in core)."""
    parser = sub.choices[name]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def _version(p: argparse.ArgumentParser) -> None:
    if_version(p)


def register(sub: Any) -> None:
    di = group(sub, "dispute", "disputes (policy Part VI: resolved within 90 days)")
    p = command(di, "open", dispute_open, "open a dispute about a case (or a customer's message)",
                json_output=True)
    p.add_argument("case", type=int, nargs="?", help="the disputed case")
    p.add_argument("--message", type=int, metavar="ID",
                   help="the customer's message raising the dispute (the clock starts there)")
    p.add_argument("--note", help="internal note to start the dispute with")
    p.add_argument("--mine", action="store_true", help="assign the dispute to yourself")
    p = command(di, "advance", dispute_advance, "move a dispute to its next stage",
                json_output=True)
    p.add_argument("case", type=int)
    p.add_argument("--to", required=True, choices=[s.value for s in DisputeStage],
                   metavar="STAGE", help="; ".join(
                       f"{s.value} -> {', '.join(n.value for n in nxt) or '(final)'}"
                       for s, nxt in disputes.TRANSITIONS.items()))
    p.add_argument("--note")
    p.add_argument("--outcome", help="the outcome (required to resolve; one given at an "
                   "earlier stage carries over)")
    letter = p.add_mutually_exclusive_group()
    letter.add_argument("--letter", type=Path, metavar="FILE",
                        help="write the stage's letter to the customer (acknowledged, resolved) "
                             "to FILE (.eml) and record it on the case, in the same step")
    letter.add_argument("--letter-message", type=int, metavar="ID",
                        help="the outbound message that told the customer the outcome")
    letter.add_argument("--letter-ref", metavar="TEXT",
                        help="reference of a letter sent outside the desk")
    _version(p)

    ca = _subcommands(sub, "case")
    p = command(ca, "assign", case_assign, "assign one or more cases to an agent (supervisors "
                "reassign others' cases; anyone takes unassigned ones)", json_output=True)
    p.add_argument("items", nargs="+", metavar="CASE... AGENT",
                   help="case ids, then the agent's login name ('-' to release)")
    p.add_argument("--reason", help="why (required when moving someone else's case)")
    p = command(ca, "override", case_override, "override a case's deadline (supervisors only)",
                json_output=True)
    p.add_argument("case", type=int)
    p.add_argument("--due", required=True, metavar="YYYY-MM-DD", help="new last day on time")
    p.add_argument("--reason", required=True)
    _version(p)
    for name, handler, text in (
        ("escalate", case_escalate, "flag a case for a supervisor"),
        ("deescalate", case_deescalate, "clear a case's escalation (supervisors only)"),
    ):
        p = command(ca, name, handler, text, json_output=True)
        p.add_argument("case", type=int)
        p.add_argument("--note")
        _version(p)

    p = command(sub, "workload", workload, "open work per agent (supervisors only)",
                json_output=True)
    p.add_argument("--agent", metavar="NAME",
                   help="list this agent's open cases instead ('-' for unassigned)")
    p.add_argument("--limit", type=int, default=cases.DEFAULT_PAGE,
                   help="cases per page with --agent")
    p.add_argument("--cursor", help="continue after a previous page (--agent)")

    p = command(sub, "report", report, "desk figures per kind, month and week: volume, on-time "
                "rate, breaches open and closed late, days to close, dispute stages")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of text")
    fmt.add_argument("--csv", action="store_true",
                     help="print CSV rows (section, key, metric, value)")
    p.add_argument("--from", dest="start", metavar="YYYY-MM-DD")
    p.add_argument("--to", dest="end", metavar="YYYY-MM-DD")
    p.add_argument("--period", choices=["month", "week"], default="month",
                   help="the series the text shows (JSON and CSV hold both)")


def _stage_line(d: CaseDetail) -> str:
    c = d.case
    nxt = ", ".join(s.value for s in disputes.next_stages(c.dispute_stage or "received"))
    return (f"dispute #{c.id} is {c.dispute_stage.value if c.dispute_stage else '-'} "
            f"[{c.status.value}]; next: {nxt or 'none (finished)'}")


def dispute_open(args: argparse.Namespace, ctx: CliContext) -> int:
    d = disputes.open_dispute(ctx.desk(), case_id=args.case, message_id=args.message,
                              note=args.note, assign_to_me=args.mine)
    emit(args, d, lambda: [f"opened dispute #{d.case.id} about case #{d.related_case_id}, due "
                           f"{d.case.due_date}"])
    return 0


def dispute_advance(args: argparse.Namespace, ctx: CliContext) -> int:
    d = disputes.advance(
        ctx.desk(), case_id=args.case, to=args.to, note=args.note, outcome=args.outcome,
        letter_message_id=args.letter_message, letter_reference=args.letter_ref,
        write_letter=args.letter is not None, letter_out=args.letter,
        expected_version=args.expected_version,
    )
    emit(args, d, lambda: [_stage_line(d)])
    return 0


def _summary_rows(items: tuple[CaseSummary, ...]) -> list[str]:
    return table(
        [(f"#{c.id}", c.kind.value, c.status.value, c.dispute_stage, c.assignee_name,
          c.due_date, "-" if c.days_left is None else c.days_left, c.warning or "-",
          "yes" if c.escalated else "")
         for c in items],
        ["CASE", "KIND", "STATUS", "STAGE", "ASSIGNEE", "DUE", "DAYS LEFT", "WARNING", "ESC"],
    )


def case_assign(args: argparse.Namespace, ctx: CliContext) -> int:
    *ids, agent = args.items
    if not ids:
        raise Invalid("give one or more case ids and then the agent", field="case")
    case_ids = parsing.record_ids(ids, what="case (the agent comes last)", field="case")
    items = supervisor.reassign(ctx.desk(), case_ids=case_ids,
                                assignee=None if agent == "-" else agent, reason=args.reason)
    emit(args, items, lambda: [f"assigned {counted(len(items), 'case')}", *_summary_rows(items)])
    return 0


def case_override(args: argparse.Namespace, ctx: CliContext) -> int:
    due = parsing.required_day(args.due, field="due", label="--due")
    d = supervisor.override_deadline(ctx.desk(), case_id=args.case, new_due=due,
                                     reason=args.reason, expected_version=args.expected_version)
    emit(args, d, lambda: [
        f"case #{d.case.id} now due {d.case.due_date} (override); promised deadline "
        f"{safe(d.rule_due_at)}" + (" - already missed" if d.case.policy_breach else "")
    ])
    return 0


def case_escalate(args: argparse.Namespace, ctx: CliContext) -> int:
    d = supervisor.escalate(ctx.desk(), case_id=args.case, note=args.note,
                            expected_version=args.expected_version)
    emit(args, d, lambda: [f"case #{d.case.id} is escalated"])
    return 0


def case_deescalate(args: argparse.Namespace, ctx: CliContext) -> int:
    d = supervisor.deescalate(ctx.desk(), case_id=args.case, note=args.note,
                              expected_version=args.expected_version)
    emit(args, d, lambda: [f"case #{d.case.id} is no longer escalated"])
    return 0


def workload(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.agent is not None:
        page = supervisor.agent_cases(ctx.desk(), agent=None if args.agent == "-" else args.agent,
                                      cursor=args.cursor, limit=args.limit)
        emit(args, page, lambda: page_lines(page, _summary_rows, "no open cases"))
        return 0
    rows = supervisor.workload(ctx.desk())
    emit(args, rows, lambda: table(
        [(r.agent_name or "(unassigned)", r.role or "", "" if r.active else "inactive",
          r.open_cases, r.open_disputes, r.due_soon, r.overdue, r.dispute_warnings, r.escalated)
         for r in rows],
        ["AGENT", "ROLE", "", "OPEN", "DISPUTES", "DUE <=7D", "OVERDUE", "WARNINGS", "ESCALATED"],
    ))
    return 0


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _days(value: float | int | None) -> str:
    return "-" if value is None else f"{value:g}"


def _report_lines(r: reports.Report, period: str) -> list[str]:
    span = f"{r.start or 'beginning'} to {r.end or 'today'} ({r.timezone})"
    c = r.closing
    lines = [
        f"Report {span}",
        f"  received {r.received}, closed {c.closed}, on time {_pct(c.on_time_rate)}, "
        f"median days to close {_days(c.median_days_to_close)}, 90% within "
        f"{_days(c.p90_days_to_close)} days, breaches: {r.open_breaches} open, "
        f"{r.closed_breaches} closed late",
        "  (on time: before the deadline the rules set, the policy version's or a stricter "
        "legal one; overrides do not count)",
        "",
        *table(
            [(k.kind.value, k.received, *k.by_status.values(), k.closing.closed,
              _pct(k.closing.on_time_rate), _days(k.closing.median_days_to_close),
              _days(k.closing.p90_days_to_close), k.open_breaches, k.closing.breaches)
             for k in r.kinds if k.received or k.closing.closed],
            ["KIND", "RECEIVED", *(s.upper() for s in r.kinds[0].by_status),
             "CLOSED IN RANGE", "ON TIME", "MEDIAN DAYS", "P90 DAYS", "OPEN BREACHES",
             "CLOSED LATE"],
        ),
        "",
        "Disputes by stage: " + ", ".join(f"{s} {n}" for s, n in r.disputes_by_stage.items()),
    ]
    if r.agents:
        lines += ["", *table([(a.agent_name, a.open_cases, a.overdue, a.closed)
                              for a in r.agents], ["AGENT", "OPEN", "OVERDUE", "CLOSED"])]
    series = r.months if period == "month" else r.weeks
    if series:
        lines += ["", *table([(p.start, p.received, p.closing.closed, _pct(p.closing.on_time_rate),
                               _days(p.closing.median_days_to_close),
                               _days(p.closing.p90_days_to_close), p.closing.breaches, p.missed)
                              for p in series],
                             [period.upper(), "RECEIVED", "CLOSED", "ON TIME", "MEDIAN DAYS",
                              "P90 DAYS", "CLOSED LATE", "DEADLINES MISSED"])]
    return lines


def report(args: argparse.Namespace, ctx: CliContext) -> int:
    r = reports.report(ctx.desk(), start=parsing.day(args.start, field="--from"),
                       end=parsing.day(args.end, field="--to"))
    if args.csv:
        print_records(csvout.lines([("section", "key", "metric", "value"), *reports.csv_rows(r)]))
        return 0
    emit(args, r, lambda: _report_lines(r, args.period))
    return 0
