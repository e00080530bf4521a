"""The checkable facts of a sentence: numbers, months and names, read the same way in
English and German, so that evidence in one language can back a claim in the other.

"23 von 32" and "23 of 32" both hold the numbers {23, 32}; "1. Oktober" and "October 1"
both hold month 10 and the number 1; "ten years" and "zehn Jahre" both hold 10. A name is
a capitalised word that does not open the sentence; "Rutte's" and "Ruttes" are the same
name, and so are "Brüssel" and "Brussels" (compared by a folded prefix).

German capitalises every noun, so in a German sentence only what is unmistakably a name
(an acronym, a word with inner capitals or digits) counts when the evidence is English:
a German noun that translates an English one ("Verteidigung" for "defence") is not an
invented name.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from index.lexical import tokenize

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
    "thousand": 1000,
    "dozen": 12,
    "eins": 1,
    "zwei": 2,
    "drei": 3,
    "vier": 4,
    "fünf": 5,
    "sechs": 6,
    "sieben": 7,
    "acht": 8,
    "neun": 9,
    "zehn": 10,
    "elf": 11,
    "zwölf": 12,
    "fünfzehn": 15,
    "zwanzig": 20,
    "dreißig": 30,
    "vierzig": 40,
    "fünfzig": 50,
    "hundert": 100,
    "tausend": 1000,
    "dutzend": 12,
}
MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "januar": 1,
    "jänner": 1,
    "februar": 2,
    "märz": 3,
    "mai": 5,
    "juni": 6,
    "juli": 7,
    "oktober": 10,
    "dezember": 12,
}
# "may" is a verb far more often than a month: it counts only beside a day or a year.
_AMBIGUOUS_MONTHS = {"may", "march"}
_WEEKDAYS = {
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "montag",
    "dienstag",
    "mittwoch",
    "donnerstag",
    "freitag",
    "samstag",
    "sonntag",
}
# Thousands grouped by "," (English) or "." (German): "1,000" and "1.000" are both 1000.
_DIGITS = re.compile(r"(?<![\w.,])\d{1,3}(?:([.,])\d{3})+(?![\d])|(?<![\w])\d+(?:[.,]\d+)?(?![\d])")
_WORD = re.compile(r"[\w’'-]+")
_CAPITALISED = re.compile(r"^[A-ZÄÖÜ]")
_UNMISTAKABLE = re.compile(r"^[A-ZÄÖÜ]{2,}|^[A-ZÄÖÜ]\w*[A-ZÄÖÜ0-9]")
# Words that open clauses or are capitalised by convention, not names.
_NOT_NAMES = {"i", "i'm", "i’m", "ich", "sie", "ihr", "ihre", "ihnen", "the", "a"}
_LEADING = re.compile(r"^[\s\"'“”„‘’«»(\[*_#>•–-]*")
MAX_DIGITS = 24
NAME_PREFIX = 5  # characters of a folded name compared: "Rutte's"/"Ruttes", "Brussels"/"Brüssel"


@dataclass(frozen=True)
class Facts:
    numbers: frozenset[float]
    months: frozenset[int]
    names: frozenset[str]  # folded prefixes

    @property
    def empty(self) -> bool:
        return not (self.numbers or self.months or self.names)


def fold(word: str) -> str:
    """Lower case without diacritics or a possessive ending, cut to NAME_PREFIX characters."""
    word = re.sub(r"['’]s?$", "", word.lower())
    word = unicodedata.normalize("NFKD", word.replace("ß", "ss"))
    return "".join(c for c in word if not unicodedata.combining(c))[:NAME_PREFIX]


def numbers(text: str, words: bool = True) -> set[float]:
    found: set[float] = set()
    for match in _DIGITS.finditer(text):
        raw = match.group(0)
        if len(raw) > MAX_DIGITS:
            continue  # a serial number or a digit run, no quantity (and too large for a float)
        if match.group(1):  # thousands separators
            found.add(float(re.sub(r"[.,]", "", raw)))
        else:
            found.add(float(raw.replace(",", ".")))
    for word in _WORD.findall(text.lower()) if words else ():
        if word in _NUMBER_WORDS:
            found.add(float(_NUMBER_WORDS[word]))
    return found


def months(text: str) -> set[int]:
    found = set()
    for match in re.finditer(r"[\w]+", text):
        word = match.group(0)
        month = MONTHS.get(word.lower())
        if month is None:
            continue
        if word.lower() in _AMBIGUOUS_MONTHS:
            around = text[max(0, match.start() - 4) : match.end() + 6]
            if not (word[0].isupper() and re.search(r"\d", around)):
                continue
        found.add(month)
    return found


def names(sentence: str, unmistakable_only: bool = False) -> set[str]:
    """Folded names: capitalised words that do not open the sentence (or a clause after a colon or quote)."""
    return {fold(word) for word in name_words(sentence, unmistakable_only)}


def name_words(sentence: str, unmistakable_only: bool = False) -> list[str]:
    """The names of a sentence as written."""
    found = []
    text = _LEADING.sub("", sentence)
    opener = True
    for match in _WORD.finditer(text):
        word = match.group(0).strip("'’-")
        before = text[max(0, match.start() - 2) : match.start()]
        opens = opener or bool(re.search(r"[:.!?\"“„'‘]\s*$", before)) or match.group(0)[0] in "'’"  # 'We must …
        opener = False
        if len(word) < 2 or not _CAPITALISED.match(word) or word.lower() in _NOT_NAMES:
            continue
        if word.lower() in MONTHS or word.lower() in _WEEKDAYS or word.lower() in _NUMBER_WORDS:
            continue
        if unmistakable_only and not _UNMISTAKABLE.match(word):
            continue
        if opens and not _UNMISTAKABLE.match(word):
            continue
        found.append(word)
    return found


def facts(text: str, lang: str = "en", unmistakable_names: bool = False) -> Facts:
    """The facts of a claim; a German claim's names are only its unmistakable ones when asked."""
    only = unmistakable_names and lang == "de"
    return Facts(frozenset(numbers(text)), frozenset(months(text)), frozenset(names(text, only)))


