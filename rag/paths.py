"""Where things live on disk. Standard library only: `python -S -m rag.models` (the model
installer's check, on a machine without the project's packages) imports it."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_CORPUS = PROJECT_ROOT / "data" / "demo"


def data_home() -> Path:
    """Where the default index lives."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "ragchat"


def cache_home() -> Path:
    """Where assembled model files live; shared by all indexes of a user."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(os.environ.get("RAG_CACHE_DIR") or Path(base) / "ragchat")
