"""The language of a text, offline: py3langid's bundled model.

Kept apart from the loaders so that the question path (gate, retrieval, chain) does not
import the PDF and DOCX parsers just to know a question's language.
"""

from __future__ import annotations

import functools

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# Below these the classifier guesses (a name like "Mark Rutte" comes out Frisian).
_MIN_LETTERS = 12
_MIN_CONFIDENCE = 0.5
# Enough text to be sure of the language; classifying a whole book only costs time.
_SAMPLE_CHARS = 20_000


def detect_language(text: str) -> str:
    """ISO 639-1 code ("en", "de", ...), a 639-3 code for languages that have no
    two-letter code, or "und" when the text is too short or the guess is unsure."""
    sample = text[:_SAMPLE_CHARS]
    if sum(c.isalpha() for c in sample) < _MIN_LETTERS:
        return "und"
    lang, confidence = _identifier().classify(sample)
    if confidence < _MIN_CONFIDENCE or lang == "zxx":  # zxx: "no linguistic content"
        return "und"
    return str(lang)


@functools.cache
def _identifier() -> LanguageIdentifier:
    # norm_probs turns raw scores into a probability we can threshold; the bundled
    # model loads from the package, never from the network.
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
