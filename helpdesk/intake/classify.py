"""Suggest a case kind from what the customer wrote, in English, German, French, Spanish,
Italian or Dutch.

Rules are phrase patterns per kind and language, matched on accent-free, case-folded text with
quoted earlier mail removed (so our own reply, quoted back, cannot classify the answer). One
letter often asks several things: the suggestion names the *primary* kind (the most demanding
one, by :data:`PRIORITY`) and lists the others, with the phrase that triggered the primary.
A letter in none of the covered languages is marked ``unknown`` and left for the agent.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

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

_AGE = r"(?:\d{1,2}|six|seven|eight|nine|ten|eleven|twelve)"

#: kind -> language -> regular expressions over accent-free, case-folded text.
RULES: dict[CaseKind, dict[str, tuple[str, ...]]] = {
    CaseKind.UNDER_13: {
        "en": (rf"my (?:son|daughter|child|kid) (?:is|was) (?:only )?{_AGE}\b", r"under 13\b",
               r"under the age of 13", r"(?:my|our) (?:child|son|daughter)'?s? (?:account|data)"),
        "de": (r"mein (?:sohn|kind) ist (?:erst )?\d{1,2}\b", r"meine tochter ist (?:erst )?\d",
               r"unter 13\b", r"(?:meines|unseres) (?:kindes|sohnes)", r"meiner tochter"),
        "fr": (r"mon (?:fils|enfant) a \d{1,2} ans", r"ma fille a \d{1,2} ans",
               r"moins de 13 ans", r"de mon (?:fils|enfant)", r"de ma fille"),
        "es": (r"mi (?:hijo|hija) tiene \d{1,2}", r"menor de 13", r"menores de 13",
               r"de mi (?:hijo|hija)"),
        "it": (r"mi[oa] figli[oa] ha \d{1,2}", r"meno di 13 anni", r"di mi[oa] figli[oa]"),
        "nl": (r"mijn (?:zoon|dochter|kind) is \d{1,2}\b", r"onder de 13", r"jonger dan 13",
               r"van mijn (?:zoon|dochter|kind)"),
    },
    CaseKind.DISPUTE: {
        "en": (r"(?:you|u) (?:have )?sold my", r"sold my (?:data|information|details|e-?mail)",
               r"selling my (?:data|information|details)", r"\bcomplaint\b", r"\bdispute\b",
               r"data protection authority", r"i will (?:report|complain)"),
        "de": (r"\bbeschwerde\b", r"(?:daten|adresse) verkauft", r"verkauft (?:haben|hat)",
               r"datenschutzbehorde"),
        "fr": (r"\bplainte\b", r"\breclamation\b", r"vendu mes", r"\bcnil\b", r"\blitige\b"),
        "es": (r"\breclamacion\b", r"\bqueja\b", r"(?:han )?vendido mis", r"vendieron mis",
               r"\bdenuncia\b"),
        "it": (r"\breclamo\b", r"venduto i miei", r"\bgarante (?:privacy|della privacy)",
               r"\bcontestazione\b"),
        "nl": (r"\bklacht\b", r"verkocht", r"\bgeschil\b", r"autoriteit persoonsgegevens"),
    },
    CaseKind.DELETION: {
        "en": (r"(?:delete|erase|remove|wipe) (?:all )?(?:of )?my (?:personal )?"
               r"(?:data|account|information|details|records|profile)",
               r"right to (?:be forgotten|erasure)", r"\bdeletion (?:request|of my)",
               r"\berase me\b"),
        "de": (r"(?:daten|konto|account|kundenkonto) (?:zu )?(?:loschen|loeschen)",
               r"\blo(?:e)?schung\b", r"\blo(?:e)?schen sie\b",
               r"recht auf vergessen", r"entfernen sie (?:alle )?meine daten"),
        "fr": (r"(?:supprimer|effacer) (?:toutes )?mes (?:donnees|informations|coordonnees)",
               r"suppression (?:de )?(?:mes|mon) (?:donnees|compte)", r"droit a l'oubli",
               r"\beffacement\b", r"supprimer mon compte"),
        "es": (r"(?:borrar|eliminar|suprimir|borren|eliminen) (?:todos )?mis datos",
               r"supresion de (?:mis|los) datos", r"derecho al olvido",
               r"(?:borrar|eliminar) mi cuenta"),
        "it": (r"(?:cancellare|eliminare|cancellate|eliminate) (?:tutti )?i miei dati",
               r"cancellazione dei (?:miei )?dati", r"diritto all'oblio",
               r"(?:cancellare|eliminare) il mio account"),
        "nl": (r"verwijder (?:al )?mijn (?:gegevens|account|data)",
               r"mijn (?:gegevens|account|data) (?:te )?(?:verwijderen|wissen)",
               r"recht op vergetelheid", r"wis mijn gegevens"),
    },
    CaseKind.OBJECTION: {
        "en": (r"\bi object\b", r"\bobjection to\b", r"(?:withdraw|revoke) (?:my )?consent",
               r"stop (?:using|processing|sharing) my", r"do not (?:use|share|process) my",
               r"don'?t (?:use|share|process) my", r"no longer consent"),
        "de": (r"\bwiderspruch\b", r"\bwiderspreche\b", r"einwilligung (?:zuruck|widerruf)",
               r"widerrufe (?:hiermit )?meine einwilligung",
               r"nicht (?:mehr )?(?:verwenden|nutzen)"),
        "fr": (r"je m'oppose", r"\bopposition\b", r"(?:retire|retirer|retirons) mon consentement",
               r"ne plus utiliser mes"),
        "es": (r"\bme opongo\b", r"\boposicion\b", r"(?:retiro|retirar|revoco) mi consentimiento",
               r"dejen de (?:usar|utilizar|tratar)"),
        "it": (r"\bmi oppongo\b", r"\bopposizione\b", r"(?:revoco|revocare|ritiro) il (?:mio )?"
               r"consenso", r"smettete di (?:usare|utilizzare|trattare)"),
        "nl": (r"\bbezwaar\b", r"trek (?:hierbij )?mijn toestemming in", r"toestemming intrekken",
               r"stop met het (?:gebruiken|verwerken)"),
    },
    CaseKind.ACCESS: {
        "en": (r"copy of (?:all )?(?:my|the) (?:personal )?(?:data|information)",
               r"what (?:personal )?(?:data|information) (?:do )?you (?:hold|have|keep|store)",
               r"\b(?:subject )?access request\b", r"right of access",
               r"which (?:data|information) you (?:hold|have|keep|store)"),
        "de": (r"\bauskunft\b", r"kopie (?:meiner|aller) daten",
               r"welche daten (?:haben|speichern|verarbeiten) sie"),
        "fr": (r"acces a (?:mes|toutes mes) donnees", r"copie de (?:mes|toutes mes) donnees",
               r"quelles (?:donnees|informations) (?:avez|detenez|conservez)"),
        "es": (r"acceso a (?:mis|todos mis) datos", r"copia de (?:mis|todos mis) datos",
               r"que datos (?:tienen|tiene|guardan|conservan)"),
        "it": (r"accesso ai (?:miei )?dati", r"copia dei (?:miei )?dati",
               r"quali dati (?:avete|conservate|trattate)"),
        "nl": (r"\binzage\b", r"kopie van (?:al )?mijn gegevens",
               r"welke gegevens (?:heeft|hebben|bewaart|bewaren)"),
    },
    CaseKind.CORRECTION: {
        "en": (r"correct (?:my|the)", r"update my (?:address|name|e-?mail|details|phone|record)",
               r"my (?:name|address|e-?mail|phone number|date of birth) is (?:wrong|incorrect|"
               r"misspelled)", r"change my (?:address|name|details|e-?mail|phone)",
               r"\brectif"),
        "de": (r"\bberichtigung\b", r"\bkorrigieren\b", r"\bberichtigen\b",
               r"(?:name|adresse|anschrift) ist falsch", r"(?:adresse|anschrift|namen) andern"),
        "fr": (r"\brectifi", r"\bcorriger\b", r"mettre a jour mon",
               r"(?:adresse|nom) (?:est|sont) (?:fausse|faux|incorrect)", r"changer mon adresse"),
        "es": (r"\brectifica", r"\bcorregir\b", r"actualizar mi (?:direccion|nombre|correo)",
               r"(?:direccion|nombre) (?:es|esta) (?:incorrect|mal)"),
        "it": (r"\brettific", r"\bcorreggere\b", r"aggiornare il mio",
               r"(?:indirizzo|nome) (?:e|sono) (?:errat|sbagliat)"),
        "nl": (r"\bcorrigeren\b", r"\bcorrectie\b", r"\brectificatie\b", r"klopt niet",
               r"wijzig mijn", r"aanpassen van mijn", r"\bonjuist\b"),
    },
    CaseKind.MARKETING_OPT_OUT: {
        "en": (r"\bunsubscribe\b", r"\bopt[ -]?out\b", r"stop sending (?:me )?",
               r"no more (?:e-?mails|newsletters|marketing|offers|promotions)",
               r"remove me from (?:your|the) (?:mailing |marketing )?list",
               r"stop (?:the )?(?:marketing|newsletters?|promotional)",
               r"object to (?:direct |your )?marketing"),
        "de": (r"\babmelden\b", r"\babbestellen\b", r"newsletter (?:kundigen|abbestellen)",
               r"keine werbung", r"keine (?:e-?mails|newsletter|werbemails) mehr",
               r"werbung (?:einstellen|stoppen)"),
        "fr": (r"desabonn", r"desinscri", r"ne plus recevoir",
               r"plus de (?:publicite|newsletter|mails|courriels)"),
        "es": (r"dar(?:me)? de baja", r"no (?:quiero|deseo) recibir", r"dejar de recibir",
               r"cancelar (?:la |mi )?suscripcion"),
        "it": (r"disiscri", r"cancellarmi dalla (?:lista|newsletter|mailing)",
               r"non (?:voglio|desidero) (?:piu )?ricevere", r"annullare l'iscrizione"),
        "nl": (r"\bafmelden\b", r"\buitschrijven\b",
               r"geen (?:reclame|nieuwsbrief|nieuwsbrieven|e-?mails|mails) meer",
               r"stop met (?:mailen|sturen)"),
    },
    CaseKind.POSTING_REMOVAL: {
        "en": (r"remove my (?:post|comment|review|posting)", r"take down my (?:post|comment)"),
        "de": (r"meinen (?:beitrag|kommentar) (?:entfernen|loschen)",),
        "fr": (r"supprimer mon (?:commentaire|avis|message public)",),
        "es": (r"eliminar mi (?:comentario|publicacion|resena)",),
        "it": (r"rimuovere il mio (?:commento|post|recensione)",),
        "nl": (r"verwijder mijn (?:bericht|reactie|recensie)",),
    },
}

REMINDER: dict[str, tuple[str, ...]] = {
    "en": (r"still (?:waiting|not heard|no (?:reply|response|answer))",
           r"(?:have not|haven'?t|did not|didn'?t) (?:had|received|get|got|heard)"
           r" (?:a |any )?(?:reply|response|answer|back)",
           r"no (?:reply|response|answer) (?:yet|so far)", r"\breminder\b",
           r"second (?:request|reminder|time)", r"i (?:already )?wrote to you (?:on|about|last|"
           r"\d)", r"follow(?:ing)?[ -]up on my (?:earlier|previous|last)"),
    "de": (r"\berinnerung\b", r"noch (?:keine|immer keine) antwort", r"immer noch (?:keine|nicht)",
           r"zweite (?:anfrage|aufforderung)", r"bereits am", r"\bnachfrage\b"),
    "fr": (r"\brelance\b", r"toujours (?:pas de|sans) reponse", r"deuxieme demande",
           r"je vous ai deja ecrit", r"\brappel\b"),
    "es": (r"\brecordatorio\b", r"sin respuesta", r"todavia no (?:he recibido|tengo)",
           r"segunda (?:solicitud|peticion)", r"ya les? escribi"),
    "it": (r"\bsollecito\b", r"nessuna risposta", r"ancora nessuna", r"seconda richiesta",
           r"vi ho gia scritto", r"\bpromemoria\b"),
    "nl": (r"\bherinnering\b", r"nog (?:steeds )?geen (?:antwoord|reactie)", r"tweede verzoek",
           r"ik heb u (?:al )?eerder geschreven"),
}

def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words("the and you your my is please with have for this that not would"),
    "de": _words("und der die das ich nicht meine mit sie ist bitte ihre eine daten auf"
                 " mich"),
    "fr": _words("le les et je vous mes des est pas pour une avec mon donnees merci"),
    "es": _words("el los las y que mis por para con una usted datos gracias mi"),
    "it": _words("il gli che di per non sono con miei dati grazie vostro della"),
    "nl": _words("het een en ik niet mijn van met u uw gegevens dat zijn bedankt"),
}

_WORD = re.compile(r"[a-z']+")
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_QUOTED = re.compile(r"^\s*>.*$", re.MULTILINE)
#: "On <date>, <someone> wrote:" and its cousins start the quoted part of a reply.
_QUOTE_INTRO = re.compile(
    r"^(?:on .{0,200} wrote|am .{0,200} schrieb|le .{0,200} a ecrit|el .{0,200} escribio|"
    r"il .{0,200} ha scritto|op .{0,200} schreef|-+ ?original message ?-+|"
    r"-+ ?(?:ursprungliche nachricht|message d'origine|mensaje original|messaggio originale|"
    r"oorspronkelijk bericht) ?-+).*$",
    re.MULTILINE,
)


def _compile(by_language: dict[str, tuple[str, ...]]) -> re.Pattern[str]:
    """One pattern for a rule set, a named group per language.

    Every phrase starts a word, and the leading ``\b`` lets the engine skip positions inside
    words at once instead of trying each alternative there.
    """
    return re.compile(r"\b(?:" + "|".join(
        f"(?P<{lang}>{'|'.join(f'(?:{p})' for p in patterns)})"
        for lang, patterns in by_language.items()
    ) + ")")


def _rule_sets(rules: dict[str, tuple[str, ...]]) -> dict[str, re.Pattern[str]]:
    """Patterns keyed by the languages a letter is read in: its own language plus English
    (often mixed in), or every language when the letter's language is unknown."""
    sets = {lang: _compile({lang: rules[lang], "en": rules["en"]}) for lang in LANGUAGES}
    sets[UNKNOWN] = _compile(rules)
    return sets


