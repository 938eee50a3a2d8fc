"""``python -m bench team``: a team of simulated agents working one database at the same time.

``--agents N`` processes (default 20), each one agent, work a demo database (``--customers``)
for ``--seconds`` through the service layer, as the desk does: look customers up, open cases,
page the unassigned queue, write notes, change a status without a version (a blind change, as
``helpdesk case status`` does), change one with the version they saw (the desk's dialog), take
or release a case (with the version, as the desk's ``a`` key does), open new cases and import a
small mailbox (a reply tagged ``[Case #N]`` to a case everyone is working on, and a new letter).
The operations go to a hot set of open cases so that agents meet on the same case often. Between
two operations an agent waits 50-250 ms: far busier than a person, slow enough that the figures
measure the desk and the database rather than a queue for the CPU.

On PostgreSQL (``--db URL``) the database is put in team mode as its owner would (``helpdesk
team setup``) and every agent is a login role of its own, as in a real team: the desk takes the
agent from the session's role and the database enforces the agents' privileges. A scratch
database's roles are dropped afterwards; a kept one (``--workdir``) keeps its team, whose agents'
passwords are set anew on each run. On SQLite every agent process shares the file and sets its
agent in-process.

Each agent records what it believes it did (the notes it wrote, the history entries its status
changes returned, its takes and releases, the cases it opened, the Message-IDs it imported).
Afterwards the final state is checked against all of it: every belief must be found, each
case's status and assignee histories must chain (each change starts where the previous one
ended) and end in the case's current status and assignee, and the audit chain must verify.
Anything missing or broken counts as a lost update.

Figures: throughput (baseline: the number of agents, so the ratio is per agent), p50 and p95
per operation (baseline: the goal, 50 ms for reads, 100 ms for writes, so a ratio <= 1 meets
it), conflicts by kind of write and errors (baseline: operations of that kind), lost updates
(baseline: beliefs checked).
"""

from __future__ import annotations

import mailbox
import multiprocessing
import os
import random
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench._demodb import bench_desk, demo_database
from bench.common import Figure, Options, desk_home, percentile, server_settings, workdir
from helpdesk.errors import Conflict

THINK_SECONDS = (0.05, 0.25)
HOT_CASES = 60
#: Operation: (weight, kind). Kinds: read, append (never conflicts), blind (a change without a
#: version: never conflicts), versioned (carries the version the agent saw: may conflict).
MIX: dict[str, tuple[int, str]] = {
    "lookup": (30, "read"),
    "case open": (22, "read"),
    "queue page": (5, "read"),
    "note": (12, "append"),
    "new case": (5, "append"),
    "import": (3, "append"),
    "status (blind)": (9, "blind"),
    "status (versioned)": (6, "versioned"),
    "take/release": (8, "versioned"),
}
GOAL_MS = {"read": 50.0, "append": 100.0, "blind": 100.0, "versioned": 100.0}
STATUSES = ("open", "waiting")


# --- one agent (runs in its own process) -----------------------------------------------------

class _Log:
    """What one agent did: timings and outcomes per operation, beliefs, error samples."""

    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = {op: [] for op in MIX}
        self.outcomes: dict[str, Counter[str]] = {op: Counter() for op in MIX}
        self.errors: list[str] = []
        self.beliefs: dict[str, list[Any]] = {
            "notes": [], "status": [], "assigns": [], "cases": [], "imported": []}

    def timed(self, op: str, call: Callable[[], Any]) -> Any:
        """Run one service call, timing it; its result, or None when it failed."""
        start = time.perf_counter()
        try:
            result = call()
            outcome = "ok"
        except Conflict:
            result, outcome = None, "conflict"
        except Exception as exc:  # counted and sampled: the benchmark reports every failure
            result, outcome = None, "error"
            if len(self.errors) < 20:
                self.errors.append(f"{op}: {type(exc).__name__}: {str(exc)[:200]}")
        self.ms[op].append((time.perf_counter() - start) * 1000)
        self.outcomes[op][outcome] += 1
        return result


