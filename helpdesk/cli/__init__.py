"""The ``helpdesk`` command: opens the desk, or runs one scriptable command.

Each area of the desk registers its commands from its own module (see ``COMMAND_MODULES``);
every command reports through :mod:`helpdesk.cli.output`, so ``--json`` and exit codes behave the
same everywhere.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from helpdesk import __version__
from helpdesk.cli.arguments import check_values
from helpdesk.cli.output import CliContext, fail
from helpdesk.errors import EXIT_CODES, HelpdeskError

#: Modules that add sub-commands; each has ``register(subparsers)``.
COMMAND_MODULES = [
    "helpdesk.cli.core",
    "helpdesk.cli.intake",
    "helpdesk.cli.disputes",
    "helpdesk.cli.trust",
    "helpdesk.cli.privacy",
    "helpdesk.cli.replies",
    "helpdesk.cli.identity",
    "helpdesk.cli.inbox",
    "helpdesk.cli.records",
    "helpdesk.cli.attachments",
]


def _epilog() -> str:
    codes = "\n".join(f"  {code}  {text}" for code, text in sorted(EXIT_CODES.items()))
    return (
        "Run without a command to open the desk.\n\n"
        "You act as your operating-system account (on PostgreSQL: your database login role);\n"
        "no environment variable changes that. A supervisor may act as another agent with\n"
        "--as NAME where a supervisor turned it on ('helpdesk agent impersonation on').\n"
        "The database is the embedded SQLite file unless --db URL or HELPDESK_DB_URL names\n"
        "another (postgresql://user:pass@host/db for a team).\n\n"
        f"Exit codes:\n{codes}"
    )


def _global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", metavar="URL", help="database URL (default: embedded SQLite)")
    parser.add_argument("--as", dest="as_agent", metavar="NAME",
                        help="act as another agent (supervisors, where the database allows it)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpdesk",
        description="Privacy support desk: look up customers, run privacy requests and disputes.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"helpdesk {__version__}")
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    check_values(parser)
    return parser


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line; opening the desk (no command) skips loading every command."""
    args = list(sys.argv[1:] if argv is None else argv)
    bare = argparse.ArgumentParser(add_help=False)
    _global_options(bare)
    known, rest = bare.parse_known_args(args)
    if not rest:
        known.command = None
        return known
    return build_parser().parse_args(args)


def main(argv: Sequence[str] | None = None, *, agent: str | None = None) -> int:
    """Run the command line. ``agent`` is for in-process callers (tests, embedding code) that
    set the acting agent the way :meth:`Desk.as_agent` does; the real account is still recorded
    on every audit event, and nothing on the command line or in the environment reaches it."""
    args = _parse(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="helpdesk: %(message)s",
    )
    ctx = CliContext(db_url=args.db, act_as=args.as_agent, agent=agent)
    try:
        if args.command is None:
            return _open_desk(ctx)
        handler = getattr(args, "handler", None)
        if handler is None:  # a command group given without its sub-command
            args.group_parser.print_help(sys.stderr)
            return 2
        return handler(args, ctx) or 0
    except HelpdeskError as exc:
        return fail(exc)
    except KeyboardInterrupt:
        print("helpdesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``helpdesk case list | head``): stop quietly, like other tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    finally:
        ctx.close()


def _open_desk(ctx: CliContext) -> int:
    """Open the desk.

    Loading the UI and opening the database build the objects the desk keeps for its whole
    life (modules, classes, the ORM's tables and mappers). The cyclic garbage collector finds
    nothing among them, yet while they are built it runs again and again and walks ever more of
    them; once they exist, each later collection while the desk runs walks them all again. So
    it is paused while they are built and they are then set aside (``gc.freeze``) until the
    desk closes (the app freezes again once its first rows are up). Before this, collecting
    took about a seventh of the CPU time to the first screen.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        from screens.app import run_desk  # the only place the CLI touches the UI package

        desk = ctx.desk()
        with desk.db.session() as s:
            # someone who may not act is told so here, with what to do, rather than by a
            # desk whose lists never load
            desk.check_actor(s)
        gc.freeze()
    finally:
        if collecting:
            gc.enable()
    try:
        return run_desk(desk) or 0
    finally:
        gc.unfreeze()
