"""Parsing messy mail, machine-mail detection, classification and mail sources (no database)."""

from __future__ import annotations

import email
import mailbox
from email import policy
from pathlib import Path

import pytest

from helpdesk.domain import CaseKind
from helpdesk.intake import parse as parse_mod
from helpdesk.intake.classify import UNKNOWN, classify, sentences
from helpdesk.intake.parse import Unreadable, content_hash, parse
from helpdesk.intake.sources import discover, read
from tests.intake_mail import mail, write_maildir, write_mbox


def test_plain_message_fields() -> None:
    m = parse(mail(extra="In-Reply-To: <a@x>\nReferences: <r0@x> <a@x>"))
    assert m.message_id == "<m1@example.com>"
    assert m.sender == "ann@example.com" and m.sender_key == "ann@example.com"
    assert m.sender_name == "Ann Example"
    assert m.subject == "Hello"
    assert m.references == ("<r0@x>", "<a@x>") and m.in_reply_to == "<a@x>"
    assert m.date is not None and m.date.isoformat() == "2026-03-09T10:00:00+00:00"
    assert "delete my data" in m.body
    assert m.machine is None


def test_encoded_word_headers_are_decoded() -> None:
    m = parse(mail(frm="=?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <JUERGEN@Example.COM>",
                   subject="=?iso-8859-1?q?L=F6schung_meiner_Daten?="))
    assert m.sender_name == "Jürgen Müller"
    assert m.subject == "Löschung meiner Daten"
    assert m.sender_key == "juergen@example.com"


def test_unknown_charset_is_read_as_utf8_then_latin1_and_kept_raw() -> None:
    raw = mail(content_type="text/plain; charset=x-klingon", body="").replace(
        b"\n\n\n", b"\n\nabc \xff\xfe caf\xc3\xa9 def\n")
    m = parse(raw)
    assert m.body == "abc \xff\xfe café def" and "\ufffd" not in m.body
    assert any("'x-klingon' is not a character set" in n for n in m.notes)
    (kept,) = m.attachments
    assert kept.content == b"abc \xff\xfe caf\xc3\xa9 def\n"


def test_unknown_charset_in_encoded_word() -> None:
    m = parse(mail(subject="=?x-unknown-cs?q?Hallo_Welt?="))
    assert m.subject is not None and "Hallo" in m.subject


def test_html_only_message_gives_readable_text() -> None:
    html = ("<html><head><style>p {color: red}</style><script>alert(1)</script></head><body>"
            "<p>Please <b>delete</b> my data</p><div>Thanks &amp; regards</div></body></html>")
    m = parse(mail(content_type="text/html; charset=utf-8", body=html))
    assert "Please delete my data" in m.body
    assert "Thanks & regards" in m.body
    assert "alert" not in m.body and "color" not in m.body and "<" not in m.body
    assert any("HTML-only" in n for n in m.notes)


def test_attachments_keep_metadata_and_capped_content(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_mod, "ATTACHMENT_CAP", 10)
    raw = (
        b"From: ann@example.com\nSubject: scan\nMessage-ID: <att@x>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="B"\n\n'
        b"--B\nContent-Type: text/plain; charset=utf-8\n\nSee the attached ID.\n"
        b"--B\nContent-Type: application/pdf\n"
        b'Content-Disposition: attachment; filename="=?utf-8?q?ausweis_k=C3=B6ln.pdf?="\n'
        b"Content-Transfer-Encoding: base64\n\n"
        b"JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoK\n"
        b"--B--\n"
    )
    m = parse(raw)
    assert m.body == "See the attached ID."
    (a,) = m.attachments
    assert a.filename == "ausweis köln.pdf" and a.content_type == "application/pdf"
    assert a.size == 48 and len(a.content) == 10 and a.truncated


def test_missing_headers_are_survivable() -> None:
    m = parse(mail(frm=None, subject=None, msgid=None, date=None))
    assert m.sender is None and m.subject is None and m.message_id is None and m.date is None
    assert {"no From header", "no Date header"} <= set(m.notes)


def test_duplicate_headers_use_the_first_and_say_so() -> None:
    m = parse(mail(extra="From: other@example.com\nSubject: second"))
    assert m.sender == "ann@example.com" and m.subject == "Hello"
    assert "2 From headers; the first was used" in m.notes