_KIND_RULES = {kind: _rule_sets(by_language) for kind, by_language in RULES.items()}
_REMINDER_RULES = _rule_sets(REMINDER)


@dataclass(frozen=True, slots=True)
class Classification:
    primary: CaseKind | None  # None: language not covered, left for the agent
    others: tuple[CaseKind, ...]
    phrase: str | None  # the words that triggered the primary kind
    language: str  # one of LANGUAGES, or UNKNOWN
    reminder: bool

    def as_json(self) -> dict[str, object]:
        return {
            "primary": self.primary.value if self.primary else None,
            "others": [k.value for k in self.others],
            "phrase": self.phrase,
            "language": self.language,
            "reminder": self.reminder,
        }


def fold(text: str) -> str:
    """Lower case without accents ("Löschung" -> "loschung"), so rules need one spelling."""
    text = text.casefold()
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text)).replace("\u2019", "'")


def own_words(body: str) -> str:
    """The part of a reply the customer wrote: quoted lines and quoted mail removed."""
    intro = _QUOTE_INTRO.search(body)
    if intro:
        body = body[: intro.start()]
    return _QUOTED.sub("", body)


def detect_language(folded: str) -> str:
    words = _WORD.findall(folded[:3000])
    if not words:
        return UNKNOWN
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(LANGUAGES, key=lambda lang: scores[lang])
    if scores[best] < 2 or scores[best] * 10 < len(words):
        return UNKNOWN
    return best


def classify(subject: str | None, body: str | None) -> Classification:
    text = fold(f"{subject or ''}\n{own_words(body or '')}"[:TEXT_LIMIT])
    language = detect_language(text)
    found: dict[CaseKind, tuple[str, str]] = {}
    for kind in PRIORITY:
        match = _KIND_RULES[kind][language].search(text)
        if match:
            found[kind] = (match.group(0).strip(), match.lastgroup or UNKNOWN)
    reminder = _REMINDER_RULES[language].search(text)
    reminder_lang = reminder.lastgroup if reminder else None
    if language == UNKNOWN and found:
        language = found[next(iter(found))][1]  # a phrase of a covered language is evidence
    elif language == UNKNOWN and reminder_lang:
        language = reminder_lang
    if language == UNKNOWN:
        return Classification(None, (), None, UNKNOWN, False)
    kinds = list(found)  # already in priority order
    primary = kinds[0] if kinds else CaseKind.QUESTION
    return Classification(
        primary=primary,
        others=tuple(kinds[1:]),
        phrase=found[primary][0] if kinds else None,
        language=language,
        reminder=reminder_lang is not None,
    )
