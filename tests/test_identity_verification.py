"""Requester verification: an impostor's letter never triggers an export, correction or erasure.

The impostor here writes from an address the desk does not hold, or forges the From line of one
it does (then the code goes to the real person's mailbox), or gets an agent to add their own
address to the profile first. Only a reply from an address on file before the request, carrying
the desk's code, verifies by mail; the other methods are recorded with who and when.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from helpdesk.db.models import Message
from helpdesk.domain import CaseKind, MessageDirection
from helpdesk.errors import Forbidden, Invalid
from helpdesk.services import (
    access_export,
    agents,
    cases,
    customers,
    disclosures,
    erasure,
    intake,
    replies,
    verification,
)
from helpdesk.services.context import Desk
from tests.conftest import FakeClock, Run
from tests.intake_mail import mail, write_mbox
from tests.replies_support import add_policy

ALICE_MAIL = "rosa.marquez@example.org"


@pytest.fixture
def person(desk: Desk, clock: FakeClock) -> int:
    add_policy(desk)
    cid = customers.create(desk, name="Rosa Márquez", emails=[ALICE_MAIL],
                           billing_address="Calle Mayor 1, Madrid").id
    clock.advance(days=3)  # the address is on file well before any request
    return cid


def _request(desk: Desk, customer_id: int, kind: CaseKind) -> int:
    return cases.create(desk, kind=kind, customer_id=customer_id).case.id


def _letter(desk: Desk, case_id: int, sender: str, body: str) -> int:
    """An inbound letter on the case, as intake files a reply."""
    with desk.db.session(write=True) as s:
        m = Message(case_id=case_id, direction=MessageDirection.INBOUND, at=desk.now(),
                    from_address=sender, subject=f"Re: [Case #{case_id}]", body=body)
        s.add(m)
        s.flush()
        return m.id or 0


def _history(desk: Desk, case_id: int) -> list[tuple[str, str | None, str | None, str | None]]:
    return [(e.action, e.actor_name, e.to_value, e.note) for e in cases.get(desk, case_id).events
            if e.action == "verified"]


def _audited(desk: Desk, case_id: int) -> list[dict[str, object]]:
    with desk.db.engine.connect() as conn:
        return [r.details if isinstance(r.details, dict) else json.loads(r.details) for r in
                conn.execute(sa.text("SELECT details FROM audit_event WHERE action = "
                                     "'case.verify' AND object_id = :c"), {"c": case_id})]


def test_unverified_requests_release_and_change_nothing(
    desk: Desk, person: int, tmp_path: Path
) -> None:
    access = _request(desk, person, CaseKind.ACCESS)
    correction = _request(desk, person, CaseKind.CORRECTION)
    deletion = _request(desk, person, CaseKind.DELETION)
    with pytest.raises(Forbidden, match=rf"case #{access} is not verified.*export"):
        access_export.export(desk, customer_id=person, case_id=access)
    with pytest.raises(Forbidden, match=r"not verified.*correction"):
        disclosures.correct(desk, case_id=correction, billing_address="Somewhere Else 9")
    with pytest.raises(Forbidden, match=r"not verified.*erasure"):
        erasure.erase(desk, customer_id=person, case_id=deletion)
    profile = customers.get(desk, person)
    assert profile.name == "Rosa Márquez" and profile.billing_address == "Calle Mayor 1, Madrid"
    assert profile.erased_at is None


def test_the_cli_refuses_in_one_line_with_what_to_do(
    desk: Desk, person: int, cli: Run, tmp_path: Path
) -> None:
    access = _request(desk, person, CaseKind.ACCESS)
    out = tmp_path / "export.txt"
    code, _, err = cli("export", str(person), "--out", str(out))
    assert code == 4 and err.count("\n") == 1
    assert f"helpdesk case verify {access} --method" in err
    assert not out.exists()
    code, out_text, _ = cli("case", "show", str(access))
    assert code == 0 and "verified:  no" in out_text
    code, _, err = cli("case", "verify", str(access), "--method", "phone_callback",
                       "--note", "called the number on file")
    assert code == 0, err
    assert cli("export", str(person), "--out", str(out))[0] == 0 and out.exists()


def test_attested_methods_are_recorded_with_who_and_when(
    desk: Desk, person: int, clock: FakeClock
) -> None:
    agents.add(desk, name="bob")
    deletion = _request(desk, person, CaseKind.DELETION)
    clock.advance(hours=2)
    state = verification.verify(desk.as_agent("bob"), case_id=deletion,
                                method="identity_document", note="passport seen at the counter")
    assert state.verified and state.verified_by == "bob" and state.verified_at == clock.now
    assert _history(desk, deletion) == [
        ("verified", "bob", "identity_document", "passport seen at the counter")]
    assert _audited(desk, deletion) == [{"method": "identity_document", "message_id": None}]
    # verifying again changes nothing
    verification.verify(desk, case_id=deletion, method="postal_letter")
    assert len(_history(desk, deletion)) == 1
    assert erasure.erase(desk, customer_id=person, case_id=deletion).status in {
        "complete", "partial"}


def test_the_code_in_the_acknowledgement_verifies_only_from_an_address_on_file(
    desk: Desk, person: int, clock: FakeClock
) -> None:
    access = _request(desk, person, CaseKind.ACCESS)
    ack = replies.preview(desk, case_id=access, template="acknowledgement")
    code = cases.get(desk, access).verification
    assert code is not None and code.code_sent and not code.verified
    with desk.db.session() as s:
        raw = s.exec(sa.select(sa.text("code")).select_from(sa.text("request_verification"))
                     ).scalar_one()
    shown = f"{raw[:4]}-{raw[4:]}"
    assert shown in ack.body and "reply to this message from the e-mail address" in ack.body
    assert "${" not in ack.body
    # a question's acknowledgement asks for nothing
    question = _request(desk, person, CaseKind.QUESTION)
    assert "code" not in replies.preview(desk, case_id=question,
                                         template="acknowledgement").body
    # the code from another address (a forwarded acknowledgement, an impostor) proves nothing
    clock.advance(hours=1)
    other = _letter(desk, access, "rosa.m@freemail.example", f"here is the code {shown}")
    with desk.db.session(write=True) as s:
        actor = desk.actor(s)
        assert not verification.check_reply(s, desk, access, other, actor)
    # nor does the address on file without the code
    bare = _letter(desk, access, ALICE_MAIL, "yes it is me, please hurry")
    with desk.db.session(write=True) as s:
        assert not verification.check_reply(s, desk, access, bare, desk.actor(s))
    with pytest.raises(Invalid, match="never verifies by itself"):
        verification.verify(desk, case_id=access, method="email_code")
    # an address added to the profile after the request came in is not "on file"
    customers.add_email(desk, customer_id=person, address="rosa.m@freemail.example")
    with desk.db.session(write=True) as s:
        assert not verification.check_reply(s, desk, access, other, desk.actor(s))
    # the reply from the address on file with the code (spaced, lower case) verifies
    good = _letter(desk, access, ALICE_MAIL.upper(),
                   f"> please confirm\nCode: {shown.lower().replace('-', ' ')}\nRosa")
    with desk.db.session(write=True) as s:
        assert verification.check_reply(s, desk, access, good, desk.actor(s))
    state = cases.get(desk, access).verification
    assert state is not None and state.verified and state.method == "email_code"
    assert _audited(desk, access) == [{"method": "email_code", "message_id": good}]
    assert access_export.export(desk, customer_id=person).customer_id == person


def test_email_code_recorded_by_hand_is_checked_against_the_thread(
    desk: Desk, person: int, clock: FakeClock
) -> None:
    correction = _request(desk, person, CaseKind.CORRECTION)
    replies.preview(desk, case_id=correction, template="acknowledgement")
    with desk.db.engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT code FROM request_verification")).scalar_one()
    clock.advance(hours=5)
    _letter(desk, correction, ALICE_MAIL, f"The code is {raw}. Please fix my street.")
    state = verification.verify(desk, case_id=correction, method="email_code")
    assert state.verified
    result = disclosures.correct(desk, case_id=correction, billing_address="Calle Menor 2")
    assert result.fields == ("billing_address",)


def test_only_a_supervisor_overrides_and_only_with_a_reason(desk: Desk, person: int) -> None:
    agents.add(desk, name="bob")
    deletion = _request(desk, person, CaseKind.DELETION)
    with pytest.raises(Forbidden):
        verification.verify(desk.as_agent("bob"), case_id=deletion, method="override",
                            note="trust me")
    with pytest.raises(Invalid, match="reason"):
        verification.verify(desk, case_id=deletion, method="override")
    state = verification.verify(desk, case_id=deletion, method="override",
                                note="court order 2026/114 names the person")
    assert state.verified and state.method == "supervisor_override"
    assert _history(desk, deletion) == [("verified", "alice", "supervisor_override",
                                         "court order 2026/114 names the person")]
    assert _audited(desk, deletion) == [{"method": "supervisor_override", "message_id": None}]


def test_requests_must_be_of_the_right_kind(desk: Desk, person: int) -> None:
    question = _request(desk, person, CaseKind.QUESTION)
    with pytest.raises(Invalid, match="only access, correction and deletion"):
        verification.verify(desk, case_id=question, method="identity_document")
    with pytest.raises(Invalid, match="deletion request"):
        erasure.erase(desk, customer_id=person, case_id=question)
    with pytest.raises(Invalid, match="not an access request"):
        access_export.export(desk, customer_id=person, case_id=question)
    with pytest.raises(Invalid, match="correction request"):
        disclosures.correct(desk, case_id=question, phone="+34 600 000 000")
    with pytest.raises(Invalid, match="no open access requests"):
        access_export.export(desk, customer_id=person)


def test_a_reply_imported_from_the_mailbox_verifies_only_from_the_address_on_file(
    desk: Desk, person: int, tmp_path: Path
) -> None:
    """The mail as it arrives: the acknowledgement goes out, an impostor who got hold of it
    (a forward, a shared mailbox) answers with the code from their own address, threaded by
    its References; then the person answers from the address on file. Only the second
    verifies, and the import records it like a verification by hand."""
    access = _request(desk, person, CaseKind.ACCESS)
    ack = replies.write(desk, case_id=access, template="acknowledgement")
    code = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", ack.draft.body)
    assert code is not None
    thread = f"In-Reply-To: {ack.message_id}\nReferences: {ack.message_id}"
    impostor = mail(frm="Rosa M <rosa.m@freemail.example>", subject=f"Re: {ack.draft.subject}",
                    body=f"It is me, here is the code: {code.group()}", msgid="<imp@free>",
                    date="Mon, 16 Mar 2026 10:00:00 +0000", extra=thread)
    intake.import_paths(desk, paths=[write_mbox(tmp_path / "one", [impostor])])
    detail = cases.get(desk, access)
    assert [m.from_address for m in detail.messages][-1] == "rosa.m@freemail.example"
    assert detail.verification is not None and not detail.verification.verified
    with pytest.raises(Forbidden, match="not verified"):
        access_export.export(desk, customer_id=person, case_id=access)

    genuine = mail(frm=f"Rosa Márquez <{ALICE_MAIL}>", subject=f"Re: {ack.draft.subject}",
                   body=f"> {code.group()}\nYes, that was me. Code {code.group().lower()}",
                   msgid="<real@example.org>", date="Mon, 16 Mar 2026 11:00:00 +0000",
                   extra=thread)
    intake.import_paths(desk, paths=[write_mbox(tmp_path / "two", [genuine])])
    detail = cases.get(desk, access)
    letter = detail.messages[-1]
    assert letter.from_address == ALICE_MAIL
    assert detail.verification is not None and detail.verification.verified
    assert detail.verification.method == "email_code"
    assert _history(desk, access) == [("verified", "alice", "email_code", None)]
    assert _audited(desk, access) == [{"method": "email_code", "message_id": letter.id}]
    assert access_export.export(desk, customer_id=person, case_id=access).customer_id == person
