"""Hostile files, killed writers, crowds, quitters and script in documents: what survives, what it costs.

    .venv/bin/python scripts/bench_reliability.py [--kills 10] [--parts hostile,kills,clients,abandoned,xss,injection]

1. Hostile files: each is ingested alone by `rag ingest` in a child process (peak memory
   from the child's rusage); prints, per file, whether it was rejected with a reason,
   added, or crashed the command, with its time and peak memory.
2. Killed writers: `rag ingest` of the demo corpus plus the hostile folder is killed with
   SIGKILL at a spread of moments, --kills times; after each kill the index must load and
   hold every document of the last complete commit. Prints kills survived and documents lost.
3. Concurrent clients: `rag serve` (extractive backend) on a loopback port, 50 clients asking
   200 questions through scripts/load_test.py; prints errors and latency.
4. Abandoned requests: `rag serve` with the local model; 30 clients ask and hang up after 3 s,
   then one more asks; prints how long it waited.
5. Script in documents: documents carrying XSS payloads (in the text, the title and the source
   link) are uploaded to a real server, asked about in the chat and the widget and opened in the
   source viewer in headless Chromium (the browser tests' harness); prints how many payloads ran.

6. Instructions in documents: scripts/bench_injection.py with the local model (11 orders,
   English and German); prints how many were followed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"
sys.path.insert(0, str(ROOT / "scripts"))
import bench_injection  # noqa: E402  (sibling scripts, found through the path above)
import load_test  # noqa: E402

# Each payload calls alert() with its number when it runs: Chromium reports every dialog.
XSS_PAYLOADS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "<svg onload=alert(3)>",
    '<iframe srcdoc="<script>parent.alert(4)</script>"></iframe>',
    '"><script>alert(5)</script>',
    "</textarea><script>alert(6)</script>",
    "<details open ontoggle=alert(7)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(8)>",
    "[click me](javascript:alert(9))",
    "{{constructor.constructor('alert(10)')()}}",
    '<a href="javascript:alert(11)">click me</a>',
    "<body onload=alert(12)>",
)
XSS_PLACES = (
    "Harwick",
    "Ostby",
    "Calder",
    "Fennmoor",
    "Lystrup",
    "Quarrenden",
    "Tolvik",
    "Bramsey",
    "Ederholm",
    "Wyncote",
    "Saltbeck",
    "Mornfield",
)


def hostile_files(folder: Path) -> dict[str, str]:
    """Writes the hostile files; returns name -> what each tries."""
    folder.mkdir(parents=True)
    (folder / "surrogate.jsonl").write_text(
        '{"id": "ok", "text": "A good record."}\n{"id": "bad", "text": "broken \\udc80 text"}\n', encoding="utf-8"
    )
    with zipfile.ZipFile(folder / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", b"<w:document>" + b"A" * 300_000_000 + b"</w:document>")
    depth = 200_000
    (folder / "deep.html").write_text("<div>" * depth + "deep" + "</div>" * depth, encoding="utf-8")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 4000)
    (folder / "empty.md").write_text("", encoding="utf-8")
    (folder / "not-a.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(50_000))
    (folder / "long-line.txt").write_text("word " * 200_000, encoding="utf-8")
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    (folder / "dangling.txt").symlink_to(folder / "nowhere.txt")
    os.mkfifo(folder / "pipe.txt")
    return {
        "surrogate.jsonl": "a record with a lone surrogate beside a good one",
        "bomb.docx": "a 300 MB document.xml packed into a small .docx",
        "deep.html": f"HTML nested {depth:,} deep",
        "binary.txt": "binary data named .txt",
        "empty.md": "an empty file",
        "not-a.pdf": "random bytes after a PDF header",
        "long-line.txt": "1 MB of text without a line break or a full stop",
        "passwd.txt": "a symlink out of the folder, to /etc/passwd",
        "dangling.txt": "a symlink to nothing",
        "pipe.txt": "a FIFO, which blocks whoever opens it",
    }


def rag(args: list[str], index: Path) -> tuple[int, str, float, float]:
    """(exit code, the first skip's reason or the output's last line, seconds, peak MB of the child)."""
    env = dict(os.environ, RAG_INDEX_DIR=str(index))
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        child = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the largest of all so far
        child.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        lines = [line for line in output.read().splitlines() if line.strip()]
    # The reason a file was skipped says more than the summary after it.
    said = next((line.partition(": ")[2] for line in lines if line.startswith("skipped ")), lines[-1] if lines else "")
    return child.returncode, said, time.perf_counter() - started, usage.ru_maxrss / 1024


def bench_hostile(work: Path) -> None:
    folder = work / "hostile"
    tried = hostile_files(folder)
    print("| file | tries | outcome | seconds | peak MB |\n|---|---|---|---|---|")
    crashes = rejected = 0
    for name, what in tried.items():
        code, last, seconds, peak = rag(["ingest", str(folder / name)], work / f"index-{name}")
        if code != 0:
            outcome, crashes = f"crashed (exit {code}): {last[:80]}", crashes + 1
        else:
            added = documents(work / f"index-{name}")
            rejected += not added
            outcome = f"{'added ' + ', '.join(added) if added else 'rejected'}: {last[:80]}"
        print(f"| {name} | {what} | {outcome} | {seconds:.1f} | {peak:.0f} |")
    # The folder as a whole: the links and the FIFO are only met by walking it.
    code, last, seconds, peak = rag(["ingest", str(folder)], work / "index-folder")
    print(f"| (the folder) | all of the above, walked | exit {code}: {last[:80]} | {seconds:.1f} | {peak:.0f} |")
    print(f"\n{len(tried)} hostile files: {rejected} rejected with a reason, {crashes} crashes\n")


def bench_kills(work: Path, kills: int) -> None:
    index = work / "index-kills"
    extra = work / "kill-notes"
    extra.mkdir()
    code, last, *_ = rag(["ingest", str(DEMO)], index)
    if code != 0:
        print(f"the first ingest failed: {last}")
        return
    committed = set(documents(index))
    survived = lost = 0
    env = dict(os.environ, RAG_INDEX_DIR=str(index))
    for k in range(kills):
        (extra / f"note-{k}.txt").write_text(
            f"Note {k}: the depot at quay {k} handles grain and timber.\n" * 50, encoding="utf-8"
        )
        child = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "ingest", str(DEMO), str(extra)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5 + 6.0 * k / max(1, kills - 1))  # from loading the embedder to committing
        child.send_signal(signal.SIGKILL)
        child.wait()
        held = set(documents(index))
        survived += bool(held)
        lost += len(committed - held)
        committed = held or committed
    print(f"{kills} kills (SIGKILL during ingest): the index loaded after {survived}, {lost} committed documents lost")


def documents(index: Path) -> list[str]:
    """The doc ids the index holds, as the product reads them."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, json; from index.store import IndexStore; "
            "s = IndexStore(sys.argv[1]).load(); print(json.dumps(sorted(s.documents) if s else []))",
            str(index),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(out.stdout) if out.returncode == 0 else []


