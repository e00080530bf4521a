"""The vector stores behind one interface (`index.base`): the local FAISS + BM25 files and Milvus.
Knows nothing of LLMs."""

from index.records import Chunk, Document

__all__ = ["Chunk", "Document"]
