"""rag.llms with real models: SmolLM2 in-process, and llama-cpp-python's OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from rag.backends import chat_model
from rag.cli import main
from rag.judge import judge
from rag.llms import BackendUnavailable, LlamaCppChat
from rag.models import ModelUnavailable, smollm2_path
from rag.settings import Settings

QUESTION = "What is the capital of France? Answer in one word."


@pytest.fixture(scope="module")
def local_settings() -> Settings:
    # One thread: on a busy 2-core machine two llama.cpp threads can stall each other.
    return Settings(model_path=str(smollm2_path()), n_ctx=1024, n_threads=1, max_answer_tokens=24, temperature=0.0)


@pytest.fixture(scope="module")
def smol(local_settings) -> LlamaCppChat:
    model = chat_model(local_settings, "local")
    assert isinstance(model, LlamaCppChat)
    return model


# --- local llama.cpp ------------------------------------------------------------------


def test_invoke_returns_text_and_token_counts(smol):
    reply = smol.invoke(QUESTION)
    assert isinstance(reply.content, str) and reply.content.strip()
    assert "paris" in reply.content.lower()
    usage = reply.usage_metadata
    assert usage["input_tokens"] > 10 and 0 < usage["output_tokens"] <= 24
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert reply.response_metadata["model_name"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert reply.response_metadata["finish_reason"] in ("stop", "length")


def test_stream_yields_tokens_and_the_same_counts(smol):
    invoked = smol.invoke(QUESTION)
    chunks = list(smol.stream(QUESTION))
    texts = [c.content for c in chunks if c.content]
    assert len(texts) > 1 and "paris" in "".join(texts).lower()
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    # The streamed prompt count (from the GGUF's chat template) equals llama.cpp's own.
    assert total.usage_metadata["input_tokens"] == invoked.usage_metadata["input_tokens"]
    assert total.usage_metadata["output_tokens"] == len(texts)
    assert total.response_metadata["finish_reason"] in ("stop", "length")


def test_first_token_alternatives_come_as_openai_reports_them(smol):
    reply = smol.invoke(
        [HumanMessage("Is Paris in France? Reply yes or no.")], max_tokens=1, logprobs=True, top_logprobs=5
    )
    first = reply.response_metadata["logprobs"]["content"][0]
    alternatives = first["top_logprobs"]
    assert len(alternatives) == 5 and alternatives[0]["token"] == first["token"]
    assert first["token"].strip() == reply.content.strip()  # greedy: the token given is the likeliest
    chances = [math.exp(a["logprob"]) for a in alternatives]
    assert chances == sorted(chances, reverse=True) and 0 < sum(chances) <= 1 + 1e-6


def test_lcel_chain_streams_strings(smol):
    prompt = ChatPromptTemplate.from_messages([("system", "You are a terse assistant."), ("human", "{q}")])
    chain = prompt | smol | StrOutputParser()
    parts = list(chain.stream({"q": "Name three colours."}))
    assert len(parts) > 1 and all(isinstance(p, str) for p in parts)
    assert "".join(parts).strip()


def test_model_is_loaded_once_and_shared(local_settings, smol):
    other = chat_model(local_settings, "local")
    assert other is not smol
    assert other.llama is smol.llama
    assert other.load() is smol.load()
    different_ctx = chat_model(local_settings.replace(n_ctx=512), "local")
    assert different_ctx.load() is not smol.load()


def test_stopping_a_stream_early_frees_the_model(smol):
    stream = smol.stream("Write a long story about a dragon.")
    for i, _ in enumerate(stream):
        if i == 2:
            break
    stream.close()
    assert not smol.load().lock.locked()
    assert smol.invoke(QUESTION).content  # would hang if the lock were still held


def test_a_stop_signal_ends_a_stream_before_its_prompt_is_read(local_settings, smol):
    stop = threading.Event()
    stop.set()  # before llama.cpp has evaluated a token of the prompt
    chunks = list(chat_model(local_settings, "local", stop).stream("Write a long story about a dragon."))
    assert [c.content for c in chunks if c.content] == []  # not even the first token
    assert chunks[-1].response_metadata["finish_reason"] == "cancelled"
    assert not smol.load().lock.locked()
    assert "paris" in smol.invoke(QUESTION).content.lower()  # the aborted prompt left nothing behind


def test_concurrent_calls_are_serialised(smol):
    results: list[str] = []

    def ask():
        results.append(smol.invoke(QUESTION).content)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 2 and all("paris" in r.lower() for r in results)


def test_async_stream_and_cancel(smol):
    async def main():
        chunks = [c async for c in smol.astream(QUESTION)]
        assert len([c for c in chunks if c.content]) > 1
        n = 0
        async for _ in smol.astream("Write a long story about a dragon."):
            n += 1
            if n == 2:
                break
        reply = await asyncio.wait_for(smol.ainvoke(QUESTION), timeout=60)
        return "".join(c.content for c in chunks), reply.content

    streamed, invoked = asyncio.run(main())
    assert "paris" in streamed.lower() and "paris" in invoked.lower()


def test_prompt_longer_than_the_context_says_what_to_change(smol):
    with pytest.raises(ValueError, match="RAG_N_CTX"):
        smol.invoke([SystemMessage("Be brief."), HumanMessage("word " * 1500)])


def test_bad_backend_and_bad_model(local_settings, tmp_path):
    with pytest.raises(ValueError, match="local, openai"):
        chat_model(local_settings, "gpt")
    with pytest.raises(ModelUnavailable, match="RAG_MODEL_PATH"):
        chat_model(local_settings.replace(model_path=str(tmp_path / "none.gguf")), "local")


# --- OpenAI-compatible server ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    """llama-cpp-python's own OpenAI-compatible server with SmolLM2, on loopback."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(smollm2_path()),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "1024",
        "--n_threads",
        "1",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def test_openai_backend_invokes_a_real_server(llama_server):
    settings = Settings(openai_base_url=llama_server, max_answer_tokens=16, request_timeout=60)
    model = chat_model(settings, "openai")
    reply = model.invoke(QUESTION)
    assert isinstance(reply.content, str) and reply.content.strip()
    assert reply.usage_metadata and reply.usage_metadata["input_tokens"] > 0


