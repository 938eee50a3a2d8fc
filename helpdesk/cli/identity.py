"""Identity commands: team mode on PostgreSQL."""

from __future__ import annotations

import argparse
from typing import Any

from helpdesk.cli.output import CliContext, command, emit, group, safe
from helpdesk.services import team


def register(sub: Any) -> None:
    tm = group(sub, "team", "team mode on PostgreSQL: one login role per agent")
    p = command(tm, "setup", team_setup, "create the agents' and supervisors' group roles, "
                "grant the tables and install the database's own checks (run once by the "
                "database owner; again to repair)", json_output=True)
    p.add_argument("--prefix", metavar="NAME",
                   help="group roles are NAME_agent and NAME_supervisor (default: the "
                   "database's name)")


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
