"""Finding one person's identifiers anywhere in the live tables, and taking them out of text.

Erasure blanks the identifying columns of the person's own records (see
:mod:`helpdesk.services.erasure`); this module covers what column rules cannot: the same words
repeated in free text. It works over every text, JSON and binary column of every table in the
schema, so a table added later is searched without anyone remembering to add it.

* :func:`redact` replaces the person's addresses in every table's text (another customer's
  letter that names them included), and their name and phone in the person's own records; it
  never rewrites an append-only or checksummed record (audit trail, policy texts, the ledger).
* :func:`scan` is the final check: which rows of which columns still hold any of the person's
  addresses (anywhere) or name or phone (anywhere but another customer's own records, where
  the same name belongs to someone else). Erasure is "complete" only when it finds nothing.

Matching is case-insensitive. A name shorter than :data:`MIN_NAME` characters or a phone with
fewer than :data:`MIN_PHONE_DIGITS` digits is not searched for: it would match unrelated text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from helpdesk.db.models import Case, Customer, Message

MIN_NAME = 5
MIN_PHONE_DIGITS = 6
REDACTED = "[erased]"
#: Tables never rewritten: append-only or checksummed records, and hashes only. They are still
#: scanned, so personal data that reached them by mistake is reported.
NEVER_REWRITTEN = frozenset({"audit_event", "policy_version", "erasure", "erasure_address",
                             "suppression_entry", "agent", "alembic_version"})
#: Tables of keyed hashes only, never searched (in team mode agents may not read the
#: suppression list at all).
HASHES_ONLY = frozenset({"suppression_entry", "erasure_address", "alembic_version"})
_ESCAPE = "\\"
_BATCH = 200


@dataclass(frozen=True, slots=True)
class Identity:
    """The person's identifiers, held in memory only while an erasure runs."""

    addresses: tuple[str, ...]  # normalised, case-folded
    name: str | None
    phone: str | None

    @property
    def personal(self) -> tuple[str, ...]:
        """Name and phone, when long enough to search for."""
        words = []
        if self.name and len(self.name.strip()) >= MIN_NAME:
            words.append(self.name.strip())
        if self.phone and sum(ch.isdigit() for ch in self.phone) >= MIN_PHONE_DIGITS:
            words.append(self.phone.strip())
        return tuple(words)

    @property
    def everything(self) -> tuple[str, ...]:
        return (*self.addresses, *self.personal)


def _forms(words: Iterable[str]) -> list[str]:
    """Each word as written and as JSON spells it (non-ASCII escaped), case-folded."""
    out: list[str] = []
    for word in words:
        for form in (word, json.dumps(word)[1:-1]):
            folded = form.casefold()
            if folded and folded not in out:
                out.append(folded)
    return out


def _like(value: str) -> str:
    return "%" + value.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace(
        "_", _ESCAPE + "_") + "%"


def _kind(column: sa.Column[Any]) -> Any:
    """The column's type under any decorator (SQLModel's strings are decorated)."""
    kind = column.type
    return kind.impl if isinstance(kind, sa.types.TypeDecorator) else kind


def _text_columns(table: sa.Table) -> list[sa.Column[Any]]:
    return [c for c in table.columns
            if isinstance(_kind(c), sa.String | sa.JSON) and not c.primary_key]


def _binary_columns(table: sa.Table) -> list[sa.Column[Any]]:
    return [c for c in table.columns if isinstance(_kind(c), sa.LargeBinary)]


def _tables() -> list[sa.Table]:
    return [t for t in SQLModel.metadata.sorted_tables
            if "id" in t.c and t.name not in HASHES_ONLY]


def _others(table: sa.Table, customer_id: int) -> sa.ColumnElement[bool] | None:
    """Rows that are another customer's own records (by the schema's foreign keys), or None
    when the table's rows belong to no customer."""
    others_cases = sa.select(Case.__table__.c.id).where(
        Case.__table__.c.customer_id.is_not(None), Case.__table__.c.customer_id != customer_id)
    others_messages = sa.select(Message.__table__.c.id).where(
        Message.__table__.c.case_id.in_(others_cases))
    if table.name == Customer.__tablename__:
        return table.c.id != customer_id
    for target, condition in (
        (Customer.__tablename__, lambda c: c != customer_id),
        (Case.__tablename__, lambda c: c.in_(others_cases)),
        (Message.__tablename__, lambda c: c.in_(others_messages)),
    ):
        columns = [c for c in table.columns
                   if any(fk.column.table.name == target for fk in c.foreign_keys)]
        if columns:  # NULL-safe, so that NOT (...) keeps the rows that belong to nobody
            return sa.or_(*(sa.and_(c.is_not(None), condition(c)) for c in columns))
    return None


def _matching(column: sa.Column[Any], forms: list[str]) -> sa.ColumnElement[bool]:
    text = sa.func.lower(sa.cast(column, sa.Text)) if isinstance(_kind(column), sa.JSON) \
        else sa.func.lower(column)
    return sa.or_(*(text.like(_like(f), escape=_ESCAPE) for f in forms))


def _pattern(words: Iterable[str]) -> str:
    """A regular expression for any of ``words`` not run into a longer word, address or
    number (``bzeb@example.org`` is not ``zeb@example.org``; ``<17.zeb@example.org>``, a
    Message-ID made from the address, does hold it)."""
    alternatives = "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True)
                            if w)
    return rf"(?<!\w)(?:{alternatives})(?![\w-]|\.\w)" if alternatives else ""