def test_broken_mime_reads_what_it_can() -> None:
    no_boundary = mail(content_type="multipart/mixed", body="I want a copy of my data")
    m = parse(no_boundary)
    assert "copy of my data" in m.body
    unclosed = (
        b"From: ann@example.com\nMessage-ID: <u@x>\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="XYZ"\n\n'
        b"--XYZ\nContent-Type: text/plain\n\nPlease correct my address\n"
    )
    m = parse(unclosed)
    assert "correct my address" in m.body
    assert any("MIME defect" in n for n in m.notes)


def test_headers_that_make_the_stdlib_raise() -> None:
    raw = mail(extra='Cc: "\\"" <').replace(b"Message-ID: <m1@example.com>",
                                            b"Message-ID: <[>")
    stdlib = email.message_from_bytes(raw, policy=policy.default)
    with pytest.raises(IndexError):
        str(stdlib["Cc"])
    with pytest.raises(IndexError):
        str(stdlib["Message-ID"])
    m = parse(raw)
    assert m.message_id == "<[>"
    assert m.sender_key == "ann@example.com"


def test_bad_date_and_bad_sender_are_notes_not_crashes() -> None:
    m = parse(mail(frm="not an address", date="Mon, 99 Foo 20245 99:99:99 +9999"))
    assert m.date is None and m.sender_key is None
    assert "unreadable Date header" in m.notes


def test_control_characters_never_survive() -> None:
    m = parse(mail(subject="hi\x1b[31mred\x07", body="a\x00b\x1b[2Jc\r\nd"))
    assert m.subject == "hi [31mred"
    assert "\x1b" not in m.body and "\x00" not in m.body and m.body == "ab [2Jc\nd"


def test_huge_message_is_unreadable_unless_lenient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_mod, "MAX_MESSAGE_BYTES", 1000)
    monkeypatch.setattr(parse_mod, "MAX_BODY_CHARS", 500)
    raw = mail(body="x" * 5000)
    with pytest.raises(Unreadable, match="over the"):
        parse(raw)
    m = parse(raw, lenient=True)
    assert len(m.body) == 500
    assert any("truncated" in n for n in m.notes)


def test_garbage_is_unreadable() -> None:
    with pytest.raises(Unreadable, match="does not look like an e-mail"):
        parse(b"\x89PNG\r\n\x1a\n\x00\x00binary")


def test_content_hash_ignores_line_endings() -> None:
    raw = mail()
    assert content_hash(raw) == content_hash(raw.replace(b"\n", b"\r\n"))
    assert content_hash(raw) != content_hash(raw + b"x")


@pytest.mark.parametrize(("extra", "frm", "content_type", "why"), [
    ("Auto-Submitted: auto-replied", None, None, "Auto-Submitted"),
    ("X-Autoreply: yes", None, None, "X-Autoreply"),
    ("Precedence: bulk", None, None, "Precedence: bulk"),
    ("Precedence: auto_reply", None, None, "Precedence: auto_reply"),
    ("", "MAILER-DAEMON@mx.example.com", None, "mailer-daemon"),
    ("", None, 'multipart/report; report-type=delivery-status; boundary="b"', "report"),
])
def test_machine_mail_is_recognised(extra: str, frm: str | None, content_type: str | None,
                                    why: str) -> None:
    kw: dict[str, str] = {"extra": extra}
    if frm:
        kw["frm"] = frm
    if content_type:
        kw["content_type"] = content_type
    m = parse(mail(**kw))
    assert m.machine is not None and why.lower() in m.machine.lower()


def test_person_mail_is_not_machine_mail() -> None:
    assert parse(mail(extra="Auto-Submitted: no\nPrecedence: normal")).machine is None
    assert parse(mail(subject="About your automatic reply: it is wrong")).machine is None


@pytest.mark.parametrize("subject", [
    "Automatic reply: Your request", "Abwesenheitsnotiz: AW: Anfrage",
    "=?utf-8?q?R=C3=A9ponse_automatique?= : Votre demande", "Respuesta automática: Re: Datos",
    "Risposta automatica: Richiesta", "Automatisch antwoord: Uw verzoek",
])
def test_auto_replies_without_headers_are_known_by_their_subject(subject: str) -> None:
    assert parse(mail(subject=subject)).machine == "auto-reply subject"


