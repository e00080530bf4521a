"""BM25 over chunk texts (bm25s: sparse matrices, saved as .npy + JSON, no pickle)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_GERMAN

# The corpora mix English and German: drop both languages' stop words, since a
# German "die" or an English "the" says nothing about relevance in either.
STOPWORDS = frozenset(STOPWORDS_EN) | frozenset(STOPWORDS_GERMAN)
_WORD = re.compile(r"\w\w+")
logging.getLogger("bm25s").setLevel(logging.WARNING)


def tokenize(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


class LexicalIndex:
    def __init__(self, bm25: bm25s.BM25 | None, size: int) -> None:
        self._bm25 = bm25
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        if not texts:
            return cls(None, 0)
        bm25 = bm25s.BM25()
        # An all-stop-word chunk would give an empty row; a placeholder keeps positions aligned.
        bm25.index([tokenize(t) or ["\u2205"] for t in texts], show_progress=False)
        return cls(bm25, len(texts))

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(chunk position, BM25 score) pairs, best first; only chunks sharing a word.

        `allowed` restricts to those positions before the top-k cut (filters)."""
        if self._bm25 is None:
            return []
        tokens = [t for t in tokenize(query) if t in self._bm25.vocab_dict]
        if not tokens:
            return []
        # get_scores + argpartition rather than bm25s' retrieve(): that one starts a thread
        # pool and a progress bar per query, 13 ms of a 100k-chunk search (docs/PERFORMANCE.md).
        scores = self._bm25.get_scores(tokens)
        if allowed is not None:
            mask = np.zeros(self.size, dtype=bool)
            mask[allowed] = True
            scores = np.where(mask, scores, 0.0)
        k = min(k, self.size)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(str(folder), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, size: int) -> LexicalIndex:
        if size == 0:
            return cls(None, 0)
        bm25 = bm25s.BM25.load(str(folder), allow_pickle=False, mmap=False)
        if bm25.scores["num_docs"] != size:
            raise ValueError(f"lexical index holds {bm25.scores['num_docs']} chunks, expected {size}")
        return cls(bm25, size)
