"""Where sentences end, by pysbd's rules for the text's language: one splitter for the documents
(chunk boundaries, evidence sentences) and for the model's replies (the claims to check).

pysbd knows each language's abbreviations: "z. B.", "u. a." and "Nr. 5" end no German sentence,
"Mr.", "e.g." and "Jan. 5" no English one; the regexes it replaced cut at all of them. A line
break always ends a sentence. It is about fifty times slower than a regex (250,000 characters a
second on this project's machines), so results are cached per text.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd

# pysbd ends no sentence at a full stop inside a closing bracket ("… privately governed.) In much
# of the South …"), which Wikipedia-style text has often; a capital after it starts one.
_BRACKETED_END = re.compile(r"(?<=[.!?][)\]])(?=\s+[A-ZÄÖÜ])")


@lru_cache(maxsize=4096)  # the evidence step splits the same retrieved chunks question after question
def sentence_ends(text: str, lang: str = "en") -> tuple[int, ...]:
    """The offset just after each sentence's last character (whitespace after it excluded); the
    last offset is `len(text)` when the text ends in an unfinished sentence or whitespace."""
    # A new segmenter per call: pysbd keeps the text being split on the segmenter, so a shared one
    # is not safe across the server's threads.
    segmenter = pysbd.Segmenter(language=lang if lang in pysbd.languages.LANGUAGE_CODES else "en", clean=False)
    ends, pos = [], 0
    for piece in segmenter.segment(text):
        piece = piece.strip()
        found = text.find(piece, pos) if piece else -1
        if found >= 0:  # a piece pysbd rewrote is not found: it joins the next sentence
            pos = found + len(piece)
            ends.append(pos)
    if not ends or ends[-1] < len(text):
        ends.append(len(text))
    return tuple(sorted(set(ends) | {m.start() for m in _BRACKETED_END.finditer(text)}))
