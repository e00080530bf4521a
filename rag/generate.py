"""The generate step: numbered evidence in, a reply out, in one labelled form:

    Answer: <the short answer>
    Support: <sentences, each ending with the [n] of the evidence block it rests on>

Two implementations: `Extractive` quotes the best evidence sentences verbatim, for a
backend without a chat model; `LLM` asks the backend's chat model through a LangChain
prompt. Neither checks anything: the verify step reads what both write.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from langchain_core.messages import AIMessageChunk
from langchain_core.prompts import ChatPromptTemplate

import prompts
from rag.backends import chat_model, has_model
from rag.evidence import Block, EvidenceSet
from rag.settings import Settings

LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "nl": "Dutch", "es": "Spanish", "it": "Italian"}
TITLE_IN_PROMPT_MAX = 60
QUOTED_SENTENCES = 2
RUNNER_UP_RATIO = 0.8  # a second sentence is quoted only when it supports the question nearly as well
# A statement ends like one; a headline ("Rutte – NATO's new secretary general") does not,
# and quoted as an answer it only repeats the question's topic.
STATEMENT_ENDS = (".", "!", "?", "…", '"', "”", "“", "’", "»", ")")


@dataclass(frozen=True)
class Request:
    question: str
    lang: str  # the question's language: the reply's
    evidence: EvidenceSet
    blocks: list[Block]


@dataclass
class Usage:
    tokens: dict[str, int] = field(default_factory=dict)  # prompt / completion, when the backend reports them


class Generator(Protocol):
    def reply(self, request: Request, usage: Usage) -> Iterator[str]:
        """The reply in pieces as they come."""
        ...


class Extractive:
    """The best evidence sentences, verbatim, each citing its block, and no short answer: a
    sentence that holds a span of the kind asked for ("who" → a name) need not say that the
    span answers the question ("Kamala Harris" beside "the coming election" did not win it),
    and telling the two apart takes a reader. Measured on the dev sets, such short answers
    were right about one time in three (docs/benchmarks.md)."""

    def reply(self, request: Request, usage: Usage) -> Iterator[str]:
        evidence = request.evidence
        block_of = {i: b.n for b in request.blocks for i in b.sentences}
        ranked = [i for i in evidence.ranked() if i in block_of]
        statements = [i for i in ranked if evidence.sentences[i].text.rstrip().endswith(STATEMENT_ENDS)] or ranked
        if not statements:
            return
        best = evidence.sentences[statements[0]].score
        quoted = [i for i in statements[:QUOTED_SENTENCES] if evidence.sentences[i].score >= best * RUNNER_UP_RATIO]
        yield "Support: " + " ".join(
            f"{evidence.sentences[i].text} [{block_of[i]}]"
            for i in sorted(quoted, key=lambda i: (evidence.sentences[i].doc_id, evidence.sentences[i].start))
        )


class LLM:
    """A chat model shown the numbered evidence blocks."""

    def __init__(self, settings: Settings, backend: str, stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.backend = backend
        self.stop = stop

    def reply(self, request: Request, usage: Usage) -> Iterator[str]:
        chain = ChatPromptTemplate.from_messages([("human", prompts.load("answer"))]) | chat_model(
            self.settings, self.backend, self.stop
        )
        inputs = {
            "evidence": evidence_text(request.evidence, request.blocks),
            "question": request.question,
            "language": LANGUAGE_NAMES.get(request.lang, "the language of the question"),
        }
        for chunk in chain.stream(inputs):
            if not isinstance(chunk, AIMessageChunk):
                continue
            if chunk.usage_metadata:
                usage.tokens = {
                    "prompt": chunk.usage_metadata["input_tokens"],
                    "completion": chunk.usage_metadata["output_tokens"],
                }
            if chunk.content:
                yield str(chunk.content)


def evidence_text(evidence: EvidenceSet, blocks: list[Block]) -> str:
    """The numbered blocks as the model sees them."""
    parts = []
    for block in blocks:
        title = evidence.passages[evidence.sentences[block.sentences[0]].passage].title
        # A short title names the subject ("Battle of Guam"); a long one is a text's first
        # sentence, which costs tokens and pulls a small model towards its subject.
        heading = f"[{block.n}] {title}\n" if len(title) <= TITLE_IN_PROMPT_MAX else f"[{block.n}] "
        parts.append(heading + evidence.text(block.sentences))
    return "\n\n".join(parts)


def make_generator(settings: Settings, backend: str, stop: threading.Event | None = None) -> Generator:
    """The generate step of a resolved backend: its chat model's (stopped by `stop`), or the quoter."""
    return LLM(settings, backend, stop) if has_model(backend) else Extractive()
