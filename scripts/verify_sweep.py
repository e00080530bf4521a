"""Choose the gate and verifier thresholds on tune halves, from recorded replies.

    .venv/bin/python scripts/verify_sweep.py runs/local-demo=eval/datasets/demo runs/local-squad2=../shared/bench/squad2_refusal
    .venv/bin/python scripts/verify_sweep.py --at 0.2,0,0.35 --judge 0,0.4,0.45,0.5 runs/local-demo=eval/datasets/demo
    .venv/bin/python scripts/verify_sweep.py --at 0.2,0,0.35 --judge 0.45 --out runs/replayed runs/local-demo=eval/datasets/demo

Each answer of a run records the model's raw reply (`Answer.raw_reply`). This script
builds the same evidence again (same index, same standalone question) and checks the
recorded reply again at each combination of thresholds, without calling the model, then
scores it, per tune and check half. With --at and --out, it replays at one setting and writes
each run, replayed, for scripts/answer_figures.py. Record the runs with a low gate and no coverage
check (`RAG_MIN_RELEVANCE=0.1 RAG_ANSWER_COVERAGE=0`) so that every question reaches
the model and no reply is cut short by a check that a sweep relaxes. With --judge, the replay
asks the local model again, for the judge step only (once per answer, whatever the thresholds).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from eval.benchmark import question_from_json
from eval.formats import load_bench
from eval.halves import HALVES, half_of
from eval.metrics import score_question
from eval.runner import bench_engine
from rag import chain
from rag.answer import Answer
from rag.backends import has_model
from rag.chain import judge_reply, judges, settle
from rag.evidence import EvidenceSet
from rag.gate import gate
from rag.generate import Request
from rag.language import detect_language
from rag.reply import CheckedReply
from rag.settings import Settings
from rag.verify import Verifier

GATES = (0.2, 0.25, 0.3)
COVERAGES = (0.0, 0.3, 0.4, 0.5)
SIMILARITIES = (0.25, 0.35, 0.45)
SCORES = ("f1", "contained", "correct_refusal", "false_refusal", "unsupported_shown", "claims_removed")


def replay(recorded: Answer, evidence: EvidenceSet, settings: Settings) -> Answer:
    """The recorded answer, checked again under `settings`."""
    blocks = evidence.blocks(settings.context_tokens)
    lang = detect_language(recorded.question)
    backend = "extractive" if recorded.backend.startswith("extractive") else "local"
    verifier = Verifier(evidence, blocks, lang, settings, settings.gate_for(has_model(backend)))
    decision = gate(evidence, blocks, settings.gate_for(has_model(backend)))
    refused, text, short, removed, reason = True, "", "", [], decision.reason or "no reply recorded"
    judged = None
    if decision.answer and recorded.raw_reply:
        checked = CheckedReply(verifier, hold_short=judges(settings, backend))
        checked.feed(recorded.raw_reply)
        checked.finish()
        request = Request(evidence.question, lang, evidence, blocks)
        judged = judge_reply(checked, verifier, request, backend, settings)  # calls the model when the judge is on
        outcome = settle(checked, verifier, request, backend, lang, settings, judged)
        refused, text, short, removed, reason = (
            outcome.refused,
            outcome.text,
            outcome.short,
            checked.withheld,
            outcome.reason,
        )
    return replace(
        recorded,
        answer=text or recorded.answer,
        refused=refused,
        short_answer="" if refused else short,
        citations=verifier.numbering.citations,
        removed_claims=removed,
        refusal_reason=reason,
        judged=None if judged is None else round(judged, 4),
    )


def _asked_once(judge: Callable[..., float | None]) -> Callable[..., float | None]:
    """The judge, asked once per question and cited text: its answer does not depend on the threshold."""
    answers: dict[tuple[str, ...], float | None] = {}

    def asked(settings: Settings, backend: str, question: str, cited: str) -> float | None:
        if (backend, question, cited) not in answers:
            answers[backend, question, cited] = judge(settings, backend, question, cited)
        return answers[backend, question, cited]

    return asked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN=BENCH", help="a run folder and the bench it ran")
    parser.add_argument("--at", metavar="GATE,COVERAGE,SIMILARITY", help="replay at these thresholds only")
    parser.add_argument("--out", type=Path, help="folder to write each run to, replayed (with --at)")
    parser.add_argument(
        "--judge",
        default="0",
        metavar="T1,T2,...",
        help="the judge step's thresholds (rag/judge.py; 0: off); the judge asks the local model "
        "once per question and threshold-independent answer",
    )
    args = parser.parse_args(argv)
    judges = [float(t) for t in args.judge.split(",")]
    if args.out and len(judges) > 1:
        parser.error("--out writes the replay at one setting: give one --judge threshold")
    chain.judge = _asked_once(chain.judge)
    if args.out and not args.at:
        parser.error("--out needs --at")
    print("| gate | coverage | similarity | judge | half | n | " + " | ".join(SCORES) + " |")
    print("|---" * (len(SCORES) + 6) + "|")
    loaded = []
    for pair in args.runs:
        run, _, bench_path = (Path(p) if i != 1 else p for i, p in enumerate(pair.partition("=")))
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        settings = Settings.from_mapping({k: v for k, v in summary["settings"].items() if k in Settings.model_fields})
        bench = load_bench(bench_path)
        engine = bench_engine(bench, settings, explicit_index=False, show_progress=False)
        rows = [
            json.loads(line)
            for line in (run / "results.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["pipeline"] == "ours"
        ]
        for row in rows:  # evidence does not depend on the thresholds: built once
            recorded = Answer.from_json(row["answer"])
            row["replay"] = (recorded, engine.answer_evidence(recorded.standalone_question or recorded.question))
        loaded.append((run, settings, rows))
    grid = (
        [tuple(float(x) for x in args.at.split(","))] if args.at else itertools.product(GATES, COVERAGES, SIMILARITIES)
    )
    for (gate_at, coverage, similarity), judge_at in itertools.product(grid, judges):
        scored: dict[str, list[dict]] = {h: [] for h in HALVES}
        for run, settings, rows in loaded:
            chosen = settings.replace(
                min_relevance=gate_at,
                min_relevance_extractive=gate_at,
                answer_coverage=coverage,
                claim_similarity=similarity,
                judge_threshold=judge_at,
            )
            replayed = []
            for row in rows:
                answer = replay(*row["replay"], chosen)
                scores = score_question(question_from_json(row["question"]), answer, row["ranking"])
                scored[half_of(row["id"])].append(scores)
                replayed.append(
                    {k: v for k, v in row.items() if k != "replay"} | {"answer": answer.to_json(), "scores": scores}
                )
            if args.out:
                folder = args.out / f"{run.name}-replayed"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "results.jsonl").write_text(
                    "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in replayed), encoding="utf-8"
                )
        for half in HALVES:
            cells = []
            for name in SCORES:
                values = [s[name] for s in scored[half] if s.get(name) is not None]
                cells.append(f"{sum(values) / len(values):.3f}" if values else "–")
            print(
                f"| {gate_at} | {coverage} | {similarity} | {judge_at} | {half} | {len(scored[half])} | "
                + " | ".join(cells)
                + " |"
            )
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
