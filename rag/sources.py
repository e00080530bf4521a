"""How a document's source is shown to people: never as a path on the server.

Standard library only, so that the bottom layer (`rag.answer`) may use it.
"""

from __future__ import annotations

from pathlib import PurePosixPath


def display_source(source: str, doc_id: str) -> str:
    """The source as a reader may see it: a file by its path inside the folder that was ingested
    ("sub/notes.md"), or by its name when it was ingested on its own, as uploads are ("notes.txt");
    a JSON Lines record as "corpus.jsonl#<id>". A URL, or any source that is no absolute path,
    stays as it is.

    The doc id mirrors that inner path segment for segment (`rag.loaders.discover`), and a
    record's default source ends in "#<id>", so the last parts of the path that are as many as
    the id's segments are exactly what to show; a display form comes back unchanged.
    """
    path = PurePosixPath(source)
    if not path.is_absolute():
        return source
    return "/".join(path.parts[1:][-(doc_id.count("/") + 1) :])