def test_openai_backend_streams_from_a_real_server(llama_server):
    settings = Settings(openai_base_url=llama_server, max_answer_tokens=16, request_timeout=60)
    model = chat_model(settings, "openai")
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | model | StrOutputParser()
    parts = [p for p in chain.stream({"q": "Count from 1 to 5."}) if p]
    assert len(parts) > 1 and "".join(parts).strip()


def test_the_judge_step_works_over_a_real_server(llama_server):
    settings = Settings(openai_base_url=llama_server, request_timeout=60)
    chance = judge(settings, "openai", "Where is Paris?", "Paris is the capital of France.")
    assert 0.0 < chance < 1.0  # a probability from the log-probabilities the server reports, not a bare yes or no


def test_an_evaluation_over_a_server_records_its_model_and_server(llama_server, tmp_path, monkeypatch):
    """Runs with another model are comparable with the bundled one: the report says what answered."""
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RAG_OPENAI_BASE_URL", llama_server)
    monkeypatch.setenv("RAG_REQUEST_TIMEOUT", "120")
    out = tmp_path / "run"
    demo = Path(__file__).resolve().parent.parent / "eval" / "datasets" / "demo"
    argv = ["eval", str(demo), "--backend", "openai", "--pipeline", "ours", "--limit", "2", "--out", str(out), "-q"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    answered_by = summary["pipelines"]["ours"]["answered_by"]
    assert answered_by and all(m.startswith("openai:") and m.endswith(f"@{llama_server}") for m in answered_by)
    assert f"`{answered_by[0]}`" in (out / "report.md").read_text(encoding="utf-8")


def test_openai_wrong_path_is_explained(llama_server):
    root = llama_server.removesuffix("/v1") + "/nothing-here"
    model = chat_model(Settings(openai_base_url=root, max_answer_tokens=4), "openai")
    with pytest.raises(BackendUnavailable, match="HTTP 404.*RAG_OPENAI_BASE_URL"):
        model.invoke("hi")


def test_down_server_fails_fast_with_a_clear_message():
    url = f"http://127.0.0.1:{_free_port()}/v1"  # nobody listens there
    model = chat_model(Settings(openai_base_url=url, request_timeout=60), "openai")
    for call in (model.invoke, lambda q: list(model.stream(q))):
        start = time.monotonic()
        with pytest.raises(BackendUnavailable) as err:
            call("hi")
        assert time.monotonic() - start < 5
        msg = str(err.value)
        assert msg == (f"cannot reach the LLM server at {url}: connection refused. Start it or set RAG_OPENAI_BASE_URL")
        assert err.value.url == url and err.value.reason == "connection refused"

    async def async_calls():
        with pytest.raises(BackendUnavailable, match="connection refused"):
            await model.ainvoke("hi")
        with pytest.raises(BackendUnavailable, match="connection refused"):
            async for _ in model.astream("hi"):
                pass

    start = time.monotonic()
    asyncio.run(async_calls())
    assert time.monotonic() - start < 10


def test_silent_server_times_out_with_a_clear_message():
    # A socket that accepts connections but never answers: the request timeout applies.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        model = chat_model(Settings(openai_base_url=url, request_timeout=1), "openai")
        start = time.monotonic()
        with pytest.raises(BackendUnavailable, match=r"no answer within 1 s.*RAG_REQUEST_TIMEOUT"):
            model.invoke("hi")
        assert time.monotonic() - start < 10


def test_api_key_comes_from_the_named_variable(monkeypatch):
    monkeypatch.setenv("MY_LLM_KEY", "sk-test-123")
    model = chat_model(Settings(openai_api_key_env="MY_LLM_KEY"), "openai")
    assert model.openai_api_key.get_secret_value() == "sk-test-123"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = chat_model(Settings(), "openai")
    assert model.openai_api_key.get_secret_value() == "not-needed"