def _letter(folder: Path, tag: str, hot: tuple[int, str], email: str) -> tuple[Path, list[str]]:
    """A small mailbox: a reply tagged with a hot case's number from its customer, and a new
    letter from another customer. Returns its path and the Message-IDs in it."""
    path = folder / f"{tag}-{secrets.token_hex(4)}.mbox"
    box = mailbox.mbox(path)
    ids = []
    case_id, owner = hot
    for sender, subject, body in (
        (owner, f"Re: your request [Case #{case_id}]", "Thanks, any news on this?"),
        (email, "Please delete my data", "Please delete all my personal data. Thank you."),
    ):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, "info@example.com", subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = mid = make_msgid(domain="bench.example")
        msg.set_content(body)
        box.add(msg)
        ids.append(mid)
    box.close()
    return path, ids


def _agent(spec: dict[str, Any], ready: Any, go: Any, done: Any) -> None:
    """One agent's session: says it is ready, waits for the start, works ``seconds``, then
    reports its log on ``done``."""
    from helpdesk.services import cases, customers, intake
    from helpdesk.services.context import open_desk

    desk = open_desk(db_url=spec["url"], agent=spec["agent"])
    me = desk.actor_name
    rng = random.Random(spec["seed"])
    log = _Log()
    hot: list[tuple[int, str]] = spec["hot"]
    folder = Path(tempfile.mkdtemp(prefix="bench-team-"))
    count = 0

    def note() -> None:
        nonlocal count
        count += 1
        case_id, body = rng.choice(hot)[0], f"{spec['tag']} {me} note {count}"
        if log.timed("note", lambda: cases.add_note(desk, case_id=case_id, body=body)):
            log.beliefs["notes"].append((case_id, body))

    def status(versioned: bool) -> None:
        case_id, target = rng.choice(hot)[0], rng.choice(STATUSES)
        version = None
        if versioned:  # the agent looks at the case, thinks, then decides
            seen = log.timed("case open", lambda: cases.get(desk, case_id))
            if seen is None:
                return
            version = seen.case.version
            time.sleep(rng.uniform(*THINK_SECONDS))
        op = "status (versioned)" if versioned else "status (blind)"
        done = log.timed(op, lambda: cases.set_status(desk, case_id=case_id, status=target,
                                                      expected_version=version))
        if done is not None:
            log.beliefs["status"] += [(case_id, e.id, e.from_value, e.to_value)
                                      for e in done.changed]

    def take() -> None:
        case_id = rng.choice(hot)[0]
        seen = log.timed("case open", lambda: cases.get(desk, case_id))
        if seen is None:
            return
        mine, free = seen.case.assignee_name == me, seen.case.assignee_name is None
        if not (mine or free):
            return  # someone else's: only a supervisor may take it
        time.sleep(rng.uniform(*THINK_SECONDS))
        done = log.timed("take/release", lambda: cases.assign(
            desk, case_id=case_id, assignee=None if mine else me,
            expected_version=seen.case.version))
        if done is not None:
            log.beliefs["assigns"].append((case_id, me if mine else None, None if mine else me))

    def new_case() -> None:
        nonlocal count
        count += 1
        subject = f"{spec['tag']} {me} case {count}"
        done = log.timed("new case", lambda: cases.create(
            desk, kind=rng.choice(("question", "access", "correction")),
            customer_id=rng.choice(spec["customers"]), subject=subject))
        if done is not None:
            log.beliefs["cases"].append((done.case.id, subject))

    def import_mail() -> None:
        path, ids = _letter(folder, spec["tag"], rng.choice(hot), rng.choice(spec["emails"]))
        if log.timed("import", lambda: intake.import_paths(desk, paths=[path])) is not None:
            log.beliefs["imported"] += ids
        path.unlink()

    ops: dict[str, Callable[[], Any]] = {
        "lookup": lambda: log.timed("lookup", lambda: customers.find(
            desk, rng.choice(spec["fragments"]))),
        "case open": lambda: log.timed("case open", lambda: cases.get(
            desk, rng.choice(hot)[0])),
        "queue page": lambda: log.timed("queue page", lambda: cases.list_queue(
            desk, "unassigned", limit=50)),
        "note": note,
        "new case": new_case,
        "import": import_mail,
        "status (blind)": lambda: status(False),
        "status (versioned)": lambda: status(True),
        "take/release": take,
    }
    names, weights = list(MIX), [w for w, _ in MIX.values()]
    ready.put(me)
    go.wait()
    stop_at = time.monotonic() + spec["seconds"]
    while time.monotonic() < stop_at:
        ops[rng.choices(names, weights)[0]]()
        time.sleep(rng.uniform(*THINK_SECONDS))
    desk.db.dispose()
    folder.rmdir()
    done.put({"ms": log.ms, "outcomes": {k: dict(v) for k, v in log.outcomes.items()},
              "errors": log.errors, "beliefs": log.beliefs})