@pytest.mark.parametrize(("subject", "body", "kind", "language"), [
    ("Delete", "Please delete my data, thank you for your help.", CaseKind.DELETION, "en"),
    ("Löschung", "Bitte löschen Sie mein Konto und meine Daten. Ich danke Ihnen.",
     CaseKind.DELETION, "de"),
    ("Newsletter", "Je ne veux plus recevoir vos mails, merci de me désabonner.",
     CaseKind.MARKETING_OPT_OUT, "fr"),
    ("Datos", "Quiero una copia de mis datos, por favor. Gracias por su ayuda.",
     CaseKind.ACCESS, "es"),
    ("Indirizzo", "Il mio indirizzo è errato, vi chiedo di correggere i dati. Grazie",
     CaseKind.CORRECTION, "it"),
    ("Bezwaar", "Ik maak bezwaar tegen het gebruik van mijn gegevens voor profilering.",
     CaseKind.OBJECTION, "nl"),
    ("Complaint", "You sold my data to another company and I want this stopped.",
     CaseKind.DISPUTE, "en"),
    ("Account", "My son is 11 and has an account with you, please help me with this.",
     CaseKind.UNDER_13, "en"),
    ("Hours", "What are your opening hours on Sunday? Thank you for the help.",
     CaseKind.QUESTION, "en"),
])
def test_classification_per_language(subject: str, body: str, kind: CaseKind,
                                     language: str) -> None:
    c = classify(subject, body)
    assert (c.primary, c.language) == (kind, language)
    assert kind is CaseKind.QUESTION or c.phrase


def test_several_requests_name_primary_and_others_in_the_order_asked() -> None:
    c = classify("Requests", "Please stop sending me your newsletter. Also correct my "
                             "address, and erase my data, and I withdraw consent. Thank you.")
    assert c.primary is CaseKind.DELETION
    assert c.phrase == "erase my data"
    assert c.others == (CaseKind.MARKETING_OPT_OUT, CaseKind.CORRECTION)  # as asked
    assert [r.phrase for r in c.requests][:2] == ["stop sending me your newsletter",
                                                  "correct my address"]


def test_uncovered_language_is_left_for_the_agent() -> None:
    c = classify("Pytanie", "Dzień dobry, proszę o usunięcie moich danych osobowych z bazy.")
    assert c.language == UNKNOWN and c.primary is None and c.phrase is None


def test_reminders_are_recognised_in_each_language() -> None:
    for body in ("I am still waiting for a reply to my request to delete my data.",
                 "Ich habe noch keine Antwort auf meine Anfrage erhalten, bitte.",
                 "Toujours pas de réponse à ma demande, je vous ai déjà écrit.",
                 "Sigo sin respuesta a mi solicitud de mis datos, gracias.",
                 "Sollecito: nessuna risposta alla mia richiesta sui miei dati.",
                 "Herinnering: ik heb nog geen antwoord op mijn verzoek gekregen."):
        assert classify("Re", body).reminder, body
    assert not classify("Hi", "Please delete my data, thank you for your help.").reminder


# Letters written for the mechanisms below (the corpus in tests/letters measures the whole).

@pytest.mark.parametrize(("body", "kind"), [
    ("Please erase every record you keep on me. Should you ignore this, I will take the matter "
     "to the Information Commissioner and to court.", CaseKind.DELETION),
    ("Ich verlange eine Kopie meiner gespeicherten Daten. Andernfalls reiche ich Beschwerde "
     "bei der Datenschutzbehörde ein.", CaseKind.ACCESS),
    ("Merci de rectifier mon nom de famille. À défaut, je saisirai la CNIL.",
     CaseKind.CORRECTION),
    ("Les pido que supriman todos mis datos personales; si no, acudiré a la AEPD.",
     CaseKind.DELETION),
    ("Vi chiedo la cancellazione dei miei dati, altrimenti farò reclamo al Garante.",
     CaseKind.DELETION),
    ("Ik maak bezwaar tegen het profileren van mijn gegevens, anders klacht bij de Autoriteit "
     "Persoonsgegevens.", CaseKind.OBJECTION),
])
def test_a_threat_to_complain_elsewhere_is_not_a_dispute(body: str, kind: CaseKind) -> None:
    c = classify("Request", body)
    assert c.primary is kind and CaseKind.DISPUTE not in c.others


