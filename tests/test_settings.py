"""Settings: defaults, then the settings file, then RAG_* variables; errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.settings import Settings, SettingsError


@pytest.fixture()
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("RAG_SETTINGS", "RAG_TOP_K", "RAG_LLM_BACKEND", "RAG_CORS_ORIGINS", "RAG_INDEX_DIR"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "rag.toml"
    path.write_text('top_k = 7\nllm_backend = "extractive"\nindex_dir = "~/team-index"\n', encoding="utf-8")
    return path


def test_the_file_overrides_the_defaults_and_a_variable_overrides_the_file(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = Settings.load()  # ./rag.toml, found in the working folder
    assert (loaded.top_k, loaded.llm_backend, loaded.chunk_tokens) == (7, "extractive", Settings().chunk_tokens)
    assert loaded.index_dir == Path.home() / "team-index"
    monkeypatch.setenv("RAG_TOP_K", "9")
    assert Settings.load().top_k == 9 and Settings.load().llm_backend == "extractive"


def test_a_settings_file_can_be_named_by_argument_or_variable(
    settings_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.toml"
    other.write_text("top_k = 3\n", encoding="utf-8")
    assert Settings.load(other).top_k == 3
    monkeypatch.setenv("RAG_SETTINGS", str(other))
    assert Settings.load().top_k == 3


def test_origins_are_comma_separated_in_a_variable_and_a_list_in_the_file(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_CORS_ORIGINS", "https://intranet.example, https://wiki.example")
    assert Settings.load().cors_origins == ("https://intranet.example", "https://wiki.example")
    settings_file.write_text('cors_origins = ["https://a.example"]\n', encoding="utf-8")
    monkeypatch.delenv("RAG_CORS_ORIGINS")
    assert Settings.load().cors_origins == ("https://a.example",)


def test_a_bad_value_names_the_setting_and_its_variable(settings_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "eight")
    with pytest.raises(SettingsError, match=r"top_k \(RAG_TOP_K\)='eight'.*integer"):
        Settings.load()


def test_an_unknown_setting_in_the_file_lists_the_known_ones(settings_file: Path) -> None:
    settings_file.write_text("top_kk = 3\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown setting top_kk; known: index_dir, embedder"):
        Settings.load()


def test_an_unreadable_file_says_which(settings_file: Path) -> None:
    settings_file.write_text("top_k = = 3\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="cannot read settings file rag.toml"):
        Settings.load()


def test_a_settings_value_is_built_from_what_code_gives_it_alone(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_TOP_K", "9")
    assert Settings().top_k == 5 and Settings(top_k=2).top_k == 2
    changed = Settings().replace(top_k="4", index_dir=None)  # None leaves a field as it is
    assert changed.top_k == 4 and changed.index_dir == Settings().index_dir
    with pytest.raises(SettingsError, match="top_k"):
        Settings().replace(top_k="four")
