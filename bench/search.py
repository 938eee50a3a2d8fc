"""``python -m bench search``: customer lookup as you type, service against the raw query.

On a demo database (generated once, then reused from ``--workdir``), fragments of 1 to 8
characters are cut from real customers' names, e-mail addresses, companies and phone numbers.
Each fragment is looked up with the service call ``customers.find(desk, fragment)`` (unit of
work, actor check, query, read models) and with the bare query the service runs for it:

* SQLite (default): the FTS5 query through the stdlib ``sqlite3`` module on the same file;
* PostgreSQL (``--db URL``): the plain pg_trgm query (:func:`_trigram_statement`: the two
  ``LIKE`` passes through the trigram indexes, people first, that the service ran before it
  read the first customers itself) through a bare ``psycopg`` connection in autocommit,
  without the service's check of the agent, on the same database. The statement the service
  runs now (``PostgresSearch.statement``) is timed bare the same way: the ``plan`` figures.

Figures: p50 and p95 per fragment length (value: the service, or the bare plan; baseline: the
bare query). A summary on stderr gives each length's p95s in milliseconds beside the ratio.

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
from helpdesk.db.search import (
    DEFAULT_LIMIT,
    SUBSTRING_MIN_CHARS,
    PostgresSearch,
    fold,
    pg_conditions,
)
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


def _trigram_statement(fragment: str) -> tuple[str, dict[str, object]] | None:
    """The plain pg_trgm search (``psycopg`` parameters): name matches, then the other
    matches, each pass the first ``DEFAULT_LIMIT`` rows the trigram index gives, shown in id
    order. None when ``fragment`` has nothing to search for."""
    conditions = pg_conditions(fragment)
    if conditions is None:
        return None
    _, patterns, in_name, in_doc = conditions
    shown = "customer_id, name, emails, company, phone"
    sql = (f"SELECT {shown} FROM ("
           f"(SELECT 0 AS pass, {shown} FROM customer_search WHERE {in_name} "
           "LIMIT %(limit)s) UNION ALL "
           f"(SELECT 1, {shown} FROM customer_search WHERE {in_doc} "
           f"AND NOT coalesce({in_name}, false) LIMIT %(limit)s)"
           ") hits ORDER BY pass, customer_id LIMIT %(limit)s")
    return sql, {"limit": DEFAULT_LIMIT, **patterns}


def _measure(
    desk: Desk, frags: list[str], *bare: Callable[[str], int]
) -> tuple[list[float], ...]:
    """Best-of-``TRIES`` seconds per fragment: the service call, then each of ``bare`` (which
    runs a bare query and returns its number of rows)."""
    timings: tuple[list[float], ...] = tuple([] for _ in range(len(bare) + 1))
    calls: tuple[Callable[[str], object], ...] = (lambda f: customers.find(desk, f), *bare)
    for frag in frags:
        hits = customers.find(desk, frag)  # untimed: warms every path
        if any(query(frag) != len(hits) for query in bare):
            raise RuntimeError(f"service and bare query disagree on {frag!r}")
        best = [float("inf")] * len(calls)
        for _ in range(TRIES):
            for i, call in enumerate(calls):
                start = time.perf_counter()
                call(frag)
                best[i] = min(best[i], time.perf_counter() - start)
        for samples, seconds in zip(timings, best, strict=True):
            samples.append(seconds)
    return timings


def _percentiles(length: int, what: str, timed: list[float], bare: list[float]) -> list[Figure]:
    return [Figure(f"{what} {length} chars p{pct} (ms)", percentile(timed, pct) * 1000,
                   percentile(bare, pct) * 1000, "ms") for pct in (50, 95)]


def _summary(length: int, service: list[float], bare: list[float], label: str) -> None:
    """One line on stderr: the p95s of ``length`` in milliseconds and their ratio."""
    ours, theirs = percentile(service, 95) * 1000, percentile(bare, 95) * 1000
    print(f"{length} chars: service p95 {ours:.1f} ms, {label} p95 {theirs:.1f} ms, "
          f"ratio {ours / theirs:.2f}", file=sys.stderr)


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

            def bare(statement: Callable[[str], tuple[str, dict[str, object]] | None]
                     ) -> Callable[[str], int]:
                def rows(fragment: str) -> int:
                    query = statement(fragment)
                    if query is None:  # nothing searchable ('+'): the service finds nothing
                        return 0
                    return len(raw.execute(query[0], query[1], prepare=False).fetchall())
                return rows

            for length in LENGTHS:
                frags = _fragments(row_of, rng, length, samples, opts.customers)
                service, plan, trigram = _measure(desk, frags, bare(PostgresSearch.statement),
                                                  bare(_trigram_statement))
                figures += _percentiles(length, "find", service, trigram)
                figures += _percentiles(length, "plan", plan, trigram)
                _summary(length, service, trigram, "pg_trgm")
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
                service, fts = _measure(desk, frags, bare)
                figures += _percentiles(length, "find", service, fts)
                _summary(length, service, fts, "FTS5")
        desk.db.dispose()
    return figures
