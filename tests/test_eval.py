"""What `rag eval` promises: deterministic scores computed the way the docs say, benchmark
formats read into one form, a smoke benchmark on the demo set that fails on a clear
regression, runs that resume, and a question-by-question comparison of two runs."""

from __future__ import annotations

import ast
import html
import importlib.util
import json
import math
import os
import shutil
from pathlib import Path

import pytest

from eval import runner
from eval.benchmark import Corpus, Question, read_questions
from eval.compare import compare_runs
from eval.formats import BenchFormatError, load_bench
from eval.metrics import (
    all_gold_at,
    contains_answer,
    exact_match,
    gold_answers,
    mean_scores,
    mrr_at,
    ndcg_at,
    paired_difference,
    percentiles,
    recall_at,
    recall_curve,
    score_question,
    token_f1,
)
from eval.report import SMALL_GROUP, best_cells
from eval.runner import select_questions
from eval.workbench import question_view
from index.store import IndexStore
from rag.answer import Answer, Passage
from rag.citations import citation_for, strip_marks
from rag.cli import main
from rag.loaders import discover, load_file

ROOT = Path(__file__).resolve().parent.parent
DEMO_BENCH = ROOT / "eval" / "datasets" / "demo"
DEMO_CORPUS = ROOT / "data" / "demo"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "eval"
TYPES = {"single-hop", "cross-lingual", "multi-doc", "follow-up", "unanswerable"}


def rows(run: Path) -> dict[tuple[str, str], dict]:
    lines = (run / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return {(r["pipeline"], r["id"]): r for r in map(json.loads, lines)}


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text(encoding="utf-8"))


def rag_eval(*args: str | Path) -> int:
    return main(["eval", "--backend", "extractive", "-q", *map(str, args)])


# --------------------------------------------------------------------------- metrics


def test_document_ranking_scores_count_each_document_once():
    ranked = ["a", "b", "a", "c"]  # chunks from documents a, b, a again, c
    gold = ["c", "b"]
    assert recall_at(ranked, gold, 1) == 0.0
    assert recall_at(ranked, gold, 2) == 0.5
    assert recall_at(ranked, gold, 3) == 1.0  # the second "a" does not push "c" out
    assert mrr_at(ranked, gold) == 0.5
    assert all_gold_at(ranked, gold, 2) == 0.0 and all_gold_at(ranked, gold, 3) == 1.0
    # gold at ranks 2 and 3; the ideal ranking has them at 1 and 2
    assert ndcg_at(ranked, gold) == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert recall_curve([(ranked, gold), (["c"], ["c"])], depth=3) == [0.5, 0.75, 1.0]


def test_answers_are_matched_after_squad_normalisation():
    assert exact_match("The Eiffel Tower!", ["eiffel tower"]) == 1.0
    assert exact_match("Die Polen und Estland", ["Polen und Estland"]) == 1.0  # German articles too
    assert token_f1("in Paris, France", ["Paris"]) == 0.5  # precision 1/3, recall 1
    assert token_f1("Berlin", ["Paris", "Berlin"]) == 1.0  # the best of the gold answers
    assert contains_answer("Er lebt in der Stadt Paris.", ["paris"]) == 1.0
    assert contains_answer("A Parisian café.", ["Paris"]) == 0.0  # whole words only
    assert strip_marks("It is Ramstein [1]. Also [2, 3] here.") == "It is Ramstein. Also here."


def test_a_cross_lingual_answer_may_be_in_either_language():
    question = Question(
        "q",
        "Where?",
        ["Ramstein"],
        ["de"],
        extra={"answers_q_lang": ["Ramstein Air Base"], "answers_doc_lang": ["Ramstein"]},
    )
    assert gold_answers(question) == ["Ramstein", "Ramstein Air Base"]


def passage(doc_id: str, text: str) -> Passage:
    return Passage(f"{doc_id}#0", doc_id, doc_id, doc_id, "en", 0, len(text), text, 1.0, 0.5)


def answer(text: str, passages: list[Passage], cited: list[int], refused: bool = False) -> Answer:
    return Answer("q", text, [citation_for(n, passages[n - 1]) for n in cited], passages, refused, 0.5, "extractive")


