"""Extensions by name, found through entry points: LLM backends, embedders, loaders and vector stores.

A backend, an embedder, a loader or a store is one module plus one entry in a `pyproject.toml`, this
project's or a plugin package's:

    [project.entry-points."rag.llm_backends"]
    mistral = "my_plugin:MISTRAL"

The CLI's choices, the API's allowed values and the settings' errors then know it by name.
`docs/ARCHITECTURE.md` has a recipe for each group.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

LLM_BACKENDS = "rag.llm_backends"  # a rag.backends.Backend
EMBEDDERS = "rag.embedders"  # a callable: the text after "name:" in the setting (or "") -> rag.embedders.Embedder
LOADERS = "rag.loaders"  # a rag.loaders.Reader, named by the file suffix it reads, without the dot
STORES = "rag.stores"  # a callable: rag.settings.Settings -> index.base.VectorStore (the setting vector_store)


@cache
def _entries(group: str) -> dict[str, EntryPoint]:
    return {entry.name: entry for entry in entry_points(group=group)}


def names(group: str) -> tuple[str, ...]:
    """The names registered in a group, sorted."""
    return tuple(sorted(_entries(group)))


@cache  # the answer path asks for its backend several times per question
def load(group: str, name: str, kind: str) -> Any:
    """The object registered under `name`; a ValueError naming the choices if there is none."""
    entry = _entries(group).get(name)
    if entry is None:
        known = ", ".join(names(group)) or "none: is the project installed? bash scripts/setup.sh"
        raise ValueError(f"unknown {kind} {name!r}: choose one of {known}")
    return entry.load()


def refresh() -> None:
    """Look for entry points again (after installing a plugin into the running process)."""
    _entries.cache_clear()
    load.cache_clear()
