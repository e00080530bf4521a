"""Chat models behind LangChain's chat-model interface: a local GGUF or an OpenAI-compatible server.

Only models live here: no prompt text and no retrieval logic.

- ``LlamaCppChat``: llama-cpp-python in this process, with the GGUF's own chat template.
  One ``llama_cpp.Llama`` per (file, n_ctx, n_threads) per process, shared by every
  ``LlamaCppChat`` that names it; calls into it are serialised by a lock. A streamed call of
  ``.stopping(event)``'s model ends once the event is set, even while llama.cpp reads the prompt.
- ``OpenAICompatChat``: ``langchain_openai.ChatOpenAI`` that turns "server down /
  unreachable / too slow" into ``BackendUnavailable`` with a message saying what to do.
- ``LOCAL`` and ``OPENAI``: the backends built on them (rag/backends.py), registered as
  entry points; ``rag.backends.chat_model(settings, name)`` builds a backend's model.

Both report tokens used as ``usage_metadata`` (input_tokens, output_tokens,
total_tokens) on the returned message, and on the last chunk when streaming. Asked with
``logprobs=True, top_logprobs=k``, both put the first token's alternatives in
``response_metadata["logprobs"]`` in OpenAI's shape (``LlamaCppChat``: the first token only).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from rag.backends import Backend
from rag.models import ModelUnavailable, model_name, resolve_model
from rag.settings import Settings

DEFAULT_SEED = 1234
CONNECT_TIMEOUT = 5.0  # seconds; a down server must fail fast, not after request_timeout


class BackendUnavailable(Exception):
    """The LLM backend cannot answer (server down, unreachable, too slow, refusing us).

    The message says what to do; ``url`` and ``reason`` are there for callers that
    want to show them separately.
    """

    def __init__(self, message: str, *, url: str = "", reason: str = "", status: int | None = None):
        super().__init__(message)
        self.url = url
        self.reason = reason
        self.status = status


# --- local llama.cpp ------------------------------------------------------------------


def _never() -> bool:
    return False


class _Loaded:
    """One llama_cpp.Llama with the lock that serialises calls into it."""

    def __init__(self, llama: Any):
        self.llama = llama
        # A plain Lock (not RLock): LangChain's default async streaming resumes a sync
        # generator from different executor threads, and only a Lock may be released
        # by another thread than the one that took it.
        self.lock = threading.Lock()
        self._formatter: Any = None
        self._formatter_ready = False
        self._stopped: Callable[[], bool] = _never
        # Held here for as long as llama.cpp may call it: ctypes frees a collected callback.
        self._abort: Any = None

    def arm(self, stopped: Callable[[], bool]) -> None:
        """Let llama.cpp abort the prompt it evaluates once `stopped()` is true.

        Only during prompt evaluation, which takes seconds: between tokens the caller checks
        its stop signal anyway, and a Python callback at every step of every token costs the
        GIL, which another busy thread turns into a 5-fold slower answer.
        """
        import llama_cpp

        self._stopped = stopped
        if self._abort is None:
            self._abort = llama_cpp.ggml_abort_callback(lambda _data: self._stopped())
        llama_cpp.llama_set_abort_callback(self.llama.ctx, self._abort, None)

    def disarm(self) -> None:
        if self._stopped is _never:
            return
        import llama_cpp

        llama_cpp.llama_set_abort_callback(self.llama.ctx, llama_cpp.ggml_abort_callback(), None)
        self._stopped = _never

    def count_prompt_tokens(self, messages: list[dict[str, str]]) -> int | None:
        """Prompt tokens as the GGUF's chat template renders them (as create_chat_completion does)."""
        llama = self.llama
        if not self._formatter_ready:
            self._formatter_ready = True
            template = (llama.metadata or {}).get("tokenizer.chat_template")
            if template and llama.chat_format == "chat_template.default":
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                def text(token_id: int) -> str:
                    if token_id < 0:
                        return ""
                    return llama.detokenize([token_id], special=True).decode("utf-8", "ignore")

                self._formatter = Jinja2ChatFormatter(
                    template=template,
                    eos_token=text(llama.token_eos()),
                    bos_token=text(llama.token_bos()),
                    stop_token_ids=[llama.token_eos()],
                )
        try:
            if self._formatter is not None:
                rendered = self._formatter(messages=messages)
                return len(
                    llama.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)
                )
            joined = "\n".join(m["content"] for m in messages)
            return len(llama.tokenize(joined.encode("utf-8"), add_bos=True, special=True))
        except Exception:  # noqa: BLE001  (counting must never break answering)
            return None


