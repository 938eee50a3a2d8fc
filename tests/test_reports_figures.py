"""Report figures checked against a hand-built data set (desk zone: Europe/Berlin)."""

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from helpdesk.config import LegalRule
from helpdesk.domain import CaseKind
from helpdesk.errors import Invalid
from helpdesk.services import agents, cases, customers, disputes, reports, supervisor
from helpdesk.services.context import Desk


def _at(clock, *args: int) -> datetime:  # type: ignore[no-untyped-def]
    clock.now = datetime(*args, tzinfo=UTC)
    return clock.now


@pytest.fixture
def data(desk: Desk, clock) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Eight cases, received, closed and assigned at known instants (comments: Berlin time).

    closed: D1 15 days on time, D2 35 days late, A1 2 days, Q1 4 days (service level: 5),
    S2 withdrawn after 14 days; open: C1 past its 30 days (a breach), C2 overridden,
    S1 investigating at 67 days.
    """
    agents.add(desk, name="bob")
    cust = customers.create(desk, name="Eva Müller", emails=["eva@example.org"]).id
    ids: dict[str, int] = {}

    def new(key: str, kind: str, *when: int) -> None:
        ids[key] = cases.create(desk, kind=kind, customer_id=cust,
                                received_at=_at(clock, *when)).case.id

    def close(key: str, *when: int) -> None:
        _at(clock, *when)
        cases.set_status(desk, case_id=ids[key], status="resolved")

    new("S1", "dispute", 2026, 1, 2, 10)
    new("D1", "deletion", 2026, 1, 5, 10)
    new("D2", "deletion", 2026, 1, 6, 10)
    new("A1", "access", 2026, 1, 7, 10)
    new("Q1", "question", 2026, 1, 8, 10)
    close("A1", 2026, 1, 9, 10)
    new("C1", "correction", 2026, 1, 12, 10)
    close("Q1", 2026, 1, 12, 10)
    _at(clock, 2026, 1, 19, 10)
    supervisor.reassign(desk, case_ids=[ids["D1"]], assignee="bob", reason="load")
    close("D1", 2026, 1, 20, 10)
    new("S2", "dispute", 2026, 1, 31, 23, 30)  # 1 February, 00:30 in Berlin
    close("D2", 2026, 2, 10, 10)
    _at(clock, 2026, 2, 15, 10)
    disputes.advance(desk, case_id=ids["S2"], to="withdrawn")
    new("C2", "correction", 2026, 2, 20, 10)
    _at(clock, 2026, 3, 10, 9, 30)
    supervisor.override_deadline(desk, case_id=ids["C2"], new_due=date(2026, 4, 30), reason="x")
    supervisor.reassign(desk, case_ids=[ids["C1"], ids["S1"]], assignee="bob", reason="load")
    supervisor.reassign(desk, case_ids=[ids["C2"]], assignee="alice", reason="load")
    for stage in ("acknowledged", "investigating"):
        disputes.advance(desk, case_id=ids["S1"], to=stage)
    return ids


def test_whole_history(desk: Desk, data: dict[str, int]) -> None:
    r = reports.report(desk)
    assert (r.received, r.open_breaches) == (8, 1)
    assert (r.closing.closed, r.closing.on_time) == (5, 4)
    assert r.closing.on_time_rate == pytest.approx(0.8)
    assert r.closing.median_days_to_close == 14  # 2, 4, 14, 15, 35
    kinds = {k.kind.value: k for k in r.kinds}
    deletion = kinds["deletion"]
    assert (deletion.received, deletion.closing.closed, deletion.closing.on_time) == (2, 2, 1)
    assert deletion.closing.on_time_rate == pytest.approx(0.5)
    assert deletion.closing.median_days_to_close == 25
    assert deletion.by_status["resolved"] == 2
    assert kinds["question"].closing.on_time_rate == 1.0  # judged against its service level
    correction = kinds["correction"]
    assert (correction.received, correction.by_status["new"], correction.open_breaches) == (2, 2, 1)
    assert correction.closing.on_time_rate is None
    assert kinds["dispute"].by_status == {"new": 0, "open": 1, "waiting": 0, "resolved": 0,
                                          "closed": 1}
    assert kinds["dispute"].closing.median_days_to_close == 14
    # still open: received in the range and neither resolved nor closed (what the screen shows)
    assert (deletion.still_open, correction.still_open, kinds["dispute"].still_open) == (0, 2, 1)
    assert kinds["objection"].received == 0
    assert r.disputes_by_stage == {"received": 0, "acknowledged": 0, "investigating": 1,
                                   "resolution_proposed": 0, "resolved": 0, "withdrawn": 1}
    load = {a.agent_name: (a.open_cases, a.overdue, a.closed) for a in r.agents}
    assert load == {"alice": (1, 0, 0), "bob": (2, 1, 1)}


def test_weekly_series(desk: Desk, data: dict[str, int]) -> None:
    weeks = {w.start: w for w in reports.report(desk).weeks}
    assert min(weeks) == date(2025, 12, 29) and max(weeks) == date(2026, 3, 9)
    assert len(weeks) == 11  # every week in between, empty ones included
    assert all(w.weekday() == 0 for w in weeks)
    jan5 = weeks[date(2026, 1, 5)]
    assert (jan5.received, jan5.closing.closed, jan5.closing.on_time_rate) == (4, 1, 1.0)
    assert weeks[date(2026, 1, 26)].received == 1  # S2: Sunday 1 February in Berlin
    feb9 = weeks[date(2026, 2, 9)]
    assert (feb9.received, feb9.closing.closed, feb9.closing.on_time) == (0, 2, 1)
    assert feb9.closing.on_time_rate == pytest.approx(0.5)
    assert weeks[date(2026, 2, 2)].closing.on_time_rate is None
    assert sum(w.received for w in weeks.values()) == 8


def test_date_range_uses_local_days(desk: Desk, data: dict[str, int]) -> None:
    r = reports.report(desk, start=date(2026, 1, 6), end=date(2026, 1, 31))
    # received: D2, A1, Q1, C1 (D1 on the 5th and S2 on 1 February, local time, are out)
    assert (r.received, r.open_breaches) == (4, 1)
    # closed in range: A1, Q1, D1, all on time
    assert (r.closing.closed, r.closing.on_time, r.closing.median_days_to_close) == (3, 3, 4)
    assert [w.start for w in r.weeks] == [date(2026, 1, 5), date(2026, 1, 12),
                                               date(2026, 1, 19), date(2026, 1, 26)]
    assert reports.report(desk, start=date(2026, 2, 1), end=date(2026, 2, 1)).received == 1
    with pytest.raises(Invalid, match="after its end"):
        reports.report(desk, start=date(2026, 2, 1), end=date(2026, 1, 1))


def test_agents_get_the_figures_without_per_agent_load(desk: Desk, data: dict[str, int]) -> None:
    r = reports.report(desk.as_agent("bob"))
    assert r.received == 8 and r.agents == ()


def test_closing_a_dispute_past_90_days_lowers_its_on_time_rate(
    desk: Desk, data: dict[str, int], clock
) -> None:  # type: ignore[no-untyped-def]
    before = reports.report(desk).kinds
    rate = {k.kind.value: k.closing.on_time_rate for k in before}["dispute"]
    assert rate == 1.0
    _at(clock, 2026, 4, 10, 10)  # S1 is now past its 90 days
    disputes.advance(desk, case_id=data["S1"], to="resolution_proposed", outcome="upheld")
    disputes.advance(desk, case_id=data["S1"], to="resolved", letter_reference="post")
    after = {k.kind.value: k for k in reports.report(desk).kinds}["dispute"]
    assert (after.closing.closed, after.closing.on_time) == (2, 1)
    assert after.closing.on_time_rate == pytest.approx(0.5)


def test_csv_rows_are_long_form(desk: Desk, data: dict[str, int]) -> None:
    rows = reports.csv_rows(reports.report(desk))
    assert ("total", "all", "on_time_rate", "0.8") in rows
    assert ("kind", "deletion", "median_days_to_close", "25.0") in rows
    assert ("dispute_stage", "withdrawn", "disputes", "1") in rows
    assert ("week", "2026-02-09", "closed", "2") in rows
    assert ("agent", "bob", "overdue", "1") in rows
    assert all(len(r) == 4 for r in rows)


# --- deadlines the rules set: a stricter legal rule counts ----------------------------------------

def test_a_ten_day_law_makes_day_20_late_and_an_open_case_a_breach(
    desk: Desk, clock  # type: ignore[no-untyped-def]
) -> None:
    """Done when: the report's on-time and breach figures count legal rules (10-day rule)."""
    desk.settings = replace(desk.settings, legal_rules=(
        LegalRule(name="Access law", kinds=(CaseKind.ACCESS,), days=10),))
    cust = customers.create(desk, name="Eva Müller", emails=["eva@example.org"]).id
    late = cases.create(desk, kind="access", customer_id=cust,
                        received_at=_at(clock, 2026, 2, 2, 10)).case.id
    prompt = cases.create(desk, kind="access", customer_id=cust,
                          received_at=_at(clock, 2026, 2, 3, 10)).case.id
    waiting = cases.create(desk, kind="access", customer_id=cust,
                           received_at=_at(clock, 2026, 2, 20, 10)).case.id
    _at(clock, 2026, 2, 9, 10)
    cases.set_status(desk, case_id=prompt, status="resolved")  # day 6
    _at(clock, 2026, 2, 22, 10)
    cases.set_status(desk, case_id=late, status="resolved")  # day 20: within 30, not within 10
    _at(clock, 2026, 3, 10, 9, 30)  # the waiting case is on day 18, open

    r = reports.report(desk)
    access = {k.kind.value: k for k in r.kinds}["access"]
    assert (access.closing.closed, access.closing.on_time, access.closing.breaches) == (2, 1, 1)
    assert access.closing.on_time_rate == pytest.approx(0.5)
    assert (access.open_breaches, r.open_breaches, r.closed_breaches) == (1, 1, 1)
    assert (access.closing.median_days_to_close, access.closing.p90_days_to_close) == (13, 20)
    feb = {m.start: m for m in r.months}[date(2026, 2, 1)]
    assert (feb.received, feb.closing.closed, feb.closing.breaches) == (3, 2, 1)
    assert feb.missed == 1 and feb.by_kind["access"].missed == 1  # late: 13 Feb passed unmet
    march = {m.start: m for m in r.months}[date(2026, 3, 1)]
    assert march.missed == 1  # the waiting case's deadline, 3 March, passed unmet
    assert cases.get(desk, waiting).case.policy_breach


