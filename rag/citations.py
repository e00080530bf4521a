"""Citation marks in generated text, and the numbering of cited evidence spans.

The model cites evidence blocks as [n]; after verification every mark names one exact
evidence span, and `Numbering` gives the spans the numbers 1, 2, 3 … in the order the
answer first uses them.
"""

from __future__ import annotations

import re

from rag.answer import Citation, Passage
from rag.language import detect_language
from rag.sentences import sentence_ends

# [1], [1, 2], [1][2], [1-2] and the full-width brackets some models emit.
MARK = re.compile(r"\s?[\[【](\d+(?:\s*[,;–-]\s*\d+)*)[\]】]")
# What may follow a sentence's full stop and still belong to it: citation marks, a closing quote,
# and a closing quote that Qwen2.5-Coder-1.5B-Instruct sets apart at the end of a line ("… closer
# to NATO. \""); a quote after a space that more words follow opens the next sentence.
_TRAILER = re.compile(r"(?:[\"'”’»)]|[ \t]+[\"”»](?=[ \t]*(?:\n|$))|\s*,?\s*[\[【][\d,;\s–-]+[\]】])+")


def marks(text: str) -> list[int]:
    """The numbers the text's marks name, in order ("[1-3]" names 1, 2 and 3)."""
    return [n for match in MARK.finditer(text) for n in _numbers(match.group(1))]


def strip_marks(text: str) -> str:
    """The text without its [n] marks."""
    return MARK.sub("", text)


def split_sentences(text: str, lang: str = "en") -> list[str]:
    """The text cut into sentences that, joined, give the text back exactly; the last piece
    may be an unfinished sentence. A sentence keeps the marks that follow its full stop and
    the line break that ends it; the spaces before the next sentence open that one."""
    # pysbd reads the text without the marks (blanked, so offsets hold): a mark between two
    # sentences is no part of either, and the quoter's quotes must split where their evidence did.
    # A quote may be in another language than the question; its own language decides, when it tells.
    masked = MARK.sub(lambda mark: " " * len(mark.group()), text)
    own = detect_language(masked)
    pieces, pos = [], 0
    for end in sentence_ends(masked, own if own != "und" else lang):
        if end <= pos:
            continue  # the end of marks already taken by the sentence before
        if trailer := _TRAILER.match(text, end):
            end = trailer.end()
        gap = end
        while gap < len(text) and text[gap] in " \t":
            gap += 1
        if gap == len(text) or text[gap] == "\n":
            end = min(gap + 1, len(text))  # the line break (or the text's end) closes it
        # otherwise the spaces open the next sentence
        if end > pos:
            pieces.append(text[pos:end])
            pos = end
    return pieces + [text[pos:]] if pos < len(text) else pieces


def complete_sentences(text: str, lang: str = "en") -> tuple[list[str], str]:
    """(the complete sentences, the rest) of text still arriving: a sentence is complete once
    a line break or other words follow it, since marks may still come after its full stop."""
    if not any(end in text for end in ".!?\n"):
        return [], text  # no sentence can have ended yet: spares a split per streamed token
    complete: list[str] = []
    used = 0
    for piece in split_sentences(text, lang):
        rest = text[used + len(piece) :].lstrip()
        if not (piece.endswith("\n") or (rest and not rest.startswith(("[", "【", ",")))):
            break
        complete.append(piece)
        used += len(piece)
    return complete, text[used:]


def citation_for(n: int, passage: Passage, span: tuple[int, int] | None = None) -> Citation:
    """Cite passage `passage` as [n], or just the document span `span` inside it."""
    start, end = span or (passage.start, passage.end)
    return Citation(
        n=n,
        doc_id=passage.doc_id,
        title=passage.title,
        source=passage.source,
        start=start,
        end=end,
        quote=passage.text[start - passage.start : end - passage.start],
        chunk_id=passage.chunk_id,
    )


class Numbering:
    """Final citation numbers, 1, 2, 3 … in order of first use, one per exact evidence span."""

    def __init__(self) -> None:
        self.citations: list[Citation] = []
        self._by_span: dict[tuple[str, int, int], int] = {}

    def number(self, passage: Passage, span: tuple[int, int]) -> int:
        key = (passage.doc_id, *span)
        if key not in self._by_span:
            self._by_span[key] = len(self.citations) + 1
            self.citations.append(citation_for(len(self.citations) + 1, passage, span))
        return self._by_span[key]


def _numbers(group: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group.strip()):
        bounds = [int(x) for x in re.split(r"\s*[–-]\s*", part) if x]
        if len(bounds) == 2 and 0 < bounds[1] - bounds[0] < 10:
            numbers.extend(range(bounds[0], bounds[1] + 1))
        else:
            numbers.extend(bounds)
    return numbers
