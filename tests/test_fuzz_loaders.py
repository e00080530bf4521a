"""Whatever bytes a file holds, loading it gives documents of valid text or a LoadError with a reason.

A bounded hypothesis run per format: random bytes, and inputs shaped like the format
(JSON Lines records, tag soup, zip archives with Word's part names), so that the parsers
behind each loader see more than garbage they reject at the first byte.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.loaders import LoadError, SourceFile, load_file, supported_suffixes

BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)

# Lone surrogates too, often: JSON can escape them ("\udc80") and they break the index.
any_text = st.text(st.characters(), max_size=40) | st.text(
    st.sampled_from(["a", " ", "é", "\ud800", "\udc80", "\U0001f600"]), max_size=12
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
records = st.fixed_dictionaries(
    {"id": any_text, "text": any_text}, optional={"title": json_values, "source": json_values, "lang": json_values}
)
jsonl = st.lists(st.one_of(records.map(json.dumps), st.text(max_size=60)), max_size=8).map(
    lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")
)
tags = st.sampled_from(
    [
        "<div>",
        "</div>",
        "<p>",
        "</p>",
        "<title>",
        "</title>",
        "<script>",
        "</script>",
        "<!--",
        "-->",
        "<table><tr><td>",
        "<b>",
        "</b>",
        "<meta charset=utf-7>",
        "<br/>",
        "&amp;",
        "&#xd800;",
    ]
)
html = st.lists(st.one_of(tags, st.text(max_size=20)), max_size=60).map(
    lambda parts: "".join(parts).encode("utf-8", "surrogatepass")
)


@st.composite
def docx_like(draw: st.DrawFn) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in draw(
            st.lists(
                st.sampled_from(
                    [
                        "[Content_Types].xml",
                        "word/document.xml",
                        "_rels/.rels",
                        "word/_rels/document.xml.rels",
                        "docProps/core.xml",
                    ]
                ),
                unique=True,
                max_size=5,
            )
        ):
            archive.writestr(name, draw(st.binary(max_size=300)))
    return out.getvalue()


SHAPED = {
    ".jsonl": jsonl,
    ".html": html,
    ".htm": html,
    ".docx": docx_like(),
    ".pdf": st.binary(max_size=400).map(lambda b: b"%PDF-1.4\n" + b),
}


def load(suffix: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            documents = load_file(SourceFile(path, "fuzz"))
        except LoadError as exc:
            assert str(exc) and "\n" not in str(exc)  # a one-line reason
            return
        for document in documents:
            assert document.text.strip()
            document.text.encode("utf-8")  # valid text: no lone surrogates reach the index
            document.title.encode("utf-8")


@pytest.mark.parametrize("suffix", sorted(supported_suffixes()))
def test_random_bytes_load_or_are_refused_with_a_reason(suffix: str) -> None:
    BOUNDED(given(st.binary(max_size=2000))(lambda data: load(suffix, data)))()


@pytest.mark.parametrize("suffix", sorted(SHAPED))
def test_inputs_shaped_like_the_format_load_or_are_refused_with_a_reason(suffix: str) -> None:
    BOUNDED(given(SHAPED[suffix])(lambda data: load(suffix, data)))()
