"""report.md and report.html of a run: comparison with the baselines, scores per question
group, latency, the questions we got wrong, and plots.

Both files are built from one list of blocks. The HTML embeds its plots as base64 PNG
(one file to mail or archive, nothing fetched); the Markdown links the same PNGs
in `plots/`.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display on servers and CI; must precede pyplot
import matplotlib.pyplot as plt

from eval.metrics import SCORE_NAMES, paired_difference

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
MAX_MISSES = 40


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Plot:
    name: str
    title: str
    png: bytes


Block = str | Table | Plot  # a str is a paragraph; one starting with "## " a heading


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
    page.write_text(to_html(title, blocks), encoding="utf-8")
    return [md, page]


def report_blocks(summary: dict[str, Any], rows: Sequence[dict[str, Any]]) -> list[Block]:
    pipelines = summary["pipelines"]
    blocks: list[Block] = [
        f"{summary['questions']} questions, backend `{summary['backend']}`, fingerprint `{summary['fingerprint']}`. "
        "Retrieval scores are document-level over a separate deep search (k=40, first 10 distinct documents); "
        "context R is recall over the passages the answer was given. Answer scores use SQuAD normalisation.",
        "## Where we stand",
        comparison_table(pipelines),
    ]
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
    for name, p in pipelines.items():
        blocks += [f"**{name}**", group_table(p)]
    blocks += [
        "## Latency (seconds) and tokens",
        latency_table(pipelines),
        Plot("latency", "Total seconds per answer", latency_plot(rows)),
    ]
    misses = miss_table([r for r in rows if r["pipeline"] == "ours"])
    if misses.rows:
        blocks += [
            "## Where ours misses",
            "Answerable questions whose answer lacks every gold answer or whose "
            "gold documents are not all in the top 5, and wrong refusals.",
            misses,
        ]
    return blocks


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def comparison_table(pipelines: dict[str, Any]) -> Table:
    header = ["pipeline", *[LABELS[m] for m in HEADLINE], "p50 s", "p95 s", "tokens in/out"]
    rows = []
    for name, p in pipelines.items():
        total = p["latency"].get("total", {})
        rows.append(
            [
                name,
                *[_fmt(p["scores"]["all"][m]) for m in HEADLINE],
                _fmt(total.get("p50")),
                _fmt(total.get("p95")),
                f"{p['tokens']['prompt']:.0f} / {p['tokens']['completion']:.0f}",
            ]
        )
    return Table(header, rows)


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
    return Table(
        header,
        [[g, str(pipeline["counts"][g]), *[_fmt(s[m]) for m in SCORE_NAMES]] for g, s in pipeline["scores"].items()],
    )


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


# --------------------------------------------------------------------------- rendering


def to_markdown(title: str, blocks: Sequence[Block]) -> str:
    out = [f"# {title}"]
    for block in blocks:
        if isinstance(block, Table):
            cells = [block.header, ["---"] * len(block.header), *block.rows]
            out.append("\n".join("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells))
        elif isinstance(block, Plot):
            out.append(f"![{block.title}](plots/{block.name}.png)")
        else:
            out.append(block)
    return "\n\n".join(out) + "\n"


_CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:13px}th,td{border:1px solid #ccc;padding:3px 6px}
th{background:#f2f2f2}td{vertical-align:top}img{max-width:100%}code{background:#f4f4f4;padding:0 3px}"""


def to_html(title: str, blocks: Sequence[Block]) -> str:
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"
    ]
    for block in blocks:
        if isinstance(block, Table):
            head = "".join(f"<th>{html.escape(c)}</th>" for c in block.header)
            body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in block.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(block, Plot):
            data = base64.b64encode(block.png).decode("ascii")
            out.append(
                f"<figure><img alt='{html.escape(block.title)}' src='data:image/png;base64,{data}'>"
                f"<figcaption>{html.escape(block.title)}</figcaption></figure>"
            )
        elif block.startswith("## "):
            out.append(f"<h2>{html.escape(block[3:])}</h2>")
        else:
            out.append(f"<p>{_inline(block)}</p>")
    return "\n".join(out) + "\n</body></html>\n"


def _inline(text: str) -> str:
    """`code` and **bold**, the only Markdown the paragraphs use."""
    parts = html.escape(text).split("`")
    text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    parts = text.split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