def test_a_complaint_about_our_handling_is_a_dispute() -> None:
    c = classify("Your reply", "You passed on my address to a debt collector although I paid. "
                 "I am making a formal complaint about how this was handled.")
    assert c.primary is CaseKind.DISPUTE
    assert classify("Q", "Do you ever sell customer data? Not a complaint, just asking."
                    ).primary is CaseKind.QUESTION


def test_side_remarks_and_negations_ask_nothing() -> None:
    withdrawal = classify("Erasure", "Please erase my personal data. I also withdraw any "
                          "consent I gave.")
    assert (withdrawal.primary, withdrawal.others) == (CaseKind.DELETION, ())
    alone = classify("Consent", "I withdraw my consent to the processing of my data.")
    assert alone.primary is CaseKind.OBJECTION
    for body in ("I'm thinking about closing my account, how long do you keep backups?",
                 "Bitte löschen Sie NICHTS, ich habe nur eine Frage zur Speicherdauer.",
                 "Non cancellate niente per ora, vorrei solo capire come funziona."):
        assert classify("Question", body).primary is CaseKind.QUESTION, body


@pytest.mark.parametrize(("body", "kind"), [
    ("Please do not share my data with anyone.", CaseKind.OBJECTION),
    ("I do not want you to sell my details.", CaseKind.OBJECTION),
    ("Ich möchte nicht, dass meine Daten an Dritte weitergegeben werden.", CaseKind.OBJECTION),
    ("Ne transmettez plus mes coordonnées à vos partenaires.", CaseKind.OBJECTION),
    ("No cedan mis datos a ninguna otra empresa.", CaseKind.OBJECTION),
    ("Non cedete più i miei dati a terzi.", CaseKind.OBJECTION),
    ("Ik wil niet dat u mijn gegevens doorgeeft aan uw partners.", CaseKind.OBJECTION),
    ("Mijn adres klopt niet, het is Kerkstraat 12.", CaseKind.CORRECTION),
    ("Meine Telefonnummer stimmt nicht, richtig ist 030 1234567.", CaseKind.CORRECTION),
    # a negation that is no request, and one about something else
    ("Is it true that you do not sell my data?", CaseKind.QUESTION),
    ("Stimmt es, dass Sie meine Daten nicht an Dritte weitergeben?", CaseKind.QUESTION),
    ("Please don't use my old address any more, my new address is 4 Mill Lane, Leeds.",
     CaseKind.CORRECTION),
])
def test_a_request_said_with_a_negation_is_still_a_request(body: str, kind: CaseKind) -> None:
    assert classify("Hello", body).primary is kind


@pytest.mark.parametrize(("body", "kind"), [
    ("I have not received a reply to my request to delete my data.", CaseKind.DELETION),
    ("Ich habe keine Antwort auf meinen Antrag auf Löschung erhalten.", CaseKind.DELETION),
    ("Je n'ai toujours pas reçu de réponse à ma demande d'accès du 4 février.", CaseKind.ACCESS),
    ("Non ho ricevuto risposta alla mia richiesta di cancellazione dei miei dati.",
     CaseKind.DELETION),
    ("Ik heb geen reactie ontvangen op mijn verzoek om inzage.", CaseKind.ACCESS),
])
def test_no_answer_to_a_request_does_not_cancel_it(body: str, kind: CaseKind) -> None:
    reading = classify("Hello", body)
    assert (reading.primary, reading.reminder) == (kind, True)


