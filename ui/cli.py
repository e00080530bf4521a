"""`rag serve`: the chat, REST API, source viewer and widget on one port."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from rag.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="serve the chat UI, REST API and widget")
    p.add_argument("--host", help="address to bind (default: the host setting, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: the port setting, 7860)")
    p.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn  # here, not at the top: every `rag` command loads this module

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
    app = create_app(settings)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"serving on http://{shown}:{settings.port}/ (API docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0
