"""Fit the answer's confidence per backend on the tune halves; report calibration on the check halves.

    .venv/bin/python scripts/calibrate.py local=runs/replayed/local-demo-replayed local=... extractive=runs/ext-demo
    .venv/bin/python scripts/calibrate.py --write ...   # also write rag/calibration.json

Each RUN is an eval run folder (or one replayed by scripts/verify_sweep.py, which records the
judge's probability). An answer that was given (not refused) is right when the question is
answerable and a gold answer is in it (or its F1 is at least 0.5); a given answer to an
unanswerable question is wrong. A logistic regression of rag.confidence.FEATURES is fitted
on the tune half's given answers, and the expected calibration error (10 bins) of the fitted
and of the uncalibrated confidence is printed for the check half, with a reliability table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from sklearn.linear_model import LogisticRegression

from eval.halves import half_of
from eval.metrics import expected_calibration_error, is_right, reliability
from rag.answer import Answer
from rag.confidence import CALIBRATION_FILE, FEATURES, Calibration, Signals, formula
from rag.settings import Settings


def given_answers(run: Path) -> list[tuple[str, Signals, bool, float]]:
    """(half, signals, right, the gate's floor) for each answer the run gave."""
    summary = run / "summary.json"
    settings = json.loads(summary.read_text(encoding="utf-8"))["settings"] if summary.is_file() else {}
    out = []
    for line in (run / "results.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        answer = Answer.from_json(row["answer"])
        if row["pipeline"] != "ours" or answer.refused:
            continue
        right = is_right(bool(row["question"].get("gold_doc_ids")), row["scores"])
        extractive = answer.backend.startswith("extractive")
        floor = settings.get("min_relevance_extractive" if extractive else "min_relevance", Settings().min_relevance)
        signals = Signals(answer.support, answer.judged, bool(answer.short_answer), bool(answer.removed_claims))
        out.append((half_of(row["id"]), signals, right, float(floor)))
    return out


def _run_names(pairs: list[str]) -> list[str]:
    """backend=run-folder-name: where the runs lay on this machine is no business of the file."""
    return [f"{backend}={Path(run).name}" for backend, _, run in (pair.partition("=") for pair in pairs)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="BACKEND=RUN")
    parser.add_argument("--write", action="store_true", help=f"write the fits to {CALIBRATION_FILE.name}")
    args = parser.parse_args(argv)
    by_backend: dict[str, list[tuple[str, Signals, bool, float]]] = defaultdict(list)
    for pair in args.runs:
        backend, _, run = pair.partition("=")
        by_backend[backend] += given_answers(Path(run))
    fits = {}
    for backend, rows in by_backend.items():
        tune = [r for r in rows if r[0] == "tune"]
        check = [r for r in rows if r[0] == "check"]
        model = LogisticRegression(C=1.0).fit([s.vector() for _, s, _, _ in tune], [right for _, _, right, _ in tune])
        fitted = Calibration(tuple(float(w) for w in model.coef_[0]), float(model.intercept_[0]))
        calibrated = [(fitted.probability(s), right) for _, s, right, _ in check]
        before = [(formula(s, floor), right) for _, s, right, floor in check]
        fits[backend] = {
            "weights": list(fitted.weights),
            "bias": fitted.bias,
            "tune_answers": len(tune),
            "check_answers": len(check),
            "check_ece": expected_calibration_error(calibrated),
            "check_ece_uncalibrated": expected_calibration_error(before),
        }
        print(
            f"## {backend}: {len(tune)} tune / {len(check)} check answers given, "
            f"{sum(r for _, _, r, _ in check) / max(1, len(check)):.2f} of the check half right"
        )
        print(
            f"weights {dict(zip(FEATURES, (round(w, 3) for w in fitted.weights), strict=True))}, bias {fitted.bias:.3f}"
        )
        print(
            f"check ECE: calibrated {fits[backend]['check_ece']:.3f}, "
            f"uncalibrated {fits[backend]['check_ece_uncalibrated']:.3f}\n"
        )
        print("| confidence | answers | mean confidence | share right |\n|---|---|---|---|")
        for low, high, n, mean, share in reliability(calibrated):
            print(f"| {low:.1f}-{high:.1f} | {n} | {mean:.2f} | {share:.2f} |")
        print()
    if args.write:
        CALIBRATION_FILE.write_text(
            json.dumps({"features": list(FEATURES), "fitted_on": _run_names(args.runs), "backends": fits}, indent=2)
            + "\n",
            encoding="utf-8",
        )
        print(f"written: {CALIBRATION_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
