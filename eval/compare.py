"""What changed between two runs: what differed in how they were made, each key score's
difference with a paired bootstrap interval, and the questions whose scores changed, with
both answers.

Only the (pipeline, question) pairs present in both runs are compared, so the
averages shown are over the same questions on both sides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.blocks import Block, Table, to_markdown
from eval.metrics import SCORE_NAMES, mean_scores, paired_difference
from eval.runner import RESULTS, SUMMARY, load_results
from eval.workbench import render_blocks

# The per-question scores a change is judged by; +1: higher is better, -1: lower is better.
KEY_SCORES = {
    "recall@5": 1,
    "mrr@10": 1,
    "f1": 1,
    "contained": 1,
    "citation_precision": 1,
    "correct_refusal": 1,
    "false_refusal": -1,
}


@dataclass(frozen=True)
class Change:
    pipeline: str
    id: str
    question: str
    deltas: dict[str, tuple[float | None, float | None]]  # key score: (run A, run B), changed ones only
    verdict: str  # improved | regressed | mixed
    answers: tuple[str, str] = ("", "")  # run A's and run B's answer


@dataclass(frozen=True)
class Comparison:
    run_a: str
    run_b: str
    means: dict[str, dict[str, tuple[float | None, float | None]]]  # pipeline → score → (A, B)
    common: dict[str, int]  # pipeline → questions in both runs
    changes: list[Change]
    differed: list[str]  # what differed in how the runs were made
    intervals: dict[str, dict[str, tuple[float, float, float]]]  # pipeline → key score → B - A, 95% low, high


def compare_runs(run_a: Path, run_b: Path) -> Comparison:
    rows_a, rows_b = _rows(run_a), _rows(run_b)
    common = sorted(set(rows_a) & set(rows_b))
    pipelines = list(dict.fromkeys(pipeline for pipeline, _ in common))
    means, changes = {}, []
    intervals: dict[str, dict[str, tuple[float, float, float]]] = {}
    for pipeline in pipelines:
        keys = [key for key in common if key[0] == pipeline]
        a = mean_scores([rows_a[k]["scores"] for k in keys])
        b = mean_scores([rows_b[k]["scores"] for k in keys])
        means[pipeline] = {name: (a[name], b[name]) for name in SCORE_NAMES}
        intervals[pipeline] = {}
        for name in KEY_SCORES:
            pairs = [
                (rows_b[k]["scores"][name], rows_a[k]["scores"][name])
                for k in keys
                if rows_a[k]["scores"][name] is not None and rows_b[k]["scores"][name] is not None
            ]
            if pairs:
                intervals[pipeline][name] = paired_difference(pairs)
    for key in common:
        change = question_change(rows_a[key], rows_b[key])
        if change is not None:
            changes.append(change)
    counts = {p: sum(key[0] == p for key in common) for p in pipelines}
    return Comparison(str(run_a), str(run_b), means, counts, changes, differences(run_a, run_b), intervals)


def differences(run_a: Path, run_b: Path) -> list[str]:
    """What differed in how the two runs were made: settings, backend, code, questions, data."""
    a, b = _summary(run_a), _summary(run_b)
    if not a or not b:
        return ["(a run has no summary.json: what differed is unknown)"]
    found = []
    settings_a, settings_b = a.get("settings", {}), b.get("settings", {})
    for name in sorted(set(settings_a) | set(settings_b)):
        if settings_a.get(name) != settings_b.get(name):
            found.append(f"setting {name}: {settings_a.get(name)!r} → {settings_b.get(name)!r}")
    for key, label in (("backend", "backend (model and server)"), ("code", "code digest"), ("bench", "benchmark")):
        if a.get(key) != b.get(key):
            found.append(f"{label}: {a.get(key)} → {b.get(key)}")
    if a.get("questions") != b.get("questions"):
        found.append(f"questions: {a.get('questions')} → {b.get('questions')}")
    if not found and a.get("fingerprint") != b.get("fingerprint"):
        # The fingerprint covers settings, backend, code and the indexed documents and chunks.
        found.append("the indexed documents or chunks (same settings, backend and code)")
    return found or ["nothing: same settings, backend, code and data"]


def _rows(run: Path) -> dict[tuple[str, str], dict[str, Any]]:
    if not (run / RESULTS).is_file():
        raise FileNotFoundError(f"{run} is not an eval run: it has no {RESULTS}")
    return load_results(run / RESULTS)


def question_change(a: dict[str, Any], b: dict[str, Any]) -> Change | None:
    deltas = {
        name: (a["scores"][name], b["scores"][name]) for name in KEY_SCORES if a["scores"][name] != b["scores"][name]
    }
    if not deltas:
        return None
    signs = {KEY_SCORES[name] * ((after or 0.0) - (before or 0.0)) > 0 for name, (before, after) in deltas.items()}
    verdict = "mixed" if len(signs) > 1 else ("improved" if signs == {True} else "regressed")
    answers = (a.get("answer", {}).get("answer", ""), b.get("answer", {}).get("answer", ""))
    return Change(a["pipeline"], a["id"], a["question"]["question"], deltas, verdict, answers)


def format_comparison(comparison: Comparison) -> str:
    lines = [f"A: {comparison.run_a}{_backend(comparison.run_a)}", f"B: {comparison.run_b}{_backend(comparison.run_b)}"]
    lines += ["", "What differed:", *(f"  {line}" for line in comparison.differed)]
    for pipeline, scores in comparison.means.items():
        lines += [
            "",
            f"{pipeline}: {comparison.common[pipeline]} questions in both runs; "
            "B - A with its 95% paired bootstrap interval (one that holds 0 shows no difference)",
            f"  {'score':<20}{'A':>8}{'B':>8}{'B - A':>9}  interval",
        ]
        for name, (a, b) in scores.items():
            if a is None and b is None:
                continue
            delta = f"{b - a:+9.3f}" if a is not None and b is not None else f"{'':>9}"
            interval = comparison.intervals[pipeline].get(name)
            shown = f"  [{interval[1]:+.3f}, {interval[2]:+.3f}]" if interval else ""
            lines.append(f"  {name:<20}{_num(a):>8}{_num(b):>8}{delta}{shown}")
    for verdict in ("regressed", "improved", "mixed"):
        changes = [c for c in comparison.changes if c.verdict == verdict]
        lines += ["", f"{verdict.capitalize()}: {len(changes)}"]
        for c in changes:
            what = ", ".join(f"{name} {_num(x)}→{_num(y)}" for name, (x, y) in c.deltas.items())
            lines += [
                f"  [{c.pipeline}] {c.id}  {what}",
                f"    Q: {c.question}",
                *(f"    {side}: {' '.join(text.split())}" for side, text in zip("AB", c.answers, strict=True)),
            ]
    return "\n".join(lines)


def comparison_blocks(comparison: Comparison) -> list[Block]:
    """The comparison as report blocks, for compare.html and compare.md."""
    blocks: list[Block] = [
        f"A: `{comparison.run_a}`{_backend(comparison.run_a)}",
        f"B: `{comparison.run_b}`{_backend(comparison.run_b)}",
        "## What differed",
        Table(["what", "A → B"], [line.split(": ", 1) if ": " in line else [line, ""] for line in comparison.differed]),
    ]
    for pipeline, scores in comparison.means.items():
        rows = []
        for name, (a, b) in scores.items():
            if a is None and b is None:
                continue
            interval = comparison.intervals[pipeline].get(name)
            rows.append(
                [
                    name,
                    _num(a),
                    _num(b),
                    f"{b - a:+.3f}" if a is not None and b is not None else "",
                    f"{interval[1]:+.3f} to {interval[2]:+.3f}" if interval else "",
                ]
            )
        blocks += [
            f"## {pipeline}: scores",
            f"{comparison.common[pipeline]} questions in both runs. B − A with its 95% paired bootstrap interval "
            "(one that holds 0 shows no difference these questions can tell).",
            Table(["score", "A", "B", "B − A", "95% interval"], rows),
        ]
    for verdict in ("regressed", "improved", "mixed"):
        changes = [c for c in comparison.changes if c.verdict == verdict]
        blocks.append(f"## {verdict.capitalize()}: {len(changes)}")
        if changes:
            blocks.append(
                Table(
                    ["pipeline", "id", "question", "what changed", "answer A", "answer B"],
                    [
                        [
                            c.pipeline,
                            c.id,
                            c.question,
                            ", ".join(f"{name} {_num(x)}→{_num(y)}" for name, (x, y) in c.deltas.items()),
                            *c.answers,
                        ]
                        for c in changes
                    ],
                )
            )
    return blocks


def write_comparison(comparison: Comparison, out_dir: Path) -> list[Path]:
    """compare.md and compare.html in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    title = f"Comparison: {Path(comparison.run_a).name} → {Path(comparison.run_b).name}"
    blocks = comparison_blocks(comparison)
    md, page = out_dir / "compare.md", out_dir / "compare.html"
    md.write_text(to_markdown(title, blocks), encoding="utf-8")
    page.write_text(render_blocks(title, blocks), encoding="utf-8")
    return [md, page]


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _summary(run: str | Path) -> dict[str, Any]:
    path = Path(run) / SUMMARY
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _backend(run: str) -> str:
    data = _summary(run)
    return f"  (backend {data['backend']}, fingerprint {data['fingerprint']})" if data else ""
