"""Answer figures per tune and check half, and the refusal trade-off, from finished runs.

    .venv/bin/python scripts/answer_figures.py runs/demo-extractive runs/base-demo-extractive ...

Every answer is scored again with today's metrics (so a run of an older release gets the
new scores too, e.g. span precision and unsupported facts shown), split into the halves of
eval/halves.py. `--curve` adds, for runs of this release, correct and false refusals as the
gate threshold (`min_relevance`) moves: an answer counts as refused at threshold t when it
was refused or its best evidence scored under t. Runs made with a low `min_relevance`
give the whole curve.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.benchmark import question_from_json
from eval.halves import HALVES, half_of
from eval.metrics import percentiles, score_question
from rag.answer import Answer

COLUMNS = (
    "f1",
    "contained",
    "correct_refusal",
    "false_refusal",
    "span_precision",
    "citation_precision",
    "claims_removed",
    "unsupported_shown",
)
THRESHOLDS = [round(0.10 + 0.025 * i, 3) for i in range(13)]


def rows_of(run: Path) -> list[dict]:
    return [
        json.loads(line) for line in (run / "results.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def table(runs: list[Path]) -> str:
    out = [
        "| run | pipeline | half | n | " + " | ".join(COLUMNS) + " | first token p50 s |",
        "|---" * (len(COLUMNS) + 5) + "|",
    ]
    for run in runs:
        rows = rows_of(run)
        for pipeline in sorted({r["pipeline"] for r in rows}):
            for half in (*HALVES, "all"):
                chosen = [r for r in rows if r["pipeline"] == pipeline and half in ("all", half_of(r["id"]))]
                scored = [
                    (
                        Answer.from_json(r["answer"]),
                        score_question(question_from_json(r["question"]), Answer.from_json(r["answer"]), r["ranking"]),
                    )
                    for r in chosen
                ]
                cells = []
                for name in COLUMNS:
                    values = [s[name] for _, s in scored if s.get(name) is not None]
                    cells.append(f"{sum(values) / len(values):.3f}" if values else "–")
                first = percentiles([a.timings["first_token"] for a, _ in scored if "first_token" in a.timings])
                cells.append(f"{first['p50']:.2f}" if first else "–")
                out.append(f"| {run.name} | {pipeline} | {half} | {len(chosen)} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def curve(runs: list[Path]) -> str:
    out = [
        "| run | pipeline | half | " + " | ".join(f"{t:.3f}" for t in THRESHOLDS) + " |",
        "|---" * (len(THRESHOLDS) + 3) + "|",
    ]
    for run in runs:
        rows = [r for r in rows_of(run) if "support" in r["answer"]]
        for pipeline in sorted({r["pipeline"] for r in rows}):
            for half in HALVES:
                chosen = [r for r in rows if r["pipeline"] == pipeline and half_of(r["id"]) == half]
                cells = []
                for t in THRESHOLDS:
                    refused = [
                        (r["answer"]["refused"] or r["answer"]["support"] < t, bool(r["gold"]["answers"]))
                        for r in chosen
                    ]
                    unanswerable = [ref for ref, answerable in refused if not answerable]
                    answerable = [ref for ref, answerable in refused if answerable]
                    correct = f"{sum(unanswerable) / len(unanswerable):.2f}" if unanswerable else "–"
                    false = f"{sum(answerable) / len(answerable):.2f}" if answerable else "–"
                    cells.append(f"{correct} / {false}")
                out.append(f"| {run.name} | {pipeline} | {half} | " + " | ".join(cells) + " |")
    return "correct refusal / false refusal at each gate threshold\n\n" + "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--curve", action="store_true", help="also the refusal trade-off across gate thresholds")
    args = parser.parse_args(argv)
    print(table(args.runs))
    if args.curve:
        print()
        print(curve(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