def vocabulary(text: str) -> Facts:
    """Everything a text can back: its numbers, months and the folded form of every word."""
    words = {fold(w) for w in _WORD.findall(text) if len(w.strip("'’-")) > 1}
    return Facts(frozenset(numbers(text)), frozenset(months(text)), frozenset(words))


def missing(claim: Facts, backing: Facts) -> list[str]:
    """The claim's facts that the backing text does not hold, described for the user."""
    out = [f"number {_show(n)}" for n in sorted(claim.numbers - backing.numbers)]
    out += [f"month {m}" for m in sorted(claim.months - backing.months)]
    out += [f"name “{n}…”" for n in sorted(claim.names - backing.names)]
    return out


def unmentioned(question: str, lang: str, text: str, same_language: bool) -> list[str]:
    """The numbers, months and names a question asks about that `text` never mentions.

    Lenient on purpose, since a miss refuses the question: a name counts as mentioned when a
    word of the text is a near spelling of it ("Rute" for "Rutte") or, for an acronym, when
    capitalised words of the text open with its letters ("UN", "United Nations"). Number
    words are what a question counts ("which two treaties"), not a fact it names. Across
    languages names are not compared ("Germany" is "Deutschland"), and in a German question
    only unmistakable names are (German capitalises every noun).
    """
    held = vocabulary(text)
    out = [f"the number {_show(n)}" for n in sorted(numbers(question, words=False) - held.numbers)]
    out += [f"month {m}" for m in sorted(months(question) - held.months)]
    if same_language:
        out += [f"“{name}”" for name in unmentioned_names(question, lang, text)]
    return out


def unmentioned_names(question: str, lang: str, text: str) -> list[str]:
    """The question's names, as written, that `text` does not mention (see `unmentioned`)."""
    mentioned = mentions(text)
    return [name for name in dict.fromkeys(name_words(question, unmistakable_only=lang == "de")) if not mentioned(name)]


def unmentioned_terms(question: str, lang: str, text: str) -> list[str]:
    """The question's names and numbers written in digits ("1838") that `text` does not mention."""
    held = vocabulary(text).numbers
    written = [m.group(0) for m in _DIGITS.finditer(question) if numbers(m.group(0)) - held]
    return unmentioned_names(question, lang, text) + list(dict.fromkeys(written))


def mentions(text: str) -> Callable[[str], bool]:
    """Whether `text` mentions a name: by its folded form, a near spelling or as an acronym."""
    held = vocabulary(text).names
    words = {re.sub(r"['’]s$", "", w.lower()) for w in _WORD.findall(text)}
    acronyms = _initialisms(text)

    def mentioned(name: str) -> bool:
        return (
            fold(name) in held
            or name.upper() in acronyms
            or bool(difflib.get_close_matches(re.sub(r"['’]s?$", "", name.lower()), words, n=1, cutoff=NEAR_SPELLING))
        )

    return mentioned


NEAR_SPELLING = 0.85  # difflib ratio: one letter off in a name of five or more letters
_INITIAL_RUN = re.compile(r"[A-ZÄÖÜ][\w’'-]*(?:\s+(?:(?:of|for|and|the|für|der|des|und)\s+)*[A-ZÄÖÜ][\w’'-]*)*")
_FUNCTION = {"of", "for", "and", "the", "für", "der", "des", "und"}


def _initialisms(text: str) -> set[str]:
    """The acronyms a text writes with dots (U.N.) or that its runs of capitalised words
    spell: "United States of America" → US, USA."""
    found = {a.replace(".", "") for a in re.findall(r"\b(?:[A-ZÄÖÜ]\.){2,}", text)}
    for run in _INITIAL_RUN.finditer(text):
        initials = [w[0].upper() for w in run.group(0).split() if w.lower() not in _FUNCTION]
        for i in range(len(initials)):
            for j in range(i + 2, min(len(initials), i + 8) + 1):
                found.add("".join(initials[i:j]))
    return found


