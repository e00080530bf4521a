"""Checking the [n] marks of a generated answer against the passages it was given.

A mark that points at no passage is removed and counted: a citation that opens the
wrong source is worse than none. A sentence the model left uncited gets the passage
that supports it best, when one clearly does (small local models often forget the
marks), so that every claim the briefer reads can be traced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.lexical import tokenize
from rag.answer import Citation
from rag.retrieval import Passage

# [1], [1, 2], [1][2], [1-2] and the full-width brackets some models emit.
_MARK = re.compile(r"\s?[\[【](\d+(?:\s*[,;–-]\s*\d+)*)[\]】]")
# A sentence ends at . ! ? (not after an initial as in "U.S." or an ordinal as in
# "12. Oktober"), takes the citation marks that follow it (and a closing quote the 1.5B model
# sets apart at the end of a line: "… closer to NATO. \""), or ends at a line break.
_SENTENCE_END = re.compile(
    r"(?<!\b[A-Z])(?<!\b\d)(?<!\b\d\d)[.!?]+[\"'”’»)]*(?:[ \t]+[\"”»](?=[ \t]*(?:\n|$)))?(?:\s*,?\s*\[[\d,;\s–-]+\])*(?=\s|$)|\n"
)
# Share of a sentence's content words a passage must hold to be cited for it; a mark
# whose passage holds less than WEAK_SUPPORT goes when another mark's passage is clear.
SUPPORT_THRESHOLD = 0.5
WEAK_SUPPORT = 0.2
_MARK_RUN = re.compile(r"(?:\s*,?\s*\[\d+\])+")


@dataclass(frozen=True)
class CheckedAnswer:
    text: str
    citations: list[Citation]
    dropped: int  # marks that pointed at no passage
    added: int  # marks attached to uncited sentences
    cited_sentences: float  # share of sentences carrying at least one mark


def check_citations(text: str, passages: list[Passage]) -> CheckedAnswer:
    """Remove marks pointing nowhere, cite uncited sentences where support is clear."""
    dropped = 0

    def keep_valid(match: re.Match[str]) -> str:
        nonlocal dropped
        numbers = _numbers(match.group(1))
        valid = [n for n in numbers if 1 <= n <= len(passages)]
        dropped += len(numbers) - len(valid)
        return "".join(f" [{n}]" for n in valid)

    text = _MARK.sub(keep_valid, text).strip()
    text, added, cited_share = _cite_uncited_sentences(text, passages)
    order = list(dict.fromkeys(cited_numbers(text)))
    citations = [citation_for(n, passages[n - 1]) for n in order]
    return CheckedAnswer(text, citations, dropped, added, cited_share)


def cited_numbers(text: str) -> list[int]:
    """The n of each single [n] mark, in order."""
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]


def strip_marks(text: str) -> str:
    """The text without its [n] marks."""
    return _MARK.sub("", text)


def citation_for(n: int, passage: Passage, span: tuple[int, int] | None = None) -> Citation:
    """Cite passage [n], or just the document span `span` inside it (a quoted sentence)."""
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


def _numbers(group: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group.strip()):
        bounds = [int(x) for x in re.split(r"\s*[–-]\s*", part) if x]
        if len(bounds) == 2 and 0 < bounds[1] - bounds[0] < 10:
            numbers.extend(range(bounds[0], bounds[1] + 1))
        else:
            numbers.extend(bounds)
    return numbers


def _cite_uncited_sentences(text: str, passages: list[Passage]) -> tuple[str, int, float]:
    """Append the best-supporting passage's mark to sentences that have none."""
    passage_words = [set(tokenize(p.text)) for p in passages]
    out, added, cited, total = [], 0, 0, 0
    for sentence in _sentences(text):
        if len(tokenize(sentence)) < 2:  # a list number or a stray fragment, not a claim
            out.append(sentence)
            continue
        total += 1
        sentence = _prune_marks(sentence, passage_words)
        if "[" not in sentence:
            best = _best_support(sentence, passage_words)
            if best is not None:
                stripped = sentence.rstrip()
                sentence = f"{stripped} [{best + 1}]{sentence[len(stripped):]}"
                added += 1
        cited += "[" in sentence
        out.append(sentence)
    return "".join(out).strip(), added, (cited / total if total else 0.0)


def _prune_marks(sentence: str, passage_words: list[set[str]]) -> str:
    """Each run of marks once, in order, without passages that clearly do not back the sentence."""
    words = set(tokenize(_MARK_RUN.sub(" ", sentence)))
    marks = cited_numbers(sentence)
    support = {n: len(words & passage_words[n - 1]) / max(len(words), 1) for n in marks}
    clear = any(v >= SUPPORT_THRESHOLD for v in support.values())
    keep = [n for n in dict.fromkeys(marks) if not clear or support[n] >= WEAK_SUPPORT]
    if support and max(support.values()) < WEAK_SUPPORT:
        # Every mark is clearly wrong (small models number sentences, not sources): cite the
        # passage that clearly supports the sentence instead, if one does.
        best = _best_support(sentence, passage_words)
        keep = [best + 1] if best is not None else keep

    def first_run_only(match: re.Match[str]) -> str:
        nonlocal keep
        run, keep = "".join(f" [{n}]" for n in keep), []
        return run

    return _MARK_RUN.sub(first_run_only, sentence)


def _sentences(text: str) -> list[str]:
    """The text cut into sentences that, joined, give the text back exactly."""
    pieces, pos = [], 0
    for match in _SENTENCE_END.finditer(text):
        pieces.append(text[pos : match.end()])
        pos = match.end()
    return pieces + [text[pos:]] if pos < len(text) else pieces


def _best_support(sentence: str, passage_words: list[set[str]]) -> int | None:
    words = set(tokenize(sentence))
    if len(words) < 2:
        return None
    shares = [len(words & pw) / len(words) for pw in passage_words]
    best = max(range(len(shares)), key=shares.__getitem__, default=None)
    return best if best is not None and shares[best] >= SUPPORT_THRESHOLD else None
