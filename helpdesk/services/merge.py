"""Customer hygiene: merge two records of the same person, and suggest which ones to merge.

Merging re-points every row that refers to the other customer (found from the schema's foreign
keys, so a table added later is not forgotten), fills the kept record's empty contact fields from
the other one, keeps the stricter consent state (an opt-out or an under-13 flag on either side
stays, and the suppression list is checked again for the merged addresses), writes a "merged"
event on every case that moved and an audit record, and deletes the other customer row; the
search index follows through its triggers.

Duplicate suggestions never compare every customer with every other. Candidate pairs come from
blocking keys computed in SQL (same name and company; same local part of an address) and from a
sorted-neighbourhood pass over the addresses (sorted forwards and reversed, each compared only
with its next few neighbours) for small typos, which an edit distance of at most two confirms.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from os.path import commonprefix

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, func, select

from helpdesk.db.models import Case, CaseEvent, Customer, CustomerEmail, FieldChange
from helpdesk.errors import Conflict, Invalid
from helpdesk.services import audit, suppression
from helpdesk.services import customers as customer_service
from helpdesk.services.context import Desk
from helpdesk.services.readmodels import CustomerDetail, CustomerSummary, customer_summary_from

#: Contact fields the kept record takes from the other one when it has none itself.
FILLABLE = ("name", "phone", "company", "billing_address", "shipping_address")
#: Blocking groups larger than this (e.g. every "info@" address) say nothing about one person.
MAX_GROUP = 12
#: How many following addresses each address is compared with in the sorted passes.
WINDOW = 4
DEFAULT_LIMIT = 100


@dataclass(frozen=True, slots=True)
class MergeResult:
    customer: CustomerDetail
    merged_id: int
    moved: dict[str, int]  # table -> rows re-pointed
    filled: tuple[str, ...]  # fields taken from the merged record
    marketing_opted_out: bool
    under_13: bool


@dataclass(frozen=True, slots=True)
class DuplicatePair:
    first: CustomerSummary
    second: CustomerSummary
    reasons: tuple[str, ...]


def _referencing_columns() -> list[sa.Column]:
    """Every column in the schema with a foreign key to ``customer.id`` (the row's own excluded)."""
    columns = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name == Customer.__tablename__:
            continue
        for column in table.columns:
            if any(fk.column.table.name == Customer.__tablename__ for fk in column.foreign_keys):
                columns.append(column)
    return columns


def _load_live(s: Session, customer_id: int, expected_version: int | None) -> Customer:
    customer = customer_service.load(s, customer_id, for_change=True)
    if customer.erased_at is not None:
        raise Conflict(f"customer #{customer_id} has been erased; an erased record is never "
                       "merged")
    if expected_version is not None and customer.version != expected_version:
        raise Conflict(f"customer #{customer_id} was changed by someone else since you opened "
                       "it; reload to see the change")
    return customer


def merge(
    desk: Desk,
    *,
    keep_id: int,
    other_id: int,
    keep_version: int | None = None,
    other_version: int | None = None,
) -> MergeResult:
    """Merge customer ``other_id`` into ``keep_id`` in one unit of work."""
    if keep_id == other_id:
        raise Invalid("a customer cannot be merged with itself", field="other")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        # Locked in id order, so two merges of the same pair cannot wait for each other.
        live = {cid: _load_live(s, cid, version) for cid, version in
                sorted(((keep_id, keep_version), (other_id, other_version)))}
        keep, other = live[keep_id], live[other_id]
        now = desk.now()
        moved_cases = list(s.exec(select(Case.id).where(Case.customer_id == other_id)).all())
        # The kept record's primary address stays the primary one.
        s.execute(sa.update(CustomerEmail).where(col(CustomerEmail.customer_id) == other_id)
                  .values(is_primary=False).execution_options(synchronize_session=False))
        moved: dict[str, int] = {}
        for column in _referencing_columns():
            count = s.execute(
                sa.update(column.table).where(column == other_id).values({column.name: keep_id})
            ).rowcount
            if count:
                moved[column.table.name] = moved.get(column.table.name, 0) + count
        filled = tuple(f for f in FILLABLE if not getattr(keep, f) and getattr(other, f))
        for f in filled:
            setattr(keep, f, getattr(other, f))
            s.add(FieldChange(customer_id=keep_id, field=f, agent_id=actor.id, at=now,
                              old_value=None, new_value=getattr(other, f)))
        # The stricter consent state wins, whichever side it was on.
        keep.marketing_opted_out = keep.marketing_opted_out or other.marketing_opted_out
        keep.under_13 = keep.under_13 or other.under_13
        keep.updated_at = now
        s.add(keep)
        for case_id in moved_cases:
            s.add(CaseEvent(case_id=case_id, at=now, actor_id=actor.id, action="customer_merged",
                            from_value=f"customer #{other_id}", to_value=f"customer #{keep_id}"))
        s.flush()
        s.expire_all()  # the bulk updates bypassed the identity map
        s.delete(customer_service.load(s, other_id))
        s.flush()
        keep = customer_service.load(s, keep_id)
        keys = list(s.exec(select(CustomerEmail.normalized)
                           .where(CustomerEmail.customer_id == keep_id)).all())
        suppression.guard_customer(s, desk, actor, keep, keys)
        audit.record(s, desk, actor, "customer.merge", "customer", keep_id, merged_id=other_id,
                     moved=moved, filled=list(filled), case_ids=moved_cases)
        return MergeResult(
            customer=customer_service._detail(s, desk, keep), merged_id=other_id, moved=moved,
            filled=filled, marketing_opted_out=keep.marketing_opted_out, under_13=keep.under_13,
        )


# --- duplicate suggestions ------------------------------------------------------------------------

def _trim_common(a: str, b: str) -> tuple[str, str]:
    """``a`` and ``b`` without their common prefix and suffix (which never add to a distance)."""
    start = len(commonprefix([a, b]))  # noqa: RUF071 - characters wanted, not path parts
    a, b = a[start:], b[start:]
    end = len(commonprefix([a[::-1], b[::-1]]))  # noqa: RUF071
    return a[:len(a) - end], b[:len(b) - end]


#: Ways one edit can consume the ends of two strings: substitute, delete, insert.
_ONE_EDIT = ((1, 1), (1, 0), (0, 1))


def typo_distance(a: str, b: str) -> int | None:
    """The edit (Levenshtein) distance of ``a`` and ``b`` when it is 0, 1 or 2, else None.

    Once the common prefix and suffix are trimmed, the first characters differ and so do the
    last ones. Remainders of at most two characters are that many edits apart. Longer ones need
    an edit at each end, so they are two edits apart exactly when one edit at the start and one
    at the end leave equal middles: nine slice comparisons instead of a distance table, which
    keeps the duplicate scan cheap over tens of thousands of addresses.
    """
    a, b = _trim_common(a, b)
    longest = max(len(a), len(b))
    if longest <= 2:
        return longest
    if not a or not b or abs(len(a) - len(b)) > 2:
        return None
    for head_a, head_b in _ONE_EDIT:
        for tail_a, tail_b in _ONE_EDIT:
            if a[head_a:len(a) - tail_a] == b[head_b:len(b) - tail_b]:
                return 2
    return None


def _local_part(dialect: str) -> sa.ColumnElement[str]:
    address = col(CustomerEmail.normalized)
    if dialect == "postgresql":
        return func.split_part(address, "@", 1)
    return func.substr(address, 1, func.instr(address, "@") - 1)


def _grouped(s: Session, key: sa.ColumnElement[str], *where: sa.ColumnElement[bool],
             source: type[SQLModel], id_column: sa.ColumnElement[int]) -> Iterator[list[int]]:
    """Customer ids sharing ``key``, one group at a time, grouped by the database."""
    dialect = s.get_bind().dialect.name
    ids = (func.string_agg(sa.cast(id_column, sa.Text), ",") if dialect == "postgresql"
           else func.group_concat(id_column, ","))
    rows = s.exec(
        select(ids).select_from(source).where(*where).group_by(key)
        .having(func.count(sa.distinct(id_column)) > 1,
                func.count(sa.distinct(id_column)) <= MAX_GROUP)
    ).all()
    for row in rows:
        yield sorted({int(i) for i in str(row).split(",")})


def _pairs(ids: list[int]) -> Iterator[tuple[int, int]]:
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            yield a, b


def _numbered(a: str, b: str) -> bool:
    """Addresses that differ only in digits (user41 / user42) are a series, not a typo."""
    a, b = _trim_common(a, b)
    return (a + b).isdigit()


def _neighbours(addresses: list[tuple[str, int]]) -> Iterator[tuple[int, int, str]]:
    """Pairs of different customers whose addresses sort close together and differ by a typo."""
    for key in (lambda e: e[0], lambda e: e[0][::-1]):
        ordered = sorted(addresses, key=key)
        for i, (addr, cid) in enumerate(ordered):
            for other_addr, other_cid in ordered[i + 1:i + 1 + WINDOW]:
                if other_cid == cid or abs(len(addr) - len(other_addr)) > 2:
                    continue
                distance = typo_distance(addr, other_addr)
                if distance and not _numbered(addr, other_addr):
                    yield min(cid, other_cid), max(cid, other_cid), (
                        f"e-mail addresses differ by {distance} character"
                        f"{'s' if distance > 1 else ''}")


def duplicates(desk: Desk, *, limit: int = DEFAULT_LIMIT) -> list[DuplicatePair]:
    """Pairs of live customers that look like one person, strongest evidence first."""
    limit = max(1, min(limit, 1000))
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        dialect = s.get_bind().dialect.name
        live = col(Customer.erased_at).is_(None)
        reasons: dict[tuple[int, int], list[str]] = defaultdict(list)

        name_key = sa.func.lower(sa.func.trim(col(Customer.name)), type_=sa.Text).concat(
            "|").concat(sa.func.lower(sa.func.trim(sa.func.coalesce(col(Customer.company), "")),
                                      type_=sa.Text))
        for group in _grouped(s, name_key, live, col(Customer.name).is_not(None),
                              source=Customer, id_column=col(Customer.id)):
            for pair in _pairs(group):
                reasons[pair].append("same name and company")

        local = _local_part(dialect)
        for group in _grouped(s, local, source=CustomerEmail,
                              id_column=col(CustomerEmail.customer_id)):
            for pair in _pairs(group):
                reasons[pair].append("same e-mail name at another domain")

        addresses = list(s.exec(select(CustomerEmail.normalized, CustomerEmail.customer_id)).all())
        for a, b, why in _neighbours(addresses):
            if why not in reasons[(a, b)]:
                reasons[(a, b)].append(why)

        ranked = sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:limit]
        summaries = _summaries(s, {i for pair, _ in ranked for i in pair})
        result = [
            DuplicatePair(first=summaries[a], second=summaries[b], reasons=tuple(why))
            for (a, b), why in ranked if a in summaries and b in summaries
        ]
        audit.record(s, desk, actor, "customer.duplicates", "customer", None,
                     pairs=len(result))
        return result


def _summaries(s: Session, ids: Iterable[int]) -> dict[int, CustomerSummary]:
    wanted = sorted(ids)
    if not wanted:
        return {}
    primaries = {e.customer_id: e for e in s.exec(
        select(CustomerEmail).where(col(CustomerEmail.customer_id).in_(wanted))
        .order_by(col(CustomerEmail.is_primary), col(CustomerEmail.id).desc()))}
    return {c.id or 0: customer_summary_from(c, primaries.get(c.id or 0))
            for c in s.exec(select(Customer).where(col(Customer.id).in_(wanted),
                                                   col(Customer.erased_at).is_(None)))}
