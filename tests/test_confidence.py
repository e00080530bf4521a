"""An answer's confidence is the probability that it is right, and reads as words in the chat."""

from __future__ import annotations

import math
import random

import pytest

from eval.metrics import expected_calibration_error, reliability
from rag.confidence import Calibration, Signals, calibrations, confidence, formula, in_words
from rag.engine import Engine
from ui.render import footer_text


def test_the_calibration_error_of_a_fixed_synthetic_set() -> None:
    honest = [(0.8, i < 8) for i in range(10)] + [(0.3, i < 3) for i in range(10)]
    assert expected_calibration_error(honest) == pytest.approx(0.0)
    overconfident = [(0.9, i < 5) for i in range(10)]  # says 90 %, right half the time
    assert expected_calibration_error(overconfident) == pytest.approx(0.4)
    mixed = honest + overconfident  # a third of the answers off by 0.4
    assert expected_calibration_error(mixed) == pytest.approx(0.4 / 3, abs=1e-4)
    assert [(n, share) for _, _, n, _, share in reliability(mixed)] == [(10, 0.3), (10, 0.8), (10, 0.5)]


def test_a_fitted_calibration_is_a_logistic_model_of_the_signals() -> None:
    fitted = Calibration(weights=(2.0, 3.0, 0.5, -1.0), bias=-3.0)
    strong = Signals(support=0.7, judged=0.95, short_answer=True, claim_removed=False)
    weak = Signals(support=0.3, judged=0.2, short_answer=False, claim_removed=True)
    z = -3.0 + 2.0 * 0.7 + 3.0 * 0.95 + 0.5
    assert fitted.probability(strong) == pytest.approx(1 / (1 + math.exp(-z)))
    assert fitted.probability(weak) < 0.2 < 0.7 < fitted.probability(strong)
    unjudged = Signals(support=0.7, judged=None, short_answer=True, claim_removed=False)
    assert fitted.probability(unjudged) < fitted.probability(strong)  # no opinion is not a yes


def test_a_backend_without_a_fit_keeps_the_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    signals = Signals(support=0.5, judged=None, short_answer=True, claim_removed=False)
    assert "a-plugin-backend" not in calibrations()
    assert confidence("a-plugin-backend", signals, floor=0.2) == formula(signals, floor=0.2)


def test_the_shipped_fits_are_calibrated_on_their_check_halves() -> None:
    for name, fit in calibrations().items():
        assert len(fit.weights) == 4, name
    rng = random.Random(0)
    sampled = [Signals(rng.random(), rng.random(), rng.random() < 0.5, rng.random() < 0.2) for _ in range(200)]
    for fit in calibrations().values():
        assert all(0.0 < fit.probability(s) < 1.0 for s in sampled)


@pytest.mark.parametrize(
    ("value", "lang", "words"),
    [(0.85, "en", "well supported"), (0.5, "en", "partly supported"), (0.2, "de", "schwach belegt")],
)
def test_confidence_in_words(value: float, lang: str, words: str) -> None:
    assert in_words(value, lang) == words


def test_the_chat_says_how_well_an_answer_is_supported(demo_engine: Engine) -> None:
    answer = demo_engine.ask("What are Rutte's three priorities?", backend="extractive")
    assert f"({answer.confidence:.0%})" in footer_text(answer)
    assert in_words(answer.confidence, "en") in footer_text(answer)
