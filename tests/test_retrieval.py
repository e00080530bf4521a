"""Retrieval: the right passages for English and German questions, across languages."""

from __future__ import annotations

import json

import pytest

from rag.answer import Passage
from rag.cli import main
from rag.engine import Engine
from rag.sources import display_source

GERMAN = "000_7158970d0917ea8d"
MENTION_LUNGESCU = {"002_159690cec7945fb9", "003_2f614e97bf582ec3"}


def test_an_english_question_finds_the_german_article_that_alone_answers_it(demo_engine: Engine) -> None:
    passages = demo_engine.search("Who invited Ukraine's supporters to a summit at Ramstein?", k=3)
    assert GERMAN in [p.doc_id for p in passages]
    assert any("Ramstein" in p.text for p in passages)


def test_a_german_question_finds_the_english_articles_that_mention_the_person(demo_engine: Engine) -> None:
    passages = demo_engine.search("Wer ist Oana Lungescu?", k=5)
    found = {p.doc_id for p in passages if "Lungescu" in p.text}
    assert found == MENTION_LUNGESCU


def test_passages_carry_their_exact_span_and_source(demo_engine: Engine) -> None:
    snapshot = demo_engine.snapshot()
    for passage in demo_engine.search("defense spending target of 2 percent", k=5):
        doc = snapshot.documents[passage.doc_id]
        assert doc.text[passage.start : passage.end] == passage.text
        assert (passage.source, passage.lang, passage.title) == (
            display_source(doc.source, doc.doc_id),
            doc.lang,
            doc.title,
        )
    scores = [p.score for p in demo_engine.search("defense spending target of 2 percent", k=5)]
    assert scores == sorted(scores, reverse=True)


def test_the_answer_context_holds_no_passage_twice(demo_engine: Engine) -> None:
    # Neighbouring chunks extended by their following text overlap; one that mostly repeats
    # another gives its place to the next passage found.
    snapshot = demo_engine.snapshot()
    passages = demo_engine.answer_evidence("What did Rutte say about Trump and NATO?").passages
    assert len(passages) == demo_engine.settings.top_k
    for i, passage in enumerate(passages):
        assert snapshot.documents[passage.doc_id].text[passage.start : passage.end] == passage.text
        for other in passages[:i]:
            if other.doc_id == passage.doc_id:
                shared = min(passage.end, other.end) - max(passage.start, other.start)
                assert shared * 2 < passage.end - passage.start


def test_the_answer_context_reaches_a_passage_whose_one_sentence_answers(demo_engine: Engine) -> None:
    # The chunk about the handover ranks 16th by search: its embedding is about Rutte taking
    # office, and only one of its sentences says how long Stoltenberg led. Reranked by their
    # best sentence, the twenty best passages give it a place among the five.
    question = "How long was Rutte's predecessor, who called the alliance in safe hands, at NATO's helm?"
    answer = "who led the alliance for the past ten years"
    assert not any(answer in p.text for p in demo_engine.search(question, k=demo_engine.settings.top_k))
    assert any(answer in p.text for p in demo_engine.answer_evidence(question).passages)


@pytest.mark.parametrize("mode", ["dense", "lexical"])
def test_the_baselines_answer_context_is_their_search_order(demo_engine: Engine, mode: str) -> None:
    # Single-retriever modes serve as baselines: their answer passages are not reranked.
    question = "What did Rutte say about Trump and NATO?"
    searched = [p.chunk_id for p in demo_engine.search(question, k=15, mode=mode)]
    context = [p.chunk_id for p in demo_engine.answer_evidence(question, mode=mode).passages]
    assert context == [chunk for chunk in searched if chunk in context]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_every_mode_answers_with_passages(demo_engine: Engine, mode: str) -> None:
    passages = demo_engine.search("Rutte three main priorities", k=3, mode=mode)
    assert passages and all(isinstance(p, Passage) for p in passages)


def test_filters_by_language_and_document(demo_engine: Engine) -> None:
    assert {p.lang for p in demo_engine.search("NATO", k=10, langs=["de"])} == {"de"}
    assert {p.doc_id for p in demo_engine.search("NATO", k=10, doc_ids=[GERMAN])} == {GERMAN}
    assert demo_engine.search("NATO", doc_ids=["unknown"]) == []


def test_search_json_prints_the_documented_fields(demo_engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--index", str(demo_engine.settings.index_dir), "search", "Ramstein", "-k", "2", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and len(rows) == 2
    assert set(rows[0]) == {"doc_id", "title", "source", "lang", "start", "end", "score", "text"}
