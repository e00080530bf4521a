"""report.md and report.html of a run: comparison with the baselines (best values marked),
a glossary, scores per question group (small groups flagged), latency, calibration of the
answers' confidence, the questions we got wrong, and plots.

Both files are built from one list of blocks. report.md keeps the summary for diffs;
report.html (eval/workbench.py) adds every question in a table an evaluator can filter
and open, and embeds its plots as base64 PNG (one file to mail or archive, nothing
fetched). The Markdown links the same PNGs in `plots/`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display on servers and CI; must precede pyplot
import matplotlib.pyplot as plt

from eval import workbench
from eval.blocks import Block, Plot, Table, to_markdown
from eval.halves import half_of
from eval.metrics import SCORE_NAMES, expected_calibration_error, is_right, paired_difference, reliability

LABELS = {
    "recall@1": "R@1",
    "recall@5": "R@5",
    "recall@10": "R@10",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "all_gold@5": "all-gold@5",
    "all_gold@10": "all-gold@10",
    "context_recall": "context R",
    "context_all_gold": "context all-gold",
    "exact_match": "EM",
    "f1": "F1",
    "f1_whole": "F1 whole answer",
    "contained": "contained",
    "citation_precision": "cit. P",
    "citation_recall": "cit. R",
    "correct_refusal": "correct refusal",
    "false_refusal": "false refusal",
    "span_precision": "span P",
    "claims_removed": "claims removed",
    "unsupported_shown": "unsupported shown",
}
HEADLINE = (
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "ndcg@10",
    "all_gold@10",
    "exact_match",
    "f1",
    "f1_whole",
    "contained",
    "citation_precision",
    "citation_recall",
    "span_precision",
    "correct_refusal",
    "false_refusal",
    "claims_removed",
    "unsupported_shown",
)
GLOSSARY = {
    "recall@1": "Share of the gold documents among the first k distinct documents of a separate deep search "
    "(R@5, R@10 alike).",
    "mrr@10": "1 / rank of the first gold document among the first 10 (0 when none is there).",
    "ndcg@10": "How high all gold documents rank among the first 10, discounted by rank (1 = all on top).",
    "all_gold@10": "1 when every gold document is among the first k documents (multi-hop questions need all).",
    "context_recall": "Share of the gold documents among the passages the answer was given.",
    "exact_match": "The short answer equals a gold answer after SQuAD normalisation (case, punctuation, articles).",
    "f1": "Word overlap of the short answer (the whole answer when there is none) with the closest gold answer.",
    "f1_whole": "Word overlap of the whole answer text with the closest gold answer.",
    "contained": "1 when a gold answer occurs anywhere in the answer text.",
    "citation_precision": "Share of the cited passages that come from a gold document or hold a gold answer.",
    "citation_recall": "Share of the gold documents cited at least once.",
    "span_precision": "Share of the citations whose quoted sentence itself holds a gold answer.",
    "correct_refusal": "Unanswerable questions only: 1 when the answer refused (higher is better).",
    "false_refusal": "Answerable questions only: 1 when the answer refused (lower is better).",
    "claims_removed": "Sentences of the generated answer that verification withheld, per answer.",
    "unsupported_shown": "1 when the shown answer states a number or name that its cited evidence does not "
    "hold (should be 0).",
    "confidence": "The answer's stated probability of being right; calibration compares it with how often "
    "answers with that confidence were right (a gold answer in it, or F1 at least 0.5).",
    "ECE": "Expected calibration error: over 10 confidence bins, the gap between mean confidence and share "
    "right, weighted by the bin's answers (0 = perfectly calibrated).",
}
LOWER_IS_BETTER = {"false_refusal", "unsupported_shown"}
UNRANKED = {"claims_removed"}  # more removed claims is neither better nor worse by itself
SMALL_GROUP = 10  # below this many questions, one question moves a score by more than 0.1
MAX_MISSES = 40


def write_report(out_dir: Path, summary: dict[str, Any], rows: Sequence[dict[str, Any]]) -> list[Path]:
    """Write report.md, report.html and plots/*.png; returns the report paths."""
    blocks = report_blocks(summary, rows)
    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    for block in blocks:
        if isinstance(block, Plot):
            (plots_dir / f"{block.name}.png").write_bytes(block.png)
    title = f"Evaluation: {summary['bench']} ({summary['backend']} backend)"
    md, page = out_dir / "report.md", out_dir / "report.html"
    md.write_text(to_markdown(title, blocks), encoding="utf-8")
    page.write_text(
        workbench.render_report(title, blocks, rows, glossary={LABELS.get(k, k): v for k, v in GLOSSARY.items()}),
        encoding="utf-8",
    )
    return [md, page]


def report_blocks(summary: dict[str, Any], rows: Sequence[dict[str, Any]]) -> list[Block]:
    pipelines = summary["pipelines"]
    blocks: list[Block] = [
        f"{summary['questions']} questions, backend `{summary['backend']}` "
        f"(model and server: {', '.join(f'`{m}`' for m in _models(pipelines)) or 'none'}), "
        f"fingerprint `{summary['fingerprint']}`. "
        "Retrieval scores are document-level over a separate deep search (k=40, first 10 distinct documents); "
        "context R is recall over the passages the answer was given. Answer scores use SQuAD normalisation.",
        "## Where we stand",
        comparison_table(pipelines),
    ]
    if len(pipelines) > 1:
        blocks.append("**Bold**: the best value of its column (lowest for false refusal, unsupported shown and time).")
    if set(pipelines) == {"ours"}:
        blocks.append("Only our pipeline ran: add `--pipeline all` for the baselines.")
    else:
        blocks += [
            "Ours minus each baseline on the same questions, with a 95% bootstrap interval: "
            "an interval that excludes 0 is a difference these questions can show.",
            standing_table(rows),
        ]
    blocks += [
        Plot("recall_at_k", "Document recall@k", recall_plot(pipelines)),
        "## Scores per question group",
        Plot("by_group", "Scores per question group", group_plot(pipelines)),
    ]
    small = sorted({g for p in pipelines.values() for g, n in p["counts"].items() if n < SMALL_GROUP})
    if small:
        blocks.append(
            f"Groups marked (small) have fewer than {SMALL_GROUP} questions: one question moves their scores "
            "by more than 0.1, so read them as anecdotes."
        )
    for name, p in pipelines.items():
        blocks += [f"**{name}**", group_table(p)]
    blocks += [
        "## Latency (seconds) and tokens",
        latency_table(pipelines),
        Plot("latency", "Total seconds per answer", latency_plot(rows)),
    ]
    blocks += calibration_blocks(rows)
    blocks += ["## Glossary", glossary_table()]
    misses = miss_table([r for r in rows if r["pipeline"] == "ours"])
    if misses.rows:
        blocks += [
            "## Where ours misses",
            "Answerable questions whose answer lacks every gold answer or whose "
            "gold documents are not all in the top 5, and wrong refusals.",
            misses,
        ]
    return blocks


def _models(pipelines: dict[str, Any]) -> list[str]:
    """What answered, as the answers name it (`openai:<model>@<server>`, `local:<model>`, `extractive`)."""
    return sorted({m for p in pipelines.values() for m in p.get("answered_by", [])})


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def comparison_table(pipelines: dict[str, Any]) -> Table:
    header = ["pipeline", *[LABELS[m] for m in HEADLINE], "p50 s", "p95 s", "tokens in/out"]
    rows, columns = [], []
    for name, p in pipelines.items():
        total = p["latency"].get("total", {})
        values = [*[p["scores"]["all"][m] for m in HEADLINE], total.get("p50"), total.get("p95")]
        columns.append(values)
        rows.append(
            [name, *[_fmt(v) for v in values], f"{p['tokens']['prompt']:.0f} / {p['tokens']['completion']:.0f}"]
        )
    directions = [_direction(m) for m in HEADLINE] + [-1, -1]  # time: lower is better
    return Table(header, rows, best_cells(columns, directions, first_column=1))


def _direction(score: str) -> int:
    return 0 if score in UNRANKED else -1 if score in LOWER_IS_BETTER else 1


def best_cells(rows: Sequence[Sequence[float | None]], directions: Sequence[int], first_column: int) -> frozenset:
    """(row, column) of each column's best value, ties included; none with fewer than two rows to rank."""
    best = set()
    for col, direction in enumerate(directions):
        values = [(r, v) for r, row in enumerate(rows) if (v := row[col]) is not None]
        if direction and len(values) > 1 and len({v for _, v in values}) > 1:
            top = max(v * direction for _, v in values)
            best |= {(r, col + first_column) for r, v in values if v * direction == top}
    return frozenset(best)


def glossary_table() -> Table:
    return Table(["score", "meaning"], [[LABELS.get(name, name), text] for name, text in GLOSSARY.items()])


STANDING_SCORES = ("recall@5", "f1", "contained")


def standing_table(rows: Sequence[dict[str, Any]]) -> Table:
    """Paired differences, ours minus each baseline, per headline score."""
    scores = {(row["pipeline"], row["id"]): row["scores"] for row in rows}
    ours = {qid: s for (pipeline, qid), s in scores.items() if pipeline == "ours"}
    baselines = sorted({pipeline for pipeline, _ in scores} - {"ours"})
    table = []
    for baseline in baselines:
        cells = [baseline]
        for metric in STANDING_SCORES:
            pairs = [
                (s[metric], scores[(baseline, qid)][metric])
                for qid, s in ours.items()
                if (baseline, qid) in scores and s[metric] is not None and scores[(baseline, qid)][metric] is not None
            ]
            mean, low, high = paired_difference(pairs)
            cells.append(f"{mean:+.3f} ({low:+.3f} to {high:+.3f})" if pairs else "–")
        table.append(cells)
    return Table(["ours minus", *[f"{LABELS[m]} (95% interval)" for m in STANDING_SCORES]], table)


def group_table(pipeline: dict[str, Any]) -> Table:
    header = ["group", "n", *[LABELS[m] for m in SCORE_NAMES]]
    rows = []
    for group, scores in pipeline["scores"].items():
        n = pipeline["counts"][group]
        rows.append([group, f"{n} (small)" if n < SMALL_GROUP else str(n), *[_fmt(scores[m]) for m in SCORE_NAMES]])
    return Table(header, rows)


def calibration_blocks(rows: Sequence[dict[str, Any]]) -> list[Block]:
    """Does the confidence of our given answers match how often they are right? Measured on
    the check half (the tune half is where the calibration may have been fitted)."""
    given = [r for r in rows if r["pipeline"] == "ours" and not r["answer"]["refused"]]
    pairs = {
        half: [
            (float(r["answer"]["confidence"]), is_right(bool(r["question"].get("gold_doc_ids")), r["scores"]))
            for r in given
            if half_of(r["id"]) == half
        ]
        for half in ("tune", "check")
    }
    check = pairs["check"]
    blocks: list[Block] = ["## Calibration of the confidence"]
    if not check:
        return [*blocks, "No answer was given on the check half: nothing to calibrate."]
    blocks += [
        f"Our given answers on the check half: {len(check)}, of which {sum(r for _, r in check) / len(check):.0%} "
        f"right. Expected calibration error (ECE) {expected_calibration_error(check):.3f} on the check half, "
        f"{expected_calibration_error(pairs['tune']):.3f} on the tune half ({len(pairs['tune'])} answers). "
        "Halves by a hash of the question id.",
        Table(
            ["confidence", "answers", "mean confidence", "share right"],
            [
                [f"{lo:.1f}–{hi:.1f}", str(n), f"{mean:.2f}", f"{right:.2f}"]
                for lo, hi, n, mean, right in reliability(check)
            ],
        ),
        Plot("reliability", "Reliability on the check half (on the diagonal: calibrated)", reliability_plot(check)),
    ]
    return blocks


def latency_table(pipelines: dict[str, Any]) -> Table:
    stages = sorted({s for p in pipelines.values() for s in p["latency"]})
    rows = [
        [
            name,
            *[
                f"{_fmt(p['latency'].get(s, {}).get('p50'))} / {_fmt(p['latency'].get(s, {}).get('p95'))}"
                for s in stages
            ],
            f"{p['tokens']['prompt']:.0f} / {p['tokens']['completion']:.0f}",
        ]
        for name, p in pipelines.items()
    ]
    return Table(["pipeline", *[f"{s} p50 / p95" for s in stages], "tokens in / out per answer"], rows)


def miss_table(rows: Sequence[dict[str, Any]]) -> Table:
    misses = []
    for row in rows:
        s, answer = row["scores"], row["answer"]
        wrong_answer = s["contained"] == 0.0 or (s["recall@5"] is not None and s["recall@5"] < 1.0)
        wrong_refusal = s["correct_refusal"] == 0.0 or s["false_refusal"] == 1.0
        if wrong_answer or wrong_refusal:
            gold = " | ".join(row["gold"]["answers"][:2]) or "(refusal)"
            misses.append(
                [
                    row["id"],
                    row["question"]["question"],
                    gold,
                    _clip(answer["answer"]),
                    _fmt(s["recall@5"]),
                    ", ".join(row["ranking"][:3]),
                ]
            )
    return Table(["id", "question", "gold", "answer", "R@5", "top docs"], misses[:MAX_MISSES])


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- plots


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def recall_plot(pipelines: dict[str, Any]) -> bytes:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, p in pipelines.items():
        curve = p["recall_curve"]
        ax.plot(range(1, len(curve) + 1), curve, marker="o", label=name)
    ax.set(xlabel="k (distinct documents)", ylabel="document recall@k", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def group_plot(pipelines: dict[str, Any], metrics: Sequence[str] = ("recall@5", "f1", "contained")) -> bytes:
    groups = sorted({g for p in pipelines.values() for g in p["scores"] if g != "all"})
    fig, axes = plt.subplots(
        len(metrics), 1, figsize=(max(6.0, 1.1 * len(groups) + 2), 2.6 * len(metrics)), squeeze=False
    )
    width = 0.8 / max(1, len(pipelines))
    for ax, metric in zip(axes[:, 0], metrics, strict=True):
        for i, (name, p) in enumerate(pipelines.items()):
            values = [p["scores"].get(g, {}).get(metric) or 0.0 for g in groups]
            ax.bar([x + i * width for x in range(len(groups))], values, width, label=name)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(groups))], groups, rotation=20, ha="right", fontsize=8)
        ax.set(ylabel=LABELS[metric], ylim=(0, 1.02))
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=8, ncols=len(pipelines), loc="lower left", bbox_to_anchor=(0, 1.02))
    fig.tight_layout()
    return _png(fig)


def reliability_plot(pairs: Sequence[tuple[float, bool]]) -> bytes:
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    bins = reliability(pairs)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="calibrated")
    ax.bar(
        [lo for lo, *_ in bins], [right for *_, right in bins], width=0.1, align="edge", alpha=0.6, label="share right"
    )
    ax.plot([mean for *_, mean, _ in bins], [right for *_, right in bins], marker="o", color="black", linewidth=1)
    for lo, _, n, _, right in bins:
        ax.annotate(str(n), (lo + 0.05, right), ha="center", va="bottom", fontsize=8)
    ax.set(xlabel="confidence", ylabel="share of answers right", xlim=(0, 1), ylim=(0, 1.05))
    ax.legend(fontsize=8, loc="upper left")
    return _png(fig)


def latency_plot(rows: Sequence[dict[str, Any]]) -> bytes:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    totals = {
        name: [r["answer"]["timings"].get("total", 0.0) for r in rows if r["pipeline"] == name]
        for name in dict.fromkeys(r["pipeline"] for r in rows)
    }
    edges = np.histogram_bin_edges([t for values in totals.values() for t in values] or [0.0], bins=24)
    for name, values in totals.items():  # shared bins, or the pipelines cannot be compared by eye
        ax.hist(values, bins=list(edges), histtype="step", linewidth=1.5, label=name)
    ax.set(xlabel="seconds per answer", ylabel="questions")
    ax.legend()
    return _png(fig)