def test_one_answer_is_scored_on_retrieval_answer_citations_and_refusal():
    question = Question("q", "Where is the summit?", ["Ramstein"], ["de-article"])
    passages = [
        passage("de-article", "Biden lädt zu einem Gipfel in Ramstein ein."),
        passage("en-article", "Allies meet in Ramstein."),  # not gold, but holds the answer
        passage("other", "Nothing relevant here."),
    ]
    scores = score_question(
        question,
        answer("Ramstein [1] [2] [3].", passages, [1, 2, 3]),
        ranked_docs=["en-article", "de-article", "other"],
    )
    assert scores["recall@1"] == 0.0 and scores["recall@5"] == 1.0 and scores["mrr@10"] == 0.5
    assert scores["context_recall"] == 1.0
    assert scores["exact_match"] == scores["f1"] == scores["contained"] == 1.0  # [n] marks do not count
    assert scores["citation_precision"] == pytest.approx(2 / 3)  # gold doc, answer-bearing, irrelevant
    assert scores["citation_recall"] == 1.0
    assert scores["false_refusal"] == 0.0 and scores["correct_refusal"] is None


def test_an_unanswerable_question_is_scored_on_the_refusal_alone():
    question = Question("q", "Who won the 2022 World Cup?", [], [])
    refused = score_question(question, answer("The documents do not say.", [], [], refused=True), [])
    assert refused["correct_refusal"] == 1.0
    assert refused["claims_removed"] == 0.0
    assert all(v is None for k, v in refused.items() if k not in ("correct_refusal", "claims_removed"))
    guessed = score_question(question, answer("Argentina [1].", [passage("x", "Argentina")], [1]), ["x"])
    assert guessed["correct_refusal"] == 0.0


def test_means_skip_scores_that_do_not_apply_and_percentiles_are_measured_values():
    means = mean_scores([{"f1": 1.0, "correct_refusal": None}, {"f1": 0.0, "correct_refusal": 1.0}])
    assert means["f1"] == 0.5 and means["correct_refusal"] == 1.0 and means["recall@1"] is None
    assert percentiles([float(v) for v in range(10, 0, -1)]) == {"p50": 5.0, "p95": 10.0}


# --------------------------------------------------------------------------- formats


def test_squad_json_becomes_one_document_per_paragraph():
    bench = load_bench(FIXTURES / "xquad_slice.json")
    docs = {d["id"]: d for d in bench.corpus.records}
    assert list(docs) == ["xquad_slice-000-000", "xquad_slice-000-001", "xquad_slice-001-000"]
    assert docs["xquad_slice-000-000"]["title"] == "Super Bowl 50 (paragraph 1)"
    by_id = {q.id: q for q in bench.questions}
    assert len(by_id) == 6
    surrendered = by_id["xquad-56beb4343aeaaa14008c925b-qen"]
    assert surrendered.answers == ["308"] and surrendered.gold_doc_ids == ["xquad_slice-000-000"]
    assert "308" in docs["xquad_slice-000-000"]["text"]
    impossible = by_id["impossible-1"]  # SQuAD 2.0: plausible answers are not answers
    assert not impossible.answerable and impossible.answers == [] and impossible.type == "unanswerable"


def test_beir_folder_keeps_judged_queries_and_their_relevant_documents():
    bench = load_bench(FIXTURES / "beir_tiny")
    assert [d["id"] for d in bench.corpus.records] == ["hp-53b132167e96", "hp-21600bcdd6d3", "hp-f01933922a0b"]
    by_id = {q.id: q for q in bench.questions}
    assert set(by_id) == {"hp-5a71166d5542994082a3e576", "hp-5a711cb45542994082a3e59f"}  # unjudged left out
    assert by_id["hp-5a71166d5542994082a3e576"].gold_doc_ids == ["hp-53b132167e96", "hp-21600bcdd6d3"]
    assert by_id["hp-5a711cb45542994082a3e59f"].gold_doc_ids == ["hp-f01933922a0b"]  # score 0 is not relevant
    assert all(q.answers == [] and q.answerable for q in bench.questions)


def test_a_shared_format_folder_may_name_its_corpus_in_bench_json():
    bench = load_bench(DEMO_BENCH)
    assert bench.name == "demo" and bench.corpus.paths == (DEMO_CORPUS.resolve(),)


