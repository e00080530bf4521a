"""The short answer inside the best sentences, found without a model: a date, number or name.

No extractive-QA model ships offline, so the extractive backend reads the question's
form instead: "when" wants a date, "how many" a number, "who" and "where" a name, "what
film" a title. The form is read at the question's start or where its question word
stands ("… is located in what county?"). The candidate of that kind that repeats the
fewest of the question's own words, nearest to the words the sentence shares with the
question, is the short answer.

A question that offers a choice ("Manila or Guam?") gets one of its own options: for
"which came first" or "who was born first" the option whose sentences hold the earlier
date, otherwise the option the best sentence names. Questions of other forms ("why",
"what are") get none: the quoted sentences answer them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.lexical import tokenize

_MONTH_NUMBERS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12,
    "januar": 1, "februar": 2, "märz": 3, "juni": 6, "juli": 7, "oktober": 10, "dezember": 12,
}
_MONTHS = "|".join(_MONTH_NUMBERS)
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}\.?\s(?:{_MONTHS})(?:\s\d{{4}})?|(?:{_MONTHS})\s\d{{1,2}}(?:,\s\d{{4}})?|(?:{_MONTHS})\s\d{{4}}"
    rf"|(?:1[0-9]|20)\d\d(?:s|\s?(?:–|-|to|until|bis)\s?(?:1[0-9]|20)\d\d)?)\b",
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
# A place is named after "in", "at", "near" ("… a summit in Ramstein"), and is not a month.
_PLACE = re.compile(rf"\b(?i:in|at|near|im|nach|bei|aus|from)\s+(?!(?i:{_MONTHS})\b)"
                    r"(?P<name>[A-ZÄÖÜ][\w'’.-]+(?:\s+[A-ZÄÖÜ][\w'’.-]+)*)")
# A title in quotes ("nicknamed “Teflon Mark”"), up to eight words (longer ones are speech):
# what "what film" or "what nickname" asks for.
_QUOTED = re.compile(r"(?<=[“\"„‘‚])[A-ZÄÖÜ0-9][\w'’.&:!?-]*(?:\s[\w'’.&:!?-]+){0,7}(?=,?[”\"“’‘])")
# The subject a sentence defines ("Awake is a 2007 American thriller film …"): the answer to
# "what film …" when the sentence holds the word the question asks about.
_DEFINED = re.compile(rf"^[\"“„]?({_NAME.pattern})[\"”“]?(?:\s+\([^)]*\))?\s+(?:is|was|are|were|ist|war|sind|waren)\s+"
                      r"(?:a|an|the|one|ein|eine|einer|der|die|das)\b")
# Words that open sentences but no names, beyond the stopwords.
_OPENERS = {"since", "after", "although", "despite", "during", "however", "meanwhile", "ultimately", "additionally",
            "seit", "nach", "trotz", "während", "obwohl", "jedoch", "zudem"}
_ARTICLES = {"the", "der", "die", "das", "le", "la", "les", "el"}
_NAMING = re.compile(r"\b(?:nicknamed|known as(?: the)?|called|named|titled|dubbed|genannt|bekannt als)\W*$", re.IGNORECASE)
# Nouns that ask for a name: "what nickname", "welchen Spitznamen", "under what title".
_NAME_NOUN = re.compile(r"(?:nick|spitz|bei|ruf|künstler)?namen?s?$|title|titel|alias|moniker|pseudonym")
_NAMES = (_NAME, _PERSON, _LONG_NAME, _PLACE)
_POSSESSIVE = re.compile(r"['’]s?$")
_NEXT_WORD = re.compile(r"\s+(\w+)")
_VERB = r"(?:is|are|was|were|do|does|did|has|have|had|can|will|would|ist|sind|war|waren|hat|haben|wird|werden|kann)"
_PHRASE_END = re.compile(rf"\b(?:{_VERB}|in|of|at|on|for|from|by|with|that|who|which)\b|[,?;.]")
_WHAT_NOUN = re.compile(rf"(?:what|which|welche[rsmn]?|was für)\s+(?!{_VERB}\b)\w")
_KINDS: list[tuple[re.Pattern[str], tuple[re.Pattern[str], ...]]] = [
    (re.compile(r"(?:when|wann|(?:in |since |until |on )?(?:what|which) (?:year|date|day)|(?:in |seit |bis |an )?welche[mn] (?:jahr|tag|datum)"
                r"|seit wann|bis wann)\b"),
     (_DATE, _NUMBER)),
    (re.compile(r"(?:how (?:many|much|old|long|far|often)|what percentage|wie (?:viele?|alt|lange|weit|oft|hoch))\b"),
     (_NUMBER,)),
    # A person is first looked for as adjacent capitalised words ("Präsident Biden", "John Elway"):
    # German capitalises every noun, so a lone capitalised word is a weaker sign of a name.
    (re.compile(r"(?:who|whom|whose|wer|wem|wen|wessen)\b"), (_PERSON, _NAME)),
    (re.compile(r"(?:where|wo|wohin|woher)\b"), (_PLACE, _NAME)),
    # "Which tribe …", "Welcher Spieler …", but not "What are …": that asks for a description.
    (_WHAT_NOUN, (_DEFINED, _QUOTED, _LONG_NAME)),
]
# Leading words that do not change what a question asks for ("And who …", "Bei welchem …").
_LEAD = re.compile(r"^(?:(?:and|und|so|also|then|dann|to|from|with|for|at|of|on|bei|mit|von|zu|an|auf|für|aus)\s+)+",
                   re.IGNORECASE)
# Question words that ask when they stand inside a question ("… located in what county?").
# "who", "where" and "which" after a comma mostly start a relative clause there instead.
_INNER_QUESTION_WORD = re.compile(r"(?<!,)\s(?:what|which|how|welche[rsmn]?|wie)\b")

_OR = re.compile(r"\s+(?:or|oder)\s+", re.IGNORECASE)
_OPTION_WORD = re.compile(r"^(?:[A-ZÄÖÜ0-9\"“„'].*|of|the|de|von|van|der|and|&)$")
_QUESTION_START = re.compile(r"^(?:is|was|are|were|did|does|do|has|have|which|who|what|ist|war|sind|hat|welche[rsmn]?|wer)$",
                             re.IGNORECASE)
# "Was" opens English yes/no questions ("Was the film …", "Was Mike Judge …") and German
# "what" ones, where a verb follows ("Was wird …", "Was gilt …").
_YES_NO = re.compile(r"^(?:is|are|was(?=(?-i:\s+(?:the|a|an|it|there|he|she|they|this|that)\b|\s+[A-Z]))|were|do|does|did|has"
                     r"|have|had|can|could|ist|sind|war|waren|hat|haben|hatte|kann)\b", re.IGNORECASE)
_GERMAN_YES_NO = re.compile(r"^(?:ist|sind|war|waren|hat|haben|hatte|kann)\b", re.IGNORECASE)
_SAME = re.compile(r"\b(?:same|similar|gleiche[nrs]?|dieselbe[nrs]?|derselben)\b", re.IGNORECASE)
_BOTH = {"both", "beide", "beiden"}
VERDICT_SENTENCES = 3  # sentences naming a thing that are read for its claim
_EARLIER = re.compile(r"\b(?:first|earlier|earliest|older|oldest|before|zuerst|früher|älter|ältere[rsn]?)\b", re.IGNORECASE)
_LATER = re.compile(r"\b(?:later|latest|last|younger|youngest|newer|newest|more recent|most recent|später|jünger|neuer)\b",
                    re.IGNORECASE)
_DEATH = re.compile(r"\b(?:died|die|death|dead|starb|gestorben|tod)\b", re.IGNORECASE)
_DAY_MONTH_YEAR = re.compile(rf"\b(\d{{1,2}})\.?\s({_MONTHS})\s(\d{{4}})\b", re.IGNORECASE)
_MONTH_DAY_YEAR = re.compile(rf"\b({_MONTHS})\s(?:(\d{{1,2}}),\s)?(\d{{4}})\b", re.IGNORECASE)
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")


@dataclass(frozen=True)
class Span:
    text: str
    evidence: tuple[int, ...]  # which of the given sentences it was read from
    # Chosen by comparing the dates of both options ("which came first"): a reading a small
    # LLM gets wrong about as often as right, and a rule gets right when both dates are found.
    compared: bool = False


def short_answer(question: str, sentences: Sequence[str], titles: Sequence[str] = ()) -> Span | None:
    """The date, number, name or option in `sentences` (best first; `titles` are their
    documents') that answers `question`; None when its form asks for none or the
    sentences hold no new one."""
    titles = titles or [""] * len(sentences)
    # A condensed follow-up holds the earlier question first; the last one is being asked.
    question = re.split(r"(?<=\?)\s+(?=\S)", question.strip())[-1]
    options = _options(question)
    if options:
        return _choose(question, options, sentences, titles)
    entities = _yes_no_entities(question)
    if entities:
        return _verdict(question, entities, sentences, titles)
    kinds = _expected_kinds(question)
    if not kinds:
        return None
    asked = stems(question)
    # The surer kind first, in any of the sentences: a date in the second sentence answers
    # "when" better than a bare number in the first.
    for pattern in kinds:
        for i, sentence in enumerate(sentences):
            text = _span_in(question, pattern, sentence, asked)
            if text:
                return Span(text, (i,))
    return None


def _span_in(question: str, pattern: re.Pattern[str], sentence: str, asked: set[str]) -> str:
    if pattern is _DEFINED:
        defined = _DEFINED.match(sentence)
        definition = sentence[defined.end():].split(",", 1)[0] if defined else ""
        if defined and _holds_asked_noun(question, definition) and not _all_asked(defined.group(1), asked):
            return defined.group(1).strip().rstrip(".")
        return ""
    candidates = [(m.group("name") if "name" in pattern.groupindex else m.group(), m.start()) for m in pattern.finditer(sentence)]
    if pattern is _QUOTED:
        # A quote is a title where the sentence says of what: "the film “…”", "nicknamed “…”".
        candidates = [(text, at) for text, at in candidates
                      if (_NAMING.search(sentence[max(0, at - 30):at]) and _asks_for_name(question))
                      or _holds_asked_noun(question, sentence)]
    if pattern in _NAMES:
        if _is_heading(sentence):
            return ""  # "A New Era Begins": in a headline every word looks like a name
        candidates = [(_POSSESSIVE.sub("", text), at) for text, at in candidates if not _opens_with_stopword(text)]
    candidates = [(text, at) for text, at in candidates if not _all_asked(text, asked)]
    if not candidates:
        return ""
    anchors = [m.start() for m in re.finditer(r"\w+", sentence) if stem(m.group().lower()) in asked]
    text, at = min(candidates, key=lambda c: (_asked_share(c[0], asked), min((abs(c[1] - a) for a in anchors), default=0)))
    return _with_unit(text, at, sentence, asked) if pattern is _NUMBER else text.strip().rstrip(".")


def _expected_kinds(question: str) -> tuple[re.Pattern[str], ...]:
    form = _LEAD.sub("", question.strip().lower())
    for start in [0, *(m.start() + 1 for m in _INNER_QUESTION_WORD.finditer(form))]:
        for opener, kinds in _KINDS:
            if opener.match(form, start):
                return kinds
    return ()


def _holds_asked_noun(question: str, text: str) -> bool:
    """Whether the text holds the noun the question's "what …" asks for ("what film")."""
    noun = _asked_noun(question)
    return bool(noun) and stem(noun) in stems(text)


def _asks_for_name(question: str) -> bool:
    """Whether the question's "what …" asks for a name ("Welchen Spitznamen …"), which a
    quote after "known as" gives; a quote answers "which minister" only by chance."""
    return _NAME_NOUN.match(_asked_noun(question)) is not None


def _asked_noun(question: str) -> str:
    """The noun the question's "what …" asks for ("film"); "" when there is none."""
    found = _WHAT_NOUN.search(question.lower())
    if not found:
        return ""
    phrase = _PHRASE_END.split(question.lower()[found.end() - 1:], maxsplit=1)[0].split()
    return phrase[-1] if phrase else ""


# --------------------------------------------------------------------------- choices

def compares(question: str) -> bool:
    """Whether the question weighs two named things ("A or B?", "Are A and B both …?"),
    whose own sentences may rank low."""
    return _options(question) is not None or bool(_yes_no_entities(question))


def _options(question: str) -> tuple[str, str] | None:
    """The two options of "…, A or B?" or "Did X sing with A or B?"; None for other questions."""
    parts = _OR.split(question.strip().rstrip("?. "))
    if len(parts) != 2:
        return None
    left, right = parts
    left = re.split(r"[,:]", left.rstrip(" ,"))[-1]  # "Which came first, A or B", "…: A, or B"
    first = _option_at(left.split(), from_end=True)
    second = _option_at(right.split(), from_end=False)
    if not (first and second):
        return None
    return first[:1].upper() + first[1:], second[:1].upper() + second[1:]  # either may open the answer


def _option_at(words: list[str], from_end: bool) -> str:
    """The option next to "or": a quoted title, a run of capitalised words, or one plain word."""
    if not words:
        return ""
    ordered = list(reversed(words)) if from_end else words
    if ordered[0][:1] in "\"“„" or ordered[0][-1:] in "\"”":
        text = " ".join(words)
        quoted = re.findall(r"[\"“„]([^\"”“]+)[\"”“]", text)
        return quoted[-1 if from_end else 0] if quoted else ""
    run: list[str] = []
    for word in ordered:
        if not _OPTION_WORD.match(word) or _QUESTION_START.match(word):
            break
        run.append(word)
    while run and not run[-1][:1].isupper() and not run[-1][:1].isdigit():
        run.pop()  # "of", "the" at the far end belong to the question, not the option
    if not run:
        return ordered[0].strip(",")  # "left-hand or right-hand": plain words
    return " ".join(reversed(run) if from_end else run).strip(",")


def _choose(question: str, options: tuple[str, str], sentences: Sequence[str], titles: Sequence[str]) -> Span | None:
    """The option the sentences favour: by date for "which came first", else by the best sentence."""
    naming = [[i for i, (s, t) in enumerate(zip(sentences, titles)) if mentions(option, s, t) and not mentions(other, s, t)]
              for option, other in (options, options[::-1])]
    earlier, later = _EARLIER.search(question), _LATER.search(question)
    if earlier or later:
        # Only an option's own document dates it ("Arthur Conan Doyle (22 May 1859 – …)"), best
        # where a sentence names it in full; other documents date something else it did.
        own = [sorted((i for i in found if mentions(option, "", titles[i])), key=lambda i, o=option: not mentions(o, sentences[i]))
               for found, option in zip(naming, options)]
        dated = [_first_dated(found, sentences, last=bool(_DEATH.search(question))) for found in own]
        if dated[0] and dated[1] and dated[0][0] != dated[1][0]:
            first_is_earlier = dated[0][0] < dated[1][0]
            winner = 0 if first_is_earlier == bool(earlier) else 1
            return Span(options[winner], tuple(sorted((dated[0][1], dated[1][1]))), compared=True)
    best = min((found[0] for found in naming if found), default=None)
    if best is None:
        return None
    return Span(options[0] if best in naming[0] else options[1], (best,))


def _first_dated(found: list[int], sentences: Sequence[str], last: bool) -> tuple[tuple[int, int, int], int] | None:
    """The date of the best of these sentences that holds one, and which sentence it is."""
    for i in found:
        date = _date_key(sentences[i], last)
        if date:
            return date, i
    return None


def _yes_no_entities(question: str) -> list[str]:
    """The things a yes/no question asks about together ("Are Staten Island Catapult and This
    Is Elvis both documentaries?"); [] for other questions and for "the same …" ones,
    whose answer needs a comparison of values, not a check."""
    if not _YES_NO.match(question.strip()) or _SAME.search(question) or _OR.search(question):
        return []
    body = question.strip().split(maxsplit=1)[-1]
    entities = re.findall(r"[\"“„]([^\"”“]+)[\"”“]", body) or [m.group() for m in _NAME.finditer(body)]
    return entities if len(entities) >= 2 else []


def _verdict(question: str, entities: list[str], sentences: Sequence[str], titles: Sequence[str]) -> Span | None:
    """"yes" when the sentences naming each thing also say what the question asks of it, else
    "no"; None when one of them is named nowhere. Each thing's sentence is the evidence."""
    named = set().union(*(stems(entity) for entity in entities))
    claim = stems(question) - named - _BOTH
    if not claim:
        return None
    evidence, holds = [], True
    for entity in entities:
        naming = [i for i, (s, t) in enumerate(zip(sentences, titles)) if mentions(entity, s, t)]
        if not naming:
            return None
        saying = [i for i in naming[:VERDICT_SENTENCES] if _holds(claim, sentences[i])]
        evidence.append((saying or naming)[0])
        holds = holds and bool(saying)
    german = bool(_GERMAN_YES_NO.match(question.strip()))
    word = ("Ja" if holds else "Nein") if german else ("yes" if holds else "no")
    return Span(word, tuple(sorted(set(evidence))))


def _holds(claim: set[str], sentence: str) -> bool:
    """Whether the sentence says every word of the claim, allowing for endings ("actors", "actor")."""
    words = stems(sentence)
    return all(any(c == w or (min(len(c), len(w)) >= 4 and (c.startswith(w) or w.startswith(c))) for w in words)
               for c in claim)


def mentions(name: str, sentence: str, title: str = "") -> bool:
    """Whether the sentence (or the title of its document) names `name`."""
    words = stems(name)
    return bool(words) and words <= stems(f"{title} {sentence}")


def _date_key(sentence: str, last: bool) -> tuple[int, int, int] | None:
    """The first (or, for a death, the last) date in the sentence, as (year, month, day)."""
    dates = [(int(m[3]), _MONTH_NUMBERS[m[2].lower()], int(m[1]), m.start()) for m in _DAY_MONTH_YEAR.finditer(sentence)]
    dates += [(int(m[3]), _MONTH_NUMBERS[m[1].lower()], int(m[2] or 0), m.start()) for m in _MONTH_DAY_YEAR.finditer(sentence)]
    covered = {d[0] for d in dates}
    dates += [(int(m[1]), 0, 0, m.start()) for m in _YEAR.finditer(sentence) if int(m[1]) not in covered]
    if not dates:
        return None
    year, month, day, _ = (max if last else min)(dates, key=lambda d: d[3])
    return year, month, day


# --------------------------------------------------------------------------- helpers

def new_names(question: str, sentence: str) -> list[str]:
    """The names in the sentence that the question does not hold: where a second hop leads."""
    asked = stems(question)
    return [m.group() for m in _NAME.finditer(sentence) if tokenize(m.group()) and not _all_asked(m.group(), asked)]


def _with_unit(number: str, at: int, sentence: str, asked: set[str]) -> str:
    """"two hours" for "how long", but "308" for "how many points" (the unit is asked)."""
    following = _NEXT_WORD.match(sentence, at + len(number))
    unit = following.group(1) if following else ""
    if unit and unit.isalpha() and stem(unit.lower()) not in asked and tokenize(unit):
        return f"{number.strip(' ,.')} {unit}"
    return number.strip(" ,.")


def _is_heading(sentence: str) -> bool:
    words = re.findall(r"[^\W\d_][\w'’-]*", sentence)
    return len(words) >= 3 and sum(w[0].isupper() for w in words) >= 0.7 * len(words)


def _opens_with_stopword(name: str) -> bool:
    """"Since Russia": a capitalised word at a sentence's start is not a name."""
    first = name.split()[0].lower()
    return first in _OPENERS or (not tokenize(first) and len(first) > 1 and first not in _ARTICLES)


def _asked_share(text: str, asked: set[str]) -> float:
    words = [stem(w) for w in tokenize(text)]
    return sum(w in asked for w in words) / len(words) if words else 0.0


def _all_asked(text: str, asked: set[str]) -> bool:
    return bool(tokenize(text)) and _asked_share(text, asked) == 1.0


def stems(text: str) -> set[str]:
    """The stems of the text's content words: what two texts are compared by."""
    return {stem(w) for w in tokenize(text)}


def stem(word: str) -> str:
    """Crude, language-neutral stemming: "priorities" and "priority" share "priori"."""
    return word[:6]
