"""The index on disk: atomic saves, one writer, readers that never see half an update."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.store import IndexBusy, IndexStore
from rag.engine import Engine
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _write_corpus(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"note-{i:04d}.txt").write_text(
            f"Briefing note {i}\nThe allies met in city number {i} to discuss defence spending, "
            f"Ukraine and the partnership with country {i % 17}. Delegates agreed on item {i * 7}.\n",
            encoding="utf-8",
        )


def test_a_writer_killed_at_any_moment_leaves_a_loadable_index(tmp_path: Path) -> None:
    index = tmp_path / "index"
    settings = Settings(index_dir=index)
    first = tmp_path / "first"
    _write_corpus(first, 20)
    Engine(settings, auto_demo=False).ingest([first])
    big = tmp_path / "big"
    _write_corpus(big, 400)
    env = {**os.environ, "RAG_INDEX_DIR": str(index), "HF_HUB_OFFLINE": "1"}

    killed = 0
    for delay in (0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 7.0):
        writer = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "ingest", "-q", str(big)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        if writer.poll() is None:
            writer.send_signal(signal.SIGKILL)
            killed += 1
        writer.wait()
        engine = Engine(settings, auto_demo=False)  # a fresh reader, as after a crash
        snapshot = engine.snapshot()
        assert snapshot.manifest.documents in (20, 420)
        assert len(snapshot.chunks) == snapshot.vectors.size
        assert engine.search("defence spending in city number 3", k=1)
    assert killed >= 3, "the writer finished too fast to be interrupted: make the corpus bigger"


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    store = IndexStore(tmp_path)
    with store.lock():
        with pytest.raises(IndexBusy, match="another process is writing"):
            with store.lock(timeout=0.1):
                pass


def test_nothing_in_the_index_is_loaded_with_pickle() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "index").glob("*.py"))
    assert "import pickle" not in sources and "allow_pickle=True" not in sources