def _contains(value: Any, forms: list[str]) -> bool:
    pattern = _pattern(forms)
    if value is None or not pattern:
        return False
    if isinstance(value, bytes | bytearray | memoryview):
        return re.search(pattern.encode("utf-8"), bytes(value), re.IGNORECASE) is not None
    text = value if isinstance(value, str) else json.dumps(value)
    return re.search(pattern, text, re.IGNORECASE) is not None


def contains(data: bytes, words: Iterable[str]) -> bool:
    """Whether raw bytes (a kept e-mail) hold any of ``words`` standing alone, in any case."""
    return _contains(data, _forms(words))


def _rows(s: Session, table: sa.Table, columns: list[sa.Column[Any]],
          where: sa.ColumnElement[bool] | None) -> Iterator[sa.Row[Any]]:
    query = sa.select(table.c.id, *columns).order_by(table.c.id)
    if where is not None:
        query = query.where(where)
    yield from s.execute(query.execution_options(yield_per=_BATCH))


def _hits(
    s: Session, table: sa.Table, forms: list[str], where: sa.ColumnElement[bool] | None,
    *, binary: bool,
) -> Iterator[tuple[int, sa.Column[Any], Any]]:
    """(row id, column, value) of every column value holding one of ``forms``."""
    text_columns = _text_columns(table)
    if text_columns and forms:
        found = sa.or_(*(_matching(c, forms) for c in text_columns))
        for row in _rows(s, table, text_columns, found if where is None else
                         sa.and_(where, found)):
            for column, value in zip(text_columns, row[1:], strict=True):
                if _contains(value, forms):
                    yield row[0], column, value
    blob_columns = _binary_columns(table) if binary else []
    if blob_columns and forms:
        present = sa.or_(*(c.is_not(None) for c in blob_columns))
        for row in _rows(s, table, blob_columns, present if where is None else
                         sa.and_(where, present)):
            for column, value in zip(blob_columns, row[1:], strict=True):
                if _contains(value, forms):
                    yield row[0], column, value


def scrub(value: Any, words: Iterable[str]) -> Any:
    """``value`` (text, or JSON made of dicts, lists and strings) with every word replaced."""
    expression = _pattern(words)
    if not expression:
        return value
    pattern = re.compile(expression, re.IGNORECASE)

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return pattern.sub(REDACTED, v)
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(value)


def redact(s: Session, identity: Identity, *, customer_id: int,
           own: dict[str, sa.ColumnElement[bool]]) -> int:
    """Replace the person's addresses in every rewritable table's text, and their name and
    phone in their own records (``own``: table name -> condition on that table); returns the
    number of values changed. Runs inside the erasure's unit of work."""
    changed = 0
    addresses = _forms(identity.addresses)
    personal = _forms(identity.personal)
    for table in _tables():
        if table.name in NEVER_REWRITTEN:
            continue
        hits = [(*hit, identity.addresses) for hit in _hits(s, table, addresses, None,
                                                            binary=False)]
        if table.name in own and personal:
            hits += [(*hit, identity.everything) for hit in _hits(
                s, table, personal, own[table.name], binary=False)]
        updates: dict[int, dict[str, Any]] = {}
        for row_id, column, value, words in hits:
            current = updates.setdefault(row_id, {}).get(column.name, value)
            updates[row_id][column.name] = scrub(current, words)
        for row_id, values in updates.items():
            s.execute(sa.update(table).where(table.c.id == row_id).values(**values))
            changed += len(values)
    return changed


def _unreadable(s: Session) -> set[str]:
    """Tables this session's role may not read: in team mode on PostgreSQL an agent's role does
    not read the suppression list, which holds keyed hashes and the desk's own source labels
    only (a supervisor's scan covers it)."""
    if s.get_bind().dialect.name != "postgresql":
        return set()
    return set(s.execute(sa.text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind = 'r' "
        "AND NOT has_table_privilege(c.oid, 'SELECT')")).scalars())


def scan(s: Session, identity: Identity, *, customer_id: int,
         extra: Iterable[tuple[str, str, str]] = ()) -> dict[str, list[int]]:
    """Where the person is still named: ``{"table.column": [row ids]}``, empty when nowhere.

    ``extra`` names further (table, text column, customer id column) triples to search, for
    tables outside the schema's models (PostgreSQL's search table); their hits carry no ids.
    """
    left: dict[str, set[int]] = {}
    addresses = _forms(identity.addresses)
    personal = _forms(identity.personal)
    hidden = _unreadable(s)
    for table in _tables():
        if table.name in hidden:
            continue
        found = list(_hits(s, table, addresses, None, binary=True))
        others = _others(table, customer_id)
        found += _hits(s, table, personal, None if others is None else sa.not_(others),
                       binary=True)
        for row_id, column, _ in found:
            left.setdefault(f"{table.name}.{column.name}", set()).add(row_id)
    for table_name, column_name, owner in extra:
        table = sa.table(table_name, sa.column(column_name, sa.Text), sa.column(owner))
        column = table.c[column_name]
        where = [_matching(column, addresses)] if addresses else []
        if personal:
            where.append(sa.and_(_matching(column, personal), sa.or_(
                table.c[owner].is_(None), table.c[owner] == customer_id)))
        if where and s.execute(sa.select(sa.literal(1)).select_from(table)
                               .where(sa.or_(*where)).limit(1)).first():
            left.setdefault(f"{table_name}.{column_name}", set())
    return {k: sorted(v) for k, v in sorted(left.items())}