@pytest.mark.parametrize(("body", "kind", "reminder"), [
    ("Under GDPR I'd like a full export of everything you store about me, including call "
     "recordings.", CaseKind.ACCESS, False),
    ("Can you remove me from your system completely?", CaseKind.DELETION, False),
    ("I don't consent to you tracking me across other websites, please turn it off for my "
     "account.", CaseKind.OBJECTION, False),
    ("I got married, my surname is now Patel. Please change it on my account.",
     CaseKind.CORRECTION, False),
    ("Ich möchte wissen, welche Informationen Sie über mich haben.", CaseKind.ACCESS, False),
    ("Ich möchte mein Konto kündigen und dass alles gelöscht wird.", CaseKind.DELETION, False),
    ("Ich habe geheiratet und heiße jetzt Meier. Bitte passen Sie meinen Namen an.",
     CaseKind.CORRECTION, False),
    ("Bitte keine SMS-Werbung mehr an meine Nummer.", CaseKind.MARKETING_OPT_OUT, False),
    ("Je veux que vous effaciez tout ce qui me concerne.", CaseKind.DELETION, False),
    ("J'aimerais savoir quelles données vous conservez à mon sujet.", CaseKind.ACCESS, False),
    ("Por favor, borren todo lo que tengan sobre mí.", CaseKind.DELETION, False),
    ("¿Me pueden enviar un archivo con todos mis datos?", CaseKind.ACCESS, False),
    ("Vorrei che eliminaste tutti i dati che mi riguardano.", CaseKind.DELETION, False),
    ("Mi potete mandare un file con tutti i miei dati?", CaseKind.ACCESS, False),
    ("Kunnen jullie alles wat jullie over mij hebben wissen?", CaseKind.DELETION, False),
    ("Kan ik een kopie krijgen van alles wat jullie over mij hebben?", CaseKind.ACCESS, False),
    ("Just following up on my deletion request from last month, has it been done?",
     CaseKind.DELETION, True),
    ("It has now been 35 days since my subject access request. You are in breach of the "
     "one-month deadline.", CaseKind.ACCESS, True),
    # plain questions stay questions
    ("Is everything you store about me encrypted?", CaseKind.QUESTION, False),
    ("Quelles données conservez-vous après la fermeture d'un compte ?", CaseKind.QUESTION, False),
    ("The link in your newsletter is broken, please change it.", CaseKind.QUESTION, False),
    ("How do I sign up for your newsletter?", CaseKind.QUESTION, False),
])
def test_plain_words_ask_as_plainly_as_formal_letters(
    body: str, kind: CaseKind, reminder: bool
) -> None:
    """Letters written after the rules, the way people write when they are not quoting law."""
    reading = classify("Hello", body)
    assert (reading.primary, reading.reminder) == (kind, reminder)


def test_a_sentence_ends_at_the_end_of_its_line() -> None:
    text = ("chiedo la cancellazione dei miei dati personali.\nin mancanza di riscontro "
            "proporro reclamo al garante.\nich schrieb ihnen am 12.\nmarz wegen der loschung.")
    assert [s for _, s in sentences(text)] == [
        "chiedo la cancellazione dei miei dati personali.",
        "in mancanza di riscontro proporro reclamo al garante.",
        "ich schrieb ihnen am 12. marz wegen der loschung."]
    letter = ("Buongiorno,\nai sensi dell'art. 17 GDPR chiedo la cancellazione dei miei dati.\n"
              "In mancanza di riscontro entro 30 giorni proporrò reclamo al Garante.\n")
    assert classify("Istanza", letter).primary is CaseKind.DELETION

def test_a_forward_or_reminder_takes_its_kind_from_the_letter_it_carries() -> None:
    body = ("Ik heb nog steeds geen antwoord op onderstaande mail.\n\n"
            "-------- Doorgestuurd bericht --------\nOnderwerp: verzoek\n\n"
            "Verwijder alstublieft mijn account en al mijn gegevens.")
    c = classify("Fwd: verzoek", body)
    assert (c.primary, c.reminder) == (CaseKind.DELETION, True)
    newsletter = ("Please take me off this list.\n\n---------- Forwarded message ---------\n"
                  "From: news@shop.example\n\nTo delete your account, visit your privacy page.")
    assert classify("Fwd: Offers", newsletter).primary is CaseKind.MARKETING_OPT_OUT


def test_a_reminder_names_the_dates_of_the_letter_it_chases() -> None:
    from datetime import date

    c = classify("Chasing", "I wrote on 3/9 and again on 14 October. Please reply by 30 "
                 "November.", received=date(2024, 11, 2))
    assert c.reminder and c.mentions == (date(2024, 9, 3), date(2024, 10, 14))
    c = classify("Recordatorio", "Os escribí el 2 de septiembre y sigo sin respuesta.",
                 received=date(2025, 1, 10))
    assert c.mentions == (date(2024, 9, 2),)


