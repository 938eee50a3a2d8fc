"""A small run of ``python -m bench team`` on each backend, as CI's share of the team benchmark.

Four agent processes (on PostgreSQL each its own login role) work one demo database at once
for a few seconds: no operation fails, nothing any of them believes it did is missing from the
final state, and notes, imports, new cases and blind status changes never conflict.
"""

from __future__ import annotations

import pytest

from bench import team
from bench.common import Options
from tests.conftest import BACKENDS, PG_URL


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_small_team_loses_nothing_and_never_conflicts_on_appends(backend: str) -> None:
    if backend == "postgresql" and not PG_URL:
        pytest.skip("HELPDESK_TEST_PG_URL is not set: PostgreSQL tests need a server")
    opts = Options(customers=400, workdir=None, repeat=1, seed=3, agents=4, seconds=6,
                   db=PG_URL if backend == "postgresql" else None)

    figures = {f.name: f for f in team.run(opts)}

    assert figures["throughput (operations/s)"].value > 0
    assert figures["errors"].value == 0
    assert figures["lost updates"].value == 0
    assert figures["lost updates"].baseline > 20  # beliefs were actually checked
    assert figures["conflicts on append writes"].value == 0
    assert figures["conflicts on blind writes"].value == 0
