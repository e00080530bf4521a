"""The answer's confidence: the probability that the answer is right.

A logistic model of the signals the pipeline has (how well the best evidence sentence
supports the question, the judge's probability, whether a short answer stood, whether
verification removed a claim), fitted per backend on the tune halves of the dev sets by
`scripts/calibrate.py` and kept in `rag/calibration.json`. A backend without a fit (a plugin,
the openai backend) gets the uncalibrated formula, and says so in the label.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
FEATURES = ("support", "judged", "short_answer", "claim_removed")
UNJUDGED = 0.5  # the judge's value for an answer it did not judge: no opinion


@dataclass(frozen=True)
class Signals:
    support: float  # the best evidence sentence's score (rag/evidence.py)
    judged: float | None  # the judge's P(yes), or None
    short_answer: bool  # a short answer stood
    claim_removed: bool  # verification withheld a claim

    def vector(self) -> list[float]:
        judged = UNJUDGED if self.judged is None else self.judged
        return [self.support, judged, float(self.short_answer), float(self.claim_removed)]


@dataclass(frozen=True)
class Calibration:
    weights: tuple[float, ...]  # one per FEATURES
    bias: float

    def probability(self, signals: Signals) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, signals.vector(), strict=True))
        return 1.0 / (1.0 + math.exp(-z))


@cache
def calibrations() -> dict[str, Calibration]:
    """The fitted calibration of each backend, by name (empty when none was fitted)."""
    if not CALIBRATION_FILE.is_file():
        return {}
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    return {name: Calibration(tuple(fit["weights"]), fit["bias"]) for name, fit in data["backends"].items()}


def confidence(backend: str, signals: Signals, floor: float) -> float:
    """P(the answer is right) where the backend was calibrated; else the uncalibrated formula."""
    fitted = calibrations().get(backend)
    return round(fitted.probability(signals), 3) if fitted is not None else formula(signals, floor)


def formula(signals: Signals, floor: float) -> float:
    """How far the support rises above the gate, halved when a claim was removed: a score, not a probability."""
    ceiling = 0.6
    matched = min(1.0, max(0.0, (signals.support - floor) / (ceiling - floor)))
    return round(0.5 * matched + 0.5 * (0.5 if signals.claim_removed else 1.0), 3)


WORDS = {
    "en": ("well supported", "partly supported", "weakly supported"),
    "de": ("gut belegt", "teilweise belegt", "schwach belegt"),
}


def in_words(value: float, lang: str) -> str:
    """The confidence as a briefer reads it."""
    strong, partial, weak = WORDS.get(lang, WORDS["en"])
    return strong if value >= 0.7 else partial if value >= 0.4 else weak