def test_a_folder_in_no_known_format_is_a_clear_error(tmp_path):
    with pytest.raises(BenchFormatError, match="questions.jsonl"):
        load_bench(tmp_path)


def test_converted_documents_are_indexed_with_their_ids_and_fingerprinted_by_content(tmp_path):
    records = ({"id": "p-1", "title": "One", "text": "First paragraph text.", "source": "", "lang": "en"},)
    corpus = Corpus(records=records)
    files, _ = discover(corpus.materialize(tmp_path / "cache"))
    assert [d.doc_id for d in load_file(files[0])] == ["p-1"]
    changed = Corpus(records=({**records[0], "text": "Changed text."},))
    assert corpus.fingerprint() == Corpus(records=records).fingerprint() != changed.fingerprint()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("version one")
    before = Corpus(paths=(tmp_path / "docs",)).fingerprint()
    (tmp_path / "docs" / "a.txt").write_text("version two")
    assert Corpus(paths=(tmp_path / "docs",)).fingerprint() != before


def test_paired_differences_come_with_a_reproducible_bootstrap_interval():
    same = paired_difference([(0.5, 0.5)] * 20)
    assert same == (0.0, 0.0, 0.0)
    better = [(1.0, 0.0)] * 15 + [(0.0, 1.0)] * 5  # ours wins 15 questions, loses 5
    mean, low, high = paired_difference(better)
    assert mean == 0.5 and 0.0 < low < mean < high <= 1.0
    assert paired_difference(better) == (mean, low, high)


def test_limit_takes_the_first_questions_by_id_and_subset_names_them():
    questions = [Question(i, "?", [], []) for i in ("c", "a", "b")]
    assert [q.id for q in select_questions(questions, limit=2)] == ["a", "b"]
    assert [q.id for q in select_questions(questions, subset=["c", "a"])] == ["a", "c"]
    with pytest.raises(ValueError, match="unknown"):
        select_questions(questions, subset=["zzz"])


# --------------------------------------------------------------------------- the demo QA set