_LOADED: dict[tuple[str, int, int], _Loaded] = {}
_LOADED_LOCK = threading.Lock()


def _first_token_logprobs(llama: Any, logits: Any, top: int) -> dict[str, Any]:
    """The first token's `top` likeliest alternatives, as OpenAI's `logprobs` field has them."""
    logprobs = logits - logits.max()
    logprobs = logprobs - np.log(np.exp(logprobs).sum())
    best = np.argsort(-logprobs)[:top]
    alternatives = [
        {"token": llama.detokenize([int(i)]).decode("utf-8", errors="replace"), "logprob": float(logprobs[i])}
        for i in best
    ]
    return {"content": [{**alternatives[0], "top_logprobs": alternatives}]}


def _threads(n_threads: int) -> int:
    return n_threads if n_threads > 0 else (os.cpu_count() or 1)


def load_llama(model_path: str | Path, n_ctx: int, n_threads: int, seed: int = DEFAULT_SEED) -> _Loaded:
    """The process-wide llama_cpp.Llama for (file, n_ctx, n_threads), loading it once."""
    path = Path(model_path).expanduser().resolve()
    key = (str(path), int(n_ctx), _threads(n_threads))
    with _LOADED_LOCK:
        loaded = _LOADED.get(key)
        if loaded is not None:
            return loaded
        from llama_cpp import Llama

        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=key[1],
                n_threads=key[2],
                n_threads_batch=key[2],
                seed=seed,
                verbose=False,
            )
        except ValueError as exc:  # llama.cpp says only "Failed to load model from file"
            raise ModelUnavailable(
                f"llama.cpp could not load {path} ({exc}): the file is damaged or uses a format "
                "this llama-cpp-python does not know; re-download it or set RAG_MODEL_PATH to "
                "another GGUF file"
            ) from exc
        # Use the GGUF's own chat template, not a built-in format guessed from it.
        if "chat_template.default" in getattr(llama, "_chat_handlers", {}):
            llama.chat_format = "chat_template.default"
        loaded = _Loaded(llama)
        _LOADED[key] = loaded
        return loaded


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ChatMessage):
        return message.role
    raise ValueError(f"LlamaCppChat cannot send a {type(message).__name__}")


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def _usage(prompt_tokens: int | None, completion_tokens: int) -> UsageMetadata | None:
    if prompt_tokens is None:
        return None
    return UsageMetadata(
        input_tokens=prompt_tokens, output_tokens=completion_tokens, total_tokens=prompt_tokens + completion_tokens
    )


