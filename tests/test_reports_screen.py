"""The reports screen: figures against the rules' deadline (a legal rule counts), and a chart
per month that switches to weeks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from textual.widgets import Static

from helpdesk.config import LegalRule
from helpdesk.domain import CaseKind
from helpdesk.services import cases, customers
from helpdesk.services.context import Desk
from screens.app import DeskApp
from screens.reports import ReportsScreen
from tests.conftest import settle


async def test_chart_per_month_and_week_with_a_legal_rule(ui_desk: Desk, tmp_path: Path) -> None:
    ui_desk.settings = replace(ui_desk.settings, legal_rules=(
        LegalRule(name="Access law", kinds=(CaseKind.ACCESS,), days=10),))
    cust = customers.create(ui_desk, name="[b]Eva[/b]", emails=["eva@example.org"]).id
    late = cases.create(ui_desk, kind="access", customer_id=cust,
                        received_at=datetime(2026, 2, 10, 10, tzinfo=UTC)).case.id
    cases.set_status(ui_desk, case_id=late, status="resolved")  # day 28: late under the law
    cases.create(ui_desk, kind="deletion", customer_id=cust,
                 received_at=datetime(2026, 1, 20, 10, tzinfo=UTC))  # open, past 30 days

    app = DeskApp(ui_desk, state_file=tmp_path / "ui.json")
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReportsScreen) and screen.report is not None
        summary = str(screen.query_one("#summary", Static).render())
        assert "on time 0%" in summary and "breaches: 1 open, 1 closed late" in summary
        chart = str(screen.query_one("#chart", Static).render())
        assert "2026-01" in chart and "2026-02" in chart and "2026-03" in chart
        assert "1 received; closed 0" in chart and "2 deadlines missed" in chart  # February
        assert "0 received; closed 1, on time 0%" in chart  # March: the access case, late
        await pilot.press("p")
        await settle(pilot)
        chart = str(screen.query_one("#chart", Static).render())
        assert "2026-02-09" in chart and "2026-01" not in chart.replace("2026-01-", "")
