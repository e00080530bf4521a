"""FAISS inner-product search over L2-normalised vectors (so scores are cosines).

Small collections get an exact flat index; above `exact_max` vectors an IVF index
(k-means cells, `nprobe` of them searched) keeps query time flat as the
collection grows. The threshold and nprobe are measured in docs/PERFORMANCE.md.
Indexes are saved with faiss's own serialiser, never pickle.
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

NPROBE = 16


class VectorIndex:
    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @property
    def size(self) -> int:
        return int(self._index.ntotal)

    @property
    def dim(self) -> int:
        return int(self._index.d)

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

    @classmethod
    def build(cls, vectors: np.ndarray, dim: int, exact_max: int) -> VectorIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
        n = len(vectors)
        if n <= exact_max:
            index: faiss.Index = faiss.IndexFlatIP(dim)
        else:
            cells = int(4 * math.sqrt(n))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, cells, faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
            index.nprobe = NPROBE
            index.make_direct_map()  # lets incremental updates read vectors back
        index.add(vectors)
        return cls(index)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(position, cosine) pairs, best first; `allowed` restricts to those positions."""
        if self.size == 0:
            return []
        params: faiss.SearchParameters | None = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            # faiss's SWIG classes take their fields as keywords, which its stubs do not declare.
            if self.kind == "ivf":
                # The filter applies inside the cells searched: with 16 of 1,264 cells and 10 documents
                # allowed, 0.3 of 10 wanted chunks came back (docs/PERFORMANCE.md). Search as many more
                # cells as the filter is narrow, so as many allowed vectors are compared as unfiltered.
                nlist = int(self._index.nlist)  # type: ignore[attr-defined]
                nprobe = min(nlist, math.ceil(NPROBE * self.size / max(1, len(allowed))))
                params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)  # type: ignore[call-arg]
            else:
                params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), min(k, self.size), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def vector(self, position: int) -> np.ndarray:
        return np.asarray(self._index.reconstruct(position))

    def vectors(self) -> np.ndarray:
        return self._index.reconstruct_n(0, self.size) if self.size else np.zeros((0, self.dim), np.float32)

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        index = faiss.read_index(str(path))
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = NPROBE
            index.make_direct_map()
        return cls(index)
