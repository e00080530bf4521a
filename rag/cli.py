"""The `rag` command.

Core commands live here; `serve` and `eval` come from the `ui` and `eval` packages
through the `rag.commands` entry point group, so the engine never imports the layers
built on top of it (and a third party can add a command the same way).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections import Counter
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from index.store import IndexProblem
from rag.answer import Answer
from rag.backends import choices
from rag.citations import citation_for
from rag.embedders import EmbedderUnavailable
from rag.engine import Engine, is_default_index
from rag.llms import BackendUnavailable
from rag.models import ModelUnavailable
from rag.settings import Settings, SettingsError
from rag.sources import display_source


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = Settings.load(args.settings)
    return settings.replace(index_dir=args.index, embedder=args.embedder)


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    engine = Engine(settings, auto_demo=False)
    report = engine.ingest(args.paths, show_progress=sys.stderr.isatty() and not args.quiet)
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(report.summary())
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    engine = Engine(settings, auto_demo=False)
    removed = engine.remove(engine.select(args.sources))
    if not removed:
        print(f"no document matches {', '.join(args.sources)}", file=sys.stderr)
        return 1
    print(f"removed {len(removed)} document(s): {', '.join(removed)}")
    return 0


def _reading(settings: Settings) -> Engine:
    """An engine for a command that reads the index: only the default index is filled with the
    demo corpus unasked; in a folder of the user's own, no index is an error that says what to do."""
    return Engine(settings, auto_demo=is_default_index(settings))


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    engine = _reading(settings)
    stats = engine.stats()
    folders = _folders(engine)
    if args.json:
        _print_json({**stats.to_json(), "folders": folders})
        return 0
    langs = ", ".join(f"{lang} {n}" for lang, n in stats.languages.items())
    print(f"index      {stats.index_dir} (generation {stats.generation})")
    print(f"documents  {stats.documents} ({langs})")
    for folder, count in folders.items():
        print(f"  from     {folder} ({count})")
    print(f"chunks     {stats.chunks}")
    searched_by = "FAISS index" if settings.vector_store == "local" else "collection"
    print(f"embedder   {stats.embedder} ({stats.vector_index} {searched_by})")
    if stats.size_bytes:  # a store on a server has no size on this machine's disk
        print(f"size       {stats.size_bytes / 1e6:.2f} MB on disk")
    return 0


def _folders(engine: Engine) -> dict[str, int]:
    """The folders on this machine that the documents were ingested from, with how many each:
    readers see sources only as display forms, so this is where the real paths stay."""
    counts = Counter(str(Path(doc.origin).parent) for doc in engine.documents().values())
    return dict(sorted(counts.items()))


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    passages = _reading(settings).search(args.query, k=args.k, doc_ids=args.doc, langs=args.lang, mode=args.mode)
    if args.json:
        keys = ("doc_id", "title", "source", "lang", "start", "end", "score", "text")
        _print_json([{key: p.to_json()[key] for key in keys} for p in passages])
        return 0
    if not passages:
        print("no passages found")
    for n, p in enumerate(passages, start=1):
        print(f"{n}. {p.title[:70]}  [{p.doc_id}, {p.lang}, chars {p.start}-{p.end}, score {p.score:.4f}]")
        print(textwrap.indent(textwrap.shorten(p.text, 300, placeholder=" …"), "   "))
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    engine = _reading(settings)
    if args.json:
        _print_json(engine.ask(args.question, backend=args.backend).to_json())
        return 0
    _stream_answer(engine, args.question, [], args.backend)
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    engine = _reading(settings)
    history: list[dict[str, str]] = []
    print("Ask about your documents (empty line or Ctrl-D to quit).")
    while True:
        try:
            question = input("\n> ").strip()
        except EOFError:
            return 0
        if not question:
            return 0
        answer = _stream_answer(engine, question, history, args.backend)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]


def _stream_answer(engine: Engine, question: str, history: list[dict[str, str]], backend: str | None) -> Answer:
    """Show tokens as they come (on a terminal), then the checked answer with its sources."""
    live = sys.stdout.isatty()
    streamed = ""
    for item in engine.ask_stream(question, history, backend):
        if isinstance(item, Answer):
            answer = item
        elif isinstance(item, str) and live:
            print(item, end="", flush=True)
            streamed += item
    if streamed.strip() == answer.answer.strip():
        print()
    elif streamed.strip() and answer.answer.startswith(streamed.strip()):
        print(answer.answer[len(streamed.strip()) :])  # verification only added to it (a quote)
    else:
        # Verification changed the text (a refusal, or citations fixed): show the final version.
        print(("\n\n" if streamed else "") + answer.answer)
    if answer.standalone_question != answer.question:
        print(f"(understood as: {answer.standalone_question})")
    # A refusal that quotes evidence lists what its [n] marks name; one without quotes, the
    # passages nearest the question.
    shown = (
        answer.citations
        if answer.citations or not answer.refused
        else [citation_for(n, p) for n, p in enumerate(answer.passages[:3], start=1)]
    )
    if shown:
        heading = "Sources:" if not answer.refused else "Closest evidence:" if answer.citations else "Nearest passages:"
        print(f"\n{heading}")
    for c in shown:
        print(f"  [{c.n}] {c.title[:70]} ({display_source(c.source, c.doc_id)}, chars {c.start}-{c.end})")
    seconds = answer.timings.get("total", 0.0)
    print(f"\n-- {answer.backend}, {seconds:.1f}s, confidence {answer.confidence:.2f}", file=sys.stderr)
    return answer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Cited answers from your own documents, offline.")
    parser.add_argument("--settings", help="a TOML settings file (default: $RAG_SETTINGS or ./rag.toml)")
    parser.add_argument("--index", help="the index folder (default: RAG_INDEX_DIR or ~/.local/share/ragchat/index)")
    parser.add_argument("--embedder", help="use | e5 | minilm | st:<model id or folder>")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="add or update files and folders in the index")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("remove", help="remove documents by file path, source or document id")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("stats", help="what the index holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("search", help="the best passages for a query")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=None, help="how many passages (default: top_k setting)")
    p.add_argument("--doc", action="append", help="only this document id (repeatable)")
    p.add_argument("--lang", action="append", help="only documents in this language (repeatable)")
    p.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with cited sources")
    p.add_argument("question")
    p.add_argument("--backend", choices=choices(), help="default: the llm_backend setting (auto)")
    p.add_argument("--json", action="store_true", help="print the whole Answer as JSON")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal, with follow-up questions")
    p.add_argument("--backend", choices=choices())
    p.set_defaults(func=cmd_chat)

    for plugin in entry_points(group="rag.commands"):
        try:
            plugin.load()(sub)
        except Exception as exc:  # noqa: BLE001  (a broken plugin must not take the core commands down)
            print(f"warning: command {plugin.name!r} unavailable: {type(exc).__name__}: {exc}", file=sys.stderr)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never let a library phone a model hub
    args = build_parser().parse_args(argv)
    try:
        return args.func(args, settings_from_args(args))
    except (
        SettingsError,
        IndexProblem,
        EmbedderUnavailable,
        ModelUnavailable,
        BackendUnavailable,
        FileNotFoundError,
        ValueError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
