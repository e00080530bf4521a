"""One Settings object for every entry point: defaults < TOML file < RAG_* environment.

The file is `--settings FILE`, else `$RAG_SETTINGS`, else `./rag.toml` when present.
Each field can be overridden by an environment variable named `RAG_` + the field
name in upper case, e.g. `RAG_TOP_K=8` or `RAG_LLM_BACKEND=extractive`.

`Settings(...)` itself reads neither: it is a plain validated value, as tests and the
evaluator build it. `Settings.load()` reads the file and the environment (pydantic-settings).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError as SourceError

from rag.paths import DEMO_CORPUS, data_home

ENV_PREFIX = "RAG_"


class SettingsError(ValueError):
    """A settings file or variable that cannot be used as given."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Where the index lives and what builds it.
    index_dir: Path = Field(default_factory=lambda: data_home() / "index")
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

    # Where the chunks are searched: local (FAISS + BM25 files in index_dir) | milvus (index/milvus.py).
    vector_store: str = "local"
    # Milvus: a path ending in .db runs milvus-lite in this process, or a server's http://host:19530.
    # Empty: milvus-lite in <index_dir>/milvus.db.
    milvus_uri: str = ""
    milvus_token_env: str = "MILVUS_TOKEN"  # the variable holding the server's token: its name, never the token
    milvus_collection: str = "ragchat"  # an alias: a full rebuild fills a new collection and moves the alias

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
    # A model that declines despite evidence this clear: its refusal quotes that evidence.
    quote_when_declined: float = 0.40
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
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()  # comma-separated in a variable, not JSON
    max_upload_mb: float = 20.0
    max_question_chars: int = 2000
    feedback_path: Path | None = None  # default: <index_dir>/../feedback.jsonl
    # Saved conversations (ui/conversations.py): a SQLAlchemy URL, e.g. postgresql+psycopg://host/db.
    # Default: the SQLite file <index_dir>/../conversations.db.
    database_url: str = ""

    @field_validator("index_dir", "demo_corpus", "feedback_path", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        if value in ("", None):
            return None
        return Path(value).expanduser() if isinstance(value, str | Path) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        items = value.split(",") if isinstance(value, str) else value
        return tuple(str(item).strip() for item in items if str(item).strip())

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None leaves a field as it is), validated as a file's values are."""
        return _validated(Settings, {**self.model_dump(), **{k: v for k, v in changes.items() if v is not None}})

    @property
    def feedback_file(self) -> Path:
        return self.feedback_path or self.index_dir.parent / "feedback.jsonl"

    def gate_for(self, has_model: bool) -> float:
        """The gate threshold for a backend with a chat model, or for the extractive quoter."""
        return self.min_relevance if has_model else self.min_relevance_extractive

    @classmethod
    def load(cls, path: str | Path | None = None) -> Settings:
        """Defaults, then the settings file, then RAG_* environment variables."""
        file = path or os.environ.get("RAG_SETTINGS") or ("rag.toml" if Path("rag.toml").is_file() else None)
        values: dict[str, Any] = {}
        if file:
            try:
                values = tomllib.loads(Path(file).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise SettingsError(f"cannot read settings file {file}: {exc}") from exc
        loaded = _validated(_FromEnvironment, values)
        return cls.model_validate(loaded.model_dump())

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Settings:
        return _validated(cls, values)


S = TypeVar("S", bound=Settings)


class _FromEnvironment(BaseSettings, Settings):
    """Settings whose values given at construction (the file's) yield to RAG_* variables."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return env_settings, init_settings


def _validated(cls: type[S], values: dict[str, Any]) -> S:
    """`cls` built from `values`; one SettingsError that names every bad setting and its variable."""
    try:
        return cls(**values)
    except SourceError as exc:
        raise SettingsError(str(exc)) from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            where = f" ({ENV_PREFIX}{name.upper()})" if name in Settings.model_fields else ""
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown setting {name}; known: {', '.join(Settings.model_fields)}")
            else:
                problems.append(f"setting {name}{where}={error.get('input')!r}: {error['msg']}")
        raise SettingsError("; ".join(problems)) from None
