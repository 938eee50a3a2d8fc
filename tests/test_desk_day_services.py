"""Rules behind the desk's day-to-day flows (issue 15), on both backends: the desk and the CLI
get the same answers because the rules live here."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from helpdesk.domain import CaseKind, CaseStatus, DisputeStage, MessageDirection, Role
from helpdesk.errors import Conflict, Invalid, NotFound
from helpdesk.services import (
    agents,
    cases,
    customers,
    disputes,
    policy,
    supervisor,
    templates,
    verification,
)
from helpdesk.services.context import Desk
from tests.conftest import Run
from tests.policy_texts import POLICY_2019


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


def test_a_case_needs_a_subject_or_a_customer_and_gets_its_customer_later(
    desk: Desk, lena: Desk
) -> None:
    with pytest.raises(Invalid, match="needs a subject or a customer") as refused:
        cases.create(desk, kind=CaseKind.QUESTION, customer_id=None, subject="   ")
    assert refused.value.field == "subject"
    ann = customers.create(desk, name="Ann", emails=["ann@example.org"]).id
    bea = customers.create(desk, name="Bea", emails=["bea@example.org"]).id
    case = cases.create(desk, kind=CaseKind.QUESTION, customer_id=None, subject="Letter")
    linked = cases.link_customer(lena, case_id=case.case.id, customer_id=ann,
                                 expected_version=case.case.version)
    assert linked.case.customer_name == "Ann"
    with pytest.raises(Conflict):  # decided on the unlinked copy
        cases.link_customer(desk, case_id=case.case.id, customer_id=bea,
                            expected_version=case.case.version)
    fixed = cases.link_customer(desk, case_id=case.case.id, customer_id=bea)
    assert [(e.action, e.from_value, e.to_value) for e in fixed.events[-2:]] == [
        ("customer", None, f"#{ann}"), ("customer", f"#{ann}", f"#{bea}")]
    assert [c.id for c in customers.get(desk, bea).cases] == [case.case.id]
    assert customers.get(desk, ann).cases == ()
    with pytest.raises(NotFound):
        cases.link_customer(desk, case_id=case.case.id, customer_id=9999)
    cases.set_status(desk, case_id=case.case.id, status="closed")
    with pytest.raises(Invalid, match="closed"):
        cases.link_customer(desk, case_id=case.case.id, customer_id=ann)


def test_cli_opens_a_case_without_customer_and_links_it(cli: Run, desk: Desk) -> None:
    ann = customers.create(desk, name="Ann", emails=["ann@example.org"]).id
    code, _out, err = cli("case", "new", "--kind", "question")
    assert code == 6 and "needs a subject or a customer" in err
    code, out, _ = cli("case", "new", "--kind", "question", "--subject", "Letter", "--json")
    assert code == 0
    case_id = json.loads(out)["case"]["id"]
    code, out, _ = cli("case", "link", str(case_id), str(ann))
    assert code == 0 and f"case #{case_id} is for customer #{ann}" in out
    assert cli("case", "link", str(case_id), "424242")[0] == 3


# --- bug 8: search misses ------------------------------------------------------------------------

@pytest.fixture
def staff(desk: Desk) -> dict[str, int]:
    """Employees of Müller & Söhne (created first: lower ids) and people named Müller."""
    made = {}
    for i, name in enumerate(("Xavier Patel", "Renée Tanaka", "Omar Dubois")):
        made[name] = customers.create(desk, name=name, emails=[f"staff{i}@ms.example"],
                                      company="Müller & Söhne KG").id
    for name, email in (("Jürgen Müller", "jm@example.de"), ("Anna Mueller", "am@example.de"),
                        ("Karl Schäfer", "ks@example.de"), ("Lotte Schaefer", "ls@example.de")):
        made[name] = customers.create(desk, name=name, emails=[email]).id
    return made


def names(desk: Desk, text: str) -> list[str]:
    return [h.name or "" for h in customers.find(desk, text)]


def test_company_names_are_found_however_much_of_them_is_typed(
    desk: Desk, staff: dict[str, int]
) -> None:
    company = {"Xavier Patel", "Renée Tanaka", "Omar Dubois"}
    for typed in ("Müller & Sö", "Müller & Söh", "Müller & Söhne", "Muller & Sohne", "Sohne",
                  "söhne kg", "MUELLER & SOEHNE"):
        assert company <= set(names(desk, typed)), typed


def test_umlauts_accents_and_their_spellings_find_each_other(
    desk: Desk, staff: dict[str, int]
) -> None:
    for typed in ("Müller", "Mueller", "Muller", "müll", "muel"):
        assert {"Jürgen Müller", "Anna Mueller"} <= set(names(desk, typed)), typed
    for typed in ("Schäfer", "Schaefer", "schaf"):
        assert {"Karl Schäfer", "Lotte Schaefer"} <= set(names(desk, typed)), typed
    assert names(desk, "Jurgen") == ["Jürgen Müller"]
    assert names(desk, "rene") == ["Renée Tanaka"]
    assert names(desk, "ju mu") == ["Jürgen Müller"]  # short tokens fold too


def test_people_named_so_come_before_companies(desk: Desk, staff: dict[str, int]) -> None:
    found = names(desk, "Müller")
    people = {"Jürgen Müller", "Anna Mueller"}
    assert set(found[:2]) == people and set(found[2:]) == {"Xavier Patel", "Renée Tanaka",
                                                            "Omar Dubois"}
    assert set(names(desk, "mu")[:2]) == people


def test_cli_says_when_results_are_cut(cli: Run, desk: Desk) -> None:
    for i in range(12):
        customers.create(desk, name=f"Berta Beispiel {i}", emails=[f"bb{i}@example.org"])
    code, out, _ = cli("customer", "find", "beispiel", "--limit", "10")
    assert code == 0 and out.count("Berta Beispiel") == 10
    assert "showing the first 10" in out
    code, out, _ = cli("customer", "find", "beispiel", "--limit", "12")
    assert out.count("Berta Beispiel") == 12 and "showing the first" not in out
    code, out, _ = cli("customer", "find", "beispiel", "--limit", "10", "--json")
    found = json.loads(out)
    assert len(found["items"]) == 10 and found["more"] is True


# --- bug 5: the dispute flow ----------------------------------------------------------------

@pytest.fixture
def dispute(desk: Desk) -> int:
    policy.add(desk, text=POLICY_2019, effective_on=date(2019, 6, 1))
    ann = customers.create(desk, name="Ann Dispute", emails=["ann.d@example.org"]).id
    handled = cases.create(desk, kind=CaseKind.DELETION, customer_id=ann, subject="Delete me")
    return disputes.open_dispute(desk, case_id=handled.case.id, assign_to_me=True).case.id


def test_a_dispute_goes_from_received_to_resolved_with_its_letters_written_in_each_step(
    desk: Desk, dispute: int, tmp_path: Path
) -> None:
    ack = disputes.advance(desk, case_id=dispute, to="acknowledged", write_letter=True,
                           letter_out=tmp_path / "ack.eml")
    assert [m.direction for m in ack.messages] == [MessageDirection.OUTBOUND]
    assert (tmp_path / "ack.eml").read_bytes().startswith(b"Message-ID:")
    disputes.advance(desk, case_id=dispute, to="investigating")
    disputes.advance(desk, case_id=dispute, to="resolution_proposed",
                     outcome="We refund the 20 EUR fee.")
    done = disputes.advance(desk, case_id=dispute, to="resolved", write_letter=True,
                            letter_out=tmp_path / "resolved.eml")
    assert done.case.status is CaseStatus.RESOLVED and done.outcome == "We refund the 20 EUR fee."
    letter = done.messages[-1]
    assert letter.direction is MessageDirection.OUTBOUND and "20 EUR fee" in (letter.body or "")
    assert [e.to_value for e in done.events if e.action == "resolution_letter"] == [
        f"message #{letter.id}"]
    assert "20 EUR fee" in (tmp_path / "resolved.eml").read_text(encoding="utf-8")


def test_a_letter_that_cannot_be_written_leaves_the_dispute_where_it_was(
    desk: Desk, dispute: int, tmp_path: Path
) -> None:
    for stage in ("acknowledged", "investigating"):
        disputes.advance(desk, case_id=dispute, to=stage)
    disputes.advance(desk, case_id=dispute, to="resolution_proposed", outcome="upheld")
    with pytest.raises(Invalid, match="does not exist"):
        disputes.advance(desk, case_id=dispute, to="resolved", write_letter=True,
                         letter_out=tmp_path / "no-such-folder" / "x.eml")
    after = cases.get(desk, dispute)
    assert after.case.dispute_stage is DisputeStage.RESOLUTION_PROPOSED
    assert not [m for m in after.messages if m.direction is MessageDirection.OUTBOUND]
    with pytest.raises(Invalid, match="only resolving"):
        disputes.advance(desk, case_id=dispute, to="investigating", letter_reference="post")
    with pytest.raises(Invalid, match="sends no letter"):
        disputes.advance(desk, case_id=dispute, to="investigating", write_letter=True)


def test_cli_resolves_a_dispute_writing_its_letter(cli: Run, desk: Desk, dispute: int,
                                                  tmp_path: Path) -> None:
    for stage in ("acknowledged", "investigating"):
        assert cli("dispute", "advance", str(dispute), "--to", stage)[0] == 0
    assert cli("dispute", "advance", str(dispute), "--to", "resolution_proposed",
               "--outcome", "Apology and a corrected record")[0] == 0
    out = tmp_path / "letter.eml"
    code, text, err = cli("dispute", "advance", str(dispute), "--to", "resolved",
                          "--letter", str(out))
    assert code == 0, err
    assert "resolved" in text and "corrected record" in out.read_text(encoding="utf-8")


def test_the_reply_picker_suggests_the_letter_that_fits_the_case(
    desk: Desk, dispute: int
) -> None:
    def suggestion(case_id: int) -> str | None:
        detail = cases.get(desk, case_id)
        return templates.suggested(detail, templates.list_templates(desk, kind=detail.case.kind))

    assert suggestion(dispute) == "dispute_acknowledged"
    for stage in ("acknowledged", "investigating", "resolution_proposed"):
        disputes.advance(desk, case_id=dispute, to=stage, outcome="refund")
    assert suggestion(dispute) == "dispute_resolved"
    ann = cases.get(desk, dispute).case.customer_id
    fresh = cases.create(desk, kind=CaseKind.CORRECTION, customer_id=ann, subject="typo").case.id
    assert suggestion(fresh) == "acknowledgement"
    verification.verify(desk, case_id=fresh, method="phone_callback")
    customers.update(desk, customer_id=ann or 0, case_id=fresh, phone="+49 30 1")
    assert suggestion(fresh) == "correction_done"
    late = cases.create(desk, kind=CaseKind.ACCESS, customer_id=ann, subject="copy",
                        received_at=desk.now() - timedelta(days=45)).case.id
    assert suggestion(late) == "overdue_notice"


def test_cli_answers_a_question_case_from_the_policy(cli: Run, desk: Desk, tmp_path: Path) -> None:
    policy.add(desk, text=POLICY_2019, effective_on=date(2019, 6, 1))
    ann = customers.create(desk, name="Ann Asks", emails=["ann.q@example.org"]).id
    case = cases.create(desk, kind=CaseKind.QUESTION, customer_id=ann, subject="cookies?")
    code, out, _ = cli("answer", "reply", str(case.case.id), "cookies", "--preview")
    assert code == 0 and "short text file" in out and "extracted" not in out
    assert cases.get(desk, case.case.id).messages == ()  # a preview records nothing
    code, _, err = cli("answer", "reply", str(case.case.id), "cookies")
    assert code == 6 and "--out" in err
    code, out, _ = cli("answer", "reply", str(case.case.id), "cookies", "--out",
                       str(tmp_path / "a.eml"))
    assert code == 0 and "recorded on case" in out
    [sent] = cases.get(desk, case.case.id).messages
    assert sent.direction is MessageDirection.OUTBOUND and "short text file" in (sent.body or "")


# --- bug 10 in the CLI and the export ----------------------------------------------------------

def test_cli_shows_reasons_names_and_addresses_in_their_column(
    cli: Run, desk: Desk, lena: Desk, tmp_path: Path
) -> None:
    ann = customers.create(desk, name="Ann Adresse", emails=["ann.a@example.org"],
                           billing_address="Hauptstraße 5\n3. Stock\n10115 Berlin").id
    case = cases.create(desk, kind=CaseKind.ACCESS, customer_id=ann, subject="copy").case.id
    cases.take(lena, case_id=case)
    supervisor.reassign(desk, case_ids=[case], assignee="alice", reason="Lena is away")
    verification.verify(desk, case_id=case, method="phone_callback")  # the export needs it
    code, out, _ = cli("case", "show", str(case))
    assert code == 0
    assert "assigned Lena Fischer -> alice — Lena is away" in out
    code, out, _ = cli("customer", "show", str(ann))
    assert "  billing:   Hauptstraße 5\n             3. Stock\n             10115 Berlin\n" in out
    code, out, _ = cli("export", str(ann), "--format", "text", "--out", str(tmp_path / "x.txt"))
    text = (tmp_path / "x.txt").read_text(encoding="utf-8")
    assert ("  Billing address: Hauptstraße 5\n                   3. Stock\n"
            "                   10115 Berlin\n") in text
