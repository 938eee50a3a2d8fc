"""``python -m bench search``: customer lookup as you type, service against the raw query.

On a demo database (generated once, then reused from ``--workdir``), fragments of 1 to 8
characters are cut from real customers' names, e-mail addresses, companies and phone numbers.
Each fragment is looked up with the service call ``customers.find(desk, fragment)`` (unit of
work, actor check, query, read models) and with the bare query the service runs for it:

* SQLite (default): the FTS5 query through the stdlib ``sqlite3`` module on the same file;
* PostgreSQL (``--db URL``): the statement the service runs (``PostgresSearch.statement``: the
  pg_trgm ``LIKE`` passes, people first) through a bare ``psycopg`` connection in autocommit,
  without the service's check of the agent, on the same database.

Figures: p50 and p95 per fragment length.

The machine is shared, so a single timing is mostly scheduler noise: each fragment is run once
untimed by both (warm pages, as when someone types), then each sample is the best of
``TRIES`` interleaved runs.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing

from bench._demodb import bench_desk, demo_database
from bench.common import Figure, Options, desk_home, percentile, server_settings, workdir
from helpdesk.db.search import DEFAULT_LIMIT, SUBSTRING_MIN_CHARS, PostgresSearch, fold
from helpdesk.services import customers
from helpdesk.services.context import Desk

LENGTHS = range(1, 9)
TRIES = 3


def _fragments(row_of: Callable[[int], Sequence[str | None] | None], rng: random.Random,
               length: int, count: int, customers: int) -> list[str]:
    """``count`` fragments of ``length`` characters from real rows (``row_of`` a customer id:
    name, e-mails, company, phone).

    Short fragments (answered from the word-prefix index) are the start of a word, as typed;
    longer ones are any substring without spaces (one search token).
    """
    found: list[str] = []
    while len(found) < count:
        row = row_of(rng.randrange(1, customers + 1))
        if row is None:
            continue
        words = [w for field in row if field for w in field.split() if len(w) >= length]
        if not words:
            continue
        word = rng.choice(words)
        start = 0 if length < SUBSTRING_MIN_CHARS else rng.randrange(len(word) - length + 1)
        found.append(word[start:start + length])
    return found


def _raw_query(fragment: str) -> tuple[str, str]:
    """One FTS5 query for a one-token fragment, folded as the index is, returning what the
    lookup shows (the text as written is kept in ``customer_fts``). The service's people-first
    pass over the names is what it costs beyond this."""
    folded = fold(fragment)
    phrase = '"' + folded.replace('"', '""') + '"'
    shown = "customer_fts.rowid, name, emails, company, phone"
    if len(folded) >= SUBSTRING_MIN_CHARS:
        return (f"SELECT {shown} FROM customer_fts WHERE customer_fts MATCH ? "
                f"LIMIT {DEFAULT_LIMIT}", phrase)
    return (f"SELECT {shown} FROM customer_prefix JOIN customer_fts "
            "ON customer_fts.rowid = customer_prefix.rowid WHERE customer_prefix MATCH ? "
            f"LIMIT {DEFAULT_LIMIT}", phrase + "*")


def _measure(
    desk: Desk, frags: list[str], raw: Callable[[str], int]
) -> tuple[list[float], list[float]]:
    """Best-of-``TRIES`` seconds per fragment: the service call, and ``raw`` (which runs the
    bare query and returns its number of rows)."""
    service, bare = [], []
    for frag in frags:
        hits = customers.find(desk, frag)  # untimed: warms both paths
        if raw(frag) != len(hits):
            raise RuntimeError(f"service and raw query disagree on {frag!r}")
        best_service = best_bare = float("inf")
        for _ in range(TRIES):
            start = time.perf_counter()
            customers.find(desk, frag)
            best_service = min(best_service, time.perf_counter() - start)
            start = time.perf_counter()
            raw(frag)
            best_bare = min(best_bare, time.perf_counter() - start)
        service.append(best_service)
        bare.append(best_bare)
    return service, bare


def _percentiles(length: int, service: list[float], bare: list[float]) -> list[Figure]:
    return [Figure(f"find {length} chars p{pct} (ms)", percentile(service, pct) * 1000,
                   percentile(bare, pct) * 1000, "ms") for pct in (50, 95)]


def _run_postgres(opts: Options) -> list[Figure]:
    import psycopg

    samples = max(50, opts.repeat * 20)
    figures: list[Figure] = []
    with workdir(opts) as root, desk_home(root), demo_database(root, opts) as url:
        print(f"PostgreSQL: {server_settings(url)}", file=sys.stderr)
        desk = bench_desk(url, root)
        rng = random.Random(opts.seed)
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"),
                             autocommit=True) as raw:

            def row_of(customer_id: int) -> Sequence[str | None] | None:
                return raw.execute("SELECT name, emails, company, phone FROM customer_search "
                                   "WHERE customer_id = %s", (customer_id,)).fetchone()

            def bare(fragment: str) -> int:
                query = PostgresSearch.statement(fragment)
                if query is None:  # nothing searchable in it ('+'): the service finds nothing
                    return 0
                return len(raw.execute(query[0], query[1], prepare=False).fetchall())

            for length in LENGTHS:
                frags = _fragments(row_of, rng, length, samples, opts.customers)
                figures += _percentiles(length, *_measure(desk, frags, bare))
        desk.db.dispose()
    return figures


def run(opts: Options) -> list[Figure]:
    if opts.db:
        return _run_postgres(opts)
    samples = max(50, opts.repeat * 20)
    figures: list[Figure] = []
    with workdir(opts) as root, desk_home(root), demo_database(root, opts) as url:
        desk = bench_desk(url, root)
        rng = random.Random(opts.seed)
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as raw:

            def row_of(customer_id: int) -> Sequence[str | None] | None:
                return raw.execute("SELECT name, emails, company, phone FROM customer_fts "
                                   "WHERE rowid = ?", (customer_id,)).fetchone()

            def bare(fragment: str) -> int:
                sql, match = _raw_query(fragment)
                return len(raw.execute(sql, (match,)).fetchall())

            for length in LENGTHS:
                frags = _fragments(row_of, rng, length, samples, opts.customers)
                figures += _percentiles(length, *_measure(desk, frags, bare))
        desk.db.dispose()
    return figures