# --- the team ----------------------------------------------------------------------------------

def _team_mode(boss: Any, names: list[str], password: str) -> tuple[dict[str, str], list[str]]:
    """Put the database in team mode as its owner would (``helpdesk team setup``), add the
    agents (each gets a login role), and give their roles a password for this run.

    Returns the URL each agent connects with, and the roles this made that did not exist
    before (the team's groups, and login roles for the agents already on the desk), for the
    caller to drop once the database is gone."""
    from bench.common import database_url
    from helpdesk.services import team

    url = boss.settings.db_url
    with boss.db.engine.connect() as conn:
        before = set(conn.exec_driver_sql("SELECT rolname FROM pg_roles").scalars())
    team.setup(boss)
    _add_agents(boss, names)
    with boss.db.engine.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f"ALTER ROLE \"{name}\" PASSWORD '{password}'")
        conn.commit()
        made = sorted(set(conn.exec_driver_sql("SELECT rolname FROM pg_roles").scalars())
                      - before)
    server = make_url(url)
    urls = {name: database_url(
        server.set(username=name, password=password).render_as_string(hide_password=False),
        server.database or "") for name in names}
    return urls, made


def _add_agents(boss: Any, names: list[str]) -> None:
    """Add the agents (a kept database has them from an earlier run)."""
    from helpdesk.services import agents

    have = {a.name for a in agents.list_agents(boss)}
    for name in names:
        if name not in have:
            agents.add(boss, name=name)


def _drop_roles(server: str, roles: list[str]) -> None:
    """Drop login roles first, then the groups they were members of."""
    import sqlalchemy as sa

    from helpdesk.db.engine import create_db_engine

    engine = create_db_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            for name in sorted(roles, key=lambda r: r.endswith(("_agent", "_supervisor"))):
                conn.exec_driver_sql(f'DROP ROLE IF EXISTS "{name}"')
    finally:
        engine.dispose()


def _material(desk: Any, rng: random.Random) -> dict[str, Any]:
    """What the agents work on: hot open cases (with their customer's address), customers to
    open cases for and write from, and fragments to look up."""
    with desk.db.engine.connect() as conn:
        hot = conn.exec_driver_sql(
            "SELECT c.id, e.address FROM support_case c JOIN customer_email e "
            "ON e.customer_id = c.customer_id AND e.is_primary "
            "WHERE c.closed_at IS NULL AND c.kind <> 'dispute' ORDER BY c.id LIMIT 2000").all()
        people = conn.exec_driver_sql(
            "SELECT c.id, c.name, e.address FROM customer c JOIN customer_email e "
            "ON e.customer_id = c.id AND e.is_primary WHERE c.erased_at IS NULL "
            "ORDER BY c.id LIMIT 5000").all()
    picked = rng.sample(list(hot), min(HOT_CASES, len(hot)))
    fragments = []
    for _, name, address in rng.sample(list(people), min(300, len(people))):
        word = rng.choice([w for w in f"{name} {address}".split() if w])
        length = rng.randint(1, min(8, len(word)))
        start = 0 if length < 3 else rng.randrange(len(word) - length + 1)
        fragments.append(word[start:start + length])
    return {"hot": [tuple(h) for h in picked],
            "customers": [p[0] for p in people[:1000]],
            "emails": [p[2] for p in people[1000:2000] or people],
            "fragments": fragments}


