"""Read what a letter asks the company to do, in English, German, French, Spanish, Italian or
Dutch, and whether it chases an earlier request.

Real request letters are not keyword soup. A formal deletion letter cites articles, withdraws
consent in passing and ends by threatening the supervisory authority; a reply quotes our own
mail, which names every right there is; a forward carries a newsletter full of "delete your
account" links. So the letter is read in steps:

1. **The writer's own words** (:func:`letter_parts`): quoted mail (``>`` lines, "On ... wrote",
   Outlook header blocks), forwarded messages, signatures, closing formulas and disclaimers are
   set apart; identification blocks ("Name: ...", "Customer no.: ...") are dropped.
2. **Sentences, threats discounted**: a sentence that names a supervisory authority, a court or
   a lawyer is a threat about the future, not a request; its conditional part is dropped and
   what comes before the threat is kept.
3. **Operative requests** (:data:`REQUESTS`): each pattern is shaped as a request in that
   language (an imperative, "I ask/want/request ...", "could you ...", a first-person
   objection), never a bare keyword; a request negated just before its verb ("please do NOT
   delete", "non cancellate niente") does not count. Requests are listed in the order the
   letter makes them; the primary is the most demanding (:data:`PRIORITY`). A consent
   withdrawal counts only when nothing else is asked (or as a marketing opt-out when it is
   about marketing); a parent writing about a child under 13 makes an under-13 case that
   covers deleting and no marketing.
4. **Disputes** (policy Part VI) are complaints about the company's own handling: "you sold /
   passed on / leaked my data", "you ignored my opt-out", "I complain about how my request was
   handled". A threat to complain to an authority is not one.
5. **Reminders**: "second request", "I wrote to you on 3 September and have had no answer",
   in six languages, with the dates the letter names (day first, as Europe and the UK write
   them), so the importer can link the reminder to the request it chases. A complaint about
   handling is a dispute, not a reminder.

Where the writer's own words ask nothing but the letter chases, forwards or answers an earlier
one, the kind comes from the subject, then from the quoted or forwarded letter (a reminder that
forwards the original, a reseller passing a customer's request on).

When the rules cannot tell, the result says so (``needs_person``) and names the candidate
kinds: a language the desk does not read, or a dispute that also mentions a 30-day right without
plainly asking for it. The importer then gives the shortest of the candidates' clocks.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache, lru_cache
from typing import Any

from helpdesk.domain import CaseKind

LANGUAGES = ("en", "de", "fr", "es", "it", "nl")
UNKNOWN = "unknown"
TEXT_LIMIT = 20_000  # characters of a letter worth reading for rules

#: Most demanding first: a parent writing about a child's data outranks everything, a complaint
#: outranks the requests it complains about, and erasure outranks what it makes moot.
PRIORITY: tuple[CaseKind, ...] = (
    CaseKind.UNDER_13,
    CaseKind.DISPUTE,
    CaseKind.DELETION,
    CaseKind.OBJECTION,
    CaseKind.ACCESS,
    CaseKind.CORRECTION,
    CaseKind.MARKETING_OPT_OUT,
    CaseKind.POSTING_REMOVAL,
)
#: Kinds with the policy's 30-day clock that a complaint may carry without asking plainly.
THIRTY_DAY = (CaseKind.DELETION, CaseKind.OBJECTION, CaseKind.ACCESS, CaseKind.CORRECTION)

# --- text helpers ---------------------------------------------------------------------------------

_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00b4": "'", "`": "'", "\u201c": '"',
                         "\u201d": '"', "\u00ab": '"', "\u00bb": '"', "\u00a0": " ",
                         "\u2013": "-", "\u2014": "-"})


def fold(text: str) -> str:
    """Lower case without accents ("Löschung" -> "loschung"), so rules need one spelling."""
    text = text.casefold().translate(_QUOTES)
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def _any(*patterns: str) -> str:
    return "|".join(f"(?:{p})" for p in patterns)


def _phrases(*patterns: str) -> re.Pattern[str]:
    """Phrases that each start a word (the leading ``\\b`` lets the engine skip positions
    inside words at once); ``^`` marks one that must open a line."""
    return re.compile(r"\b(?:" + _any(*patterns) + ")", re.MULTILINE)


# --- the writer's own words ---------------------------------------------------------------------

#: "On <date>, <someone> wrote:" and its cousins start the quoted part of a reply.
_QUOTE_INTRO = re.compile(
    r"^[ \t]*(?:on\b.{0,200}\bwrote|am\b.{0,200}\bschrieb|le\b.{0,200}\ba ecrit|"
    r"el\b.{0,200}\bescribio|il\b.{0,200}\bha scritto|op\b.{0,200}\bschreef)[ \t]*:?[ \t]*$"
    r"|^[ \t]*-{2,}[ \t]*(?:original message|ursprungliche nachricht|message d'origine|"
    r"mensaje original|messaggio originale|oorspronkelijk bericht)[ \t]*-{2,}"
    r"|^[ \t]*_{8,}[ \t]*$",
    re.MULTILINE,
)
#: An Outlook-style header block of the mail being answered or forwarded.
_HEADER_BLOCK = re.compile(
    r"^[ \t]*(?:from|von|de|da|van)[ \t]*:.*\n(?:[ \t]*\S[^\n]*\n){0,2}?"
    r"[ \t]*(?:sent|gesendet|envoye|enviado(?: el)?|inviato|verzonden|date|datum|fecha|data)"
    r"[ \t]*:",
    re.MULTILINE,
)
_FORWARD_INTRO = re.compile(
    r"^[ \t]*-{2,}[ \t]*(?:forwarded message|weitergeleitete nachricht|message transfere|"
    r"mensaje reenviado|messaggio inoltrato|doorgestuurd bericht)[ \t]*-{2,}",
    re.MULTILINE,
)
_QUOTED_LINE = re.compile(r"^[ \t]*>.*$", re.MULTILINE)
_REPLY_SUBJECT = re.compile(r"^\s*(?:(?:re|aw|antw|r|rif|sv|vs)\s*(?:\[\d+\])?\s*:\s*)+")
_FORWARD_SUBJECT = re.compile(r"^\s*(?:(?:fwd?|wg|tr|rv|i|fw|doorst|enc|inoltro)\s*:\s*)+")
_SIGNATURE = re.compile(
    r"^(?:-- ?|_{3,}|sent from my\b.*|von meinem\b.*gesendet|gesendet (?:von|mit)\b.*|"
    r"envoye (?:de|depuis) mon\b.*|enviado desde mi\b.*|inviato da\b.*|"
    r"(?:verstuurd|verzonden) (?:vanaf|met) mijn\b.*)$",
    re.MULTILINE,
)
_CLOSING = re.compile(
    r"^[ \t]*(?:(?:kind|best|warm|many)? ?(?:regards|wishes)|yours (?:faithfully|sincerely|"
    r"truly)|sincerely|thanks?(?: you)?(?: in advance)?|many thanks|cheers|"
    r"mit freundlichen grussen|mit freundlichem gruss|freundliche grusse|viele grusse|"
    r"(?:liebe |beste )?grusse?(?: aus \w+)?|danke(?: und gruss| schon)?|"
    r"vielen dank(?: im voraus)?|"
    r"cordialement|bien (?:a vous|cordialement)|salutations(?: distinguees)?|merci(?: d'avance| "
    r"beaucoup)?|bonne (?:journee|soiree)|"
    r"atentamente|un (?:cordial )?saludo|saludos(?: cordiales)?|gracias(?: y un saludo)?|"
    r"muchas gracias|besos|"
    r"cordiali saluti|distinti saluti|saluti|grazie(?: mille)?|buon lavoro|"
    r"(?:met )?vriendelijke groet(?:en)?|groet(?:jes|en)?|alvast bedankt|bedankt)"
    r"[ \t]*[,.!]*[ \t]*$",
    re.MULTILINE,
)
_DISCLAIMER = re.compile(
    r"confidential|vertraulich|confidentiel|confidencial|riservat|vertrouwelijk|"
    r"intended (?:solely|only)|uitsluitend bestemd|ausschliesslich fur|exclusivement|"
    r"aviso legal|legally privileged|geen rechten worden ontleend|destinatari|"
    r"ne e vietata|not (?:the )?intended recipient|irrtumlich|per errore|par erreur|"
    r"onterecht ontvangt|si usted no es el destinatario|ihre e-mail wird nicht weitergeleitet"
)
#: Identification lines ("Name: ...", "Kundennummer: ...") carry data, not requests.
_ID_LINE = re.compile(
    r"^[ \t]*(?:(?:full |previous |account |customer |client )?(?:name|address|e-?mail(?: "
    r"address)?(?: used with you)?|phone|tel|reference|number|no\.?|created)|"
    r"date of birth|dob|postcode|username|"
    r"name|vorname|anschrift|adresse|e-?mail|telefon|kundennummer|kd\.-nr\.?|kunden(?:konto|nr)|"
    r"geburtsdatum|benutzername|personalien|alt|neu|"
    r"nom|prenom|n° client|compte(?: client| associe)?|date de naissance|"
    r"nombre|direccion|telefono|cliente|dni|correo(?: electronico)?|"
    r"nome|indirizzo|codice (?:cliente|fiscale)(?: corretto)?|email dell'account|"
    r"naam|adres|telefoonnummer|klantnummer|geboortedatum|e-mailadres|link)"
    r"[ \t]*:[ \t]*\S.*$",
    re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class LetterParts:
    """A letter taken apart: what the writer wrote now, and what they quote or forward."""

    subject: str  # folded, without Re:/Fwd: prefixes
    own: str  # folded
    earlier: str  # folded: quoted or forwarded mail
    reply: bool
    forward: bool


def _cut_at(text: str, pattern: re.Pattern[str]) -> tuple[str, str]:
    found = pattern.search(text)
    return (text[: found.start()], text[found.start():]) if found else (text, "")


#: Abbreviations whose dot would end a sentence ("Art. 17", "z. B.", "Sig. Rossi").
_ABBREVIATION_DOT = re.compile(
    r"\b(art|artt|abs|nr|no|n°|lit|par|lett|ziff|bzw|ca|dr|mr|mrs|ms|st|sig|sig\.ra|avv|dott|"
    r"dott\.ssa|sr|sra|ggf|evtl|kd|cfr|ecc|etc|incl|ref|tel|approx|vs|u\.s|z\. ?b|d\.lgs|"
    r"e\.g|i\.e|p\.ej|reg)\.(?=\s*\S)"
)


def _normalised(text: str) -> str:
    return _ABBREVIATION_DOT.sub(lambda m: m.group(1).replace(".", ""), text)


def letter_parts(subject: str | None, body: str | None) -> LetterParts:
    text = _normalised(fold((body or "")[:TEXT_LIMIT]).replace("\r\n", "\n"))
    subj = _normalised(fold(subject or ""))
    reply = bool(_REPLY_SUBJECT.match(subj))
    forward = bool(_FORWARD_SUBJECT.match(subj))
    subj = _FORWARD_SUBJECT.sub("", _REPLY_SUBJECT.sub("", subj))
    own, earlier = text, ""
    for marker in (_FORWARD_INTRO, _QUOTE_INTRO, _HEADER_BLOCK):
        own, later = _cut_at(own, marker)
        earlier = later + "\n" + earlier
    if _FORWARD_INTRO.search(earlier):
        forward = True
    quoted = "\n".join(m.group().lstrip(" \t>") for m in _QUOTED_LINE.finditer(own))
    own = _QUOTED_LINE.sub("", own)
    own = _cut_at(own, _SIGNATURE)[0]
    own = _cut_at(own, _CLOSING)[0] if _CLOSING.search(own, len(own) // 3) or len(own) < 200 \
        else own
    own = _ID_LINE.sub("", own)
    own = "\n\n".join(p for p in re.split(r"\n[ \t]*\n", own) if not _DISCLAIMER.search(p))
    return LetterParts(subj.strip(), own.strip(), (quoted + "\n" + earlier).strip(), reply,
                       forward)


# --- sentences ----------------------------------------------------------------------------------

_NUMBER_DOT = re.compile(r"\b\d{1,2}\.$")  # "am 12.03." or "Art 17(1)." mid-sentence
#: Where sentences end. Each alternative starts only where a run of its characters starts and
#: takes the run whole (possessive), so a letter of 20,000 dots or spaces costs one pass.
_BREAK = re.compile(
    r"(?<![.!?])[.!?]++[\"')]*+"
    r"(?:[ \t]++|(?P<wrap>[ \t]*+\n(?![ \t]*+(?:\n|[-•*]|\d+[.)]|\w[.)] ))))"
    r"|(?<![.!?\t ])[.!?]*+[ \t]*+\n[ \t]*+(?:\n|(?=[-•*]|\d+[.)]|\w[.)] ))"
    r"|[;:][ \t]*+\n"
)


def sentences(text: str) -> Iterator[tuple[int, str]]:
    """(offset, sentence) pairs: split at sentence ends (also one that ends a line: letters
    written a sentence a line), blank lines and list items; line wraps inside a sentence
    joined."""
    start = 0
    for m in _BREAK.finditer(text):
        piece = text[start:m.end()]
        if _NUMBER_DOT.search(piece.rstrip(" \t\n\"')")) and (
                "\n" not in m.group() or m.group("wrap")):  # "am 12." wrapped before "März"
            continue
        yield start, " ".join(piece.split())
        start = m.end()
    if start < len(text):
        yield start, " ".join(text[start:].split())


#: Who a threat names: authorities, courts, lawyers. A sentence naming one is about the future.
#: Each starts a word; the short ones are whole words.
_AUTHORITY_NAMES = (
    "information commissioner", "supervisory authority", "data protection authority",
    "data protection commissioner", "data protection agency", "privacy protection agency",
    "attorney general", "regulator", "court", "legal action", "legal options", "legal steps",
    "legal proceedings", "proceedings", "solicitor", "lawyer", "ombudsman",
    "aufsichtsbehorde", "datenschutzbehorde", "datenschutz behorde", "datenschutzaufsicht",
    "landesbeauftragt", "bundesbeauftragt", "landesdatenschutzbeauftragt",
    "landesamt fur datenschutz", "landesbehorde",
    "datenschutz- und offentlichkeitsbeauftragt", "anwalt", "rechtsanwalt", "gericht",
    "rechtliche schritte", "zivilrechtsweg", "unterlassungserklarung",
    "autorite de protection des donnees", "commission d'acces", "juridiction", "tribunal",
    "avocat", "justice",
    "agencia espanola de proteccion de datos", "agencia de acceso", "abogad", "juzgado",
    "autoridad de control",
    "garante", "autorita giudiziaria", "autorita garante", "avvocat",
    "autoriteit persoonsgegevens", "gegevensbeschermingsautoriteit", "rechter", "advocaat",
    "geschillencommissie",
)
_AUTHORITY_SHORT = ("ico", "ldi", "edob", "cnil", "aepd", "inai", "ap")
_AUTHORITY = re.compile(
    r"\b(?:" + "|".join(re.escape(n) for n in _AUTHORITY_NAMES) + r")"
    r"|\b(?:" + "|".join(_AUTHORITY_SHORT) + r")\b"
)
_AUTHORITY_SHORT_WORD = re.compile(r"\b(?:" + "|".join(_AUTHORITY_SHORT) + r")\b")


def _names_authority(text: str) -> bool:
    """Whether ``text`` may name an authority: plain substring tests first, the pattern only
    when one hits (most letters name none)."""
    return any(n in text for n in _AUTHORITY_NAMES) or bool(_AUTHORITY_SHORT_WORD.search(text))


#: A sentence opening with a condition ("if you do not ...", "sollte ich ...", "à défaut ...").
_CONDITION = re.compile(_any(
    r"^(?:if|should|unless|failing|otherwise|sollte|sollten|falls|wenn|andernfalls|anderenfalls|"
    r"ansonsten|sonst|nach fruchtlosem|a defaut|faute de|sans reponse|si\b|sinon|en caso|"
    r"de lo contrario|de no\b|in mancanza|in difetto|in assenza|decorso|altrimenti|als\b|"
    r"indien|blijft|zoniet|"
    r"anders|danach|dann)",
))
_CLAUSE = re.compile(r",|;|\s(?:or|oder|ou|o|oppure|of|otherwise|sonst|sinon|altrimenti|anders)\s")


@lru_cache(maxsize=16)
def _without_threats(text: str) -> tuple[tuple[int, str], ...]:
    """(offset, sentence) pairs with the threat in each taken out: a conditional sentence
    naming an authority goes whole; otherwise only the clause naming it (and what follows)."""
    if not _names_authority(text):
        return tuple(sentences(text))
    kept = []
    for offset, sentence in sentences(text):
        threat = _AUTHORITY.search(sentence)
        if threat is None:
            kept.append((offset, sentence))
            continue
        if _CONDITION.search(sentence):
            continue
        clauses = [m.start() for m in _CLAUSE.finditer(sentence, 0, threat.start())]
        before = sentence[: clauses[-1]] if clauses else ""
        if before.strip():
            kept.append((offset, before))
    return tuple(kept)


# --- request patterns ---------------------------------------------------------------------------

_MY = r"(?:my|all my|all of my|all|every|any|our|me)"
_DATA_EN = (r"(?:personal )?(?:data|account|information|info|details|records?|profile|files?|"
            r"phone number|number|e-?mail address|address|subscription)")
_DATA_DE = (r"(?:(?:personenbezogenen |personlichen |gespeicherten )?daten|konto|kundenkonto|"
            r"account|profil|angaben|telefonnummer|adresse)")
_DATA_FR = (r"(?:donnees(?: personnelles)?|compte|informations|coordonnees|profil|"
            r"renseignements)")
_DATA_ES = r"(?:datos(?: personales)?|cuenta|informacion|perfil)"
_DATA_IT = r"(?:dati(?: personali)?|account|profilo|informazioni)"
_DATA_NL = r"(?:(?:persoons)?gegevens|account|profiel|data|telefoonnummer|e-?mailadres)"
_MARKETING = (r"market|newsletter|promotion|advert|offer|catalog|brochure|werb|prospekt|"
              r"publicite|prospection|lettre d'information|publicidad|folleto|ofertas|"
              r"publicitar|pubblicitar|volantin|reclame|nieuwsbrie|aanbieding|"
              r"mailing|verteiler|verzendlijst|lista|liste|list\b|sales|vendermne|venderme|"
              r"\bsms\b|direktwerbung|comunicaciones comerciales|comunicazioni commerciali")
#: Purposes besides marketing that an objection may name in the same sentence.
_OTHER_PURPOSE = re.compile(r"profil|analy|tracking|scoring|auswert|statisti|dritte|tiers|"
                            r"terceros|terzi|derden|third part")
#: A negation ("do NOT delete", "non cancellate niente") or a mere thought ("I'm thinking
#: about closing my account") just before or inside a request cancels it; "no longer" and
#: "nicht mehr" do not.
_NEGATION = re.compile(
    r"(?:\b(?:not|don't|do not|dont|never|no need to|nicht|nichts|ne|n'|pas|rien|jamais|nada|"
    r"non|niente|nulla|niet|niets|nooit)\b(?! (?:longer|mehr|plus|piu|meer)\b)"
    r"|\b(?:thinking (?:about|of)|considering|wondering|valutando|pensando|envisage|"
    r"overweeg|uberlege|before I do|avant de))"
)
#: What a negation before a request may deny instead: the answer to it ("I have not received
#: a reply to my request to delete ..."), which leaves the request standing.
_NO_ANSWER = re.compile(
    r"\b(?:received|heard|had|got|answer|repl|respon|acknowledg|erhalten|bekommen|antwort|"
    r"reaktion|reagiert|recu|reponse|recibido|respuesta|contestad|ricevuto|risposta|riscontro|"
    r"ontvangen|gehoord|antwoord|reactie)"
)


def _negated(sentence: str, at: int, end: int) -> bool:
    """Whether a negation just before or inside the request at ``at:end`` cancels it."""
    return any(m.start() >= at or not _NO_ANSWER.search(sentence, m.end(), at)
               for m in _NEGATION.finditer(sentence, max(0, at - 30), end))


#: A sentence opening a condition: what it says before its first comma is hypothetical.
_IF = re.compile(r"^(?:if|where|whether|in case|insofar|should|sofern|falls|wenn|soweit|ob|si|"
                 r"en caso|se|qualora|ove|indien|als|mocht|heeft u)\b")


def _rule_languages(language: str) -> tuple[str, ...]:
    return LANGUAGES if language == UNKNOWN else tuple(dict.fromkeys((language, "en")))


@dataclass(frozen=True, slots=True)
class Rule:
    """The request shapes of one kind, per language."""

    kind: CaseKind
    patterns: dict[str, tuple[str, ...]]
    negatable: bool = True  # a negation just before the match cancels it


def _rules(kind: CaseKind, negatable: bool = True, **by_language: tuple[str, ...]) -> Rule:
    return Rule(kind, by_language, negatable)


REQUESTS: tuple[Rule, ...] = (
    _rules(
        CaseKind.POSTING_REMOVAL,
        en=(r"(?:remove|take down|delete)\b[^.]{0,40}\b(?:post|posting|comment|review|thread)\b",
            r"take (?:the|my|that|this) (?:post|posting|comment) down"),
        de=(r"(?:beitrag|kommentar|posting)\b[^.]{0,60}\b(?:entfernen|loschen|loeschen)",
            r"(?:entfernen|loschen) sie (?:diesen|meinen|den) (?:beitrag|kommentar)"),
        fr=(r"(?:retirer|supprimer|effacer|enlever)\b[^.]{0,40}\b(?:message|commentaire|avis|"
            r"publication|post)\b", r"pourriez-vous le retirer",
            r"(?:message|commentaire|publication)\b[^.]{0,80}\b(?:le|la) (?:retirer|supprimer)"),
        es=(r"(?:eliminar|eliminen|borrar|borren|quitar|retirar)\b[^.]{0,40}\b(?:publicacion|"
            r"comentario|resena|mensaje|post)\b", r"(?:podeis|pueden|puede) borrarlo"),
        it=(r"(?:rimuovere|rimuovete|cancellare|eliminare|togliere)\b[^.]{0,40}\b(?:messaggio|"
            r"commento|post|recensione|discussione)\b",),
        nl=(r"(?:verwijder|verwijderen|weghalen|offline halen)\b[^.]{0,40}\b(?:bericht|reactie|"
            r"recensie|post)\b", r"(?:bericht|reactie|post)\b[^.]{0,40}\b(?:te )?verwijderen"),
    ),
    _rules(
        CaseKind.DELETION,
        en=(rf"\b(?:delete|erase|remove|wipe|destroy|purge)\b[^.]{{0,30}}\b{_MY}\b[^.]{{0,40}}"
            rf"\b{_DATA_EN}", rf"\b{_DATA_EN} deleted\b", r"\berase all personal data\b",
            r"right to (?:be forgotten|erasure)", r"(?:request|ask|want) (?:for |the )?"
            r"(?:erasure|deletion)", r"\b(?:erasure|deletion) of (?:my|all)",
            r"go ahead with the deletion", r"\b(?:erase|delete) (?:me|everything)\b",
            r"close (?:my|that|his|her|the) account", r"request to delete",
            r"delete my (?:acc?ount|data|details)",
            r"remove me (?:completely )?from your (?:system|database|records|files|lists)",
            r"\bmy (?:deletion|erasure) request\b"),
        de=(rf"{_DATA_DE}\b[^.]{{0,80}}\b(?:zu )?(?:loschen|loeschen|entfernen)",
            r"\b(?:loschen|loeschen|entfernen) sie\b[^.]{0,40}\b(?:daten|konto|account)",
            r"\blo(?:e)?schung (?:aller|meiner|der|sie)", r"\bum lo(?:e)?schung\b",
            r"recht auf (?:vergessen|lo(?:e)?schung)", r"antrag auf lo(?:e)?schung",
            r"\bkonto\b[^.]{0,20}\bschliessen", r"\balles\b[^.]{0,30}\bgelo(?:e)?scht",
            r"\balles\b[^.]{0,30}\blo(?:e)?schen\b"),
        fr=(rf"\b(?:supprimer|supprimez|effacer|effacez|retirer)\b[^.]{{0,30}}\b(?:mes|mon|"
            rf"toutes|l'ensemble|ce|son|ses)\b[^.]{{0,30}}{_DATA_FR}",
            r"\bd'effacer l'ensemble des donnees", r"droit a (?:l'oubli|l'effacement)",
            r"demande d'effacement", r"(?:cloturer|fermer) (?:mon|son|ce) compte",
            r"supprimiez ce compte",
            r"\b(?:effac|supprim)\w*\b[^.]{0,20}\btout ce (?:qui me concerne|que vous avez)"),
        es=(r"\b(?:borrar|borren|borrad|borra|eliminar|eliminen|elimina|suprimir|supriman|"
            r"suprimid|cancelar)\b[^.]{0,30}\b(?:mis|mi|todos|sus|su|esa)\b[^.]{0,30}"
            rf"{_DATA_ES}", r"derecho (?:al olvido|de supresion)",
            r"(?:solicito|solicite|pido|pedi|pedir) (?:la )?(?:supresion|cancelacion)",
            r"solicitud de (?:supresion|cancelacion|borrado)",
            r"suprimir todos los datos", r"cierren (?:esa|mi|su) cuenta",
            r"supriman todos",
            r"\b(?:borr|elimin|supr)\w*\b[^.]{0,10}\btodo lo que (?:tengan|tienen|teneis|guardan)"),
        it=(r"\b(?:cancellare|cancellate|cancellati|eliminare|eliminate|chiudere|chiudete)\b"
            r"[^.]{0,30}\b(?:i miei|il mio|tutti|tutto|l'account|l account|account)\b",
            r"\bcancellazione (?:di tutti |dei (?:miei )?|dei suddetti )?dati",
            r"chiede[^.]{0,60}\bla cancellazione", r"diritto all'oblio",
            r"(?:chiudere|chiusura dell') ?account", r"cancellati il mio account",
            r"cancellazione di tutti i suddetti",
            r"\b(?:elimin|cancell)\w*\b[^.]{0,20}\b(?:tutti i|i miei) dati"),
        nl=(rf"\b(?:verwijder|wis)\b[^.]{{0,20}}\bmijn\b[^.]{{0,20}}{_DATA_NL}",
            rf"{_DATA_NL}\b[^.]{{0,60}}\b(?:te )?(?:verwijderen|wissen)\b",
            r"gegevens\b[^.]{0,30}\bworden verwijderd", r"recht op vergetelheid",
            r"het wissen van (?:al )?mijn", r"account (?:te )?(?:sluiten|afsluiten)",
            r"afsluiten van mijn account",
            r"\balles wat (?:jullie|u) over mij\b[^.]{0,20}\b(?:wissen|verwijderen)"),
    ),
    _rules(
        CaseKind.OBJECTION,
        en=(r"\bi (?:hereby )?object\b", r"\bobjection to\b",
            r"stop (?:using|processing|sharing|passing|analy[sz]ing)\b[^.]{0,20}\b(?:my|it|the)",
            r"stop the processing", r"no longer (?:want|wish) (?:you )?to (?:use|share|process)",
            r"(?:give|pass|sell|share)[^.]{0,30}\b(?:to|with) (?:anyone|any (?:other )?company)"
            r" (?:else|again)"),
        de=(r"widerspreche (?:ich )?(?:hiermit )?[^.]{0,40}(?:verarbeitung|nutzung|verwendung|"
            r"weitergabe|ubermittlung|speicherung)",
            r"\bwiderspruch gegen die (?:verarbeitung|nutzung|weitergabe|ubermittlung)",
            r"bitte stellen sie (?:das|dies|die verarbeitung) ein",
            r"nicht mehr (?:fur|zu) [^.]{0,40}(?:verwenden|nutzen)"),
        fr=(r"je m'oppose", r"\bopposition au traitement",
            r"cesser\b[^.]{0,40}\b(?:traitement|transmission|utilisation|utiliser)",
            r"(?:arreter d'|arretez d')(?:utiliser|transmettre|partager) mes"),
        es=(r"\bme opongo\b", r"derecho de oposicion",
            r"dej(?:en|eis|arais|aran|ar|ad) de (?:usar|utilizar|tratar|realizar|compartir|"
            r"ceder)\b[^.]{0,40}\b(?:mis datos|datos|tratamientos?|dichos)"),
        it=(r"\bmi oppongo\b", r"\bopposizione al trattamento",
            r"(?:smettere|smettete|cessare|cessate) (?:di )?(?:usare|utilizzare|trattare|"
            r"tali trattamenti)"),
        nl=(r"\bmaak (?:ik )?bezwaar\b",
            r"\bbezwaar (?:(?:gemaakt|aangetekend|ingediend) )?tegen\b",
            r"(?:verwerkingen?|gebruik) te staken",
            r"stop met het (?:gebruiken|verwerken|delen)"),
    ),
    _rules(  # an objection said with a negation ("do not share my data"): nothing cancels it
        CaseKind.OBJECTION, negatable=False,
        en=(r"(?<!you )(?:do not|don't|dont) (?:use|share|process|pass|sell|give) my "
            r"(?:personal )?(?:data|information|info|details)\b",
            r"(?:do not|don't|dont) (?:want|wish) (?:you )?to (?:use|share|process|pass|sell)",
            r"(?:do not|don't|dont) consent to (?:you |your )?(?:tracking|profiling|using|"
            r"sharing)"),
        de=(r"(?:mochte|will) nicht, dass (?:sie )?meine daten\b[^.]{0,80}\b(?:verwendet|genutzt|"
            r"weitergegeben|verarbeitet|verkauft)",
            r"nicht (?:fur|zu) [^.]{0,40}(?:verwenden|nutzen)"),
        fr=(r"ne plus (?:utiliser|transmettre|partager) mes",
            r"ne (?:transmettez|partagez|vendez|cedez|utilisez) (?:plus|pas) mes",
            r"ne (?:veux|souhaite) pas que vous (?:utilisiez|partagiez|transmettiez|vendiez)"),
        es=(r"no (?:quiero|deseo) que (?:los|las|mis datos)? ?(?:compart|ced|us|utilic|trat)",
            r"no (?:cedan|compartan|vendan|usen|utilicen) mis datos"),
        it=(r"non (?:dare|date|cedere|cedete|comunicare|comunicate|passare|passate|vendete) "
            r"piu\b[^.]{0,40}\b(?:dati|numero)",),
        nl=(r"wil niet dat (?:jullie|u) mijn gegevens\b[^.]{0,30}\b(?:doorgeeft|doorgeven|delen|"
            r"deelt|gebruiken|gebruikt|verkopen|verkoopt)",
            r"geef mijn gegevens niet (?:meer )?door"),
    ),
    _rules(
        CaseKind.ACCESS,
        en=(r"copy of (?:all )?(?:the |my )?(?:personal )?(?:data|information|info)",
            r"send me (?:a copy|the information|my data|that copy)",
            r"what (?:personal )?(?:data|info|information) you (?:actually )?(?:hold|have|keep|"
            r"store)", r"\bsubject access request\b", r"right of access",
            r"(?:know|tell me) (?:exactly )?who you have (?:given|shared|passed|sold|disclosed)",
            r"which (?:data|information) you (?:hold|have|keep|store)",
            r"(?:what|which) (?:personal )?(?:data|info|information) do you (?:hold|have|keep|"
            r"store)", r"export of (?:everything|all (?:my|the) data)"),
        de=(r"\bauskunft\b[^.]{0,60}\b(?:erteilen|nachzuholen|nachholen|verlange|ubermitteln)",
            r"\bverlange ich auskunft", r"erteilen sie mir\b[^.]{0,20}\bauskunft",
            r"\bauskunftsrecht", r"\bersuche ich sie um auskunft",
            r"\bauskunft (?:uber|daruber|nach)", r"kopie (?:meiner|aller|der)[^.]{0,40}daten",
            r"ubersicht,? welche daten", r"welche daten (?:sie )?[^.]{0,30}"
            r"(?:gespeichert|speichern|verarbeiten)",
            r"welche (?:informationen|daten|angaben) sie\b[^.]{0,20}\b(?:uber mich|von mir)"),
        fr=(r"(?:droit d'|demande d')acces", r"copie de (?:toutes )?(?:mes |les )?donnees",
            r"communiquer\s*:?[^.]{0,40}\bdonnees personnelles me concernant",
            r"liste de toutes les informations que vous avez", r"faire parvenir mes donnees",
            r"transmettre les donnees personnelles me concernant",
            r"(?:donner )?communication des renseignements",
            r"quelles informations vous avez enregistrees",
            r"(?:donnees|informations) (?:personnelles )?que vous (?:avez|detenez|conservez|"
            r"possedez) sur moi",
            r"quelles (?:donnees|informations) vous (?:conservez|avez|detenez|traitez)\b"
            r"[^.]{0,30}\b(?:sur moi|me concernant|a mon sujet|de moi)"),
        es=(r"derecho de acceso", r"\bacceso a (?:mis|todos mis) datos",
            r"copia de (?:sus|mis|todos mis) datos",
            r"(?:conocer|saber) (?:que|con que empresas)\b[^.]{0,40}\bdatos",
            r"que datos (?:personales )?(?:tienen|tiene|guardan|conservan)",
            r"(?:archivo|fichero|copia|listado) con (?:todos )?mis datos"),
        it=(r"diritto (?:di )?accesso", r"\baccesso ai (?:propri |miei )?dati",
            r"(?:richiesta|istanza) di accesso",
            r"copia (?:di tutti )?(?:dei|i) (?:miei )?dati", r"copia di tutti i dati",
            r"mandate i dati che avete", r"quali dati (?:avete|conservate|trattate)",
            r"(?:file|copia|elenco) con (?:tutti )?i miei dati"),
        nl=(r"\binzage\b", r"\binzageverzoek", r"kopie van (?:al |alle )?(?:mijn |die |de )?"
            r"(?:persoons)?gegevens", r"overzicht\b[^.]{0,20}\bsturen",
            r"welke gegevens (?:u |jullie )?(?:heeft|hebben|bewaart|bewaren)",
            r"kopie\b[^.]{0,20}\balles wat (?:jullie|u) over mij"),
    ),
    _rules(
        CaseKind.CORRECTION,
        en=(r"\bcorrect (?:my|the|these|that|this|it)\b(?: [a-z]+)?",
            r"update (?:my|the) (?:address|name|e-?mail|details|phone|record)",
            r"\b(?:is|are) (?:spelt|spelled|written) wrong", r"\bmisspel",
            r"\b(?:is|are) (?:wrong|incorrect|inaccurate)\b", r"\binaccurate\b",
            r"change (?:of )?(?:my )?address", r"changing my address", r"my new address",
            r"new address is", r"\brectif", r"contain only my own details",
            r"my (?:sur)?name is now\b", r"change it on my account",
            r"please change my (?:(?:sur)?name|address|e-?mail)"),
        de=(r"\bberichtigung\b", r"\bkorrigier", r"\bberichtigen\b",
            r"(?:name|adresse|anschrift|telefonnummer|geburtsdatum)\b[^.]{0,40}\bist falsch",
            r"\bfalsch hinterlegt", r"(?:adresse|anschrift|namen)\b[^.]{0,20}\b(?:andern)",
            r"bitte andern", r"andern sie das", r"lautet meine (?:anschrift|adresse)",
            r"passen sie meinen (?:nach)?namen\b[^.]{0,10}\ban", r"\bheisse (?:jetzt|nun)\b"),
        fr=(r"\brectifi", r"\bcorriger\b", r"mettre a jour mon",
            r"(?:remplacer|changer)\b[^.]{0,40}\b(?:adresse|nom|compte)",
            r"sont inexactes", r"changement d'adresse"),
        es=(r"\brectifica", r"\bcorregir\b", r"\bcorrijan", r"\bcorrijanla",
            r"actualizar mi (?:direccion|nombre|correo)", r"el (?:telefono|numero) correcto es",
            r"nuevo domicilio", r"la correcta es", r"el correcto es",
            r"(?:telefono|numero|direccion|nombre|apellido|correo)\b[^.]{0,40}\b(?:esta|estan) "
            r"(?:mal|equivocad|incorrect)"),
        it=(r"\brettific", r"\bcorreggere\b", r"aggiornare il mio",
            r"(?:indirizzo|nome|codice fiscale)\b[^.]{0,30}\b(?:risulta )?(?:errat|sbagliat)",
            r"nuovo indirizzo"),
        nl=(r"\bcorrigeren\b", r"\bcorrectie\b", r"\brectificatie\b",
            r"wijzig mijn", r"\bwijzigen naar\b", r"\baanpassen\b", r"\bonjuist\b",
            r"staat[^.]{0,30}\bverkeerd", r"nieuw adres"),
    ),
    _rules(  # data said to be wrong with a negation ("klopt niet"): nothing cancels it
        CaseKind.CORRECTION, negatable=False,
        en=(r"(?:name|address|e-?mail|number|date of birth|details)\b[^.]{0,30}\b(?:is|are) "
            r"not (?:correct|right|accurate|up to date)\b",),
        de=(r"(?:name|adresse|anschrift|telefonnummer|e-?mail-?adresse|geburtsdatum)\b[^.]{0,40}"
            r"\b(?:stimmt|stimmen) nicht",),
        fr=(r"(?:adresse|nom|numero|date de naissance)\b[^.]{0,40}\bn'est (?:plus|pas) "
            r"(?:correct|exact|a jour)",),
        es=(r"(?:telefono|numero|direccion|nombre|apellido|correo)\b[^.]{0,40}\bno es "
            r"(?:correct|exact)",),
        it=(r"(?:indirizzo|nome|cognome|numero|email)\b[^.]{0,40}\bnon e (?:piu )?"
            r"(?:corrett|giust|aggiornat)",),
        nl=(r"\bklopt niet",),
    ),
    _rules(
        CaseKind.MARKETING_OPT_OUT, negatable=False,
        en=(r"\bunsubscribe me\b", r"\bopt (?:me )?out\b", r"stop (?:e-?mailing|spamming)",
            r"stop sending (?:me )?[^.]{0,40}(?:" + _MARKETING + r"|e-?mails|mail)",
            r"(?:take|remove) me off (?:your|the|this)", r"remove me from (?:this|your|the) "
            r"(?:mailing |marketing )?list", r"no more (?:e-?mails|newsletters|marketing|"
            r"offers|promotions)", r"stop (?:sending me )?marketing",
            r"object to (?:direct |your )?marketing"),
        de=(r"keine (?:werbung|e-?mails|newsletter|werbemails|prospekte)\b[^.]{0,30}\bmehr",
            r"keinerlei werbung", r"keine [\w-]*werbung\b[^.]{0,30}\bmehr",
            r"newsletter (?:kundigen|abbestellen)",
            r"aus dem verteiler (?:zu )?nehmen", r"\babmelden\b",
            r"widerspreche\b[^.]{0,80}\bdirektwerbung",
            r"widerrufe\b[^.]{0,60}\beinwilligung in den erhalt"),
        fr=(r"desabonn(?:ez|er)[- ]moi", r"me desabonner", r"desinscri(?:vez|re)[- ]moi",
            r"ne (?:souhaite|veux) plus recevoir", r"arret(?:ez|er) de m'?envoyer",
            r"ne plus m'envoyer", r"ne m'envoyez plus",
            r"m'oppose\b[^.]{0,80}\bprospection", r"plus de (?:publicite|newsletter)"),
        es=(r"\b(?:dar|den|dad|da|de)(?:me)? de baja", r"no (?:quiero|deseo) recibir",
            r"dejar de recibir",
            r"no (?:me|le) (?:enviei?s|manden|envien|mandeis) mas",
            r"deje(?:n)? de (?:llamarme|enviarme|mandarme)", r"deje de mandarme",
            r"(?:quiere|quiero) que no (?:le|me) envi"),
        it=(r"non (?:voglio|desidero) (?:piu )?ricevere", r"disiscriv",
            r"(?:togliete|toglietemi|togliermi|cancellarmi|rimuovetemi)\b[^.]{0,20}\b"
            r"(?:dalla|dalle) (?:newsletter|lista|mailing|offerte)",
            r"non mandatemi piu", r"revoco il consenso all'invio di comunicazioni commerciali"),
        nl=(r"\bafmelden\b", r"\buitschrijven\b",
            r"geen (?:reclame|nieuwsbrief|nieuwsbrieven|e-?mails|mails)\b[^.]{0,20}\bmeer",
            r"bel me\b[^.]{0,20}\bniet meer", r"stop met (?:mailen|sturen)",
            r"van uw verzendlijst", r"trek ik mijn toestemming in voor het ontvangen"),
    ),
)

#: A consent withdrawal: a request only when nothing else is asked.
_WITHDRAWAL = re.compile(_any(
    r"withdraw (?:my |that |any )?consent", r"consent\b[^.]{0,40}\bwithdrawn",
    r"widerrufe\b[^.]{0,40}\beinwilligung", r"einwilligung\b[^.]{0,40}\bwiderrufe",
    r"retire\b[^.]{0,30}\bconsentement", r"retiro\b[^.]{0,30}\bconsentimiento",
    r"revoco\b[^.]{0,30}\bconsenso", r"trek\b[^.]{0,30}\btoestemming\b[^.]{0,10}\bin",
))
#: A parent about a child under 13: the child, then an age under 13 close by.
_CHILD = re.compile(
    r"\b(?:son|daughter|child|kid|sohn|tochter|kind|fils|fille|enfant|hij[oa]|figli[oa]|"
    r"nipote|zoon|dochter)\b[^.\d]{0,30}?\b(\d{1,2})\b(?!\d|[./-]\d)"
)
_SIGNED_UP = re.compile(_any(
    r"signed up", r"has an account", r"registered", r"created an account", r"made an account",
    r"angemeldet", r"registriert", r"a cree un compte", r"s'est inscrit",
    r"se ha registrado", r"si e registrat", r"heeft zich\b[^.]{0,40}\baangemeld",
    r"\baangemeld",
))

#: Complaints about the company's own handling (policy Part VI).
_DISPUTE = _phrases(
    # en
    r"(?:formal )?complaint about", r"making a formal complaint", r"writing to (?:make a "
    r"formal )?complain", r"^complaint\b", r"you (?:have )?(?:sold|leaked|disclosed|passed on|"
    r"given away) my", r"either you sold it", r"did not delete my data", r"you did not delete",
    r"my data was sent to someone else", r"serious breach", r"sent my file",
    r"ignored my (?:choice|request|opt-out)", r"confirmation was false",
    # de
    r"\bbeschwerde\s*:", r"mich\b[^.]{0,60}\bbeschweren", r"\bdatenleck",
    r"beschwere (?:ich )?mich\b[^.]{0,20}\buber",
    r"(?:widerspruch|loschantrag|auskunftsersuchen)\b[^.]{0,40}\bignoriert",
    r"schlicht ignoriert", r"trotz widerspruch", r"nicht hinnehmbar", r"ungeheuerlich",
    r"auskunft ist unvollstandig",
    # fr
    r"\breclamation\s*:", r"^plainte\b", r"je conteste", r"vous (?:leur )?avez (?:donc )?"
    r"(?:transmis|vendu|communique|divulgue)", r"sans aucune verification",
    r"reclamation suite", r"ne me satisfait pas",
    # es
    r"\bqueja\b", r"no se respeto", r"publico mis datos", r"nunca publique",
    r"presentar una queja",
    # it
    r"^reclamo\b", r"come reclamo", r"avete venduto", r"lo avete venduto",
    r"modo di gestire la mia richiesta scorretto", r"sproporzionato",
    # nl
    r"^klacht\b", r"dien\b[^.]{0,30}\been klacht in over", r"dien ik hierover een klacht in",
    r"verzoek is gewoon genegeerd", r"gegevens doorgegeven", r"heeft dus mijn gegevens",
    r"jullie mijn gegevens verkocht", r"onacceptabel",
)
_NOT_A_COMPLAINT = _phrases(
    r"not a complaint", r"keine beschwerde", r"pas une plainte", r"no es una queja",
    r"non e una lamentela", r"geen klacht",
)

#: A letter chasing an earlier one.
_REMINDER = _phrases(
    # en
    r"\bsecond request\b", r"\breminder\b", r"\bchasing\b", r"\bfollow(?:ing)?[ -]up on my",
    r"still (?:waiting|not heard|no (?:reply|response|answer))",
    r"(?:have not|haven't|did not|didn't|not) (?:had|received|heard)\b[^.]{0,30}"
    r"(?:reply|response|answer|acknowledgement|back)", r"have had no (?:answer|reply|response)",
    r"no (?:reply|response|answer) (?:yet|so far)", r"i (?:already )?wrote to you (?:on|about)",
    r"i sent (?:the|my) request below on",
    r"\bany(?:one|body) (?:there|reading (?:this|my))\b[^.]{0,10}\?",
    r"(?:it has|it's|its) (?:now )?been (?:over |more than )?\d+ (?:days|weeks) since (?:my|i)\b",
    # de
    r"\berinnerung\b", r"keine antwort\b[^.]{0,60}\berhalten",
    r"noch (?:keine|immer keine) antwort",
    r"ohne dass ich eine bestatigung", r"zweite (?:anfrage|aufforderung)",
    r"bereits am\b[^.]{0,40}\b(?:aufgefordert|gebeten|geschrieben|angeschrieben)",
    r"(?:blieb|ist) (?:bislang|bisher|bis heute) (?:aus|unbeantwortet)",
    r"fordere sie letztmalig", r"nicht reagiert",
    # fr
    r"\brelance", r"je n'ai recu aucune reponse", r"ni reponse ni accuse",
    r"toujours pas de reponse", r"toujours pas (?:recu|eu) (?:de|la moindre) reponse",
    r"je vous ai (?:deja )?(?:ecrit|adresse)",
    r"deuxieme demande",
    # es
    r"\brecordatorio\b", r"segunda solicitud", r"reitero mi solicitud",
    r"no he (?:recibido|obtenido) (?:ninguna )?respuesta", r"sin que haya obtenido respuesta",
    r"nadie me ha contestado", r"les escribo de nuevo", r"os escribi el",
    r"sigo sin respuesta", r"sin respuesta a mi", r"ya les? escribi",
    r"todavia no (?:he recibido|tengo) respuesta",
    # it
    r"\bsollecit", r"non avete ancora risposto", r"non ho ricevuto alcun riscontro",
    r"non ho (?:ancora )?ricevuto (?:alcuna )?risposta",
    r"nessuna risposta", r"seconda richiesta", r"vi ho gia scritto",
    # nl
    r"\bherinnering\b", r"nog niets van u gehoord", r"geen reactie ontvangen",
    r"nog (?:steeds )?geen (?:antwoord|reactie)", r"tweede verzoek",
    r"ik heb u (?:al )?eerder geschreven",
)

# --- dates a letter mentions --------------------------------------------------------------------

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate((
    "january jan januar janvier enero gennaio januari janv gen ene",
    "february feb februar fevrier febrero febbraio februari fevr febr",
    "march mar marz maerz mars marzo maart mrt",
    "april apr avril abril aprile",
    "may mai mayo maggio mei mag",
    "june jun juni juin junio giugno",
    "july jul juli juillet julio luglio juil lug",
    "august aug aout agosto augustus ago",
    "september sep sept septembre septiembre settembre set",
    "october oct oktober octobre octubre ottobre okt ott",
    "november nov novembre noviembre",
    "december dec dezember decembre diciembre dicembre dic dez",
), start=1):
    for _name in _names.split():
        _MONTHS[_name] = _number
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_NUMERIC = re.compile(r"\b(\d{1,2})[./-](\d{1,2})(?:[./-](\d{4}|\d{2}))?(?:\.|\b)(?![./-]?\d)")
_DATE_WORDS = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th|er|º|°)?\.? (?:de |di )?({_MONTH_NAMES})\.?\b"
    rf"(?:,? (?:de |del )?(\d{{4}}))?|\b({_MONTH_NAMES}) (\d{{1,2}})(?:st|nd|rd|th)?\b"
    rf"(?:,? (\d{{4}}))?"
)


def _resolve(day: int, month: int, year: str | None, before: date) -> date | None:
    """A date the letter names; without a year, the latest such date not after ``before``."""
    try:
        if year:
            return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
        guess = date(before.year, month, day)
        return guess if guess <= before else date(before.year - 1, month, day)
    except ValueError:
        return None


#: Words before a date that make it a deadline the writer sets, not an earlier letter's date.
_DEADLINE = re.compile(
    r"(?:until|by|before|till|bis(?: zum| spatestens)?|spatestens|avant le|d'ici le|jusqu'au|"
    r"hasta el|antes del?|entro il|entro|prima del|voor|uiterlijk|tot)\s*(?:the\s*)?$"
)


def mentioned_dates(text: str, received: date) -> tuple[date, ...]:
    """Past dates the text names (day first, as the desk's customers write them), oldest first;
    deadlines the writer sets are left out."""
    found: set[date] = set()
    for m in _DATE_NUMERIC.finditer(text):
        if _DEADLINE.search(text, max(0, m.start() - 20), m.start()):
            continue
        when = _resolve(int(m.group(1)), int(m.group(2)), m.group(3), received)
        if when:
            found.add(when)
    for m in _DATE_WORDS.finditer(text):
        if _DEADLINE.search(text, max(0, m.start() - 20), m.start()):
            continue
        if m.group(1):
            when = _resolve(int(m.group(1)), _MONTHS[m.group(2)], m.group(3), received)
        else:
            when = _resolve(int(m.group(5)), _MONTHS[m.group(4)], m.group(6), received)
        if when:
            found.add(when)
    earliest = received - timedelta(days=400)
    return tuple(sorted(d for d in found if earliest <= d <= received))


# --- language -----------------------------------------------------------------------------------

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words("the and you your my is please with have for this that not would i me am "
                 "are was of to it what do can could thanks thank hi hello dear"),
    "de": _words("und der die das ich nicht meine mit sie ist bitte ihre eine daten auf mich "
                 "mir ein sehr geehrte damen herren hallo ihnen habe wir zu von dass noch mein"),
    "fr": _words("le les et je vous mes des est pas pour une avec mon donnees merci bonjour "
                 "madame monsieur votre ma sur que qui du au suis ai"),
    "es": _words("el los las y que mis por para con una usted datos gracias mi hola les "
                 "su sus del me estimados buenos dias quiero"),
    "it": _words("il gli che di per non sono con miei dati grazie vostro della buongiorno mio "
                 "mi vi ho la le del alla chiedo"),
    "nl": _words("het een en ik niet mijn van met u uw gegevens dat zijn bedankt hallo graag "
                 "jullie wil geen ook maar heb aan op"),
}
_WORD = re.compile(r"[a-z']+")


_LANGUAGES_OF: dict[str, tuple[str, ...]] = {}
for _lang, _stop in _STOPWORDS.items():
    for _word in _stop:
        _LANGUAGES_OF[_word] = (*_LANGUAGES_OF.get(_word, ()), _lang)


def detect_language(folded: str) -> str:
    words = _WORD.findall(folded[:3000])
    if not words:
        return UNKNOWN
    scores = dict.fromkeys(LANGUAGES, 0)
    for word in words:
        for lang in _LANGUAGES_OF.get(word, ()):
            scores[lang] += 1
    best = max(LANGUAGES, key=lambda lang: scores[lang])
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] < 2 or ranked[0] == ranked[1] or scores[best] * 12 < len(words):
        return UNKNOWN
    return best


# --- the result ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Request:
    kind: CaseKind
    phrase: str  # the words that asked for it (folded)


@dataclass(frozen=True, slots=True)
class Classification:
    """What a letter asks. ``requests`` are in the order the letter makes them; ``primary`` is
    the most demanding of them (``QUESTION`` when it asks nothing, None when the language is
    not one the desk reads)."""

    primary: CaseKind | None
    requests: tuple[Request, ...]
    language: str  # one of LANGUAGES, or UNKNOWN
    reminder: bool
    reminder_phrase: str | None = None
    #: Dates the letter names that lie before its receipt: when the request it chases was sent.
    mentions: tuple[date, ...] = ()
    #: The rules could not tell: a person decides; until then the shortest candidate clock runs.
    needs_person: bool = False
    candidates: tuple[CaseKind, ...] = field(default=())

    @property
    def others(self) -> tuple[CaseKind, ...]:
        return tuple(r.kind for r in self.requests if r.kind is not self.primary)

    @property
    def phrase(self) -> str | None:
        return next((r.phrase for r in self.requests if r.kind is self.primary), None)

    @property
    def clock_kinds(self) -> tuple[CaseKind, ...]:
        """Every kind whose clock bears on the case: what it asks, and what it might be."""
        kinds = [r.kind for r in self.requests] + list(self.candidates)
        if self.primary is not None:
            kinds.insert(0, self.primary)
        return tuple(dict.fromkeys(kinds))

    def as_json(self) -> dict[str, Any]:
        return {
            "primary": self.primary.value if self.primary else None,
            "others": [k.value for k in self.others],
            "phrase": self.phrase,
            "requests": [{"kind": r.kind.value, "phrase": r.phrase} for r in self.requests],
            "language": self.language,
            "reminder": self.reminder,
            "reminder_phrase": self.reminder_phrase,
            "mentions": [d.isoformat() for d in self.mentions],
            "needs_person": self.needs_person,
            "candidates": [k.value for k in self.candidates],
        }


#: Keys of :meth:`Classification.as_json` that quote the letter.
QUOTING_KEYS = ("phrase", "reminder_phrase")


def without_quotes(stored: dict[str, Any] | None) -> tuple[dict[str, Any] | None, bool]:
    """A stored classification without the letter's words (for erasure), and whether it held
    any."""
    if not stored:
        return stored, False
    quoted = any(stored.get(k) for k in QUOTING_KEYS) or any(
        r.get("phrase") for r in stored.get("requests") or ())
    if not quoted:
        return stored, False
    cleaned = {**stored, **dict.fromkeys(k for k in QUOTING_KEYS if k in stored)}
    if "requests" in stored:
        cleaned["requests"] = [{**r, "phrase": None} for r in stored["requests"] or ()]
    return cleaned, True


# --- reading ------------------------------------------------------------------------------------

def _compile(patterns: dict[str, tuple[str, ...]], languages: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for a rule in the languages a letter is read in, a named group per language.

    Every phrase starts a word, and the leading ``\\b`` lets the engine skip positions inside
    words at once instead of trying each alternative there.
    """
    return re.compile(r"\b(?:" + "|".join(
        f"(?P<{lang}>{_any(*patterns[lang])})" for lang in languages) + ")")


@cache
def _compiled(language: str) -> tuple[tuple[Rule, re.Pattern[str]], ...]:
    """Each rule compiled for ``language`` and English (often mixed in), or for every language
    when the letter's language is unknown. Compiled on first use, not at import: compiling
    every language's rules took longer than the rest of the import, and most processes that
    import this module read no letter (or letters in one language)."""
    return tuple((rule, _compile(rule.patterns, _rule_languages(language))) for rule in REQUESTS)


_JOIN = " .\n"  # between sentences: no pattern gap ([^.]) reaches across


def _matches(
    text: str, language: str, offset: int = 0
) -> Iterator[tuple[int, CaseKind, str, str]]:
    """(position, kind, phrase, language) of every request in ``text``, threats discounted.

    The sentences are searched as one text, a pattern per kind, then each match is checked
    against its own sentence (a condition it sits in, a negation just before it).
    """
    kept = _without_threats(text)
    if not kept:
        return
    starts = []
    position = 0
    for _, sentence in kept:
        starts.append(position)
        position += len(sentence) + len(_JOIN)
    joined = _JOIN.join(sentence for _, sentence in kept)
    for rule, pattern in _compiled(language):
        for m in pattern.finditer(joined):
            i = bisect.bisect_right(starts, m.start()) - 1
            at, end, sentence = m.start() - starts[i], m.end() - starts[i], kept[i][1]
            if end > len(sentence):
                continue
            if _IF.match(sentence):
                comma = sentence.find(",")
                if comma < 0 or at < comma:
                    continue
            if rule.negatable and _negated(sentence, at, end):
                continue
            at, phrase, lang = offset + kept[i][0] + at, m.group().strip(), m.lastgroup or UNKNOWN
            if rule.kind is CaseKind.OBJECTION and re.search(_MARKETING, sentence):
                # objecting to marketing is opting out; to profiling as well, an objection too
                yield at, CaseKind.MARKETING_OPT_OUT, phrase, lang
                if not _OTHER_PURPOSE.search(sentence):
                    continue
            yield at, rule.kind, phrase, lang


def _requests(
    text: str, language: str, offset: int = 0
) -> tuple[list[tuple[int, CaseKind, str]], str | None]:
    """Requests in order of appearance (first phrase per kind), and the language they show."""
    seen: dict[CaseKind, tuple[int, str]] = {}
    shown = None
    for pos, kind, phrase, lang in sorted(_matches(text, language, offset),
                                          key=lambda m: m[0]):
        shown = shown or lang
        if kind not in seen:
            seen[kind] = (pos, phrase)
    return sorted(((pos, kind, phrase) for kind, (pos, phrase) in seen.items()),
                  key=lambda r: r[0]), shown


def _clean_posting(found: list[tuple[int, CaseKind, str]]) -> list[tuple[int, CaseKind, str]]:
    """Removing a public posting is its own request: a deletion phrase about the same posting
    (its name, an e-mail address in it) is part of it."""
    kinds = {k for _, k, _ in found}
    if CaseKind.POSTING_REMOVAL in kinds and CaseKind.DELETION in kinds:
        deletion = next(p for _, k, p in found if k is CaseKind.DELETION)
        if not re.search(r"account|konto|compte|cuenta|datos|donnees|daten|dati\b|gegevens",
                         deletion):
            return [r for r in found if r[1] is not CaseKind.DELETION]
    return found


def _in_order(text: str, pattern: re.Pattern[str]) -> str | None:
    found = pattern.search(text)
    return found.group().strip() if found else None


def may_remind(subject: str | None, body: str | None) -> bool:
    """A quick look (no reading of the letter's parts) whether it may chase an earlier one."""
    return bool(_REMINDER.search(fold(f"{subject or ''}\n{(body or '')[:TEXT_LIMIT]}")))


def classify(
    subject: str | None, body: str | None, *, received: date | None = None
) -> Classification:
    """What the letter asks; ``received`` (its receipt day) places the dates it mentions."""
    parts = letter_parts(subject, body)
    head = parts.subject
    own = parts.own
    language = detect_language(f"{head}\n{own}")
    if language == UNKNOWN and parts.earlier:
        language = detect_language(f"{head}\n{own}\n{parts.earlier}")
    found, shown = _requests(own, language, offset=len(head) + 1)
    plain = "\n".join(s for _, s in _without_threats(f"{head}\n{own}"))  # a sentence a line
    dispute = None if _NOT_A_COMPLAINT.search(plain) else next(
        (m.group().strip() for m in _DISPUTE.finditer(plain)
         if not _IF.match(plain[plain.rfind("\n", 0, m.start()) + 1:m.start()])), None)
    reminder = None if dispute else _in_order(plain, _REMINDER)
    if not found and head:  # the subject names the request, or the one a reply answers
        found, shown = _requests(head, language)
    if not found and (reminder or parts.forward):  # the letter it chases or passes on
        found, shown = _requests(parts.earlier, language, offset=10**6)
    if language == UNKNOWN:
        language = shown or UNKNOWN
    if language == UNKNOWN and not dispute and not reminder:
        return Classification(None, (), UNKNOWN, False, needs_person=True)
    found = _clean_posting(found)
    kinds = {k for _, k, _ in found}
    withdrawal = _in_order(own, _WITHDRAWAL)
    if withdrawal and not kinds:
        kind = CaseKind.MARKETING_OPT_OUT if re.search(_MARKETING, own) else CaseKind.OBJECTION
        found = [(own.find(withdrawal), kind, withdrawal)]
    child = _CHILD.search(f"{head}\n{own}")
    if child and int(child.group(1)) < 13 and (found or _SIGNED_UP.search(own)):
        found = [(-1, CaseKind.UNDER_13, child.group().strip())] + [
            r for r in found if r[1] not in (CaseKind.DELETION, CaseKind.MARKETING_OPT_OUT,
                                             CaseKind.OBJECTION)]
    if dispute:
        found = [(-1, CaseKind.DISPUTE, dispute), *found]
    requests = tuple(Request(k, p) for _, k, p in sorted(found, key=lambda r: r[0]))
    asked = [r.kind for r in requests]
    primary = next((k for k in PRIORITY if k in asked), CaseKind.QUESTION)
    candidates: tuple[CaseKind, ...] = ()
    if asked == [CaseKind.DISPUTE]:
        # a complaint alone that names a 30-day right without asking plainly: a person
        # decides, and the 30-day clock runs until then
        candidates = tuple(k for k in THIRTY_DAY if _HINTS[k].search(own))
    return Classification(
        primary=primary,
        requests=requests,
        language=language,
        reminder=reminder is not None,
        reminder_phrase=reminder,
        mentions=mentioned_dates(own, received) if reminder and received else (),
        needs_person=bool(candidates),
        candidates=candidates,
    )


_HINTS: dict[CaseKind, re.Pattern[str]] = {
    CaseKind.DELETION: re.compile(r"delet|eras|losch|loesch|effac|supprim|borr|supresi|"
                                  r"cancell|verwijder|wiss"),
    CaseKind.ACCESS: re.compile(r"\bcopy\b|\bauskunft|\bcopie|\bcopia|\bkopie|\baccess|"
                                r"\bacces|\bacceso|\baccesso|\binzage|who you have given|"
                                r"welche daten|quelles donnees"),
    CaseKind.CORRECTION: re.compile(r"correct|berichtig|rectif|rettific|corrig|wrong|falsch"),
    CaseKind.OBJECTION: re.compile(r"\bobject|widersp|oppos|bezwaar|stop (?:using|sharing)|"
                                   r"\bcesser|dejen de|smettete"),
}


_KIND_NAMES = frozenset(k.value for k in CaseKind)


def stored_clock_kinds(kind: str, stored: dict[str, Any] | None) -> tuple[CaseKind, ...]:
    """The kinds whose clocks bear on a case: its own, the others its letter asks for, and,
    while a person has not yet decided, the candidates of an unsure reading."""
    stored = stored or {}
    names = [kind, *(stored.get("others") or ())]
    if stored.get("needs_person") and not stored.get("confirmed"):
        names += stored.get("candidates") or ()
    return tuple(dict.fromkeys(CaseKind(n) for n in names if n in _KIND_NAMES))