class LlamaCppChat(BaseChatModel):
    """A GGUF model run in-process by llama-cpp-python, using the file's chat template.

    The llama.cpp model is loaded on first use (or by ``load()``) and shared across
    instances with the same (model_path, n_ctx, n_threads). llama.cpp keeps the KV
    cache of the previous prompt, so a new prompt that starts with the same tokens
    (system prompt, passages) only evaluates the part after the common prefix.
    """

    model_path: str
    n_ctx: int = 4096
    n_threads: int = 0  # 0: all cores
    max_tokens: int = 320
    temperature: float = 0.0
    seed: int = DEFAULT_SEED
    stop: list[str] | None = None
    model_kwargs: dict[str, Any] = Field(default_factory=dict)  # extra create_chat_completion args
    # Set once the reader stops the answer: a streamed call then ends, even amid a long prompt.
    stop_signal: threading.Event | None = Field(default=None, exclude=True)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "n_ctx": self.n_ctx,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
        }

    @property
    def model_name(self) -> str:
        return Path(self.model_path).name

    def load(self) -> _Loaded:
        """Load (once per process) and return the shared model; call it to warm up at start."""
        return load_llama(self.model_path, self.n_ctx, self.n_threads, self.seed)

    def stopping(self, stop: threading.Event) -> LlamaCppChat:
        """This model, its streamed calls ended once `stop` is set (rag.backends.Stoppable)."""
        return self.model_copy(update={"stop_signal": stop})

    @property
    def llama(self) -> Any:
        """The shared llama_cpp.Llama (loading it if needed)."""
        return self.load().llama

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            **self.model_kwargs,
            **kwargs,
        }
        stops = list(self.stop or []) + list(stop or [])
        if stops:
            params["stop"] = stops
        return params

    @staticmethod
    def _messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
        return [{"role": _role(m), "content": _text(m)} for m in messages]

    def _context_error(self, exc: ValueError, loaded: _Loaded, messages: list[dict[str, str]]) -> Exception:
        if "context window" not in str(exc):
            return exc
        n = loaded.count_prompt_tokens(messages)
        return ValueError(
            f"the prompt ({n if n is not None else '?'} tokens) does not fit the model's context of "
            f"{self.n_ctx} tokens with room for the answer: raise RAG_N_CTX or lower "
            f"RAG_CONTEXT_TOKENS / RAG_MAX_ANSWER_TOKENS ({exc})"
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        loaded = self.load()
        msgs = self._messages(messages)
        params = self._params(stop, kwargs)
        top = params.pop("top_logprobs", 5) if params.pop("logprobs", False) else 0
        first_logits: list[Any] = []
        if top:
            # llama.cpp computes log-probabilities only for a model loaded with logits_all, which
            # costs every prompt; the first token's logits, seen on their way, are enough here.
            def keep_first(ids: Any, logits: Any) -> Any:
                first_logits.append(logits.copy())
                return logits

            params["logits_processor"] = [keep_first]
        with loaded.lock:
            try:
                response = loaded.llama.create_chat_completion(messages=msgs, stream=False, **params)
            except ValueError as exc:
                raise self._context_error(exc, loaded, msgs) from exc
        choice = response["choices"][0]
        text = choice["message"].get("content") or ""
        usage = response.get("usage") or {}
        usage_md = _usage(usage.get("prompt_tokens"), usage.get("completion_tokens", 0))
        metadata = {
            "model_name": self.model_name,
            "finish_reason": choice.get("finish_reason"),
            "token_usage": dict(usage),
        }
        if first_logits:
            metadata["logprobs"] = _first_token_logprobs(loaded.llama, first_logits[0], top)
        message = AIMessage(content=text, response_metadata=metadata, usage_metadata=usage_md)
        return ChatResult(
            generations=[
                ChatGeneration(message=message, generation_info={"finish_reason": choice.get("finish_reason")})
            ],
            llm_output={"token_usage": dict(usage), "model_name": self.model_name},
        )

    def _chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        cancel: threading.Event | None,
        kwargs: dict[str, Any],
    ) -> Generator[ChatGenerationChunk]:
        """Token chunks, then one empty chunk carrying finish reason and usage; once `cancel` or
        the model's stop signal is set, the chunks end within a step of llama.cpp's computation."""
        loaded = self.load()
        msgs = self._messages(messages)
        params = self._params(stop, kwargs)
        signals = [s for s in (cancel, self.stop_signal) if s is not None]

        def stopped() -> bool:
            return any(s.is_set() for s in signals)

        completion_tokens = 0
        finish_reason = None
        with loaded.lock:
            prompt_tokens = loaded.count_prompt_tokens(msgs)
            try:
                stream = loaded.llama.create_chat_completion(messages=msgs, stream=True, **params)
            except ValueError as exc:
                raise self._context_error(exc, loaded, msgs) from exc
            if signals:
                loaded.arm(stopped)
            try:
                for part in stream:
                    loaded.disarm()  # the prompt is evaluated once the first token is out
                    choice = part["choices"][0]
                    finish_reason = choice.get("finish_reason") or finish_reason
                    content = choice.get("delta", {}).get("content")
                    if content:
                        completion_tokens += 1
                        yield ChatGenerationChunk(message=AIMessageChunk(content=content))
                    if stopped():
                        finish_reason = "cancelled"
                        break
            except ValueError as exc:
                raise self._context_error(exc, loaded, msgs) from exc
            except RuntimeError:  # llama_decode's "aborted", when it was asked to
                if not stopped():
                    raise
                finish_reason = "cancelled"
                # The aborted prompt's evaluated part stays in llama.cpp's memory: start afresh.
                loaded.llama.reset()
            finally:
                loaded.disarm()
                close = getattr(stream, "close", None)
                if close is not None:
                    close()  # finish llama.cpp's generator before another call may start
        usage = _usage(prompt_tokens, completion_tokens)
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata={"model_name": self.model_name, "finish_reason": finish_reason},
                usage_metadata=usage,
                chunk_position="last",
            ),
            generation_info={"finish_reason": finish_reason},
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        chunks = self._chunks(messages, stop, None, kwargs)
        try:
            for chunk in chunks:
                if run_manager and chunk.text:
                    run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk
        finally:
            chunks.close()  # releases the model lock at once when the caller stops early

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        """Generate in a worker thread; stopping the async iteration stops generation."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()
        done = object()

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop is gone: nobody is listening
                cancel.set()

        def work() -> None:
            try:
                for chunk in self._chunks(messages, stop, cancel, kwargs):
                    put(chunk)
                    if cancel.is_set():
                        break
            except BaseException as exc:  # noqa: BLE001  (handed to the awaiting side)
                put(exc)
            finally:
                put(done)

        loop.run_in_executor(None, work)
        try:
            while True:
                item = await queue.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                if run_manager and item.text:
                    await run_manager.on_llm_new_token(item.text, chunk=item)
                yield item
        finally:
            cancel.set()


# --- OpenAI-compatible servers ---------------------------------------------------------


def _reason(exc: BaseException, timeout: float | None) -> str:
    """A short human reason from an exception and its causes."""
    import httpx
    import openai

    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen and len(seen) < 10:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    for e in seen:
        if isinstance(e, ConnectionRefusedError) or "Connection refused" in str(e):
            return "connection refused"
        if isinstance(e, socket.gaierror) or "Name or service not known" in str(e):
            return "host name not found"
    for e in seen:
        if isinstance(e, (openai.APITimeoutError, httpx.TimeoutException, TimeoutError)):
            return f"no answer within {timeout:g} s" if timeout else "timed out"
        if isinstance(e, httpx.RemoteProtocolError):
            return "the server closed the connection"
    innermost = seen[-1]
    return str(innermost) or type(innermost).__name__


def explain_connection_error(
    exc: BaseException, settings: Settings | str, timeout: float | None = None
) -> BackendUnavailable:
    """Turn an OpenAI client / httpx error into a BackendUnavailable that says what to do.

    ``settings`` may be the Settings or just the base URL.
    """
    import openai

    if isinstance(settings, Settings):
        url, timeout, key_env, model = (
            settings.openai_base_url,
            timeout or settings.request_timeout,
            settings.openai_api_key_env,
            settings.openai_model,
        )
    else:
        url, key_env, model = str(settings), "OPENAI_API_KEY", "?"
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (401, 403):
            msg = (
                f"the LLM server at {url} refused the API key (HTTP {status}): put the key in the "
                f"environment variable {key_env} (named by RAG_OPENAI_API_KEY_ENV)"
            )
        elif status == 404:
            msg = (
                f"the LLM server at {url} has no model {model!r} or no chat API there (HTTP 404): "
                "set RAG_OPENAI_MODEL to a model it serves, and RAG_OPENAI_BASE_URL to its /v1 URL"
            )
        else:
            msg = f"the LLM server at {url} failed (HTTP {status}): {exc.message}. Check the server's log"
        return BackendUnavailable(msg, url=url, reason=f"HTTP {status}", status=status)
    reason = _reason(exc, timeout)
    hint = "Start it or set RAG_OPENAI_BASE_URL"
    if "no answer within" in reason or reason == "timed out":
        hint += " (or raise RAG_REQUEST_TIMEOUT)"
    return BackendUnavailable(f"cannot reach the LLM server at {url}: {reason}. {hint}", url=url, reason=reason)


def _backend_errors() -> tuple[type[BaseException], ...]:
    import httpx
    import openai

    return (
        openai.APIConnectionError,
        openai.InternalServerError,
        openai.AuthenticationError,
        openai.PermissionDeniedError,
        openai.NotFoundError,
        httpx.TransportError,
    )


def _make_openai_class() -> type:
    from langchain_openai import ChatOpenAI

    class OpenAICompatChat(ChatOpenAI):
        """ChatOpenAI for any OpenAI-compatible server; unreachable servers raise BackendUnavailable."""

        rag_settings: Any = Field(default=None, exclude=True)

        def _get_request_payload(self, *args: Any, **kwargs: Any) -> dict:
            payload = super()._get_request_payload(*args, **kwargs)
            # ChatOpenAI renames max_tokens to OpenAI's newer max_completion_tokens, which
            # llama.cpp, vLLM, Ollama and most compatible servers ignore: send max_tokens.
            if "max_completion_tokens" in payload:
                payload["max_tokens"] = payload.pop("max_completion_tokens")
            return payload

        def _explain(self, exc: BaseException) -> BackendUnavailable:
            target = self.rag_settings or (self.openai_api_base or "")
            return explain_connection_error(exc, target)

        def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
            try:
                return super()._generate(*args, **kwargs)
            except _backend_errors() as exc:
                raise self._explain(exc) from exc

        def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
            try:
                yield from super()._stream(*args, **kwargs)
            except _backend_errors() as exc:
                raise self._explain(exc) from exc

        async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
            try:
                return await super()._agenerate(*args, **kwargs)
            except _backend_errors() as exc:
                raise self._explain(exc) from exc

        async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
            try:
                async for chunk in super()._astream(*args, **kwargs):
                    yield chunk
            except _backend_errors() as exc:
                raise self._explain(exc) from exc

    return OpenAICompatChat


_OPENAI_CLASS: type | None = None


def openai_chat_class() -> type:
    """The OpenAICompatChat class (langchain_openai is imported on first use only)."""
    global _OPENAI_CLASS
    if _OPENAI_CLASS is None:
        _OPENAI_CLASS = _make_openai_class()
    return _OPENAI_CLASS


def make_openai_chat(settings: Settings) -> BaseChatModel:
    # The client's own Timeout: openai 3.63 moved from httpx to httpx2 and rejects the other's.
    from openai import Timeout

    timeout = float(settings.request_timeout)
    api_key = os.environ.get(settings.openai_api_key_env) or "not-needed"
    return openai_chat_class()(
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        api_key=api_key,
        timeout=Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
        max_retries=1,
        # `streaming` left unset: invoke() makes one plain request (with usage), while
        # stream() and streamed chains stream. Setting streaming=False would disable stream().
        stream_usage=True,  # ask for usage in streams (servers that do not support it ignore it)
        use_responses_api=False,
        temperature=settings.temperature,
        max_tokens=settings.max_answer_tokens,
        seed=DEFAULT_SEED,
        rag_settings=settings,
    )


def _local_chat(settings: Settings) -> LlamaCppChat:
    """The local backend's model: settings.model_path, or the bundled model (assembled on first
    use; ModelUnavailable when that cannot work). It loads on the first call, or with ``.load()``."""
    return LlamaCppChat(
        model_path=str(resolve_model(settings.model_path)),
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
        max_tokens=settings.max_answer_tokens,
        temperature=settings.temperature,
    )


def _local_name(settings: Settings) -> str:
    return f"local:{model_name(settings.model_path)}"


LOCAL = Backend("local", describe=_local_name, chat_model=_local_chat)
OPENAI = Backend(
    "openai", describe=lambda s: f"openai:{s.openai_model}@{s.openai_base_url}", chat_model=make_openai_chat
)
