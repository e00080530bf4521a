"""Run a bench: index its corpus (cached), ask every question through each pipeline,
score the answers, and keep a per-question log that an interrupted run resumes from.

Index cache: `cache_home()/eval/<bench>-<key>/index`, where the key hashes the
corpus content, the embedder, the chunk settings and the indexing code, so a second
run (or another backend) reuses the index and any change to what it depends on
builds a new one.

Resume: results.jsonl gets one line per (pipeline, question), flushed as soon as the
question is scored. Each line carries the run's fingerprint (settings that change
answers, the backend, what the index holds, the answering code and prompts); a
restart skips the (pipeline, question) pairs already answered under the same
fingerprint and the same question.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

import prompts
from eval.baselines import Pipeline, make_pipeline
from eval.benchmark import Bench, Question, question_from_json
from eval.halves import HALVES, half_of
from eval.metrics import mean_scores, percentiles, recall_curve, score_question
from index.files import replacing
from rag.answer import Answer
from rag.backends import resolve
from rag.engine import Engine
from rag.paths import cache_home
from rag.settings import Settings

RESULTS = "results.jsonl"
SUMMARY = "summary.json"

# Results depend on code as much as on settings: after a change to the chunker, a
# cached index would silently measure the old behaviour, and after a change to the
# chain or a prompt, a resumed run would mix answers of two versions.
# index.milvus is reached through the rag.stores entry point, not an import; a Milvus run depends on it.
_INDEX_CODE = (
    "rag.loaders",
    "rag.chunking",
    "rag.sentences",
    "rag.ingest",
    "index.store",
    "index.lexical",
    "index.vectors",
    "index.base",
    "index.local",
    "index.milvus",
)
_ANSWER_CODE = (
    "rag.engine",
    "rag.retrieval",
    "rag.rerank",
    "rag.chain",
    "rag.condense",
    "rag.evidence",
    "rag.gate",
    "rag.instructions",
    "rag.generate",
    "rag.verify",
    "rag.claims",
    "rag.citations",
    "rag.reply",
    "rag.judge",
    "rag.backends",
    "rag.llms",
    "rag.language",
    "rag.confidence",
    "rag.sources",
    "eval.baselines",
)

# Settings that change neither retrieval nor answers: left out of the fingerprint.
_NOT_FINGERPRINTED = {
    "index_dir",
    "demo_corpus",
    "host",
    "port",
    "api_key",
    "cors_origins",
    "max_upload_mb",
    "max_question_chars",
    "feedback_path",
    "database_url",
    "milvus_uri",
    "milvus_token_env",
    "milvus_collection",
    "request_timeout",
    "n_threads",
    "openai_api_key_env",
    "llm_backend",
}


class RunMismatch(RuntimeError):
    """The output folder holds results of a run with other settings."""


@dataclass(frozen=True)
class Outcome:
    summary: dict[str, Any]
    rows: list[dict[str, Any]]  # this run's questions, in pipeline then id order


@dataclass(frozen=True)
class Run:
    bench: Bench
    engine: Engine
    backend: str  # resolved: never "auto"
    pipelines: tuple[str, ...]
    out_dir: Path
    fingerprint: str
    code: str  # code_version() when the run started


def bench_engine(bench: Bench, settings: Settings, explicit_index: bool, show_progress: bool) -> Engine:
    """An engine over the bench's corpus: the cached bench index, or `settings.index_dir`
    when the user named one (--index) or the bench has no corpus of its own."""
    if bench.corpus is None:
        engine = Engine(settings, auto_demo=False)
        engine.documents()  # fail now, clearly, when there is no index
        return engine
    key = index_key(bench, settings)
    folder = cache_home() / "eval" / f"{bench.name}-{key}"
    if not explicit_index:
        settings = settings.replace(index_dir=folder / "index")
        if settings.milvus_uri:
            # Milvus outside the bench's folder is shared by every bench: each corpus gets a collection of
            # its own, as it gets a folder, or ingest would add it to whatever another bench left there.
            settings = settings.replace(milvus_collection=f"eval_{key}")
    engine = Engine(settings, auto_demo=False)
    report = engine.ingest(bench.corpus.materialize(folder), show_progress=show_progress)
    if report.skipped:
        raise ValueError(f"{bench.name}: could not index {report.skipped[0][0]}: {report.skipped[0][1]}")
    return engine


def index_key(bench: Bench, settings: Settings) -> str:
    assert bench.corpus is not None
    digest = hashlib.sha256(
        json.dumps(
            [
                bench.corpus.fingerprint(),
                settings.embedder,
                settings.chunk_tokens,
                settings.chunk_overlap,
                settings.exact_search_max,
            ]
        ).encode()
    )
    digest.update(code_digest(_INDEX_CODE))
    return digest.hexdigest()[:12]


def code_digest(modules: Sequence[str]) -> bytes:
    digest = hashlib.sha256()
    for module in modules:
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None, module
        digest.update(Path(spec.origin).read_bytes())
    return digest.digest()


def fingerprint(engine: Engine, backend: str, code: str) -> str:
    """What the answers depend on: settings, backend, the exact indexed documents and chunks, and code."""
    documents = engine.documents()
    digest = hashlib.sha256(json.dumps(fingerprinted_settings(engine.settings, backend), sort_keys=True).encode())
    for doc_id in sorted(documents):
        digest.update(f"{doc_id}\0{documents[doc_id].content_hash}\n".encode())
    for chunk in engine.chunks():
        digest.update(f"{chunk.chunk_id}\0{chunk.start}\0{chunk.end}\n".encode())
    digest.update(engine.store.info().embedder.encode())
    digest.update(code.encode())
    return digest.hexdigest()[:16]


def code_version() -> str:
    """A digest of the code and prompts that produce the answers, recorded with every run."""
    digest = hashlib.sha256(code_digest(_INDEX_CODE + _ANSWER_CODE))
    for prompt in sorted(Path(prompts.__file__).parent.glob("*.txt")):
        digest.update(prompt.read_bytes())
    return digest.hexdigest()[:12]


def fingerprinted_settings(settings: Settings, backend: str) -> dict[str, Any]:
    values = {name: getattr(settings, name) for name in type(settings).model_fields if name not in _NOT_FINGERPRINTED}
    return {**{k: str(v) if isinstance(v, Path) else v for k, v in values.items()}, "backend": backend}


def prepare(bench: Bench, engine: Engine, backend: str | None, pipelines: Sequence[str], out_dir: Path | None) -> Run:
    resolved = resolve(engine.settings, backend)
    code = code_version()
    fp = fingerprint(engine, resolved, code)
    out = out_dir or Path("runs") / f"{bench.name}-{resolved}-{fp[:8]}"
    return Run(bench, engine, resolved, tuple(pipelines), out, fp, code)


def select_questions(
    questions: Sequence[Question], limit: int | None = None, subset: Iterable[str] | None = None
) -> list[Question]:
    """Questions in id order: all, the ids listed in `subset`, or the first `limit` ids."""
    ordered = sorted(questions, key=lambda q: q.id)
    if subset is not None:
        wanted = set(subset)
        unknown = wanted - {q.id for q in ordered}
        if unknown:
            raise ValueError(f"subset names {len(unknown)} unknown question id(s), e.g. {sorted(unknown)[0]}")
        ordered = [q for q in ordered if q.id in wanted]
    return ordered[:limit] if limit is not None else ordered


def execute(run: Run, show_progress: bool = True) -> Outcome:
    """Answer and score what is not done yet, then write results.jsonl (sorted) and summary.json."""
    run.out_dir.mkdir(parents=True, exist_ok=True)
    done = load_results(run.out_dir / RESULTS, run.fingerprint)
    todo = [
        (name, q)
        for name in run.pipelines
        for q in run.bench.questions
        if done.get((name, q.id), {}).get("question") != q.to_json()
    ]
    total = len(run.pipelines) * len(run.bench.questions)
    bar = tqdm(
        total=total, initial=total - len(todo), desc=f"eval {run.bench.name}", unit="q", disable=not show_progress
    )
    with (run.out_dir / RESULTS).open("a", encoding="utf-8") as log:
        pipeline: Pipeline | None = None
        for name, question in todo:
            if pipeline is None or pipeline.name != name:
                pipeline = make_pipeline(name, run.engine)
            bar.set_postfix_str(name)
            row = answer_row(pipeline, question, run.backend, run.fingerprint)
            log.write(json.dumps(row, ensure_ascii=False) + "\n")
            log.flush()
            done[(name, question.id)] = row
            bar.update()
    bar.close()
    rows = [done[(name, q.id)] for name in run.pipelines for q in run.bench.questions]
    _rewrite_sorted(run.out_dir / RESULTS, done.values())
    summary = summarize(run, rows)
    (run.out_dir / SUMMARY).write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return Outcome(summary, rows)


def answer_row(pipeline: Pipeline, question: Question, backend: str, fp: str) -> dict[str, Any]:
    answer = pipeline.answer(question, backend)
    ranking = pipeline.ranking(answer.standalone_question or question.question)
    return {
        "pipeline": pipeline.name,
        "id": question.id,
        "fingerprint": fp,
        "question": question.to_json(),
        "gold": {"answers": question.answers, "doc_ids": question.gold_doc_ids},
        "ranking": ranking,
        "answer": answer.to_json(),
        "scores": score_question(question, answer, ranking),
    }


def load_results(path: Path, fp: str | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """Rows by (pipeline, question id). A line cut short by a crash is dropped (and cut
    off the file, so the next append starts on a line of its own)."""
    if not path.is_file():
        return {}
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        with path.open("r+b") as f:
            f.truncate(len(data))
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    other = {row["fingerprint"] for row in rows} - {fp} if fp else set()
    if other:
        raise RunMismatch(
            f"{path} holds results of a run with other settings or another index (fingerprint "
            f"{sorted(other)[0]}, this run {fp}): choose another --out, or delete the folder to start over"
        )
    return {(row["pipeline"], row["id"]): row for row in rows}


def _rewrite_sorted(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Same inputs, same file order, however often the run was interrupted."""
    with replacing(path) as tmp, tmp.open("w", encoding="utf-8") as f:
        for row in sorted(rows, key=lambda r: (r["pipeline"], r["id"])):
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def summarize(run: Run, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Scores (deterministic) per pipeline, overall and per question group; latency and tokens apart."""
    return {
        "bench": run.bench.name,
        "questions": len(run.bench.questions),
        "backend": run.backend,
        "fingerprint": run.fingerprint,
        "code": run.code,
        "settings": fingerprinted_settings(run.engine.settings, run.backend),
        "pipelines": {name: pipeline_summary([r for r in rows if r["pipeline"] == name]) for name in run.pipelines},
    }


def pipeline_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    groups = sorted({group_of(r) for r in rows})
    answers = [Answer.from_json(r["answer"]) for r in rows]
    stages = sorted({stage for a in answers for stage in a.timings})
    return {
        "answered_by": sorted({a.backend for a in answers}),
        "scores": {
            "all": mean_scores([r["scores"] for r in rows]),
            **{g: mean_scores([r["scores"] for r in rows if group_of(r) == g]) for g in groups},
        },
        "counts": {"all": len(rows), **{g: sum(group_of(r) == g for r in rows) for g in groups}},
        # Chosen on the tune half, quoted on the check half (eval/halves.py).
        "halves": {
            h: {
                "scores": mean_scores([r["scores"] for r in rows if half_of(r["id"]) == h]),
                "count": sum(half_of(r["id"]) == h for r in rows),
            }
            for h in HALVES
        },
        "recall_curve": recall_curve([(r["ranking"], r["gold"]["doc_ids"]) for r in rows]),
        "latency": {s: percentiles([a.timings[s] for a in answers if s in a.timings]) for s in stages},
        "tokens": {
            kind: round(sum(a.tokens.get(kind, 0) for a in answers) / max(1, len(answers)), 1)
            for kind in ("prompt", "completion")
        },
    }


def group_of(row: dict[str, Any]) -> str:
    return question_from_json(row["question"]).group