@contextmanager
def rag_serve(index: Path, backend: str) -> Iterator[str | None]:
    """`rag serve` on a free loopback port over its own index; yields its URL once it answers, or None."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, RAG_INDEX_DIR=str(index), RAG_LLM_BACKEND=backend)
    server = subprocess.Popen(
        [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while subprocess.run(["curl", "-sf", f"{url}/api/health"], capture_output=True).returncode != 0:
            if time.monotonic() > deadline or server.poll() is not None:
                print("the server did not start")
                yield None
                return
            time.sleep(1)
        yield url
    finally:
        server.terminate()
        server.wait()


def bench_clients(work: Path, clients: int, requests: int) -> None:
    with rag_serve(work / "index-clients", "extractive") as url:
        if url:
            results, seconds = asyncio.run(load_test.run(url, clients, requests, False, "", 120.0, 600.0))
            print(load_test.report(results, seconds, argparse.Namespace(url=url, clients=clients, stream=False)))


def bench_abandoned(work: Path, clients: int) -> None:
    """Clients that hang up after 3 s, then one that waits: the local model must not answer the absent."""
    with rag_serve(work / "index-abandoned", "local") as url:
        if not url:
            return
        asyncio.run(load_test.run(url, 1, 1, False, "", 600.0, 900.0))  # indexes the demo corpus, loads the model
        alone, _ = asyncio.run(load_test.run(url, 1, 1, False, "", 600.0, 900.0))
        gone, _ = asyncio.run(load_test.run(url, clients, clients, False, "", 3.0, 600.0))
        last, _ = asyncio.run(load_test.run(url, 1, 1, False, "", 600.0, 900.0))
        print(
            f"{clients} clients hung up after 3 s ({sum(gone.errors.values())} gave up); the next client "
            f"{'was answered after ' + format(last.latencies[0], '.1f') + ' s' if last.latencies else 'failed'}, "
            f"a warm answer alone takes {alone.latencies[0] if alone.latencies else float('nan'):.1f} s"
        )


def xss_documents(folder: Path) -> list[tuple[Path, str]]:
    """One document per payload (the last also in its title and source link), and the question that finds it."""
    folder.mkdir(parents=True)
    made = []
    for n, (payload, place) in enumerate(zip(XSS_PAYLOADS, XSS_PLACES, strict=True), start=1):
        text = (
            f"The {place} signal depot stores field radios and spare antennas. {payload} "
            f"The {place} depot opened in {1950 + n} and is run by the signals battalion."
        )
        if n < len(XSS_PAYLOADS):
            path = folder / f"{place.lower()}.md"
            path.write_text(f"# {place} signal depot\n\n{text}\n", encoding="utf-8")
        else:
            path = folder / f"{place.lower()}.jsonl"
            path.write_text(
                json.dumps(
                    {
                        "id": place.lower(),
                        "title": f"{place} depot {payload}",
                        "source": f"javascript:alert({n})",
                        "text": text,
                    }
                )
                + "\n",
                encoding="utf-8",
            )
        made.append((path, f"What does the {place} signal depot store?"))
    return made


def bench_xss(work: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    import httpx
    from playwright.sync_api import sync_playwright
    from test_api import running_server
    from test_browser import (
        CHROMIUM,
        CHROMIUM_ARGS,
        _ask_in_widget,
        _open_widget,
        ask_in_chat,
        intranet_site,
        open_chat,
        write_intranet_page,
    )

    if not CHROMIUM.exists():
        print(f"XSS payloads: not measured, no Chromium at {CHROMIUM}")
        return
    made = xss_documents(work / "xss")
    ran: list[str] = []
    with running_server(work / "xss-server") as server, sync_playwright() as playwright:
        for path, _ in made:
            reply = httpx.post(
                f"{server.url}/api/documents", files={"files": (path.name, path.read_bytes())}, timeout=300
            )
            reply.raise_for_status()
        site = work / "xss-site"
        site.mkdir()
        write_intranet_page(site, f'<script src="{server.url}/widget.js" async></script>')
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context()

        def watch(page: object) -> None:
            page.on("dialog", lambda dialog: (ran.append(dialog.message), dialog.dismiss()))

        context.on("page", watch)
        chat = open_chat(context, server)
        viewers = 0
        for _, question in made:
            answer = ask_in_chat(chat, question)
            for link in answer.locator("a[href]").all() + chat.locator("#rag-sources a[href]").all():
                with context.expect_page() as opened:
                    link.click(modifiers=["Control"])
                opened.value.wait_for_load_state("domcontentloaded")
                opened.value.close()
                viewers += 1
        with intranet_site(site) as url:
            host = context.new_page()
            host.goto(url)
            frame = _open_widget(host)
            for _, question in made:
                _ask_in_widget(frame, question)
            for link in frame.locator(".w-bot a[href]").all():
                with context.expect_page() as opened:
                    link.click(modifiers=["Control"])
                opened.value.wait_for_load_state("domcontentloaded")
                opened.value.close()
                viewers += 1
        browser.close()
    print(
        f"{len(XSS_PAYLOADS)} XSS payloads in {len(made)} uploaded documents, asked about in the chat and the widget, "
        f"{viewers} links opened: {len(set(ran))} ran{' (' + ', '.join(sorted(set(ran))) + ')' if ran else ''}"
    )


PARTS = {
    "hostile": lambda work, args: bench_hostile(work),
    "kills": lambda work, args: bench_kills(work, args.kills),
    "clients": lambda work, args: bench_clients(work, args.clients, args.requests),
    "abandoned": lambda work, args: bench_abandoned(work, args.abandoning),
    "xss": lambda work, args: bench_xss(work),
    "injection": lambda work, args: bench_injection.main(["--backend", "local"]),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--abandoning", type=int, default=30, help="clients that hang up, local model")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if unknown := set(parts) - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory() as tmp:
        for part in parts:
            PARTS[part](Path(tmp), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
