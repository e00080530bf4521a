"""Reading the model's reply: an "Answer:" line with the short answer, then "Support:".

The prompt asks for that labelled form because small models keep to it far better
than to a described one ("start with the short answer"), and because it hands the
UI and the evaluator the direct answer apart from its support. Measured on the
XQuAD and demo subsets with the bundled 1.5B model, the labelled form also stopped
most false refusals: a dedicated refusal marker drew the model to it whenever the
passages were in the other language. So a refusal is what the answer line says in
words ("I don't know"), and the labels never reach the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.citations import strip_marks

SHORT_ANSWER_WORDS = 12
_ANSWER_LABEL = re.compile(r"^[\s*_#>-]*(?:short answer|answer|kurze antwort|antwort)\s*:\s*", re.IGNORECASE)
_SUPPORT_LABEL = re.compile(r"^[\s*_#>-]*(?:support|supporting sentences?|beleg|begründung)\s*:\s*", re.IGNORECASE | re.MULTILINE)
_LABELS = ("answer:", "support:", "antwort:", "beleg:", "begründung:", "short answer:", "kurze antwort:")
# How the model declines on the answer line: the prompt's "say that you don't know" in
# either language, or the prompt's placeholder copied back.
_PLACEHOLDER = "a name, number or short phrase"
_DECLINED = re.compile(
    r"^\W*$|\b(?:i )?(?:do not|don't|dont) know\b|\bunknown\b|\bnot (?:mentioned|provided|stated|given|specified"
    r"|found|known)\b|\b(?:does|do) not (?:say|contain|mention|provide)\b|\bno information\b|\bunbekannt\b"
    r"|\bwei(?:ß|ss) (?:ich )?(?:es )?nicht\b|\bnicht (?:bekannt|angegeben|erwähnt|enthalten)\b|\bkeine (?:angabe|information)"
    r"|\bNOT_IN_SOURCES\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Reply:
    answer_line: str  # the short answer as the model wrote it, label removed, marks kept
    support: str  # the rest of the reply, label removed
    declined: bool

    @property
    def short(self) -> str:
        """The short answer without marks or markdown, or "" when the line is more than a few words."""
        line = strip_marks(self.answer_line).strip(" *_#>-.;:")
        return line if 0 < len(line.split()) <= SHORT_ANSWER_WORDS else ""

    @property
    def text(self) -> str:
        """What the user reads."""
        return f"{self.answer_line}\n{self.support}" if self.support else self.answer_line


def parse_reply(raw: str) -> Reply:
    first, _, rest = raw.strip().partition("\n")
    # Models copy the form's brackets too: "<keep NATO strong; ...>".
    answer_line = _ANSWER_LABEL.sub("", first).strip().removeprefix("<").replace(">", "", 1).strip()
    support = _SUPPORT_LABEL.sub("", rest.strip()).strip()
    # The placeholder may come back behind the wrong label too: "Support: <a name, number or …".
    declined = _PLACEHOLDER in answer_line.lower() or bool(_DECLINED.search(answer_line))
    return Reply(answer_line, support, declined)


class ReplyStream:
    """The reply as the user should see it while it streams: nothing until the answer line
    is complete (it may be a refusal, which is never shown), then the support as it
    arrives, with labels removed. `feed` and `finish` return the text to append."""

    def __init__(self) -> None:
        self.raw = ""
        self.declined = False  # known once the answer line is complete
        self._shown = ""

    def feed(self, piece: str) -> str:
        self.raw += piece
        return self._advance(final=False)

    def finish(self) -> str:
        return self._advance(final=True)

    def _advance(self, final: bool) -> str:
        ready = self.raw
        if not final:
            if "\n" not in ready.strip():
                return ""
            # Hold back a last line that may still become a label ("Supp" → "Support:").
            head, _, last = ready.rpartition("\n")
            if any(label.startswith(last.strip().lower()) for label in _LABELS):
                ready = head
        reply = parse_reply(ready)
        self.declined = reply.declined
        if reply.declined:
            return ""
        visible = reply.text
        if not visible.startswith(self._shown):
            return ""  # never take back what the user has already seen
        delta, self._shown = visible[len(self._shown):], visible
        return delta
