"""Shared fixtures: the real demo corpus in a real index, built once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rag.engine import Engine
from rag.paths import DEMO_CORPUS
from rag.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(index_dir=tmp_path_factory.mktemp("demo") / "index", llm_backend="extractive")


@pytest.fixture(scope="session")
def demo_engine(demo_settings: Settings) -> Engine:
    engine = Engine(demo_settings, auto_demo=False)
    engine.ingest([DEMO_CORPUS])
    return engine


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo corpus, for tests that change files."""
    folder = tmp_path / "corpus"
    shutil.copytree(DEMO_CORPUS, folder)
    return folder


@pytest.fixture
def fresh_settings(tmp_path: Path) -> Settings:
    return Settings(index_dir=tmp_path / "index", llm_backend="extractive")
