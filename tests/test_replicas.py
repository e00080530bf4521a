"""Two servers over one Milvus: what one uploads the other answers and cites, what one deletes is
gone from both, and a server whose Milvus goes away says so in /api/health and in a 503 for a
question, then recovers when it is back.

The Milvus here is milvus-lite's own gRPC server (`milvus-lite server`) in a process of its own,
speaking Milvus's protocol on a loopback port: the servers reach it over the network as they
would reach Milvus standalone, through the same pymilvus client. It is not Milvus itself.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_api import RUTTE, _free_port, running_server, serving  # tests/ is on sys.path under pytest

from rag.engine import Engine
from rag.settings import Settings
from ui.server import create_app

MILVUS_LITE = Path(sys.executable).parent / "milvus-lite"


class MilvusServer:
    """A milvus-lite server process on a loopback port, over a data folder that outlives restarts."""

    def __init__(self, data: Path) -> None:
        self.data, self.port = data, _free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [str(MILVUS_LITE), "server", "--data-dir", str(self.data), "--host", "127.0.0.1"]
        self.process = subprocess.Popen([*command, "--port", str(self.port)], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not self._listening():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"milvus-lite server did not start on port {self.port}")
            time.sleep(0.2)

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(30)

    def _listening(self) -> bool:
        try:
            httpx.get(f"http://127.0.0.1:{self.port}", timeout=1)  # gRPC refuses HTTP/1, but only once listening
        except httpx.ConnectError:
            return False
        except httpx.HTTPError:
            pass
        return True


@pytest.fixture()
def milvus(tmp_path: Path) -> Iterator[MilvusServer]:
    if not MILVUS_LITE.is_file():
        pytest.skip("milvus-lite is not installed: pip install milvus-lite")
    server = MilvusServer(tmp_path / "milvus")
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.stop()


def test_two_servers_on_one_milvus_answer_alike_and_report_its_outage(milvus: MilvusServer, tmp_path: Path) -> None:
    shared = {"vector_store": "milvus", "milvus_uri": milvus.uri}
    with (
        running_server(tmp_path / "one", **shared) as one,  # indexes the demo corpus into the shared collection
        running_server(tmp_path / "other", **shared) as other,
        httpx.Client(base_url=one.url, timeout=60) as api_one,
        httpx.Client(base_url=other.url, timeout=60) as api_other,
    ):
        note = b"The Zorblax Accord was signed at Harrow Quay by seven river pilots in 1911."
        uploaded = api_one.post("/api/documents", files=[("files", ("zorblax.txt", note, "text/plain"))])
        assert uploaded.status_code == 200, uploaded.text
        asked = api_other.post("/api/ask", json={"question": "What is known about the Zorblax Accord?"}).json()
        assert not asked["refused"] and "zorblax" in {c["doc_id"] for c in asked["citations"]}
        assert "Harrow Quay" in asked["answer"]
        assert {d["doc_id"] for d in api_other.get("/api/documents").json()} >= {"zorblax"}

        assert api_one.delete("/api/documents/zorblax").json() == {"removed": ["zorblax"]}
        deleted = time.monotonic()
        while "zorblax" in {d["doc_id"] for d in api_other.get("/api/documents").json()}:
            assert time.monotonic() - deleted < 1.0, "the other server still lists a deleted document"
            time.sleep(0.05)
        again = api_other.post("/api/ask", json={"question": "What is known about the Zorblax Accord?"}).json()
        assert "zorblax" not in {c["doc_id"] for c in again["citations"]}

        milvus.stop()
        health = api_other.get("/api/health")
        assert health.status_code == 503 and health.json()["status"] == "degraded"
        store = health.json()["vector_store"]
        assert store["kind"] == "milvus" and not store["reachable"]
        assert f"Milvus at {milvus.uri}" in store["problem"] and "start the server" in store["problem"]
        assert health.json()["database"]["reachable"]
        refused = api_other.post("/api/ask", json={"question": RUTTE})
        assert refused.status_code == 503 and f"Milvus at {milvus.uri}" in refused.json()["detail"]
        assert refused.json()["code"] == "STORE_UNREACHABLE"
        assert "start the server" in refused.json()["detail"] and "\n" not in refused.json()["detail"]

        milvus.start()
        back = time.monotonic()
        # gRPC may refuse the first connection to an address it just saw fail; the next one goes through.
        while api_other.get("/api/health").json()["status"] != "ok":
            assert time.monotonic() - back < 10, "the server did not notice that Milvus is back"
            time.sleep(0.2)
        assert api_one.post("/api/ask", json={"question": RUTTE}).json()["citations"]


def test_a_server_whose_milvus_is_nowhere_serves_its_health(tmp_path: Path) -> None:
    settings = Settings(
        index_dir=tmp_path / "index", llm_backend="extractive", vector_store="milvus", milvus_uri="http://127.0.0.1:9"
    )
    with serving(create_app(settings, Engine(settings, auto_demo=False))) as url, httpx.Client(base_url=url) as api:
        health = api.get("/api/health")
        assert health.status_code == 503 and not health.json()["vector_store"]["reachable"]
        assert "cannot open Milvus at http://127.0.0.1:9" in health.json()["vector_store"]["problem"]
        assert health.json()["documents"] is None and health.json()["database"] == {
            "kind": "sqlite",
            "reachable": True,
            "problem": None,
        }
        asked = api.post("/api/ask", json={"question": RUTTE})
        assert asked.status_code == 503 and "RAG_MILVUS_URI" in asked.json()["detail"]
