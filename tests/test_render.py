"""What the chat shows of an answer's verification: removed claims, withheld answers, early evidence."""

from __future__ import annotations

from dataclasses import replace

from rag.answer import Answer, EvidenceFound, RemovedClaim
from rag.engine import Engine
from ui.render import answer_html, evidence_html, footer_text, sources_html

QUESTION = "What are Rutte's three priorities?"


def test_the_footer_says_how_many_unsupported_statements_were_removed(demo_engine: Engine) -> None:
    answer = demo_engine.ask(QUESTION)
    assert "removed" not in footer_text(answer)
    one = replace(answer, removed_claims=[RemovedClaim("He has 27 years in parliament.", "number 27 not in [1]")])
    assert footer_text(one).endswith("1 unsupported statement removed")
    two = replace(one, removed_claims=one.removed_claims * 2)
    assert footer_text(two).endswith("2 unsupported statements removed")


def test_a_withheld_answer_shows_its_nearest_evidence_linked(demo_engine: Engine) -> None:
    answer: Answer = demo_engine.ask(QUESTION)
    withheld = replace(
        answer,
        refused=True,
        answer=f"The documents don't state this clearly. The closest evidence:\n{answer.citations[0].quote} [1]",
    )
    assert 'class="rag-cite"' in answer_html(withheld)
    assert "Nearest evidence" in sources_html(withheld)


def test_the_evidence_is_listed_while_the_answer_is_written(demo_engine: Engine) -> None:
    found = next(item for item in demo_engine.ask_stream(QUESTION) if isinstance(item, EvidenceFound))
    page = evidence_html(found)
    assert "Evidence found" in page and page.count('class="rag-source"') == len(found.citations) > 0


def test_an_answer_is_safe_markdown_with_its_marks_linked(demo_engine: Engine) -> None:
    answer = demo_engine.ask(QUESTION)
    hostile = replace(
        answer,
        short_answer="",
        answer=(
            "Three priorities:\n\n- **NATO strong** [1]\n- Ukraine\n\n"
            "<script>alert(1)</script> <img src=x onerror=alert(1)> "
            "[click](javascript:alert(1)) ![pixel](http://tracker.example/p.png) [9]"
        ),
    )
    page = answer_html(hostile)
    assert "<ul>" in page and "<strong>NATO strong</strong>" in page  # lists and emphasis render
    assert "<script" not in page and "<img" not in page and 'href="javascript:' not in page
    assert "&lt;script&gt;" in page  # raw HTML stays visible as text
    assert '<img src="http://tracker.example' not in page  # nothing is fetched: at most a link
    cite = page.split('class="rag-cite"')[1]
    assert answer.citations[0].quote[:40] in cite.split(">")[0]  # hovering [1] previews the cited sentence
    assert "[9]" in page and page.count('class="rag-cite"') == 1  # a mark that points nowhere stays text


def test_labels_inside_an_answer_follow_its_language(demo_engine: Engine) -> None:
    german = demo_engine.ask("Was sagt Rutte über die Unterstützung der Ukraine?")
    assert footer_text(german).startswith("beantwortet von") and "Quelle" in footer_text(german)
    assert "Zitierte Quellen" in sources_html(german)
    quoted = demo_engine.ask("Wer lädt zum Gipfel in Ramstein ein?")  # the quoter reads off no name
    assert quoted.refused and "nächster Beleg zitiert" in footer_text(quoted)
    assert "Keine eindeutige Antwort in den Dokumenten" in answer_html(quoted)
    refused = replace(german, refused=True, citations=[])
    assert "Nicht in den Dokumenten" in answer_html(refused)
    english = demo_engine.ask(QUESTION)
    assert footer_text(english).startswith("answered by") and "Sources cited" in sources_html(english)


def test_what_a_document_says_is_shown_as_text_in_every_fragment(demo_engine: Engine) -> None:
    hostile = '<script>alert(1)</script><img src=x onerror=alert(1)>"'
    answer = demo_engine.ask(QUESTION)
    cited = [replace(c, title=hostile, quote=hostile, source=hostile) for c in answer.citations]
    planted = replace(answer, citations=cited, passages=[replace(p, title=hostile) for p in answer.passages])
    found = EvidenceFound(citations=cited)
    pages = [
        answer_html(planted),
        sources_html(planted),
        evidence_html(found),
        sources_html(replace(planted, refused=True, citations=[])),
    ]
    for page in pages:
        assert "<script" not in page and "<img" not in page and "&lt;script&gt;" in page
        assert 'onerror=alert(1)>"' not in page  # a quote cannot close an attribute either
