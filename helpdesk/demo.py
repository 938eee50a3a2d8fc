"""Realistic synthetic data for demos, manual testing and benchmarks: ``helpdesk demo``.

A million customers must load in well under a minute, so rows are built as plain tuples from
precomputed lists (no ORM objects, no per-row validation: the generator only produces values the
validators would accept) and written with the driver in large batches inside one unit of work:
``executemany`` on SQLite, ``COPY`` on PostgreSQL. The search index is built once after the load
(see :meth:`helpdesk.db.search.CustomerSearch.bulk_load`), and what checks every row is set aside
for the load and restored from its own stored definition afterwards (:func:`deferred_checks`).
On PostgreSQL the search rows are written with the load, folded in Python from the few pieces of
vocabulary the names are made of: refilling them from the view folds every row in SQL, whose
``translate`` over the long table of accented letters took 14 of the 17 seconds of a 20,000
customer load (tests check the rows are exactly what the view gives).

The same seed on the same day gives the same data: every random choice comes from one
``random.Random(seed)`` and every instant is measured back from the start of the current UTC day.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from helpdesk import clock
from helpdesk.config import Settings
from helpdesk.db.models import Agent, Customer, PolicyVersion
from helpdesk.db.search import PG_SEARCH_COLUMNS, fold
from helpdesk.domain import (
    CLOSED_STATUSES,
    CaseKind,
    CaseStatus,
    Channel,
    ConsentAction,
    ConsentPurpose,
    DisputeStage,
    MessageDirection,
    ProductRelation,
    RecipientKind,
    Role,
)
from helpdesk.errors import Conflict, Invalid
from helpdesk.services import audit
from helpdesk.services.context import Desk

#: The most customers one call makes: ten times the benchmarked million (about 17 GB on SQLite).
MAX_CUSTOMERS = 10_000_000
#: Customers generated (and written) per batch: bounds memory at any size.
CHUNK = 50_000
CUSTOMERS_PER_CASE = 4
CASE_SPREAD_DAYS = 200
#: SQLite page cache during the load (KiB); the connection's own setting is restored after.
BULK_CACHE_KIB = 256 * 1024

# --- vocabulary ----------------------------------------------------------------------------------

FIRST_NAMES = [
    "Anna", "Ben", "Chloé", "David", "Émile", "Fatima", "Grace", "Hamza", "Inès", "Jürgen",
    "Kofi", "Léa", "Mateo", "Nguyễn", "Olúwaseun", "Priya", "Quentin", "Renée", "Søren", "Tomás",
    "Ugo", "Valentina", "Wei", "Xavier", "Yuki", "Zoë", "Jean-Luc", "Mary-Kate", "Łukasz",
    "Ayşe", "Björn", "Siobhán", "Aleksandr", "Amaka", "Hiroshi", "Chen", "Aarav", "Leila",
    "Małgorzata", "João", "Ngozi", "Dmitri", "Astrid", "Kwame", "Mei", "Rafael", "Ingrid",
    "Omar", "Ana-Maria", "Zsófia", "Thandiwe", "Carlos", "Sakura", "Ahmed", "Noémie", "Lars",
]
LAST_NAMES = [
    "Smith", "O'Brien", "García", "Müller", "Dubois", "Rossi", "Kowalski", "Nakamura",
    "Okafor", "Patel", "Nguyen", "Kim", "Ivanova", "Andersen", "Fernández", "D'Angelo",
    "Smith-Jones", "Van der Berg", "Øvergaard", "Çelik", "Mensah", "Haddad", "Silva",
    "Papadopoulos", "Lefèvre", "MacDonald", "Hernández-López", "Björklund", "Wiśniewski",
    "Abdullah", "Ó Súilleabháin", "Chowdhury", "Tanaka", "Novák", "Eriksson", "Adeyemi", "Costa",
    "Schäfer", "O'Neill", "Kuznetsov", "Yilmaz", "Zhang", "Bianchi", "Jansen", "Murphy",
    "Al-Farsi", "Ferreira",
]
DOMAINS = [
    "example.com", "mail.example.net", "post.example.org", "inbox.example.de", "example.fr",
    "correo.example.es", "example.co.uk", "webmail.example.it", "example.jp", "example.com.br",
]
COMPANIES = [
    "Acme Holdings", "Nordlicht GmbH", "Café Olé SARL", "Müller & Söhne KG",
    "O'Hara Brothers Ltd", "Sakura Trading K.K.", "Blue-River Logistics", "Verde Agrícola S.A.",
    "Kowalski i Syn sp. z o.o.",
    "Lagos Fintech Partners", "Tête-à-Tête Studio", "Fjord Analytics AS", "Brightwater Dental",
    "Atlas Hardware Co.", "Sunrise Bakery", "Quantum Leap Consulting", "Casa Bonita Imports",
]
STREETS = [
    "Main Street", "Rue de la Paix", "Königsallee", "Calle Mayor", "Via Roma", "Ulica Długa",
    "High Street", "Avenida Paulista", "Oak Lane", "Kurfürstendamm", "Rua Augusta", "Elm Court",
]
CITIES = [
    "Springfield 62704, USA", "75002 Paris, France", "40212 Düsseldorf, Germany",
    "28013 Madrid, Spain", "00184 Roma, Italy", "80-837 Gdańsk, Poland", "Leeds LS1 4AP, UK",
    "01310-100 São Paulo, Brazil", "Toronto ON M5V 2T6, Canada", "10719 Berlin, Germany",
    "1100-048 Lisboa, Portugal", "Dublin D02 X285, Ireland",
]
PHONE_PREFIXES = ["+1 555", "+44 20", "+49 30", "+33 1", "+34 91", "+39 06", "+48 58", "+81 3"]
PRODUCTS = [
    "Photon X2 camera", "Breeze air purifier", "Nimbus cloud backup (1 TB)", "Trail 5 GPS watch",
    "Aurora smart lamp", "Echo-Lite headphones", "Summit hiking boots", "Pixel Pro tablet",
    "HomeHub thermostat", "Voyager carry-on case", "Brew Master coffee maker", "Atlas e-bike",
]
SUBJECTS: dict[CaseKind, list[str]] = {
    CaseKind.QUESTION: ["Question about cookies", "What do you do with my data?",
                        "Web bugs in your newsletter?", "How long do you keep my address?"],
    CaseKind.MARKETING_OPT_OUT: ["Unsubscribe", "Stop sending me offers", "No more marketing",
                                 "Please remove me from your mailing list"],
    CaseKind.ACCESS: ["What data do you hold about me?", "Copy of my personal data",
                      "Data access request"],
    CaseKind.CORRECTION: ["Wrong address on file", "Please correct my name",
                          "Update my phone number", "Typo in my e-mail address"],
    CaseKind.DELETION: ["Delete my account", "Please erase my data", "Remove all my information"],
    CaseKind.OBJECTION: ["I object to this use of my data", "Stop sharing my data with partners",
                         "Change of use of my information"],
    CaseKind.DISPUTE: ["You sold my data!", "Complaint about my deletion request",
                       "Formal complaint: privacy", "Unresolved privacy issue"],
    CaseKind.UNDER_13: ["My son is 11 and got your newsletter", "Parental request for my child",
                        "Remove my daughter's account"],
    CaseKind.POSTING_REMOVAL: ["Remove my forum post", "Please take down my review",
                               "Public comment with my name"],
}
BODIES = [
    "Hello,\n\n{ask}\n\nThanks,\n{name}",
    "Hi there\n{ask}\nRegards, {name}",
    "Dear support team,\n\n{ask} I have written before and would like an answer soon.\n\n{name}",
    "{ask}\n\n-- \n{name}\nSent from my phone",
]
REPLIES = [
    "Dear {name},\n\nthank you for your message. We have opened case #{case} and will reply "
    "within the time our privacy policy promises.\n\nKind regards,\nPrivacy support",
    "Hello {name},\n\nwe have completed your request (case #{case}). If anything is still "
    "wrong, simply reply to this e-mail.\n\nPrivacy support",
]
NOTES = [
    "Identity checked against the order history.", "Customer called, confirmed the request.",
    "Waiting for the warehouse team to confirm.", "Checked the marketing system: done.",
    "Sent to legal for a second opinion.",
]
OUTCOMES = ["Done as requested", "Answered", "No data held", "Request withdrawn by customer",
            "Completed; customer informed"]
RECIPIENTS: dict[RecipientKind, list[tuple[str, str, list[str], str]]] = {
    RecipientKind.INTEGRAL_PARTNER: [
        ("Parcelway Logistics", "delivery of orders", ["name", "address", "phone"], "contract"),
        ("PayRight Payments", "payment processing", ["name", "billing address"], "contract")],
    RecipientKind.CONTRACTOR: [
        ("Brightline Support Ltd", "outsourced phone support", ["name", "email", "phone"],
         "contract")],
    RecipientKind.AFFILIATE: [
        ("Acme Europe B.V.", "regional customer service", ["name", "email"],
         "legitimate interest")],
    RecipientKind.ACQUIRER: [
        ("Globex Corporation", "due diligence for the acquisition", ["name", "email", "orders"],
         "legitimate interest")],
    RecipientKind.GOVERNMENT: [
        ("Regional Tax Office", "tax audit", ["name", "billing address", "orders"],
         "legal obligation"),
        ("City Police Department", "court order", ["name", "email", "address"],
         "legal obligation")],
}
RECIPIENT_KINDS = list(RecipientKind)
AGENTS = [
    ("demo_priya", "Priya Raman", Role.SUPERVISOR),
    ("demo_mara", "Mara Lindqvist", Role.AGENT),
    ("demo_tomas", "Tomás Ortega", Role.AGENT),
    ("demo_kofi", "Kofi Mensah", Role.AGENT),
    ("demo_yuki", "Yuki Sato", Role.AGENT),
    ("demo_lena", "Lena Fischer", Role.AGENT),
]

#: Kinds weighted the way a privacy mailbox sees them.
KIND_WEIGHTS = {
    CaseKind.QUESTION: 30, CaseKind.MARKETING_OPT_OUT: 25, CaseKind.ACCESS: 10,
    CaseKind.CORRECTION: 12, CaseKind.DELETION: 12, CaseKind.OBJECTION: 4, CaseKind.DISPUTE: 3,
    CaseKind.UNDER_13: 1, CaseKind.POSTING_REMOVAL: 3,
}
OPEN_DISPUTE_STAGES = [DisputeStage.RECEIVED, DisputeStage.ACKNOWLEDGED,
                       DisputeStage.INVESTIGATING, DisputeStage.RESOLUTION_PROPOSED]
CLOSED_DISPUTE_STAGES = [DisputeStage.RESOLVED, DisputeStage.WITHDRAWN]
#: Cases that guarantee every kind in every status and every dispute stage, whatever N is.
COVERAGE: list[tuple[CaseKind, CaseStatus, DisputeStage | None]] = [
    (k, st, None) for k in CaseKind if k is not CaseKind.DISPUTE for st in CaseStatus
] + [
    (CaseKind.DISPUTE, CaseStatus.NEW, DisputeStage.RECEIVED),
    (CaseKind.DISPUTE, CaseStatus.OPEN, DisputeStage.ACKNOWLEDGED),
    (CaseKind.DISPUTE, CaseStatus.WAITING, DisputeStage.INVESTIGATING),
    (CaseKind.DISPUTE, CaseStatus.OPEN, DisputeStage.RESOLUTION_PROPOSED),
    (CaseKind.DISPUTE, CaseStatus.RESOLVED, DisputeStage.RESOLVED),
    (CaseKind.DISPUTE, CaseStatus.CLOSED, DisputeStage.WITHDRAWN),
]

#: Columns written per table, in load order (parents before children).
COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": ("id", "version", "name", "phone", "company", "billing_address",
                 "shipping_address", "under_13", "marketing_opted_out", "created_at",
                 "updated_at"),
    "customer_email": ("id", "customer_id", "address", "normalized", "is_primary", "created_at"),
    "customer_product": ("id", "customer_id", "relation", "product", "reference", "occurred_on",
                         "created_at"),
    "support_case": ("id", "version", "kind", "status", "subject", "customer_id", "assignee_id",
                     "received_at", "due_at", "policy_due_at", "due_rule", "policy_version_id",
                     "dispute_stage", "escalated", "outcome", "created_by_id", "created_at",
                     "updated_at", "closed_at", "rule_due_at"),
    "message": ("id", "case_id", "direction", "at", "message_id", "in_reply_to", "references",
                "from_address", "to_address", "subject", "body", "author_id", "language",
                "is_machine", "created_at"),
    "case_event": ("id", "case_id", "at", "actor_id", "action", "from_value", "to_value", "note"),
    "consent_event": ("id", "customer_id", "purpose", "action", "channel", "at", "source_case_id",
                      "source_message_id", "agent_id", "policy_version_id", "note"),
    "disclosure": ("id", "version", "customer_id", "recipient", "recipient_kind", "purpose",
                   "data_categories", "disclosed_on", "legal_basis", "recorded_by_id",
                   "created_at"),
}
TABLES = tuple(COLUMNS)
#: The search rows a PostgreSQL load writes beside the tables (:attr:`Plan.search_rows`).
SEARCH_COLUMNS = tuple(PG_SEARCH_COLUMNS.split(", "))
MAILBOX = "info@example.com"

Row = tuple[Any, ...]
Batch = dict[str, list[Row]]


#: Letters that Unicode decomposition does not reduce to ASCII.
_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "æ": "ae", "ß": "ss", "đ": "d",
                       "ı": "i", "œ": "oe"})  # noqa: RUF001 (the dotless i is the point)


def _ascii(text: str) -> str:
    """A name as it would appear in an e-mail local part: no accents, spaces or apostrophes."""
    plain = unicodedata.normalize("NFKD", text.translate(_FOLD)).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain if ch.isalnum() or ch == "-").replace("--", "-")


def sqlite_instant(value: datetime) -> str:
    """An aware instant the way :class:`helpdesk.db.types.UTCDateTime` stores it on SQLite."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # naive UTC: drop the "+00:00"


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the row generator needs besides the seed: sizes, first ids, agents, clock."""

    customers: int
    cases: int
    base: datetime  # start of the current UTC day: every instant is measured back from it
    first_id: dict[str, int]
    supervisor_id: int
    agent_ids: tuple[int, ...]
    agent_names: dict[int, str]
    settings: Settings
    #: (effective_on, id, periods), newest first
    policy_versions: tuple[tuple[date, int, dict[str, int]], ...]
    instant: Callable[[datetime], Any]  # how the backend wants an instant
    flag: Callable[[bool], Any]  # how the backend wants a boolean
    day: Callable[[date], Any]  # how the backend wants a calendar date
    #: Also give every customer's search row (PostgreSQL), as ``customer_search_source`` would.
    search_rows: bool = False


class _Generator:
    """Builds the rows batch by batch; all state that must persist across batches lives here."""

    def __init__(self, plan: Plan, seed: int) -> None:
        self.plan = plan
        self.rng = random.Random(seed)
        self.next_id = dict(plan.first_id)
        firsts = [(n, _ascii(n)) for n in FIRST_NAMES]
        lasts = [(n, _ascii(n)) for n in LAST_NAMES]
        self.names = [(f"{f} {ln}", f"{fa}.{la}", f"{fa}.{la}".lower())
                      for f, fa in firsts for ln, la in lasts]
        self.addresses = [f"{n} {s}\n{c}" for n in (3, 12, 27, 48, 105, 221) for s in STREETS
                          for c in CITIES]
        # A pool of customer creation instants over three years, already converted. Customers
        # are older than every case, consent event and disclosure (all within CASE_SPREAD_DAYS).
        base = plan.base - timedelta(days=CASE_SPREAD_DAYS + 1)
        self.created = [plan.instant(base - timedelta(days=d, seconds=(d * 7919) % 86_400))
                        for d in range(1095)]
        self.kinds = [k for k, weight in KIND_WEIGHTS.items() for _ in range(weight)]
        # For search rows: each name's key (folded, with its words line), folded e-mail name
        # part and that part's length as written; every other piece of vocabulary folded.
        self.search_names: dict[str, tuple[str, str, str, int]] = {}
        self.folded: dict[str, str] = {}
        if plan.search_rows:
            for full, local, _ in self.names:
                key = _ascii_fold(full)
                self.search_names[full] = (key, _with_words(key), _ascii_fold(local), len(local))
            self.folded = {v: _ascii_fold(v) for v in (*DOMAINS, *COMPANIES, *PHONE_PREFIXES)}
        self.deadlines: dict[tuple[CaseKind, date], tuple[Any, Any, str, int | None]] = {}
        self.cases_done = 0
        self.disclosures = 0

    def _int(self, low: int, high: int) -> int:
        """A random integer in [low, high): cheaper than ``randrange`` in the hot loops."""
        return low + int(self.rng.random() * (high - low))

    def _pick(self, items: Sequence[Any]) -> Any:
        return items[int(self.rng.random() * len(items))]

    def take(self, table: str, count: int = 1) -> int:
        first = self.next_id[table]
        self.next_id[table] = first + count
        return first

    # --- customers -------------------------------------------------------------------------------

    def batch(self, start: int, stop: int) -> Batch:
        """All rows for customers ``start``..``stop`` (0-based) and their share of the cases."""
        p, rng, flag = self.plan, self.rng, self.plan.flag
        n = stop - start
        out: Batch = {t: [] for t in TABLES}
        names = rng.choices(self.names, k=n)
        created = rng.choices(self.created, k=n)
        emails_per = rng.choices((1, 2, 3), weights=(75, 20, 5), k=n)
        domains = rng.choices(DOMAINS, k=n * 3)
        billing = rng.choices(self.addresses, k=n)
        companies = rng.choices(COMPANIES, k=n)
        phones = rng.choices(PHONE_PREFIXES, k=n)
        first_cid = self.take("customer", n)
        customers: list[list[Any]] = []
        primary: list[str] = []
        emails = out["customer_email"]
        eid = self.take("customer_email", sum(emails_per))
        yes, no = flag(True), flag(False)
        for i in range(n):
            cid = first_cid + i
            full, local, local_key = names[i]
            at = created[i]
            r = rng.random()
            customers.append([
                cid, 1, full, f"{phones[i]} {self._int(1_000_000, 9_999_999)}",
                companies[i] if r < 0.4 else None, billing[i],
                billing[i] if r < 0.7 else self.addresses[(i * 7) % len(self.addresses)],
                yes if cid % 500 == 7 else no, no, at, at,  # a few children under 13
            ])
            for k in range(emails_per[i]):
                d = domains[3 * i + k]
                suffix = f"{cid}" if k == 0 else f"{cid}.{k}"
                address = f"{local}{suffix}@{d}"
                emails.append((eid, cid, address, f"{local_key}{suffix}@{d}",
                               yes if k == 0 else no, at))
                if k == 0:
                    primary.append(address)
                eid += 1
        if p.search_rows:
            out["customer_search"] = self._search_rows(customers, names, emails, emails_per)
        self._products(out, customers, n)
        cases_here = (p.cases * stop) // p.customers - (p.cases * start) // p.customers
        for _ in range(cases_here):
            i = self._int(0, n)
            self._case(out, customers[i], names[i][0], primary[i])
        for cust in customers:
            if cust[7] == yes:  # under 13: marketing blocked from the start
                cust[8] = yes
                self._consent(out, cust[0], ConsentAction.OPT_OUT, Channel.ALL,
                              p.base - timedelta(days=self._int(1, CASE_SPREAD_DAYS)), None,
                              None, "under 13: no marketing")
            r = rng.random()
            if r < 0.02:
                cust[8] = yes
                self._consent(out, cust[0], ConsentAction.OPT_OUT, Channel.POST,
                              p.base - timedelta(days=self._int(1, CASE_SPREAD_DAYS)), None,
                              None, "asked by phone")
            elif r < 0.03:
                self._consent(out, cust[0], ConsentAction.OPT_IN, Channel.EMAIL,
                              p.base - timedelta(days=self._int(1, CASE_SPREAD_DAYS)), None,
                              None, None, purpose=ConsentPurpose.TRANSACTIONAL)
            if r > 0.95:
                self._disclosure(out, cust[0])
        out["customer"] = [tuple(c) for c in customers]
        return out

    def _search_rows(self, customers: list[list[Any]], names: list[tuple[str, str, str]],
                     emails: list[Row], per: list[int]) -> list[Row]:
        """The customers' rows of ``customer_search``, as the view ``customer_search_source``
        (migration 0012) gives them: the text as written, and ``doc`` and ``name_key`` folded,
        each followed by a line of its words separated by single spaces. ``emails`` are the
        batch's e-mail rows, ``per`` how many each customer has (primary first, in id order,
        as the view joins them). Nothing a case changes later appears in a search row."""
        folded_names, f = self.search_names, self.folded
        rows = []
        j = 0
        for cust, (name, _, _), count in zip(customers, names, per, strict=True):
            key, name_key, folded_local, cut = folded_names[name]
            addresses = [e[2] for e in emails[j:j + count]]
            j += count
            folded = [f"{folded_local}{number}@{f[domain]}" for number, _, domain in
                      (a[cut:].partition("@") for a in addresses)]
            phone, company = cust[3], cust[4]
            prefix, number = phone.rsplit(" ", 1)
            doc = " ".join((key, *folded, f[company], f"{f[prefix]} {number}") if company
                           else (key, *folded, f"{f[prefix]} {number}"))
            rows.append((cust[0], name, " ".join(addresses), company, phone, _with_words(doc),
                         name_key))
        return rows

    def _products(self, out: Batch, customers: list[list[Any]], n: int) -> None:
        rng, p = self.rng, self.plan
        counts = rng.choices((0, 1, 2), weights=(45, 45, 10), k=n)
        pid = self.take("customer_product", sum(counts))
        rows = out["customer_product"]
        for cust, count in zip(customers, counts, strict=True):
            for _ in range(count):
                purchase = rng.random() < 0.7
                day = (p.base - timedelta(days=self._int(30, 1500))).date()
                rows.append((
                    pid, cust[0],
                    ProductRelation.PURCHASE.value if purchase
                    else ProductRelation.REGISTRATION.value,
                    self._pick(PRODUCTS),
                    f"ORD-{self._int(10**7, 10**8)}" if purchase
                    else f"SN {self._int(16**9, 16**10):X}",
                    p.day(day), cust[9],
                ))
                pid += 1

    # --- cases -----------------------------------------------------------------------------------

    def _shape(self) -> tuple[CaseKind, CaseStatus, DisputeStage | None, int]:
        """Kind, status, dispute stage and age in days of the next case."""
        rng = self.rng
        age = self._int(0, CASE_SPREAD_DAYS)
        if self.cases_done < len(COVERAGE):
            kind, status, stage = COVERAGE[self.cases_done]
            return kind, status, stage, age
        kind = self._pick(self.kinds)
        r = rng.random()
        closed = r < (0.9 if age > 45 else 0.35)
        if closed:
            status = CaseStatus.CLOSED if r < 0.2 else CaseStatus.RESOLVED
        else:
            status = (CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.OPEN, CaseStatus.WAITING)[
                self._int(0, 4)]
        stage = None
        if kind is CaseKind.DISPUTE:
            if closed:
                stage = self._pick(CLOSED_DISPUTE_STAGES)
            elif status is CaseStatus.NEW:
                stage = DisputeStage.RECEIVED
            else:
                stage = self._pick(OPEN_DISPUTE_STAGES[1:])
        return kind, status, stage, age

    def _deadline(self, kind: CaseKind, received: datetime) -> tuple[Any, Any, str, int | None]:
        """(due_at, policy_due_at, rule, policy version id) as the backend wants them; the
        effective deadline is also the rules' deadline (demo cases carry no override).

        They depend only on the local day of receipt, so each (kind, day) is computed once.
        """
        p = self.plan
        day = clock.local_date(received, p.settings.tz)
        found = self.deadlines.get((kind, day))
        if found is None:
            version = self._policy(day)
            d = clock.compute_deadline(kind, received, p.settings,
                                       version[1] if version else None)
            found = self.deadlines[(kind, day)] = (
                p.instant(d.effective), p.instant(d.policy) if d.policy else None, d.rule,
                version[0] if version else None)
        return found

    def _policy(self, day: date) -> tuple[int, dict[str, int]] | None:
        """The policy version in force on a local day: (id, periods)."""
        return next(((pid, periods) for eff, pid, periods in self.plan.policy_versions
                     if eff <= day), None)

    def _case(self, out: Batch, cust: list[Any], name: str, email: str) -> None:
        p, ts = self.plan, self.plan.instant
        kind, status, stage, age = self._shape()
        self.cases_done += 1
        received = p.base - timedelta(days=age, seconds=self._int(1, 86_400))
        due, policy_due, rule, pv = self._deadline(kind, received)
        case_id = self.take("support_case")
        closed = status in CLOSED_STATUSES
        assignee = None if status is CaseStatus.NEW else self._pick(p.agent_ids)
        handled = received + timedelta(hours=self._int(2, 72))
        finished = received + timedelta(days=self._int(1, 60), hours=self._int(0, 24))
        if finished >= p.base:  # not finished in the future: halfway between receipt and today
            finished = received + (p.base - received) / 2
        handled = min(handled, finished)
        subject = self._pick(SUBJECTS[kind])
        stamps = (ts(received), ts(handled), ts(finished))
        out["support_case"].append((
            case_id, 1, kind.value, status.value, subject, cust[0], assignee, stamps[0],
            due, policy_due, rule, pv, stage.value if stage else None,
            p.flag(kind is CaseKind.DISPUTE and age > 75 and not closed),
            self._pick(OUTCOMES) if closed else None, p.supervisor_id, stamps[0],
            stamps[2] if closed else stamps[1] if assignee else stamps[0],
            stamps[2] if closed else None, due,
        ))
        inbound = self._thread(out, case_id, status, subject, name, email, stamps, assignee,
                               again=handled + (finished - handled) / 2)
        self._history(out, case_id, kind, status, stage, assignee, stamps)
        if kind is CaseKind.MARKETING_OPT_OUT and status is not CaseStatus.NEW:
            cust[8] = p.flag(True)
            self._consent(out, cust[0], ConsentAction.OPT_OUT, Channel.EMAIL, handled, case_id,
                          inbound, None, agent=assignee)

    def _thread(
        self, out: Batch, case_id: int, status: CaseStatus, subject: str, name: str, email: str,
        stamps: tuple[Any, Any, Any], assignee: int | None, *, again: datetime,
    ) -> int:
        """Inbound mail, a reply and notes; returns the id of the first inbound message.

        ``stamps`` are the received, handled and finished instants in the backend's form.
        """
        rng, ts, no = self.rng, self.plan.instant, self.plan.flag(False)
        received, handled, _ = stamps
        rows = out["message"]
        first = self.take("message")
        mid = f"<{case_id:08d}.{self._int(0, 16**8):08x}@{email.rsplit('@', 1)[1]}>"
        ask = f"{subject}\nMy customer e-mail is {email}."
        rows.append((first, case_id, MessageDirection.INBOUND.value, received, mid, None, None,
                     email, MAILBOX, subject,
                     self._pick(BODIES).format(ask=ask, name=name.split(" ", 1)[0]),
                     None, "en", no, received))
        if assignee is None:
            return first
        reply_id = f"<case-{case_id}.{first}@helpdesk.example.com>"
        reply = self._pick(REPLIES).format(name=name.split(" ", 1)[0], case=case_id)
        rows.append((self.take("message"), case_id, MessageDirection.OUTBOUND.value, handled,
                     reply_id, mid, mid, MAILBOX, email, f"Re: {subject}", reply, assignee, "en",
                     no, handled))
        if rng.random() < 0.4:
            rows.append((self.take("message"), case_id, MessageDirection.NOTE.value, handled,
                         None, None, None, None, None, None, self._pick(NOTES), assignee, None,
                         no, handled))
        if status in (CaseStatus.WAITING, CaseStatus.CLOSED) and rng.random() < 0.6:
            rows.append((self.take("message"), case_id, MessageDirection.INBOUND.value, ts(again),
                         f"<{case_id:08d}.{self._int(0, 16**8):08x}.2@{email.rsplit('@', 1)[1]}>",
                         reply_id, f"{mid} {reply_id}", email, MAILBOX, f"Re: {subject}",
                         "Thanks, that answers my question.", None, "en", no, ts(again)))
        return first

    def _history(
        self, out: Batch, case_id: int, kind: CaseKind, status: CaseStatus,
        stage: DisputeStage | None, assignee: int | None, stamps: tuple[Any, Any, Any],
    ) -> None:
        p = self.plan
        received, handled, finished = stamps
        rows = out["case_event"]
        events: list[tuple[Any, int | None, str, str | None, str | None]] = [
            (received, p.supervisor_id, "created", None, kind.value)]
        if assignee is not None:
            events.append((handled, assignee, "assigned", None, p.agent_names[assignee]))
            events.append((handled, assignee, "status", CaseStatus.NEW.value,
                           CaseStatus.OPEN.value))
            now_status = CaseStatus.OPEN
            if stage is not None and stage is not DisputeStage.RECEIVED:
                path = OPEN_DISPUTE_STAGES[: OPEN_DISPUTE_STAGES.index(stage) + 1] if (
                    stage in OPEN_DISPUTE_STAGES) else [DisputeStage.RECEIVED, stage]
                for old, new in pairwise(path):
                    events.append((handled, assignee, "stage", old.value, new.value))
            if status is not CaseStatus.OPEN:
                events.append((finished, assignee, "status", now_status.value, status.value))
        eid = self.take("case_event", len(events))
        for i, (at, actor, action, old_v, new_v) in enumerate(events):
            rows.append((eid + i, case_id, at, actor, action, old_v, new_v, None))

    # --- consent and disclosures -----------------------------------------------------------------

    def _consent(
        self, out: Batch, customer_id: int, action: ConsentAction, channel: Channel,
        at: datetime, case_id: int | None, message_id: int | None, note: str | None,
        *, agent: int | None = None, purpose: ConsentPurpose = ConsentPurpose.MARKETING,
    ) -> None:
        p = self.plan
        pv = self._policy(clock.local_date(at, p.settings.tz))
        out["consent_event"].append((
            self.take("consent_event"), customer_id, purpose.value, action.value, channel.value,
            p.instant(at), case_id, message_id, agent or p.supervisor_id, pv[0] if pv else None,
            note,
        ))

    def _disclosure(self, out: Batch, customer_id: int) -> None:
        p = self.plan
        # The first few cover every kind of recipient, the rest are drawn at random.
        kind = RECIPIENT_KINDS[self.disclosures % len(RECIPIENT_KINDS)] if (
            self.disclosures < len(RECIPIENT_KINDS)) else self._pick(RECIPIENT_KINDS)
        self.disclosures += 1
        recipient, purpose, categories, basis = self._pick(RECIPIENTS[kind])
        on = p.base - timedelta(days=self._int(1, CASE_SPREAD_DAYS))
        out["disclosure"].append((
            self.take("disclosure"), 1, customer_id, recipient, kind.value, purpose,
            json.dumps(categories), p.day(on.date()),
            basis, p.supervisor_id, p.instant(on),
        ))


def _identity(value: Any) -> Any:
    return value


_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _ascii_fold(text: str) -> str:
    """:func:`helpdesk.db.search.fold` of a piece of demo vocabulary, which must fold to ASCII:
    the words line relies on it, and it makes the fold of a whole search row the folds of its
    pieces (case, accents and ae/oe/ue never cross the space, digit or "@" between pieces)."""
    folded = fold(text)
    if not folded.isascii():
        raise ValueError(f"demo vocabulary must fold to ASCII: {text!r}")
    return folded


def _with_words(folded: str) -> str:
    """Folded ASCII text and, on a second line after a space, its words separated by single
    spaces (the SQL's ``regexp_replace(x, '[^[:alnum:]]+', ' ', 'g')``)."""
    return f"{folded}\n {_NOT_ALNUM.sub(' ', folded)}"


def case_count(customers: int) -> int:
    """About one case per four customers, and never fewer than the coverage set."""
    return max(customers // CUSTOMERS_PER_CASE, len(COVERAGE))


def batches(plan: Plan, seed: int) -> Iterator[Batch]:
    """The demo rows, CHUNK customers (and their cases) at a time, ready for the driver."""
    gen = _Generator(plan, seed)
    for start in range(0, plan.customers, CHUNK):
        yield gen.batch(start, min(start + CHUNK, plan.customers))


def _ahead(items: Iterator[Batch]) -> Iterator[Batch]:
    """``items``, the next one made in a worker thread while the caller uses this one (in
    order, one at a time: the same batches as without it; an error in the maker is raised
    here)."""
    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-batches") as maker:
        upcoming = maker.submit(next, items, done)
        while (item := upcoming.result()) is not done:
            upcoming = maker.submit(next, items, done)
            yield item  # type: ignore[misc]


# --- writing -------------------------------------------------------------------------------------

def insert_sql(table: str, columns: Sequence[str]) -> str:
    """A qmark-style INSERT for sqlite3's ``executemany``."""
    cols = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" for _ in columns)})'


def _write_sqlite(dbapi: Any, table: str, rows: list[Row]) -> None:
    dbapi.cursor().executemany(insert_sql(table, COLUMNS[table]), rows)


def _write_postgres(dbapi: Any, table: str, rows: list[Row]) -> None:
    cols = ", ".join(f'"{c}"' for c in COLUMNS.get(table, SEARCH_COLUMNS))
    with dbapi.cursor() as cur, cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


#: The foreign keys of some tables, with their definitions (PostgreSQL).
_PG_FOREIGN_KEYS = sa.text(
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
    "WHERE contype = 'f' AND conrelid = ANY(CAST(:tables AS regclass[])) ORDER BY oid"
)


@contextmanager
def deferred_checks(conn: sa.Connection, tables: Sequence[str]) -> Iterator[None]:
    """Set aside what slows a bulk load into ``tables`` and restore it afterwards from its own
    stored definition, inside the caller's transaction (a failed load rolls the schema back).

    SQLite: the secondary indexes are dropped and rebuilt, with a page cache big enough to sort
    and index in memory. PostgreSQL: the foreign keys are dropped and added back, which checks
    every row once with a join instead of once per row in a trigger (half the time of COPY).
    Dropping a foreign key locks the tables it joins until the load commits: demo data goes
    into a new desk, not one a team is using.
    """
    if conn.dialect.name == "postgresql":
        keys = conn.execute(_PG_FOREIGN_KEYS, {"tables": list(tables)}).all()
        for table, name, _ in keys:
            conn.exec_driver_sql(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        yield
        for table, name, definition in keys:
            conn.exec_driver_sql(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        return
    cache = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    marks = ", ".join("?" for _ in tables)
    saved = conn.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        f"AND tbl_name IN ({marks})", tuple(tables),
    ).all()
    for name, _ in saved:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    try:
        yield
        for _, ddl in saved:
            conn.exec_driver_sql(ddl)
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache or -2000)}")


def _agents(s: Session, desk: Desk) -> tuple[list[Agent], int]:
    """The demo team and how many of it were added (existing agents, the acting one included,
    are left as they are)."""
    existing = {a.name: a for a in s.exec(select(Agent))}
    team = []
    for name, shown, role in AGENTS:
        agent = existing.get(name)
        if agent is None:
            agent = Agent(name=name, display_name=shown, role=role, created_at=desk.now())
            s.add(agent)
        team.append(agent)
    s.flush()
    return team, sum(a.name not in existing for a in team)


def _first_ids(s: Session) -> dict[str, int]:
    return {t: (s.connection().exec_driver_sql(f'SELECT max(id) FROM "{t}"').scalar() or 0) + 1
            for t in TABLES}


def generate(desk: Desk, *, customers: int, seed: int = 1) -> dict[str, int]:
    """Fill an empty desk with ``customers`` customers and about a quarter as many cases.

    Returns the number of rows written per table. Refuses a database that has customers.
    """
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise Invalid(f"demo data is 1 to {MAX_CUSTOMERS:,} customers, not {customers:,}",
                      field="customers")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s, require=Role.SUPERVISOR)
        if s.exec(select(func.count()).select_from(Customer)).one():
            raise Conflict("the database already has customers; demo data goes into an empty desk")
        team, added = _agents(s, desk)
        versions = s.exec(select(PolicyVersion.effective_on, PolicyVersion.id,
                                 PolicyVersion.periods)
                          .order_by(col(PolicyVersion.effective_on).desc())).all()
        conn = s.connection()
        sqlite = conn.dialect.name == "sqlite"
        now = clock.as_utc(desk.now())
        plan = Plan(
            customers=customers,
            cases=case_count(customers),
            base=now.replace(hour=0, minute=0, second=0, microsecond=0),
            first_id=_first_ids(s),
            supervisor_id=team[0].id or 0,
            agent_ids=tuple(a.id or 0 for a in team),
            agent_names={a.id or 0: a.name for a in team},
            settings=desk.settings,
            policy_versions=tuple((eff, pid or 0, periods) for eff, pid, periods in versions),
            instant=sqlite_instant if sqlite else _identity,
            flag=int if sqlite else bool,
            day=date.isoformat if sqlite else _identity,
            search_rows=not sqlite,
        )
        dbapi = conn.connection.dbapi_connection
        write = _write_sqlite if sqlite else _write_postgres
        counts = dict.fromkeys(TABLES, 0)
        # The search rows' foreign key too, when the load writes them: one join, not a
        # million look-ups.
        checked = (*TABLES, "customer_search") if plan.search_rows else TABLES
        with desk.search.bulk_load(conn, rows_written=plan.search_rows), \
                deferred_checks(conn, checked):
            # PostgreSQL: the next batch is made while the server takes this one in. SQLite
            # writes in this process, so a second thread would only contend with it.
            for batch in batches(plan, seed) if sqlite else _ahead(batches(plan, seed)):
                for table in TABLES:
                    write(dbapi, table, batch[table])
                    counts[table] += len(batch[table])
                if plan.search_rows:
                    write(dbapi, "customer_search", batch["customer_search"])
        if not sqlite:
            for table in TABLES:
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM \"{table}\"))")
            # Statistics now, so the first queries after the load are planned for its size.
            conn.exec_driver_sql(f"ANALYZE {', '.join((*TABLES, 'customer_search'))}")
        counts["agent"] = added
        audit.record(s, desk, actor, "demo.generate", "desk", None, seed=seed, **counts)
        return counts
