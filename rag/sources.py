"""How a document's source is shown to people."""

from __future__ import annotations

from pathlib import Path


def display_source(source: str) -> str:
    """A path under the current folder is shown relative to it; anything else as it is."""
    path = Path(source)
    if path.is_absolute() and path.is_relative_to(Path.cwd()):
        return str(path.relative_to(Path.cwd()))
    return source
