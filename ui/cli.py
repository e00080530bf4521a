"""`rag serve`: the chat, REST API, source viewer and widget on one port; `rag feedback export`."""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from pathlib import Path

from rag.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="serve the chat UI, REST API and widget")
    p.add_argument("--host", help="address to bind (default: the host setting, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: the port setting, 7860)")
    p.set_defaults(func=run)


def register_feedback(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("feedback", help="the chat's and the API's feedback, as test cases")
    actions = p.add_subparsers(dest="action", required=True)
    export = actions.add_parser(
        "export",
        help="write the feedback as a questions file for `rag eval --questions` (review answers first)",
    )
    export.add_argument("--out", type=Path, default=Path("feedback-questions.jsonl"), metavar="FILE")
    export.set_defaults(func=export_feedback)


def export_feedback(args: argparse.Namespace, settings: Settings) -> int:
    # Here, not at the top: every `rag` command loads this module, and these load SQLAlchemy.
    from ui.conversations import ConversationStore, StoreError
    from ui.feedback import as_test_case

    try:
        store = ConversationStore.of(settings)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    entries = store.read_feedback()
    args.out.write_text(
        "".join(json.dumps(as_test_case(entry), ensure_ascii=False) + "\n" for entry in entries), encoding="utf-8"
    )
    liked = sum(entry["vote"] == "up" for entry in entries)
    print(
        f"{len(entries)} answers with feedback ({liked} liked, {len(entries) - liked} disliked) from "
        f"{store.shown} written to {args.out}: review `answers` and `gold_doc_ids`, then run "
        f"rag eval --questions {args.out}",
        file=sys.stderr,
    )
    return 0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn  # here, not at the top: every `rag` command loads this module

    from rag.engine import Engine, is_default_index
    from rag.ingest import IndexProblem
    from ui.conversations import StoreError
    from ui.server import create_app

    settings = settings.replace(host=args.host, port=args.port)
    if not is_loopback(settings.host):
        exposure = (
            "every network interface" if settings.host in ("0.0.0.0", "::") else f"the network at {settings.host}"
        )
        print(
            f"warning: serving on {exposure}: anyone who can reach port {settings.port} can read the indexed "
            "documents, ask questions and upload files.",
            file=sys.stderr,
        )
        if not (settings.api_key or settings.reader_key):
            print(
                "warning: no key set: set RAG_READER_KEY (ask and read) and RAG_API_KEY (also upload and "
                "delete) to require a key on every route.",
                file=sys.stderr,
            )
    # The demo articles fill only the default index: a folder of one's own starts empty.
    engine = Engine(settings, auto_demo=is_default_index(settings))
    try:
        app = create_app(settings, engine)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        engine.store.version()
    except IndexProblem as exc:  # a replica starts anyway: /api/health reports it until the store is back
        print(f"warning: {exc}", file=sys.stderr)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"serving on http://{shown}:{settings.port}/ (API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0
