"""Time to the evidence on screen, to the first checked text, total time and prompt tokens for the demo question, per backend.

    .venv/bin/python scripts/bench_answer.py [--backend local] [--repeat 3]

The first run includes loading the model; later runs show a warm process, as in
`rag serve`. Each run asks a different question first so the prompt cache cannot
replay the whole previous prompt, then the demo question.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rag.engine import Engine
from rag.settings import DEMO_CORPUS, Settings

DEMO_QUESTION = "What are Rutte's three priorities?"
OTHERS = ["Who is Oana Lungescu?", "When did Rutte take office?", "What did Rutte say about China?"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="local")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--context-tokens", type=int, default=Settings().context_tokens)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp) / "index", context_tokens=args.context_tokens)
        engine = Engine(settings, auto_demo=False)
        engine.ingest([DEMO_CORPUS])
        for run in range(args.repeat):
            if run:
                engine.ask(OTHERS[(run - 1) % len(OTHERS)], backend=args.backend)
            started = time.perf_counter()
            answer = engine.ask(DEMO_QUESTION, backend=args.backend)
            total = time.perf_counter() - started
            first = answer.timings.get("first_token", float("nan"))
            evidence = answer.timings["condense"] + answer.timings["evidence"]  # on screen before the model starts
            print(f"run {run + 1} ({'cold' if run == 0 else 'warm'}): evidence {evidence:.2f} s, "
                  f"first checked text {first:.1f} s, total {total:.1f} s, "
                  f"prompt {answer.tokens.get('prompt', 0)} tokens, completion {answer.tokens.get('completion', 0)}, "
                  f"refused={answer.refused}, cited {sorted({c.doc_id for c in answer.citations})}")


if __name__ == "__main__":
    main()