def test_quoted_text_does_not_classify_a_reply() -> None:
    body = ("Thanks, that is fine with me.\n\nOn Mon, 9 Mar 2026, Desk wrote:\n"
            "> We can delete your data or send you a copy of your data.")
    assert classify("Re: your request", body).primary is CaseKind.QUESTION


def test_sources_eml_mbox_maildir(tmp_path: Path) -> None:
    (tmp_path / "one.eml").write_bytes(mail(msgid="<e@x>"))
    box = write_mbox(tmp_path / "box", [mail(msgid="<b1@x>"), mail(msgid="<b2@x>",
                                                                 body="From here on\nok")])
    write_maildir(tmp_path / "Maildir", [mail(msgid="<d1@x>")])
    (tmp_path / "notes.txt").write_text("not mail")
    found = discover([tmp_path])
    assert sorted(s.kind for s in found) == ["eml", "maildir", "mbox"]
    raws = [r for s in found for r in read(s)]
    assert len(raws) == 4
    stdlib = [m.as_bytes() for m in mailbox.mbox(box)]
    ours = list(read(next(s for s in found if s.kind == "mbox")))
    assert len(stdlib) == len(ours) == 2
    assert [r.source for r in ours] == [f"{box}#1", f"{box}#2"]
    assert b">From here on" in ours[1].raw


def test_missing_path_is_invalid(tmp_path: Path) -> None:
    from helpdesk.errors import Invalid

    with pytest.raises(Invalid, match="does not exist"):
        discover([tmp_path / "nope"])


NOT_CHARSETS = ("rot13", "base64", "zlib", "hex", "uu", "idna", "punycode", "bz2")


@pytest.mark.parametrize("label", NOT_CHARSETS)
def test_a_codec_that_is_no_character_set_reads_the_text_leniently(label: str) -> None:
    body = "Bitte löschen Sie meine Daten."
    m = parse(mail(content_type=f"text/plain; charset={label}", body=body,
                   subject=f"=?{label}?q?L=C3=B6schung?=",
                   frm=f"=?{label}?b?SsO8cmdlbg==?= <j@example.com>"))
    assert m.body == body and m.subject == "Löschung" and m.sender_name == "Jürgen"
    assert any(f"'{label}' is not a character set" in n for n in m.notes)
    (kept,) = m.attachments  # the raw bytes, for anyone who knows better
    assert kept.content == (body + "\n").encode()


def test_raw_8bit_headers_are_read_as_utf8_or_latin1_never_replaced() -> None:
    for encoding in ("utf-8", "latin-1"):
        raw = mail(frm="Jürgen Müller <j@example.com>", subject="Löschung meiner Daten",
                   body="x").replace(b"\xc3\xbc", "ü".encode(encoding)).replace(
            b"\xc3\xb6", "ö".encode(encoding))
        m = parse(raw)
        assert (m.sender_name, m.subject) == ("Jürgen Müller", "Löschung meiner Daten")
    # a byte no Latin-1 reading defines stays visible, escaped; UTF-8 and Latin-1 mixed
    m = parse(mail(subject="x").replace(b"Subject: x", b"Subject: caf\xc3\xa9 \xe9t\xe9 \x81"))
    assert m.subject == "café été \\x81"
    # raw 8-bit text beside an encoded word
    m = parse(mail(subject="x").replace(b"Subject: x",
                                        b"Subject: R\xe9f. =?utf-8?q?L=C3=B6schung?= ok"))
    assert m.subject == "Réf. Löschung ok"


def test_adjacent_encoded_words_join_and_folds_unfold() -> None:
    m = parse(mail(subject="=?utf-8?q?L=C3=B6?=\n =?utf-8?b?c2NodW5n?= meiner\n Daten"))
    assert m.subject == "Löschung meiner Daten"


def test_an_impossible_date_is_no_date_and_says_so() -> None:
    m = parse(mail(date="Fri, 31 Dec 9999 23:59:59 -1400"))
    assert m.date is None and "unreadable Date header" in m.notes
    assert "delete my data" in m.body


