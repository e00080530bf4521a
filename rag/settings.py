"""One Settings object for every entry point: defaults < TOML file < RAG_* environment.

The file is `--settings FILE`, else `$RAG_SETTINGS`, else `./rag.toml` when present.
Each field can be overridden by an environment variable named `RAG_` + the field
name in upper case, e.g. `RAG_TOP_K=8` or `RAG_LLM_BACKEND=extractive`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_CORPUS = PROJECT_ROOT / "data" / "demo"


def _data_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "ragchat"


def cache_home() -> Path:
    """Where assembled model files live; shared by all indexes of a user."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("RAG_CACHE_DIR") or Path(base) / "ragchat")


class SettingsError(ValueError):
    """A settings file or variable that cannot be used as given."""


@dataclass(frozen=True)
class Settings:
    # Where the index lives and what builds it.
    index_dir: Path = field(default_factory=lambda: _data_home() / "index")
    embedder: str = "use"  # use | e5 | minilm | st:<model id or folder>
    demo_corpus: Path = DEMO_CORPUS  # indexed on first use when the index is empty

    # Chunking (tokens of tiktoken's cl100k encoding); sizes measured in docs/PERFORMANCE.md.
    chunk_tokens: int = 200
    chunk_overlap: int = 40

    # Retrieval.
    top_k: int = 5
    candidates: int = 50  # per retriever, before fusion
    lexical_weight: float = 0.1  # BM25's share in the fused score when languages mix (rag/retrieval.py)
    lexical_weight_monolingual: float = 0.8  # ... when question and passages share one language
    exact_search_max: int = 50_000  # above this many chunks FAISS switches to an IVF index

    # Answering.
    llm_backend: str = "auto"  # auto | local | openai | extractive
    model_path: str = ""  # a GGUF file; empty means the bundled Qwen2.5-Coder-1.5B-Instruct
    n_ctx: int = 4096
    n_threads: int = 0  # 0: all cores
    max_answer_tokens: int = 320
    temperature: float = 0.0
    context_tokens: int = 300  # budget for the evidence blocks in the prompt (rag/evidence.py)
    # Refuse when the best evidence sentence supports the question less than this
    # (0.6 x cosine + 0.4 x word overlap; rag/evidence.py): the gate (rag/gate.py). Chosen on
    # the tune halves (scripts/verify_sweep.py; docs/benchmarks.md). A model can still decline
    # and the extractive quoter cannot, so the quoter's gate is higher.
    min_relevance: float = 0.2
    min_relevance_extractive: float = 0.25
    quote_when_declined: float = (
        0.40  # a model that declines despite evidence this clear: its refusal quotes that evidence
    )
    # A claim stands only when its meaning is this close (cosine) to a sentence it cites (rag/verify.py);
    # 0.25-0.45 made no difference on the tune halves.
    claim_similarity: float = 0.35
    # A short answer stands only on a sentence (with the one before it) holding this share of the
    # question's words (same language). Off by default: on the tune halves every value from 0.3
    # refused more answerable questions than unanswerable ones.
    answer_coverage: float = 0.0
    # A model's answer stands only when the model, reading the text it cites alone, says
    # with at least this probability that it contains the answer (rag/judge.py); 0 turns the
    # judge off. 0.5 is the model's own decision (yes likelier than no); on the tune halves every
    # value from 0.3 to 0.5 caught the same unanswerable questions and left F1 as it was
    # (docs/benchmarks.md).
    judge_threshold: float = 0.5
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_model: str = "local"
    openai_api_key_env: str = "OPENAI_API_KEY"  # the variable's name, never the key itself
    request_timeout: float = 60.0

    # Server.
    host: str = "127.0.0.1"
    port: int = 7860
    # Access (ui/access.py): with either key set, every route that reads or changes data needs a
    # key (header X-API-Key, or a signed-in browser session). The editor key may also upload and delete.
    api_key: str = ""  # the editor key
    reader_key: str = ""
    cors_origins: tuple[str, ...] = ()
    max_upload_mb: float = 20.0
    max_question_chars: int = 2000
    feedback_path: Path | None = None  # default: <index_dir>/../feedback.jsonl

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None leaves a field as it is), typed like the file's values."""
        known = {f.name: f for f in fields(self)}
        return dataclasses.replace(self, **{k: _coerce(known[k], v) for k, v in changes.items() if v is not None})

    @property
    def feedback_file(self) -> Path:
        return self.feedback_path or self.index_dir.parent / "feedback.jsonl"

    def gate_for(self, has_model: bool) -> float:
        """The gate threshold for a backend with a chat model, or for the extractive quoter."""
        return self.min_relevance if has_model else self.min_relevance_extractive

    @classmethod
    def load(cls, path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        file = path or env.get("RAG_SETTINGS") or ("rag.toml" if Path("rag.toml").is_file() else None)
        if file:
            try:
                values.update(tomllib.loads(Path(file).read_text(encoding="utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise SettingsError(f"cannot read settings file {file}: {exc}") from exc
        for f in fields(cls):
            key = "RAG_" + f.name.upper()
            if key in env:
                values[f.name] = env[key]
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise SettingsError(f"unknown settings: {', '.join(unknown)}; known: {', '.join(known)}")
        return cls(**{name: _coerce(known[name], value) for name, value in values.items()})


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    """Turn file and environment values (often strings) into the field's type."""
    kind = str(f.type)
    try:
        if "Path" in kind:
            return None if value in ("", None) else Path(value).expanduser()
        if kind == "bool":
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind.startswith("tuple"):
            items = value.split(",") if isinstance(value, str) else value
            return tuple(str(v).strip() for v in items if str(v).strip())
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {f.name}={value!r} is not a valid {kind}") from exc