def _history(desk: Any, case_ids: list[int], after: int, action: str) -> dict[int, list[Any]]:
    from sqlmodel import col, select

    from helpdesk.db.models import CaseEvent

    with desk.db.session() as s:
        rows = s.exec(select(CaseEvent.case_id, CaseEvent.id, CaseEvent.from_value,
                             CaseEvent.to_value)
                      .where(col(CaseEvent.case_id).in_(case_ids), CaseEvent.action == action,
                             col(CaseEvent.id) > after)
                      .order_by(col(CaseEvent.id))).all()
    out: dict[int, list[Any]] = {c: [] for c in case_ids}
    for case_id, event_id, before, after_value in rows:
        out[case_id].append((event_id, before, after_value))
    return out


def _verify(desk: Any, start: dict[str, Any], beliefs: dict[str, list[Any]]) -> tuple[int, int,
                                                                                        list[str]]:
    """Check the final state against every agent's beliefs: (checked, lost, what was lost)."""
    from sqlmodel import col, func, select

    from helpdesk.db.models import Agent, Case, Message
    from helpdesk.services import audit, keys

    lost: list[str] = []
    checked = 0
    hot = [case_id for case_id, _ in start["hot"]]
    with desk.db.session() as s:
        for case_id, body in beliefs["notes"]:
            checked += 1
            found = s.exec(select(func.count()).select_from(Message).where(
                Message.case_id == case_id, Message.body == body)).one()
            if found != 1:
                lost.append(f"note {body!r} on case #{case_id} found {found} times")
        for case_id, subject in beliefs["cases"]:
            checked += 1
            case = s.get(Case, case_id)
            if case is None or case.subject != subject:
                lost.append(f"new case #{case_id} {subject!r} missing")
        imported = set(s.exec(select(Message.message_id).where(
            col(Message.message_id).in_(beliefs["imported"]))).all()) if beliefs[
                "imported"] else set()
        for mid in beliefs["imported"]:
            checked += 1
            if mid not in imported:
                lost.append(f"imported message {mid} missing")
        final = {c.id: c for c in s.exec(select(Case).where(col(Case.id).in_(hot))).all()}
        names = dict(s.exec(select(Agent.id, Agent.name)).all())
        chain = audit.verify_chain(s, keys.database_key(desk))
    statuses = _history(desk, hot, start["event_mark"], "status")
    said = {event_id: (case_id, before, after)
            for case_id, event_id, before, after in beliefs["status"]}
    for event_id, (case_id, before, after) in said.items():
        checked += 1
        if (event_id, before, after) not in statuses[case_id]:
            lost.append(f"status change #{event_id} on case #{case_id} missing")
    assigns = _history(desk, hot, start["event_mark"], "assigned")
    made = Counter((case_id, before, after) for case_id, before, after in beliefs["assigns"])
    found = Counter((case_id, before, after) for case_id, rows in assigns.items()
                    for _, before, after in rows)
    checked += sum(made.values())
    if made - found:
        lost.append(f"takes or releases missing: {sorted((made - found).elements())[:5]}")
    for case_id in hot:
        case = final[case_id]
        current = {"status": str(case.status),
                   "assigned": names.get(case.assignee_id) if case.assignee_id else None}
        for action, rows in (("status", statuses[case_id]), ("assigned", assigns[case_id])):
            value = start["initial"][case_id][action]
            for event_id, before, after in rows:
                if before != value:
                    lost.append(f"case #{case_id} {action} #{event_id} starts from {before}, "
                                f"not {value}")
                value = after
            checked += 1
            if value != current[action]:
                lost.append(f"case #{case_id} {action} is {current[action]}, its history "
                            f"ends at {value}")
    checked += 1
    if not chain.ok:
        lost.append(f"audit chain broken at event #{chain.broken_at}: {chain.reason}")
    return checked, len(lost), lost


def _start_state(desk: Any, hot: list[tuple[int, str]]) -> dict[str, Any]:
    from sqlmodel import col, func, select

    from helpdesk.db.models import Agent, Case, CaseEvent

    with desk.db.session() as s:
        mark = s.exec(select(func.max(CaseEvent.id))).one() or 0
        names = dict(s.exec(select(Agent.id, Agent.name)).all())
        initial = {c.id: {"status": str(c.status),
                          "assigned": names.get(c.assignee_id) if c.assignee_id else None}
                   for c in s.exec(select(Case).where(col(Case.id).in_([h for h, _ in hot])))}
    return {"event_mark": mark, "initial": initial, "hot": hot}


