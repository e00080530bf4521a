"""Writing a file so that no reader, and no crash, ever sees half of it. Standard library only:
the model installer's check (`python -S -m rag.models`) imports it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path, durable: bool = False) -> Iterator[Path]:
    """A temporary path beside `path` to write; it replaces `path` in one rename when the block
    ends, and is removed if the block raises. With `durable`, the file and the rename are flushed
    to disk first: the index's CURRENT pointer must survive a power cut."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        if durable:
            fsync(tmp)
        os.replace(tmp, path)
        if durable:
            fsync(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fsync(path: Path) -> None:
    """Flush a file or a folder's entries to disk (rename durability needs the folder)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
