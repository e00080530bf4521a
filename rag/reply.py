"""Reading a reply as it streams, and letting through only what verification keeps.

Replies come in a labelled form: an "Answer:" line with the short answer, then
"Support:". Small models keep to labels far better than to a described form, and the
labels hand the UI and the evaluator the direct answer apart from its support. A
refusal is what the answer line says in words ("I don't know"); labels never reach
the user.

`CheckedReply.feed` returns the text the user may read now: nothing until the answer
line is complete and checked, then each support sentence once it is complete and
checked. A claim that is later withdrawn is never shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.answer import RemovedClaim
from rag.citations import complete_sentences, split_sentences, strip_marks
from rag.claims import content_words, offers_choice, restates
from rag.verify import Verifier

SHORT_ANSWER_WORDS = 12
REPEAT_SHARE = 0.9  # a claim whose words are this much those of a claim shown before adds nothing
_ANSWER_LABEL = re.compile(r"^[\s*_#>-]*(?:short answer|answer|kurze antwort|antwort)\s*:\s*", re.IGNORECASE)
_SUPPORT_LABEL = re.compile(
    r"^[\s*_#>-]*(?:support|supporting sentences?|beleg|belege|begründung)\s*:\s*", re.IGNORECASE
)
# A label opens a line, or follows the end of a sentence on the answer's line ("… values. Support: [1]").
_LINE_LABEL = re.compile(
    r"(?im)(?:^|(?<=[.!?\"”’)\]]))[ \t*_#>-]*(?:support|supporting sentences?|beleg|belege|begründung)[ \t]*:[ \t]*"
)
_LABELS = ("answer:", "support:", "antwort:", "beleg:", "belege:", "begründung:", "short answer:", "kurze antwort:")
# How the model declines on the answer line: the prompt's "say that you don't know" in
# either language, or the prompt's placeholder copied back.
_PLACEHOLDER = "a name, number or short phrase"
DECLINED = re.compile(
    r"^\W*$|\b(?:i )?(?:do not|don't|dont) know\b|\bunknown\b|\bnot (?:mentioned|provided|stated|given|specified"
    r"|found|known)\b|\b(?:does|do) not (?:say|contain|mention|provide|answer)\b|\bno information\b|\bunbekannt\b"
    r"|\bwei(?:ß|ss) (?:ich )?(?:es )?nicht\b|\bnicht (?:bekannt|angegeben|erwähnt|enthalten)\b|\bkeine (?:angabe|information)",
    re.IGNORECASE,
)


def short_answer(line: str) -> str:
    """The answer line without label, marks or markdown, or "" when it is more than a few words."""
    line = strip_marks(_ANSWER_LABEL.sub("", line)).strip(" *_#>-.;:<>")  # noqa: B005  (a set of characters, meant)
    return line if 0 < len(line.split()) <= SHORT_ANSWER_WORDS else ""


def declines(line: str) -> bool:
    text = _ANSWER_LABEL.sub("", line)
    return _PLACEHOLDER in text.lower() or bool(DECLINED.search(text))


@dataclass
class CheckedReply:
    verifier: Verifier
    # Keep a short answer that passed the checks off the screen: the judge step still reads it,
    # and no one should read an answer that is then withdrawn.
    hold_short: bool = False
    raw: str = ""
    declined: bool = False
    short: str = ""
    short_evidence: int | None = None  # the evidence sentence that states the short answer
    short_failed: str = ""  # why the short answer was withheld
    removed: list[RemovedClaim] = field(default_factory=list)
    dropped: int = 0
    shown: str = ""
    _answer_done: bool = False
    _line_is_claim: bool = False
    _claims: str = ""  # the text whose sentences are claims: the support, or a long answer line
    _used: int = 0  # characters of _claims already checked
    _said: list[set[str]] = field(default_factory=list)  # the content words of each claim shown

    @property
    def stopped(self) -> bool:
        """Nothing more is worth generating: the model declined or its short answer failed."""
        return self.declined or bool(self.short_failed)

    @property
    def withheld(self) -> list[RemovedClaim]:
        """Every claim verification withheld: the support's and the short answer."""
        return self.removed + ([RemovedClaim(self.short, self.short_failed)] if self.short_failed else [])

    @property
    def kept_claims(self) -> bool:
        claims = self.shown.partition("\n")[2] if self.short and not self.hold_short else self.shown
        return bool(strip_marks(claims).strip())

    def feed(self, piece: str) -> str:
        self.raw += piece
        return self._advance(final=False)

    def finish(self) -> str:
        return self._advance(final=True)

    def _advance(self, final: bool) -> str:
        before = len(self.shown)
        if not self._answer_done:
            self._read_answer_line(final)
        if self._answer_done and not self.stopped:
            self._claims = self._claims_text(final)
            ready, rest = complete_sentences(self._claims[self._used :], self.verifier.lang)
            if final:
                ready, rest = ready + split_sentences(rest, self.verifier.lang), ""
            for sentence in ready:
                self._used += len(sentence)
                self._show_claim(sentence)
        return self.shown[before:]

    def _read_answer_line(self, final: bool) -> None:
        text = self.raw.lstrip()
        if _SUPPORT_LABEL.match(text):  # no answer line: the support is the answer
            self._answer_done = True
            return
        line, newline, _ = text.partition("\n")
        if not newline and not final:
            return
        self._answer_done = True
        if declines(line):
            self.declined = True
            return
        self.short = short_answer(line)
        question = self.verifier.evidence.question
        if self.short and restates(self.short, question) and not offers_choice(question):
            self.short = ""  # "Rutte's three priorities are": the question's words, no answer
            return
        if not self.short:
            self._line_is_claim = bool(line.strip())  # a long answer line is itself a claim
            return
        self.short_evidence, self.short_failed = self.verifier.check_short(self.short)
        if not self.short_failed and not self.hold_short:
            self.shown = f"{self.short}\n"

    def _claims_text(self, final: bool) -> str:
        """The text whose sentences are claims. It only ever grows at its end while the reply
        streams (checked sentences are counted by offset), so nothing before may be stripped."""
        text = self.raw.lstrip()
        first, newline, rest = text.partition("\n")
        if self._line_is_claim:
            text = _ANSWER_LABEL.sub("", first) + newline + rest
        elif not _SUPPORT_LABEL.match(text):
            text = rest
        if not final:
            # Hold back a last line that may still become a label ("Supp" → "Support:").
            head, _, last = text.rpartition("\n")
            if last.strip() and any(label.startswith(last.strip().lower()) for label in _LABELS):
                text = head
        return _LINE_LABEL.sub("", text)  # labels are no claims, wherever the model writes them

    def _show_claim(self, sentence: str) -> None:
        if not sentence.strip():
            if self.shown.strip():
                self.shown += sentence if "\n" in sentence else ""
            return
        said = content_words(strip_marks(sentence))
        if said and any(len(said & before) >= REPEAT_SHARE * len(said) for before in self._said):
            return  # the model repeats a claim it made: once is enough
        verdict = self.verifier.check(sentence)
        self.dropped += verdict.dropped
        if verdict.removed:
            self.removed.append(verdict.removed)
        elif verdict.text:
            self._said.append(said)
            text = verdict.text if self.shown.strip() else verdict.text.lstrip()
            if self.shown and not self.shown.endswith(("\n", " ")) and not text.startswith(("\n", " ")):
                text = " " + text
            self.shown += text
