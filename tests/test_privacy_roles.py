"""Who may run which privacy action, and that an opt-out survives every path that creates or
changes a customer (form edit, CLI add, mail import, intake link)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from helpdesk.cli import main
from helpdesk.domain import CaseKind, Role
from helpdesk.errors import Forbidden
from helpdesk.services import (
    access_export,
    agents,
    answers,
    cases,
    consent,
    customers,
    disclosures,
    erasure,
    intake,
    policy,
    suppression,
)
from helpdesk.services.context import Desk
from tests.conftest import verified_request
from tests.intake_mail import mail, write_mbox

Action = Callable[[Desk, int, dict[str, int]], Any]

#: Every privacy action, with the role it needs. Agents run the desk's everyday requests;
#: supervisors alone reverse a suppression, take a plain-address list, or mark archive copies.
ACTIONS: dict[str, tuple[Role, Action]] = {
    "opt_out": (Role.AGENT, lambda d, c, k: consent.opt_out(d, customer_id=c)),
    "bulk_opt_out": (Role.AGENT, lambda d, c, k: consent.bulk_opt_out(
        d, addresses=["x@example.com"])),
    "under_13": (Role.AGENT, lambda d, c, k: consent.mark_under_13(d, customer_id=c)),
    "status": (Role.AGENT, lambda d, c, k: consent.status(d, customer_id=c)),
    "export": (Role.AGENT, lambda d, c, k: access_export.export(d, customer_id=c)),
    "hashed_list": (Role.AGENT, lambda d, c, k: suppression.export(d, hashed=True)),
    "disclosure_add": (Role.AGENT, lambda d, c, k: disclosures.add(
        d, customer_id=c, recipient="P", recipient_kind="contractor", purpose="delivery",
        data_categories=["name"], disclosed_on=date(2026, 3, 1), legal_basis="contract")),
    "disclosure_list": (Role.AGENT, lambda d, c, k: disclosures.list_for(d, customer_id=c)),
    "who_has": (Role.AGENT, lambda d, c, k: disclosures.who_has_my_data(d, customer_id=c)),
    "correct": (Role.AGENT, lambda d, c, k: disclosures.correct(
        d, case_id=k["correction"], phone="+1 555")),
    "policy_part": (Role.AGENT, lambda d, c, k: answers.governing_part(d, case_id=k["deletion"])),
    "erase": (Role.AGENT, lambda d, c, k: erasure.erase(
        d, customer_id=c, case_id=k["deletion"])),
    "reapply": (Role.AGENT, lambda d, c, k: erasure.reapply_ledger(d)),
    "opt_in": (Role.SUPERVISOR, lambda d, c, k: consent.opt_in(
        d, customer_id=c, case_id=k["deletion"])),
    "plain_list": (Role.SUPERVISOR, lambda d, c, k: suppression.export(d, hashed=False)),
    "archive_mark": (Role.SUPERVISOR, lambda d, c, k: erasure.mark_archive(
        d, check_id=1, status="purged")),
}


def _setup(desk: Desk) -> tuple[int, dict[str, int]]:
    """A customer with a verified access, correction and deletion request each."""
    cid = customers.create(desk, name="Role Test", emails=["role@example.com"]).id
    return cid, {kind.value: verified_request(desk, cid, kind).case.id
                 for kind in (CaseKind.ACCESS, CaseKind.CORRECTION, CaseKind.DELETION)}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_unknown_and_deactivated_people_are_refused_everything(desk: Desk, name: str) -> None:
    cid, case = _setup(desk)
    agents.add(desk, name="gone")
    agents.update(desk, name="gone", active=False)
    _, action = ACTIONS[name]
    for who in ("mallory", "gone"):
        with pytest.raises(Forbidden):
            action(desk.as_agent(who), cid, case)


@pytest.mark.parametrize("name", [n for n, (r, _) in ACTIONS.items() if r is Role.SUPERVISOR])
def test_supervisor_only_actions_refuse_agents(desk: Desk, name: str) -> None:
    cid, case = _setup(desk)
    agents.add(desk, name="bob")
    with pytest.raises(Forbidden, match="only a supervisor"):
        ACTIONS[name][1](desk.as_agent("bob"), cid, case)


def test_agent_actions_work_for_agents(desk: Desk) -> None:
    if desk.db.backend != "sqlite":
        pytest.skip("role rules do not depend on the backend; the services run on both")
    cid, case = _setup(desk)
    agents.add(desk, name="bob")
    bob = desk.as_agent("bob")
    for name, (role, action) in ACTIONS.items():
        if role is Role.AGENT and name not in {"erase", "under_13"}:
            action(bob, cid, case)
    ACTIONS["erase"][1](bob, cid, case)  # last: nothing is left to act on afterwards


def test_opt_out_survives_form_edit_cli_add_and_import(
    desk: Desk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    policy.add(desk, text="Part II. Usage\nYou may opt out.\n", effective_on=date(2020, 1, 1))
    cid = customers.create(desk, name="Opted Out", emails=["out@example.com"]).id
    consent.opt_out(desk, customer_id=cid)
    consent.bulk_opt_out(desk, addresses=["cli@example.com", "mail@example.com"])
    # form edit
    edited = customers.update(desk, customer_id=cid, name="Opted Out Again", phone="+1 555")
    assert edited.marketing_opted_out
    # CLI add, with the desk's key file
    monkeypatch.setenv("HELPDESK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HELPDESK_CONFIG", str(tmp_path / "config.toml"))
    (tmp_path / "config.toml").write_text(f'key_file = "{desk.settings.key_file}"\n')
    assert main(["--db", desk.settings.db_url, "customer", "add", "--name",
                 "Via Cli", "--email", "CLI@example.com", "--json"], agent="alice") == 0
    added = customers.find(desk, "Via Cli")[0]
    assert customers.get(desk, added.id).marketing_opted_out
    # mail import: an unknown sender on the list comes in as an item; a customer made from it
    # stays opted out
    intake.import_paths(desk, paths=[write_mbox(tmp_path / "in.mbox", [
        mail(frm="Someone <mail@example.com>", msgid="<z1@example.com>")])])
    item = intake.list_items(desk).items[0]
    made = intake.new_customer(desk, item_id=item.id, name="From Mail").item
    assert made.resolved_case_id is not None
    customer_id = cases.get(desk, made.resolved_case_id).case.customer_id
    assert customer_id is not None and customers.get(desk, customer_id).marketing_opted_out
    capsys.readouterr()
