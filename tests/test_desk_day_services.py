"""Rules behind the desk's day-to-day flows (issue 15), on both backends: the desk and the CLI
get the same answers because the rules live here."""

from __future__ import annotations

import pytest

from helpdesk.domain import CaseKind, Role
from helpdesk.errors import Conflict
from helpdesk.services import agents, cases
from helpdesk.services.context import Desk
from tests.conftest import Run


@pytest.fixture
def lena(desk: Desk) -> Desk:
    agents.whoami(desk)
    agents.add(desk, name="lena", display_name="Lena Fischer", role=Role.AGENT)
    return desk.as_agent("lena")


def test_taking_a_case_someone_has_names_them_and_changes_nothing(desk: Desk, lena: Desk) -> None:
    case = cases.create(desk, kind=CaseKind.ACCESS, customer_id=None, subject="Mine?")
    cases.take(lena, case_id=case.case.id)
    with pytest.raises(Conflict, match="already taken by Lena Fischer"):
        cases.take(desk, case_id=case.case.id)  # a supervisor too: taking is not reassigning
    after = cases.get(desk, case.case.id)
    assert after.case.assignee_name == "Lena Fischer"
    assert cases.take(lena, case_id=case.case.id).case.version == after.case.version


def test_cli_take_says_who_has_the_case(cli: Run, desk: Desk, lena: Desk) -> None:
    case = cases.create(desk, kind=CaseKind.ACCESS, customer_id=None, subject="Mine?")
    assert cli("case", "take", str(case.case.id), agent="lena")[0] == 0
    code, _out, err = cli("case", "take", str(case.case.id))
    assert code == 5 and "already taken by Lena Fischer" in err
