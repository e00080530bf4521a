"""The HTML an evaluator works in: report.html and compare.html.

Both pages render the same blocks as report.md (eval/blocks.py); report.html adds every
question of the run in one table that can be filtered (pipeline, group, half, outcome,
claims removed, unsupported shown, words) and opened: the question with the turns before
it, the gold answers and documents, the whole answer with its citations, the passages it
was given (gold ones marked), the ranking, scores and timings. The pages are one file each:
plots inline, a few lines of script, nothing fetched. Jinja2 escapes every value, so
a question or document cannot inject markup into the page.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from eval.blocks import Block, Plot, Table
from eval.halves import half_of
from eval.metrics import SCORE_NAMES, is_right
from eval.runner import group_of
from rag.answer import Answer

_PAGES = Environment(
    loader=PackageLoader("eval", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class QuestionView:
    """One answered question as the report's table and its drill-down show it."""

    pipeline: str
    id: str
    group: str
    half: str
    question: str
    history: list[dict[str, str]]
    gold_answers: list[str]
    gold_docs: list[str]
    answer: Answer
    ranking: list[str]
    scores: dict[str, float]  # the scores that apply to this question
    outcome: str  # right | wrong | correct refusal | false refusal | answered (unanswerable)
    claims_removed: bool
    unsupported_shown: bool

    @property
    def failed(self) -> bool:
        return self.outcome in {"wrong", "false refusal", "answered (unanswerable)"}


def question_view(row: dict[str, Any]) -> QuestionView:
    answer = Answer.from_json(row["answer"])
    gold_docs = list(row["gold"].get("doc_ids") or [])
    scores = {name: value for name in SCORE_NAMES if (value := row["scores"].get(name)) is not None}
    return QuestionView(
        pipeline=row["pipeline"],
        id=row["id"],
        group=group_of(row),
        half=half_of(row["id"]),
        question=row["question"]["question"],
        history=list(row["question"].get("history") or []),
        gold_answers=list(row["gold"].get("answers") or []),
        gold_docs=gold_docs,
        answer=answer,
        ranking=list(row.get("ranking") or [])[:10],
        scores=scores,
        outcome=outcome(bool(gold_docs), answer.refused, row["scores"]),
        claims_removed=bool(answer.removed_claims),
        unsupported_shown=scores.get("unsupported_shown") == 1.0,
    )


def outcome(answerable: bool, refused: bool, scores: dict[str, float | None]) -> str:
    if not answerable:
        return "correct refusal" if refused else "answered (unanswerable)"
    if refused:
        return "false refusal"
    return "right" if is_right(True, scores) else "wrong"


def render_report(title: str, blocks: Sequence[Block], rows: Sequence[dict[str, Any]], glossary: dict[str, str]) -> str:
    """`glossary`: what a column header means, shown when the pointer rests on it."""
    views = [question_view(row) for row in rows]
    return _PAGES.get_template("report.html").render(
        title=title,
        blocks=[_block(b) for b in blocks],
        glossary=glossary,
        questions=views,
        pipelines=sorted({v.pipeline for v in views}),
        groups=sorted({v.group for v in views}),
        outcomes=sorted({v.outcome for v in views}),
    )


def render_blocks(title: str, blocks: Sequence[Block]) -> str:
    """A page of blocks alone (the comparison of two runs)."""
    return _PAGES.get_template("blocks.html").render(title=title, blocks=[_block(b) for b in blocks])


def _block(block: Block) -> dict[str, Any]:
    """Blocks as the templates read them (a template cannot ask for a type)."""
    if isinstance(block, Table):
        return {"kind": "table", "table": block}
    if isinstance(block, Plot):
        return {
            "kind": "plot",
            "title": block.title,
            "src": "data:image/png;base64," + base64.b64encode(block.png).decode(),
        }
    if block.startswith("## "):
        return {"kind": "heading", "text": block[3:]}
    return {"kind": "paragraph", "parts": _inline(block)}


def _inline(text: str) -> list[tuple[str, str]]:
    """(style, text) runs of `code` and **bold**, the only Markdown the paragraphs use."""
    runs = []
    for i, part in enumerate(text.split("`")):
        if i % 2:
            runs.append(("code", part))
            continue
        runs += [("strong" if j % 2 else "", piece) for j, piece in enumerate(part.split("**")) if piece]
    return runs