def _nested(depth: int, container: str) -> bytes:
    inner = b"From: z@example.com\nSubject: innermost\n\nINNERMOST TEXT\n"
    for i in range(depth):
        if container == "message":
            inner = (b"From: f%d@example.com\nSubject: fwd\nContent-Type: message/rfc822\n\n"
                     % i) + inner
        else:
            b = b"b%d" % i
            inner = (b"Content-Type: multipart/mixed; boundary=" + b + b"\n\n--" + b + b"\n"
                     + inner + b"\n--" + b + b"--\n")
    return (b"From: ann@example.com\nSubject: outer\nMessage-ID: <o@x>\nMIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=OUT\n\n--OUT\nContent-Type: text/plain\n\n"
            b"Please delete my data.\n--OUT\nContent-Type: message/rfc822\n\n" + inner
            + b"\n--OUT--\n")


@pytest.mark.parametrize("container", ["message", "multipart"])
def test_deep_nesting_is_one_opaque_attachment_and_the_letter_is_read(container: str) -> None:
    raw = _nested(500, container)
    m = parse(raw)
    assert m.body == "Please delete my data." and "INNERMOST" not in m.body
    (forwarded,) = m.attachments
    assert forwarded.content_type == "message/rfc822"
    assert b"INNERMOST TEXT" in forwarded.content  # kept whole, as written


def test_multipart_deeper_than_the_limit_is_kept_as_an_attachment() -> None:
    inner = b"Content-Type: text/plain\n\nPlease correct my address.\n"
    for i in range(parse_mod.MAX_MIME_DEPTH + 5):
        b = b"d%d" % i
        inner = (b"Content-Type: multipart/mixed; boundary=" + b + b"\n\n--" + b + b"\n"
                 + inner + b"\n--" + b + b"--\n")
    m = parse(b"From: ann@example.com\nSubject: deep\n" + inner)
    assert m.body == ""
    (deep,) = m.attachments
    assert deep.content_type == "multipart/mixed" and b"correct my address" in deep.content
    assert any("nested over" in n for n in m.notes)


@pytest.mark.parametrize("shape", ["text", "attachment", "many attachments"])
def test_reading_a_huge_letter_costs_a_small_multiple_of_its_size(
    monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    """Peak memory of a lenient read stays under 2.5 times the letter (the 50 MB letter of
    ``python -m bench import`` measures the same on the whole re-process command)."""
    import base64
    import os
    import tracemalloc

    monkeypatch.setattr(parse_mod, "MAX_MESSAGE_BYTES", 1024 * 1024)
    size = 6 * 1024 * 1024
    head = (b"From: ann@example.com\nSubject: big\nMessage-ID: <big@x>\nMIME-Version: 1.0\n")
    if shape == "text":
        line = "Bitte löschen Sie meine Daten, dies ist ein langer Brief.\n".encode()
        raw = head + b"Content-Type: text/plain; charset=utf-8\n\n" + line * (size // len(line))
    else:
        count = 1 if shape == "attachment" else 12
        data = base64.encodebytes(os.urandom(size * 3 // 4 // count))
        part = (b"--B\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n"
                + data)
        raw = (head + b"Content-Type: multipart/mixed; boundary=B\n\n--B\n"
               b"Content-Type: text/plain\n\nPlease delete my data.\n" + part * count
               + b"--B--\n")
    tracemalloc.start()
    try:
        m = parse(raw, lenient=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "delete" in m.body or "löschen" in m.body
    assert any("over-size" in n for n in m.notes)
    assert peak < 2.5 * len(raw), f"{peak / len(raw):.2f} times the letter"


@pytest.mark.parametrize("ch", list(".!?;: \t\n>-_=*()\u00a0\u2019"))
def test_long_runs_of_one_character_are_read_in_one_pass(ch: str) -> None:
    """Hostile letters: 10,000 dots, spaces or brackets. Every pattern is linear on them (a
    pattern that retried each position of a run took 15 seconds on these dots)."""
    for body in (ch * 10_000, (ch + " ") * 5_000, ("a" + ch) * 5_000):
        c = classify(ch * 300, body)
        assert c.primary in (CaseKind.QUESTION, None)