def test_ninetieth_percentile_is_a_real_case_and_months_cover_the_range(
    desk: Desk, data: dict[str, int]
) -> None:
    r = reports.report(desk)
    assert r.closing.p90_days_to_close == 35  # 2, 4, 14, 15, 35: nearest rank 5 of 5
    assert [m.start for m in r.months] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    jan = r.months[0]
    assert (jan.received, jan.closing.closed) == (6, 3)
    assert set(jan.by_kind) == {"access", "correction", "deletion", "dispute", "question"}
    assert jan.by_kind["deletion"].closing.closed == 1
    empty = reports.report(desk, start=date(2025, 6, 1), end=date(2025, 8, 31))
    assert [m.start for m in empty.months] == [date(2025, 6, 1), date(2025, 7, 1),
                                               date(2025, 8, 1)]
    assert all(m.received == 0 and m.closing.on_time_rate is None for m in empty.months)


def test_cli_report_json_csv_and_text(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("customer", "add", "--name", "Eva", "--email", "eva@example.org")[0] == 0
    assert cli("case", "new", "--kind", "deletion", "--customer", "1")[0] == 0
    code, out, _ = cli("report", "--json")
    data = json.loads(out)
    assert code == 0 and {"weeks", "months", "closed_breaches"} <= set(data)
    assert data["months"][-1]["by_kind"]["deletion"]["received"] == 1
    code, out, _ = cli("report", "--csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["section", "key", "metric", "value"]
    assert any(r[0] == "month_kind" and r[1].endswith("/deletion") and r[2] == "received"
               and r[3] == "1" for r in rows)
    code, out, _ = cli("report", "--period", "week")
    assert code == 0 and "WEEK" in out and "P90 DAYS" in out
    assert "MONTH" in cli("report")[1]
    assert cli("report", "--from", "2026-02-30")[0] == 6
    assert cli("report", "--period", "year")[0] == 2