def test_the_demo_qa_set_covers_every_kind_of_question_with_literal_gold_answers():
    questions = read_questions(DEMO_BENCH / "questions.jsonl")
    texts = {p.stem: p.read_text(encoding="utf-8") for p in DEMO_CORPUS.glob("*.txt")}
    assert len(questions) >= 30 and len({q.id for q in questions}) == len(questions)
    assert {q.type for q in questions} == TYPES
    assert sum(not q.answerable and not q.answers for q in questions if q.type == "unanswerable") >= 5
    pairs = {(q.q_lang, q.doc_lang) for q in questions if q.type == "cross-lingual"}
    assert {("en", "de"), ("de", "en")} <= pairs
    for q in questions:
        if q.type == "follow-up":
            assert [m["role"] for m in q.history] == ["user", "assistant"] * (len(q.history) // 2) != []
        if q.answerable:
            assert set(q.gold_doc_ids) <= set(texts), q.id
            assert any(a in texts[d] for a in q.answers for d in q.gold_doc_ids), f"{q.id}: no literal gold span"
    assert all(len(q.gold_doc_ids) == 2 for q in questions if q.type == "multi-doc")


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Index and baseline caches of this module's runs, away from the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAG_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def demo_run(cache, tmp_path_factory) -> tuple[Path, dict]:
    """The smoke benchmark, run the way an interrupted run gets finished: first only 6
    questions are answered, then the same command without the limit completes it."""
    out = tmp_path_factory.mktemp("demo-run")
    assert rag_eval(DEMO_BENCH, "--pipeline", "ours", "--limit", "6", "--out", out) == 0
    first = rows(out)
    assert rag_eval(DEMO_BENCH, "--pipeline", "ours", "--out", out) == 0
    return out, first


def test_smoke_benchmark_on_the_demo_set(demo_run):
    out, _ = demo_run
    for name in (
        "results.jsonl",
        "summary.json",
        "report.md",
        "report.html",
        "plots/recall_at_k.png",
        "plots/by_group.png",
        "plots/latency.png",
        "plots/reliability.png",
    ):
        assert (out / name).is_file(), name
    assert len(rows(out)) == len(read_questions(DEMO_BENCH / "questions.jsonl"))
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 4 and "http" not in page  # self-contained
    scores = summary(out)["pipelines"]["ours"]["scores"]
    # Measured with the extractive backend and USE: R@1 0.618, R@5 1.000 (5 documents only),
    # F1 0.159, contained 0.684, correct refusal 1.000, false refusal 0.263. F1 fell from 0.477
    # when the question-type rules went, and the quoter reads no short answer off its quotes: a
    # question for a name, number or date gets its quotes as "the closest evidence" (a refusal
    # here, which is most of the false refusals). Thresholds a bit above or below: one question
    # moves F1 by about 0.025 and false refusals by 0.026.
    assert scores["all"]["recall@1"] >= 0.55
    assert scores["all"]["recall@5"] >= 0.95
    assert scores["all"]["f1"] >= 0.13
    assert scores["all"]["contained"] >= 0.65
    assert scores["all"]["unsupported_shown"] == 0.0
    assert scores["all"]["false_refusal"] <= 0.32
    assert scores["unanswerable"]["correct_refusal"] >= 0.8
    assert {"single-hop en→en", "single-hop de→de", "cross-lingual en→de", "cross-lingual de→en"} <= set(scores)


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium: apt-get install chromium")
def test_an_evaluator_filters_the_report_and_opens_a_failed_question(demo_run):
    from playwright.sync_api import sync_playwright

    out, _ = demo_run
    views = [question_view(r) for r in rows(out).values()]
    failed = [v for v in views if v.failed]
    opened = next(v for v in failed if v.answer.passages)
    small = sorted({v.group for v in views if sum(w.group == v.group for w in views) < SMALL_GROUP})
    reached = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        # The page is one file: anything it asks for beyond it is a defect.
        page.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith(("file:", "data:"))
                else (reached.append(route.request.url), route.abort())
            ),
        )
        page.goto((out / "report.html").as_uri())

        glossary = page.locator("#glossary + .wide table")
        assert "Answerable questions only: 1 when the answer refused" in glossary.inner_text()
        assert "Answerable questions only" in page.locator("th", has_text="false refusal").first.get_attribute("title")
        for group in small:  # flagged in the group table
            row = page.locator("tr", has=page.locator("td", has_text=group)).filter(has_text="(small)")
            assert row.count() >= 1, group

        page.select_option("select[name=outcome]", "failed")
        visible = page.locator("#questions tbody.q:not([hidden])")
        assert (
            visible.count() == len(failed) and page.locator("#shown").inner_text() == f"{len(failed)} of {len(views)}"
        )
        page.select_option("select[name=group]", opened.group)
        in_group = [v for v in failed if v.group == opened.group]
        assert visible.count() == len(in_group)

        question = visible.filter(has_text=opened.id)
        detail = question.locator("tr.detail")
        assert detail.is_hidden()
        question.get_by_role("button", name="open").click()
        assert detail.is_visible()
        text = detail.inner_text()
        assert opened.question in text and strip_marks(opened.answer.answer).split()[0] in text
        for gold in opened.gold_answers or ["a refusal is right"]:
            assert gold in text
        assert all(p.chunk_id in text for p in opened.answer.passages)
        gold_passages = [p for p in opened.answer.passages if p.doc_id in opened.gold_docs]
        assert detail.locator(".passage.gold").count() == len(gold_passages)
        assert "total" in text  # timings
        browser.close()
    assert reached == []


def test_two_checkouts_of_one_corpus_do_not_share_an_index(cache, tmp_path):
    # Same files, same ids, different folders: the second must not land in the first one's
    # cached index as new documents ("000_…-6ad2ef16"), which would halve its recall.
    corpus_ids = {path.stem for path in DEMO_CORPUS.iterdir()}
    for checkout in ("a", "b"):
        shutil.copytree(DEMO_CORPUS, tmp_path / checkout / "corpus")
        bench = tmp_path / checkout / "bench"
        bench.mkdir()
        shutil.copy(DEMO_BENCH / "questions.jsonl", bench)
        (bench / "bench.json").write_text(json.dumps({"corpus": "../corpus"}), encoding="utf-8")
        out = tmp_path / checkout / "run"
        assert rag_eval(bench, "--pipeline", "ours", "--limit", "4", "--out", out) == 0
        assert {doc for row in rows(out).values() for doc in row["ranking"]} <= corpus_ids


