"""Building, saving and loading the FAISS, BM25 and document stores. Knows nothing of LLMs."""

from index.records import Chunk, Document

__all__ = ["Chunk", "Document"]
