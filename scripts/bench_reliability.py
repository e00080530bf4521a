"""Hostile files and killed writers against the real ingest path: what survives, what it costs.

    .venv/bin/python scripts/bench_reliability.py [--kills 10]

1. Hostile files: each is ingested alone by `rag ingest` in a child process (peak memory
   from the child's rusage); prints, per file, whether it was rejected with a reason,
   added, or crashed the command, with its time and peak memory.
2. Killed writers: `rag ingest` of the demo corpus plus the hostile folder is killed with
   SIGKILL at a spread of moments, --kills times; after each kill the index must load and
   hold every document of the last complete commit. Prints kills survived and documents lost.

3. Concurrent clients: `rag serve` (extractive backend) on a loopback port, 50 clients asking
   200 questions through scripts/load_test.py; prints errors and latency.

Abandoned requests and injected instructions have their own scripts: scripts/load_test.py
(--timeout makes clients hang up) and scripts/bench_injection.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"
sys.path.insert(0, str(ROOT / "scripts"))
import load_test  # noqa: E402  (a sibling script)


def hostile_files(folder: Path) -> dict[str, str]:
    """Writes the hostile files; returns name -> what each tries."""
    folder.mkdir(parents=True)
    (folder / "surrogate.jsonl").write_text(
        '{"id": "ok", "text": "A good record."}\n{"id": "bad", "text": "broken \\udc80 text"}\n', encoding="utf-8")
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
        child = subprocess.Popen([sys.executable, "-m", "rag.cli", *args], cwd=ROOT, env=env, stdout=output,
                                 stderr=subprocess.STDOUT, text=True)
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
        (extra / f"note-{k}.txt").write_text(f"Note {k}: the depot at quay {k} handles grain and timber.\n" * 50,
                                            encoding="utf-8")
        child = subprocess.Popen([sys.executable, "-m", "rag.cli", "ingest", str(DEMO), str(extra)], cwd=ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5 + 6.0 * k / max(1, kills - 1))  # from loading the embedder to committing
        child.send_signal(signal.SIGKILL)
        child.wait()
        held = set(documents(index))
        survived += bool(held)
        lost += len(committed - held)
        committed = held or committed
    print(f"{kills} kills (SIGKILL during ingest): the index loaded after {survived}, "
          f"{lost} committed documents lost")


def documents(index: Path) -> list[str]:
    """The doc ids the index holds, as the product reads them."""
    out = subprocess.run([sys.executable, "-c", "import sys, json; from index.store import IndexStore; "
                          "s = IndexStore(sys.argv[1]).load(); print(json.dumps(sorted(s.documents) if s else []))",
                          str(index)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    return json.loads(out.stdout) if out.returncode == 0 else []


def bench_clients(work: Path, clients: int, requests: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, RAG_INDEX_DIR=str(work / "index-clients"), RAG_LLM_BACKEND="extractive")
    server = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while subprocess.run(["curl", "-sf", f"{url}/api/health"], capture_output=True).returncode != 0:
            if time.monotonic() > deadline or server.poll() is not None:
                print("the server did not start")
                return
            time.sleep(1)
        results, seconds = asyncio.run(load_test.run(url, clients, requests, False, "", 120.0, 600.0))
        args = argparse.Namespace(url=url, clients=clients, stream=False)
        print(load_test.report(results, seconds, args))
    finally:
        server.terminate()
        server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        bench_hostile(Path(tmp))
        bench_kills(Path(tmp), args.kills)
        bench_clients(Path(tmp), args.clients, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
