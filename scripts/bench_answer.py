"""Time to the evidence on screen, to the first checked text, total time and prompt tokens for the demo question, per backend.

    .venv/bin/python scripts/bench_answer.py [--backend local] [--repeat 3] [--judge 0,0.5]

The first run includes loading the model; later runs show a warm process, as in
`rag serve`. Each run asks a different question first so the prompt cache cannot
replay the whole previous prompt, then the demo question. With several --judge thresholds
(0: the judge step off), the runs of each follow one another in one process, side by side.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rag.engine import Engine
from rag.paths import DEMO_CORPUS
from rag.settings import Settings

DEMO_QUESTION = "What are Rutte's three priorities?"
OTHERS = ["Who is Oana Lungescu?", "When did Rutte take office?", "What did Rutte say about China?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="local")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--context-tokens", type=int, default=Settings().context_tokens)
    parser.add_argument(
        "--judge",
        default=str(Settings().judge_threshold),
        metavar="T1,T2,...",
        help="judge thresholds to compare (0: off)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp) / "index", context_tokens=args.context_tokens)
        Engine(settings, auto_demo=False).ingest([DEMO_CORPUS])
        for i, threshold in enumerate(float(t) for t in args.judge.split(",")):
            print(f"judge threshold {threshold}{' (off)' if not threshold else ''}:")
            time_answers(Engine(settings.replace(judge_threshold=threshold), auto_demo=False), args, cold=i == 0)


def time_answers(engine: Engine, args: argparse.Namespace, cold: bool) -> None:
    for run in range(args.repeat):
        if run or not cold:  # a different question first: the prompt cache must not replay the last one
            engine.ask(OTHERS[(run - 1) % len(OTHERS)], backend=args.backend)
        started = time.perf_counter()
        answer = engine.ask(DEMO_QUESTION, backend=args.backend)
        total = time.perf_counter() - started
        first = answer.timings.get("first_token", float("nan"))
        evidence = answer.timings["condense"] + answer.timings["evidence"]  # on screen before the model starts
        print(
            f"run {run + 1} ({'cold' if cold and run == 0 else 'warm'}): evidence {evidence:.2f} s, "
            f"first checked text {first:.1f} s, judge {answer.timings.get('judge', 0):.1f} s, total {total:.1f} s, "
            f"prompt {answer.tokens.get('prompt', 0)} tokens, completion {answer.tokens.get('completion', 0)}, "
            f"refused={answer.refused}, cited {sorted({c.doc_id for c in answer.citations})}"
        )


if __name__ == "__main__":
    main()