def run(opts: Options) -> list[Figure]:
    tag = f"b{os.getpid()}"
    keep = opts.workdir is not None  # a kept database keeps its team from run to run
    names = [f"hd_{'bench' if keep else tag}_a{i + 1:02d}" for i in range(opts.agents)]
    made: list[str] = []
    try:
        with workdir(opts) as root, desk_home(root), demo_database(root, opts) as url:
            boss = bench_desk(url, root)
            urls: dict[str, str] = {}
            if opts.db:
                print(f"PostgreSQL: {server_settings(url)}", file=sys.stderr)
                urls, made = _team_mode(boss, names, secrets.token_hex(16))
            else:
                _add_agents(boss, names)
            material = _material(boss, random.Random(opts.seed))
            start = _start_state(boss, material["hot"])
            specs = [{**material, "url": urls.get(name, url),
                      "agent": None if opts.db else name, "seed": opts.seed * 1000 + i,
                      "tag": tag, "seconds": opts.seconds} for i, name in enumerate(names)]
            logs = _run_agents(specs, opts.seconds)
            beliefs: dict[str, list[Any]] = {k: [] for k in logs[0]["beliefs"]}
            for log in logs:
                for key, items in log["beliefs"].items():
                    beliefs[key] += items
            checked, lost, what = _verify(boss, start, beliefs)
            boss.db.dispose()
    finally:
        if made and not keep:  # the database is gone: its team goes too
            _drop_roles(opts.db or "", made)
    return _figures(opts, logs, checked, lost, what)


def _run_agents(specs: list[dict[str, Any]], seconds: float) -> list[dict[str, Any]]:
    """Start one process per agent, release them together once all are connected, and
    collect their logs."""
    ctx = multiprocessing.get_context("spawn")
    ready, go, done = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_agent, args=(spec, ready, go, done)) for spec in specs]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            ready.get(timeout=600)
        go.set()
        logs = [done.get(timeout=seconds + 600) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.kill()
    return logs


def _figures(opts: Options, logs: list[dict[str, Any]], checked: int, lost: int,
             what: list[str]) -> list[Figure]:
    ms: dict[str, list[float]] = {op: [] for op in MIX}
    outcomes: dict[str, Counter[str]] = {op: Counter() for op in MIX}
    for log in logs:
        for op in MIX:
            ms[op] += log["ms"][op]
            outcomes[op].update(log["outcomes"][op])
    total = sum(len(v) for v in ms.values())
    figures = [Figure("throughput (operations/s)", total / opts.seconds, opts.agents,
                      f"ops/s ({total} operations by {opts.agents} agents in "
                      f"{opts.seconds:g} s; ratio: per agent)")]
    for op, (_, kind) in MIX.items():
        if ms[op]:
            for pct in (50, 95):
                figures.append(Figure(f"{op} p{pct} (ms)", percentile(ms[op], pct),
                                      GOAL_MS[kind], f"ms (baseline: goal; {len(ms[op])} runs)"))
    for kind in ("append", "blind", "versioned"):
        ops = [op for op, (_, k) in MIX.items() if k == kind]
        done = sum(sum(outcomes[op].values()) for op in ops)
        figures.append(Figure(f"conflicts on {kind} writes", sum(outcomes[op]["conflict"]
                                                                 for op in ops),
                              done, f"of {done} ({', '.join(ops)})"))
    errors = sum(o["error"] for o in outcomes.values())
    figures.append(Figure("errors", errors, total, f"of {total} operations"))
    figures.append(Figure("lost updates", lost, checked, f"of {checked} beliefs checked"))
    for log in logs:
        for line in log["errors"][:3]:
            print(f"error: {line}", file=sys.stderr)
    for line in what[:20]:
        print(f"lost: {line}", file=sys.stderr)
    return figures
