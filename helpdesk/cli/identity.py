"""Identity commands: team mode on PostgreSQL."""

from __future__ import annotations

import argparse
from typing import Any

from helpdesk.cli.core import verification_lines
from helpdesk.cli.output import CliContext, command, emit, group, safe, subcommands
from helpdesk.domain import VerificationMethod
from helpdesk.errors import Invalid
from helpdesk.services import team, verification


def register(sub: Any) -> None:
    tm = group(sub, "team", "team mode on PostgreSQL: one login role per agent")
    p = command(tm, "setup", team_setup, "create the agents' and supervisors' group roles, "
                "grant the tables and install the database's own checks (run once by the "
                "database owner; again to repair)", json_output=True)
    p.add_argument("--prefix", metavar="NAME",
                   help="group roles are NAME_agent and NAME_supervisor (default: the "
                   "database's name)")
    _register_verify(sub)


def _register_verify(sub: Any) -> None:
    methods = [VerificationMethod.EMAIL_CODE.value, *(m.value for m in verification.ATTESTED)]
    p = command(subcommands(sub, "case"), "verify", case_verify,
                "record how the requester of an access, correction or deletion case proved "
                "who they are (export, correction and erasure wait for it)", json_output=True)
    p.add_argument("id", type=int, metavar="CASE")
    p.add_argument("--method", required=True, choices=[*methods, "override"],
                   help="email_code: checked against the case's letters (a reply from an "
                   "address on file with the code); the others are attested by you; override: "
                   "supervisors, with --reason")
    p.add_argument("--note", help="what was checked (which document, which number was called)")
    p.add_argument("--reason", help="why a supervisor overrides (required with override)")


def case_verify(args: argparse.Namespace, ctx: CliContext) -> int:
    override = args.method == "override"
    if override and not args.reason:
        raise Invalid("an override needs --reason", field="reason")
    info = verification.verify(ctx.desk(), case_id=args.id, method=args.method,
                               note=args.reason if override else args.note)
    emit(args, info, lambda: [f"case #{info.case_id}", *verification_lines(info)])
    return 0


def team_setup(args: argparse.Namespace, ctx: CliContext) -> int:
    info = team.setup(ctx.desk(), prefix=args.prefix)
    emit(args, info, lambda: [
        f"team mode on for database {safe(info.database)}",
        f"groups: {safe(info.agents_group)} (agents), {safe(info.supervisors_group)} "
        "(supervisors)",
        "login roles enrolled: " + (", ".join(safe(n) for n in info.enrolled) or "none yet"),
        "add agents with 'helpdesk agent add NAME'; each signs in as their own role "
        "(password in ~/.pgpass, peer, certificate or GSSAPI)",
    ])
    return 0
