"""`rag eval`: score our answers on a QA benchmark against the baselines; compare two runs.

  rag eval BENCH [--out DIR] [--backend B] [--limit N | --subset FILE] [--pipeline P ...]
  rag [--index DIR] eval --questions FILE ...      questions against an existing index
  rag eval --compare RUN_A RUN_B [--out DIR]        what improved and what regressed
                                                    (--out: also compare.md and compare.html)

BENCH is a folder in the shared format (questions.jsonl with corpus.jsonl, or with
bench.json naming the corpus), a SQuAD/XQuAD .json file, or a BEIR folder. Its
corpus is indexed once into a cache keyed by content, embedder and chunking (or into
--index when given). Outputs in --out (default runs/<bench>-<backend>-<fingerprint>):
results.jsonl, summary.json, report.md, report.html. Re-running the same command
resumes an interrupted run.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from eval.baselines import PIPELINES
from eval.benchmark import Bench, read_questions
from eval.compare import compare_runs, format_comparison, write_comparison
from eval.formats import load_bench
from eval.report import LABELS, write_report
from eval.runner import RunMismatch, bench_engine, execute, prepare, select_questions
from rag.backends import choices
from rag.settings import Settings

SHOWN = ("recall@1", "recall@5", "mrr@10", "f1", "contained", "citation_precision", "correct_refusal", "false_refusal")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="score answers on a QA benchmark; compare runs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("bench", nargs="?", type=Path, metavar="BENCH", help="benchmark folder or SQuAD .json file")
    p.add_argument("--questions", type=Path, metavar="FILE", help="questions.jsonl to ask the existing index")
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: runs/<bench>-<backend>-<fp>)")
    p.add_argument("--backend", choices=choices(), help="default: the llm_backend setting")
    chosen = p.add_mutually_exclusive_group()
    chosen.add_argument("--limit", type=int, metavar="N", help="only the first N questions by id")
    chosen.add_argument("--subset", type=Path, metavar="FILE", help="only the question ids listed in FILE")
    p.add_argument(
        "--pipeline",
        choices=[*PIPELINES, "all"],
        action="append",
        help="ours, a baseline, or all (default); repeatable",
    )
    p.add_argument("--compare", nargs=2, type=Path, metavar=("RUN_A", "RUN_B"), help="compare two run folders")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.compare:
            comparison = compare_runs(*args.compare)
            print(format_comparison(comparison))
            if args.out:
                print(f"\nreport: {write_comparison(comparison, args.out)[1]}")
            return 0
        return _evaluate(args, settings)
    except (RunMismatch, ValueError) as exc:  # BenchFormatError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _evaluate(args: argparse.Namespace, settings: Settings) -> int:
    if (args.bench is None) == (args.questions is None):
        print("error: give either BENCH or --questions FILE (or --compare RUN_A RUN_B)", file=sys.stderr)
        return 2
    bench = load_bench(args.bench) if args.bench else Bench(args.questions.stem, read_questions(args.questions), None)
    subset = _ids(args.subset) if args.subset else None
    bench = dataclasses.replace(bench, questions=select_questions(bench.questions, args.limit, subset))
    show = not args.quiet
    engine = bench_engine(bench, settings, explicit_index=args.index is not None, show_progress=show)
    chosen = args.pipeline or ["all"]
    pipelines = PIPELINES if "all" in chosen else tuple(p for p in PIPELINES if p in chosen)
    planned = prepare(bench, engine, args.backend, pipelines, args.out)
    outcome = execute(planned, show_progress=show)
    reports = write_report(planned.out_dir, outcome.summary, outcome.rows)
    _print_summary(outcome.summary)
    print(f"\nresults: {planned.out_dir / 'results.jsonl'}\nreport:  {reports[1]}")
    return 0


def _ids(path: Path) -> list[str]:
    """One question id a line; blank lines and # comments ignored."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def _print_summary(summary: dict) -> None:
    print(f"{summary['bench']}: {summary['questions']} questions, backend {summary['backend']}")
    print(f"{'pipeline':<20}" + "".join(f"{LABELS[m]:>17}" for m in SHOWN))
    for name, p in summary["pipelines"].items():
        print(f"{name:<20}" + "".join(f"{_cell(p['scores']['all'][m]):>17}" for m in SHOWN))


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"
