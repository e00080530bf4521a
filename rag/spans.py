"""The short answer inside a sentence, found without a model: a date, number or name.

No extractive-QA model ships offline, so the extractive backend reads the question's
form instead: "when" wants a date, "how many" a number, "who" and "where" a name. The
candidate of that kind that the question does not already contain, nearest to the
words the sentence shares with the question, is the short answer. A question that
offers a choice ("Manila or Guam?") gets the option the best sentence names. Questions
of other forms ("why", "what are") get none: the quoted sentence answers them.
"""

from __future__ import annotations

import re

from index.lexical import tokenize

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "januar|februar|märz|juni|juli|oktober|dezember"
)
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}\.?\s(?:{_MONTHS})(?:\s\d{{4}})?|(?:{_MONTHS})\s\d{{1,2}}(?:,\s\d{{4}})?|(?:{_MONTHS})\s\d{{4}}"
    rf"|(?:1[0-9]|20)\d\d(?:s)?)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"(?<![\w.])\d[\d,.]*(?:\s?[–-]\s?\d[\d,.]*)?(?:½|\s?%)?(?:\s(?:million|billion|thousand|Millionen|Milliarden))?"
    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|hundred|zwei|drei|vier|fünf|sechs|sieben"
    r"|acht|neun|zehn|zwölf|zwanzig|hundert)\b",
    re.IGNORECASE,
)
_NAME = re.compile(
    r"\b[A-ZÄÖÜ][\w'’.-]+(?:\s+(?:(?:of|the|de|von|van|der|du|la|for|für)\s+)*[A-ZÄÖÜ][\w'’.-]*)*"
)
# "what"/"which" questions ask for names less often than "who": only a name of two or more
# words ("Royal United Services Institute") is taken as their answer.
_PERSON = re.compile(r"\b[A-ZÄÖÜ][\w'’.-]+(?:\s+[A-ZÄÖÜ][\w'’.-]+)+")
_LONG_NAME = re.compile(_NAME.pattern.removesuffix("*") + "+")
_NEXT_WORD = re.compile(r"\s+(\w+)")
_KINDS: list[tuple[re.Pattern[str], tuple[re.Pattern[str], ...]]] = [
    (re.compile(r"^(?:when|wann|(?:in |since |until )?(?:what|which) year|(?:in |seit |bis )?welchem jahr|seit wann|bis wann)\b"),
     (_DATE, _NUMBER)),
    (re.compile(r"^(?:how (?:many|much|old|long|far|often)|what percentage|wie (?:viele?|alt|lange|weit|oft|hoch))\b"),
     (_NUMBER,)),
    # A person is first looked for as adjacent capitalised words ("Präsident Biden", "John Elway"):
    # German capitalises every noun, so a lone capitalised word is a weaker sign of a name.
    (re.compile(r"^(?:who|whom|whose|wer|wem|wen|wessen)\b"), (_PERSON, _NAME)),
    (re.compile(r"^(?:where|wo|wohin|woher)\b"), (_NAME,)),
    # "Which tribe …", "Welcher Spieler …", but not "What are …": that asks for a description.
    (re.compile(r"^(?:what|which|welche[rsmn]?|was für)\s+(?!(?:is|are|was|were|do|does|did|has|have|had|can|will|would"
                r"|ist|sind|war|waren|hat|haben|wird|werden|kann)\b)\w"), (_LONG_NAME,)),
]
_OFFERS_CHOICE = re.compile(r"\b(?:or|oder)\b", re.IGNORECASE)
# Leading words that do not change what a question asks for ("And who …", "Bei welchem …").
_LEAD = re.compile(r"^(?:(?:and|und|so|also|then|dann|to|from|with|for|at|of|on|bei|mit|von|zu|an|auf|für|aus)\s+)+",
                   re.IGNORECASE)


def short_span(question: str, sentence: str) -> str:
    """The date, number or name in `sentence` that answers `question`; "" when its form
    asks for none or the sentence holds no new one."""
    kinds = _expected_kinds(question)
    if not kinds:
        return ""
    asked = {stem(w) for w in tokenize(question)}
    if _OFFERS_CHOICE.search(question):
        # "Which battle came first, Manila or Guam?": the answer is one of the question's own
        # names; the sentence that answers best names it.
        named = [m.group() for m in _NAME.finditer(sentence) if {stem(w) for w in tokenize(m.group())} & asked]
        return named[0].strip().rstrip(".") if named else ""
    anchors = [m.start() for m in re.finditer(r"\w+", sentence) if stem(m.group().lower()) in asked]
    for pattern in kinds:
        candidates = [m for m in pattern.finditer(sentence) if not _all_asked(m.group(), asked)]
        if candidates:
            best = min(candidates, key=lambda m: min((abs(m.start() - a) for a in anchors), default=0))
            return _with_unit(best, sentence, asked) if pattern is _NUMBER else best.group().strip().rstrip(".")
    return ""


def _expected_kinds(question: str) -> tuple[re.Pattern[str], ...]:
    form = _LEAD.sub("", question.strip().lower())
    for opener, kinds in _KINDS:
        if opener.match(form):
            return kinds
    return ()


def _with_unit(match: re.Match[str], sentence: str, asked: set[str]) -> str:
    """"two hours" for "how long", but "308" for "how many points" (the unit is asked)."""
    following = _NEXT_WORD.match(sentence, match.end())
    unit = following.group(1) if following else ""
    if unit and unit.isalpha() and stem(unit.lower()) not in asked and tokenize(unit):
        return f"{match.group().strip()} {unit}"
    return match.group().strip()


def _all_asked(text: str, asked: set[str]) -> bool:
    words = [stem(w) for w in tokenize(text)]
    return bool(words) and all(w in asked for w in words)


def stem(word: str) -> str:
    """Crude, language-neutral stemming: "priorities" and "priority" share "priori"."""
    return word[:6]