# Modules the answer path imports whose code does not make answers, and why.
NOT_ANSWER_CODE = {
    "rag.settings": "the settings' values are fingerprinted themselves",
    "rag.embedders": "the embedder is fingerprinted by its identity, kept in the index manifest",
    "rag.models": "it finds model files; which model answers is a fingerprinted setting",
    "rag.paths": "where files live; the index's own folder is fingerprinted by its contents",
    "index.files": "how files are replaced on disk, not what they hold",
    "rag.answer": "data classes",
    "eval.benchmark": "data classes",
    "index.records": "data classes",
    "prompts": "it only loads the prompt texts, which are digested",
    "eval.metrics": "it scores answers, it does not make them",
    "rag": "the package's empty __init__ (`from rag import registry`: the registry finds extensions by name)",
}


def test_every_module_on_the_answer_path_is_in_the_run_fingerprint():
    # A resumed run skips the questions answered under the same fingerprint: a module left
    # out of it (rag.spans once was) lets answers of two code versions mix in one run.
    reached = _project_imports("rag.engine") | _project_imports("eval.baselines")
    fingerprinted = set(runner._INDEX_CODE + runner._ANSWER_CODE)
    assert reached - fingerprinted - NOT_ANSWER_CODE.keys() == set()


def _project_imports(module: str, seen: set[str] | None = None) -> set[str]:
    """The module and every module of this project it imports, directly or not."""
    seen = set() if seen is None else seen
    seen.add(module)
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    for node in ast.walk(ast.parse(Path(spec.origin).read_text(encoding="utf-8"))):
        names = (
            [node.module]
            if isinstance(node, ast.ImportFrom) and node.module
            else ([alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
        )
        for name in names:
            if name.split(".")[0] in {"rag", "index", "eval", "prompts"} and name not in seen:
                _project_imports(name, seen)
    return seen


def test_an_interrupted_run_resumes_without_asking_again(demo_run, tmp_path):
    out, first = demo_run
    final = rows(out)
    assert all(final[key]["answer"] == row["answer"] for key, row in first.items())  # same timings: not re-asked
    # A run killed while writing leaves half a line: it is dropped and only that question asked again.
    run = shutil.copytree(out, tmp_path / "run")
    text = (run / "results.jsonl").read_text(encoding="utf-8")
    (run / "results.jsonl").write_text(text[: len(text) - 200], encoding="utf-8")
    assert rag_eval(DEMO_BENCH, "--pipeline", "ours", "--out", run) == 0
    resumed = rows(run)
    cut = sorted(final)[-1]
    assert resumed.keys() == final.keys() and resumed[cut]["scores"] == final[cut]["scores"]
    assert all(resumed[key]["answer"] == final[key]["answer"] for key in final if key != cut)


def test_a_run_folder_is_not_mixed_with_results_of_other_settings(demo_run, tmp_path, monkeypatch, capsys):
    run = shutil.copytree(demo_run[0], tmp_path / "run")
    monkeypatch.setenv("RAG_TOP_K", "3")
    assert rag_eval(DEMO_BENCH, "--pipeline", "ours", "--out", run) == 2
    assert "other settings" in capsys.readouterr().err


def test_same_inputs_and_settings_give_the_same_scores(demo_run, tmp_path):
    out, _ = demo_run
    assert rag_eval(DEMO_BENCH, "--pipeline", "ours", "--limit", "12", "--out", tmp_path / "again") == 0
    again = rows(tmp_path / "again")
    assert all(again[key]["scores"] == rows(out)[key]["scores"] for key in again)
    assert compare_runs(out, tmp_path / "again").changes == []


def test_baselines_answer_the_same_questions_in_the_same_harness(cache, tmp_path):
    out = tmp_path / "all"
    assert rag_eval(DEMO_BENCH, "--pipeline", "all", "--limit", "4", "--out", out) == 0
    pipelines = summary(out)["pipelines"]
    assert list(pipelines) == ["ours", "bm25", "dense", "langchain-baseline"]
    table = (out / "report.md").read_text(encoding="utf-8").split("## Where we stand")[1].split("##")[0]
    assert all(f"| {name} |" in table for name in pipelines)
    assert all(f"| {name} | " in table.split("| ours minus |")[1] for name in ("bm25", "dense", "langchain-baseline"))
    # Each column's best value is marked (the times differ at least).
    assert "**" in table and 'class="best"' in (out / "report.html").read_text(encoding="utf-8")
    # The LangChain recipe's passages are real spans of the documents (so citations open them).
    texts = {p.stem: p.read_text(encoding="utf-8") for p in DEMO_CORPUS.glob("*.txt")}
    for row in rows(out).values():
        for p in row["answer"]["passages"]:
            assert texts[p["doc_id"]][p["start"] : p["end"]] == p["text"]


def test_the_best_value_of_each_column_is_marked_ties_included_lowest_where_lower_is_better():
    rows = [[0.5, 0.2, 0.4], [0.7, 0.1, 0.4], [0.7, 0.3, None]]
    assert best_cells(rows, [1, -1, 1], first_column=1) == {(1, 1), (2, 1), (1, 2)}  # a column all alike: none
    assert best_cells(rows[:1], [1, -1, 1], first_column=1) == set()  # nothing to rank against


def test_compare_lists_what_improved_and_what_regressed(demo_run, tmp_path, capsys):
    out, _ = demo_run
    after = shutil.copytree(out, tmp_path / "after")
    changed = rows(after)
    better = next(key for key, r in changed.items() if r["scores"]["contained"] == 0.0)
    worse = next(key for key, r in changed.items() if r["scores"]["recall@5"] == 1.0)
    changed[better]["scores"]["contained"] = 1.0
    changed[worse]["scores"]["recall@5"] = 0.0
    (after / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in changed.values()), encoding="utf-8")
    summary = json.loads((after / "summary.json").read_text(encoding="utf-8"))
    summary["settings"]["top_k"] = summary["settings"]["top_k"] + 3
    (after / "summary.json").write_text(json.dumps(summary), encoding="utf-8")

    comparison = compare_runs(out, after)
    assert {(c.id, c.verdict) for c in comparison.changes} == {(better[1], "improved"), (worse[1], "regressed")}
    before_mean, after_mean = comparison.means["ours"]["recall@5"]
    assert after_mean < before_mean
    difference, low, high = comparison.intervals["ours"]["recall@5"]
    assert low <= difference <= high and difference == round(after_mean - before_mean, 4)
    assert main(["eval", "--compare", str(out), str(after)]) == 0
    printed = capsys.readouterr().out
    assert "Regressed: 1" in printed and "Improved: 1" in printed and worse[1] in printed
    top_k = summary["settings"]["top_k"]
    assert f"setting top_k: {top_k - 3} → {top_k}" in printed  # what differed, named
    assert f"Q: {changed[worse]['question']['question']}" in printed  # the question whole, with both answers
    assert f"B: {' '.join(changed[worse]['answer']['answer'].split())}" in printed
    # The same as a page: compare.html and compare.md beside each other in --out.
    assert main(["eval", "--compare", str(out), str(after), "--out", str(tmp_path / "cmp")]) == 0
    page = (tmp_path / "cmp" / "compare.html").read_text(encoding="utf-8")
    assert "top_k" in page and f"{top_k - 3} → {top_k}" in page
    assert html.escape(changed[worse]["question"]["question"]) in page
    assert f"| setting top_k | {top_k - 3} → {top_k} |" in (tmp_path / "cmp" / "compare.md").read_text(encoding="utf-8")


def test_a_questions_file_runs_against_an_existing_index(demo_run, tmp_path):
    index = next((Path(os.environ["RAG_CACHE_DIR"]) / "eval").glob("demo-*/index"))
    generation = IndexStore(index).generation()
    out = tmp_path / "questions"
    assert (
        main(
            [
                "--index",
                str(index),
                "eval",
                "--questions",
                str(DEMO_BENCH / "questions.jsonl"),
                "--limit",
                "3",
                "--pipeline",
                "ours",
                "--backend",
                "extractive",
                "-q",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert len(rows(out)) == 3 and IndexStore(index).generation() == generation  # asked, not re-indexed


def test_a_squad_file_is_indexed_and_answered_directly(cache, tmp_path):
    assert rag_eval(FIXTURES / "xquad_slice.json", "--pipeline", "ours", "--out", tmp_path / "squad") == 0
    scores = summary(tmp_path / "squad")["pipelines"]["ours"]["scores"]["all"]
    assert scores["recall@1"] >= 0.8  # three paragraphs; converted ids must match the gold ids
