"""A bounded load test of a running server's /api/ask (or /api/ask/stream) on loopback.

    .venv/bin/python scripts/load_test.py --url http://127.0.0.1:7860 --clients 20 --requests 300 [--stream]

`--clients` concurrent clients share `--requests` requests, asking the example
questions in turn; the run also stops after `--deadline` seconds. Prints errors,
latency percentiles, requests per second and, with --stream, the time to the first
server-sent event and to the final answer event.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

QUESTIONS = (
    "What are Rutte's three priorities?",
    "Wer lädt zum Gipfel in Ramstein ein?",
    "Who did Rutte take over from as NATO Secretary General?",
)


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    first_events: list[float] = field(default_factory=list)  # seconds to the first SSE event
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; NaN when there are no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def one_request(client: httpx.AsyncClient, question: str, stream: bool, results: Results) -> None:
    body = {"question": question}
    started = time.perf_counter()
    try:
        if not stream:
            response = await client.post("/api/ask", json=body)
            if response.status_code != 200:
                results.error(f"HTTP {response.status_code}")
                return
            response.json()
        else:
            async with client.stream("POST", "/api/ask/stream", json=body) as response:
                if response.status_code != 200:
                    results.error(f"HTTP {response.status_code}")
                    return
                event, first, answered = "", None, False
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                        first = first if first is not None else time.perf_counter() - started
                    elif line.startswith("data:") and event == "answer":
                        json.loads(line[5:])
                        answered = True
                    elif line.startswith("data:") and event == "error":
                        results.error("error event")
                        return
                if not answered:
                    results.error("stream ended without an answer")
                    return
                results.first_events.append(first)
    except httpx.HTTPError as exc:
        results.error(type(exc).__name__)
        return
    results.latencies.append(time.perf_counter() - started)


async def run(
    url: str, clients: int, requests: int, stream: bool, api_key: str, timeout: float, deadline: float
) -> tuple[Results, float]:
    results = Results()
    issued = 0
    stop_at = time.perf_counter() + deadline
    headers = {"X-API-Key": api_key} if api_key else {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout, limits=limits) as client:

        async def worker() -> None:
            nonlocal issued
            while issued < requests and time.perf_counter() < stop_at:
                question = QUESTIONS[issued % len(QUESTIONS)]
                issued += 1
                await one_request(client, question, stream, results)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return results, time.perf_counter() - started


def report(results: Results, seconds: float, args: argparse.Namespace) -> str:
    done = len(results.latencies)
    failed = sum(results.errors.values())
    endpoint = "/api/ask/stream" if args.stream else "/api/ask"
    lines = [
        f"{endpoint} at {args.url}: {args.clients} clients, {done + failed} requests in {seconds:.1f} s",
        f"  errors      {failed}"
        + (f" ({', '.join(f'{k}: {n}' for k, n in results.errors.items())})" if failed else ""),
        f"  throughput  {done / seconds:.1f} requests/s",
        "  latency     p50 {:.0f} ms, p95 {:.0f} ms, max {:.0f} ms".format(
            *(
                1000 * v
                for v in (
                    percentile(results.latencies, 50),
                    percentile(results.latencies, 95),
                    max(results.latencies, default=math.nan),
                )
            )
        ),
    ]
    if args.stream:
        lines.append(
            f"  first event p50 {1000 * percentile(results.first_events, 50):.0f} ms, p95 {1000 * percentile(results.first_events, 95):.0f} ms"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860", help="the server (loopback only)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=300, help="requests in total")
    parser.add_argument("--stream", action="store_true", help="use /api/ask/stream and time the first event")
    parser.add_argument("--api-key", default="", help="sent as X-API-Key")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    parser.add_argument("--deadline", type=float, default=600.0, help="stop issuing requests after this many seconds")
    args = parser.parse_args(argv)

    host = urlsplit(args.url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        print(f"refusing to load-test {host!r}: this script only targets a server on loopback", file=sys.stderr)
        return 2

    results, seconds = asyncio.run(
        run(args.url.rstrip("/"), args.clients, args.requests, args.stream, args.api_key, args.timeout, args.deadline)
    )
    print(report(results, seconds, args))
    return 1 if results.errors else 0


if __name__ == "__main__":
    sys.exit(main())
