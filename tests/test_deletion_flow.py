"""A deletion request end to end (issue 13 item 7): erase, the letter to the person (written
while their address is still known, recorded on the case without it), a notice to every
recipient in the disclosure register (an .eml, or a checklist item when the register gives no
address), then the case closed with the erasure record linked; a step that cannot happen is
named on the case. Both backends."""

from __future__ import annotations

import email
from datetime import date
from email import policy as email_policy
from pathlib import Path

import pytest

from helpdesk.domain import CaseKind, CaseStatus
from helpdesk.errors import HelpdeskError
from helpdesk.services import cases, deletion, disclosures, traces, verification
from helpdesk.services.context import Desk
from tests.conftest import Run
from tests.replies_support import add_customer, add_policy, open_case

NAME = "Philippa Oyelaran-Smythe"
EMAIL = "philippa.os@example.org"
PHONE = "+44 161 496 0123"


def _request(desk: Desk) -> tuple[int, int]:
    add_policy(desk)
    customer_id = add_customer(desk, name=NAME, email=EMAIL, phone=PHONE)
    case_id = open_case(desk, customer_id, CaseKind.DELETION)
    verification.verify(desk, case_id=case_id, method="identity_document")
    disclosures.add(desk, customer_id=customer_id,
                    recipient="Parcelwise Ltd <dpo@parcelwise.example>",
                    recipient_kind="contractor", purpose="delivery",
                    data_categories=["name", "address"], disclosed_on=date(2026, 1, 5),
                    legal_basis="contract 17")
    disclosures.add(desk, customer_id=customer_id, recipient="Regional tax office",
                    recipient_kind="government", purpose="VAT audit",
                    data_categories=["invoices"], disclosed_on=date(2026, 2, 1),
                    legal_basis="VAT act s. 12")
    return customer_id, case_id


def _eml(path: str) -> email.message.EmailMessage:
    return email.message_from_bytes(Path(path).read_bytes(), policy=email_policy.default)  # type: ignore[return-value]


def test_received_to_closed_with_letter_notices_and_record(desk: Desk, tmp_path: Path) -> None:
    customer_id, case_id = _request(desk)

    flow = deletion.complete(desk, case_id=case_id, folder=tmp_path)

    assert flow.left == () and flow.closed
    assert flow.erasure_status == "complete"
    # the person's letter: to their address, quoting the policy's archives wording
    letter = _eml(flow.letter_path or "")
    assert letter["To"].addresses[0].addr_spec == EMAIL
    body = letter.get_content()
    assert NAME in body and "PART-THREE archival databases wording." in body
    # notices: an .eml to the recipient with an address, a checklist item for the other
    by_kind = {n.state: n for n in flow.notices}
    assert set(by_kind) == {"written", "by hand"}
    notice = _eml(by_kind["written"].path or "")
    assert notice["To"].addresses[0].addr_spec == "dpo@parcelwise.example"
    assert NAME in notice.get_content() and EMAIL in notice.get_content()
    assert by_kind["by hand"].recipient == "Regional tax office"

    # all of it visible on the case, and none of it names the person there
    detail = cases.get(desk, case_id)
    assert detail.case.status == CaseStatus.CLOSED.value
    outbound = [m for m in detail.messages if m.direction == "outbound"]
    assert len(outbound) == 2  # the letter and the written notice
    assert any("PART-THREE archival" in (m.body or "") for m in outbound)
    shown = repr(detail)
    assert NAME not in shown and EMAIL not in shown
    actions = [(e.action, e.to_value) for e in detail.events]
    assert ("erasure", f"ledger {flow.erasure_id}") in actions
    assert ("deletion.letter", str(flow.letter_message_id)) in actions
    assert any(a == "deletion.notice" and "Regional tax office" in (v or "") for a, v in actions)
    assert ("status", CaseStatus.CLOSED.value) in actions
    # the letters written during the erasure left nothing of the person in the database
    person = traces.Identity(addresses=(EMAIL,), name=NAME, phone=PHONE)
    with desk.db.session() as s:
        assert traces.scan(s, person, customer_id=customer_id) == {}
    if desk.db.sqlite_path is not None:  # nor in its files (write-ahead log included)
        db_file = desk.db.sqlite_path
        for f in db_file.parent.glob(db_file.name + "*"):
            data = f.read_bytes().lower()
            assert not [w for w in person.everything if w.lower().encode() in data], f.name

    # running it again changes nothing and says so
    again = deletion.complete(desk, case_id=case_id, folder=tmp_path)
    assert again.closed and again.left == () and again.letter_path == flow.letter_path


def test_a_step_that_cannot_happen_is_named_on_the_case(desk: Desk, tmp_path: Path) -> None:
    customer_id, case_id = _request(desk)
    (tmp_path / f"case-{case_id}-deletion-letter.eml").write_text("an older letter")

    # the letter cannot be written: nothing is erased, and the message says why
    with pytest.raises(HelpdeskError, match="already exists"):
        deletion.complete(desk, case_id=case_id, folder=tmp_path)
    assert deletion.status(desk, case_id=case_id).left[0] == "erasure"

    # erased by hand (the plain erase) before the flow: the letter can no longer be written
    from helpdesk.services import erasure
    erasure.erase(desk, customer_id=customer_id, case_id=case_id)
    flow = deletion.complete(desk, case_id=case_id, folder=tmp_path / "new")
    assert not flow.closed and flow.left == ("letter", "notices")
    detail = cases.get(desk, case_id)
    assert detail.case.status != CaseStatus.CLOSED.value
    assert any(e.action == "deletion.left" and e.to_value == "letter, notices"
               for e in detail.events)


def test_only_a_deletion_request_with_a_customer(desk: Desk, tmp_path: Path) -> None:
    add_policy(desk)
    customer_id = add_customer(desk, name=NAME, email=EMAIL)
    question = open_case(desk, customer_id, CaseKind.QUESTION)
    with pytest.raises(HelpdeskError, match="deletion request"):
        deletion.complete(desk, case_id=question, folder=tmp_path)


def test_cli_deletion_complete(cli: Run, desk: Desk, tmp_path: Path) -> None:
    _, case_id = _request(desk)
    code, out, err = cli("deletion", "complete", str(case_id), "--out", str(tmp_path))
    assert code == 0, err
    assert "closed" in out and "by hand: Regional tax office" in out
    code, out, err = cli("deletion", "show", str(case_id))
    assert code == 0 and "left: nothing" in out