def content_words(text: str) -> set[str]:
    """Folded content words: what a short answer must share with its evidence."""
    return {fold(w) for w in tokenize(text) if len(w) > 2}


def restates(text: str, question: str) -> bool:
    """Whether the text says only what the question does: its words and its numbers."""
    return content_words(text) <= content_words(question) and not facts(text).numbers - facts(question).numbers


def _show(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


# What a question asks for, by its question word: the one reading of a question's form the
# answer path keeps, to tell a short answer of the wrong kind ("2024" for "how much did it
# cost?") from an answer. Questions of other forms ask for a description: no kind.
_KINDS = (
    ("date", re.compile(r"\b(?:when|wann|what year|which year|welche[mn]? jahr|seit wann|bis wann)\b", re.I)),
    (
        "number",
        re.compile(
            r"\b(?:how (?:many|much|old|long|far|often)|what percentage|wie (?:viele?|alt|lange|weit|oft|hoch))\b", re.I
        ),
    ),
    ("name", re.compile(r"\b(?:who|whom|whose|wer|wem|wen|wessen|where|wo|woher|wohin)\b", re.I)),
)
_YEAR = re.compile(r"^(?:1[5-9]|20)\d\d$")


def offers_choice(question: str) -> bool:
    """Whether the question names its possible answers ("Which is older, A or B?"): then an
    answer made of the question's own words is an answer."""
    return bool(re.search(r"\b(?:or|oder)\b", question, re.I))


def asked_kind(question: str) -> str | None:
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return None


def is_kind(kind: str | None, answer: str) -> bool:
    """Whether a short answer is of the kind asked for (always, when no kind is asked)."""
    if kind is None:
        return True
    if kind == "date":
        return bool(months(answer) or numbers(answer))
    if kind == "number":
        digits = [m.group(0) for m in _DIGITS.finditer(answer)]
        # A year alone does not say how many or how much.
        return bool(numbers(answer)) and not (
            digits
            and all(_YEAR.match(d) for d in digits)
            and not months(answer)
            and len(numbers(answer)) == len(digits)
        )
    return any(_CAPITALISED.match(w) for w in _WORD.findall(answer))


_DATE_SPAN = re.compile(
    rf"\b(?:\d{{1,2}}\.?\s(?:{'|'.join(MONTHS)})(?:\s\d{{4}})?|(?:{'|'.join(MONTHS)})\s\d{{1,2}}(?:,\s\d{{4}})?"
    rf"|(?:{'|'.join(MONTHS)})\s\d{{4}}|(?:1[5-9]|20)\d\d)\b",
    re.I,
)
_AMOUNT_SPAN = re.compile(
    r"(?:[$€£]\s?)?(?<![\w.])\d[\d,.]*(?:\s?%|\s(?:per ?cent|prozent|percent))?(?:\s(?:million|billion|trillion|thousand"
    r"|Millionen|Milliarden|Billionen|Tausend))?(?:\s[a-zäöü]\w+)?"
    rf"|\b(?:{'|'.join(_NUMBER_WORDS)})\s[a-zäöü]\w+",
    re.I,
)
_POSSESSIVE = re.compile(r"['’]s?$")
_NAME_SPAN = re.compile(r"[A-ZÄÖÜ][\w’'.-]*(?:\s+(?:(?:of|de|von|van|la|du)\s+)?[A-ZÄÖÜ][\w’'.-]*)*")


def stated_answer(question: str, sentence: str) -> str:
    """The one span of the kind the question asks for that the sentence states and the
    question does not already hold; "" when there is none, or more than one."""
    kind = asked_kind(question)
    pattern = {"date": _DATE_SPAN, "number": _AMOUNT_SPAN, "name": _NAME_SPAN}.get(kind or "")
    if pattern is None:
        return ""
    asked = vocabulary(question)
    text = _LEADING.sub("", sentence)
    candidates = []
    for match in pattern.finditer(text):
        span = match.group(0).strip(" .,;:")
        head, _, last = span.rpartition(" ")
        if kind == "number" and head and not tokenize(last):
            span = head  # "23 von": a unit is no function word
        if kind == "name" and ((match.start() == 0 and " " not in span) or months(span) or not names(f"x {span}")):
            continue  # a sentence's first word is capitalised whatever it is; a month is no name
        if kind == "name" and (_POSSESSIVE.search(span) or names(f"x {span.split()[-1]}") & names(question)):
            continue  # "NATO's summit" names what the answer belongs to; "Mark Rutte" is whom the question is about
        if kind == "number" and not is_kind("number", span):
            continue
        told = facts(span)
        if told.empty or (told.numbers <= asked.numbers and told.months <= asked.months and told.names <= asked.names):
            continue  # the question's own words
        candidates.append(span)
    distinct = list(dict.fromkeys(candidates))
    if kind == "name" and len(distinct) > 1:
        # German capitalises every noun: a name of two or more words ("Präsident Biden") is the
        # likelier answer to "who" than a lone capitalised word.
        distinct = [c for c in distinct if " " in c]
    return distinct[0] if len(distinct) == 1 else ""
