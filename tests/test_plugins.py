"""A plugin package adds an LLM backend, an embedder and a loader without touching the project.

The package is written by the test: one module and the `*.dist-info` folder with the
`entry_points.txt` that `pip install` would write for its pyproject entries, found on
sys.path as an installed distribution would be.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag import registry
from rag.backends import choices, describe
from rag.embedders import load_embedder
from rag.engine import Engine
from rag.loaders import SourceFile, load_file, supported_suffixes
from rag.models import smollm2_path
from rag.settings import Settings
from ui.api import AskRequest

PLUGIN = '''
import hashlib
import re

import numpy as np

from rag.backends import Backend
from rag.embedders import Embedder
from rag.llms import LlamaCppChat


def smol_chat(settings):
    return LlamaCppChat(model_path=SMOL, n_ctx=2048, n_threads=1, max_tokens=48, temperature=0.0)


SMOL_BACKEND = Backend("smol", describe=lambda settings: "smol:SmolLM2-135M", chat_model=smol_chat)


class HashingEmbedder(Embedder):
    """Words hashed into 256 buckets: crude, but a real embedder of its own."""

    def __init__(self, buckets="256"):
        self.dim = int(buckets)
        self.identity = f"hashing-{self.dim}"

    def embed_documents_array(self, texts):
        vectors = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\\w+", text.lower()):
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)


def read_csv(data):
    rows = [line.split(",") for line in data.decode("utf-8").splitlines() if line.strip()]
    header, records = rows[0], rows[1:]
    text = "\\n\\n".join(". ".join(f"{h.strip()}: {v.strip()}" for h, v in zip(header, r)) + "." for r in records)
    return "", text, {"format": "csv"}
'''

ENTRY_POINTS = """
[rag.llm_backends]
smol = example_plugin:SMOL_BACKEND

[rag.embedders]
hashing = example_plugin:HashingEmbedder

[rag.loaders]
csv = example_plugin:read_csv
"""


@pytest.fixture()
def plugin(tmp_path: Path) -> Iterator[None]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "example_plugin.py").write_text(f"SMOL = {str(smollm2_path())!r}\n" + PLUGIN, encoding="utf-8")
    info = site / "example_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: example-plugin\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    sys.path.insert(0, str(site))
    registry.refresh()
    yield
    sys.path.remove(str(site))
    sys.modules.pop("example_plugin", None)
    registry.refresh()


def test_a_plugin_backend_is_a_choice_everywhere_and_answers_through_the_whole_chain(
    plugin: None, tmp_path: Path, demo_engine: Engine
) -> None:
    assert "smol" in choices()
    assert AskRequest(question="Who leads NATO?", backend="smol").backend == "smol"  # the API accepts it
    assert describe(demo_engine.settings, "smol") == "smol:SmolLM2-135M"
    answer = demo_engine.ask("What are Rutte's three priorities?", backend="smol")
    assert answer.backend == "smol:SmolLM2-135M" and answer.raw_reply  # the plugin's model wrote the reply
    assert "generate" in answer.timings


def test_a_plugin_embedder_indexes_and_finds_documents(plugin: None, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "depot.txt").write_text("The Harwick signal depot stores field radios and spare antennas.\n")
    (notes / "bakery.txt").write_text("The Kestrel bakery cooperative bakes rye bread every morning.\n")
    settings = Settings(index_dir=tmp_path / "index", embedder="hashing:128", llm_backend="extractive")
    assert load_embedder("hashing:128").dim == 128
    engine = Engine(settings, auto_demo=False)
    engine.ingest([notes])
    found = engine.search("Which depot stores field radios?", k=1)
    assert found[0].doc_id == "depot"


def test_a_plugin_loader_reads_a_new_file_type(plugin: None, tmp_path: Path) -> None:
    assert ".csv" in supported_suffixes()
    table = tmp_path / "depots.csv"
    table.write_text("depot,stores\nHarwick,field radios\nOstby,spare antennas\n", encoding="utf-8")
    [document] = load_file(SourceFile(table, "depots"))
    assert "depot: Harwick. stores: field radios." in document.text and document.meta["format"] == "csv"


def test_without_the_plugin_its_names_are_unknown_and_say_what_is_known() -> None:
    assert "smol" not in choices() and ".csv" not in supported_suffixes()
    with pytest.raises(ValueError, match="unknown backend 'smol': choose one of extractive, local, openai"):
        describe(Settings(), "smol")
