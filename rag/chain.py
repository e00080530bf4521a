"""Question in, verified `Answer` out, in the order the data flows:

    condense → retrieve → evidence → gate → generate → verify → Answer

`AnswerChain.stream()` yields the evidence found (`EvidenceFound`, before any model
runs), then the answer text as it is checked, sentence by sentence, then one final
`Answer`; `ask()` returns just the `Answer`. Each step is a function or a small
component of its own module; this one only wires them and times them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import prompts
from rag.answer import Answer, Citation, EvidenceFound
from rag.backends import describe, has_model, resolve
from rag.citations import citation_for
from rag.claims import asked_kind
from rag.condense import History, condense, llm_rewriter
from rag.confidence import Signals, confidence
from rag.evidence import Block, EvidenceSet
from rag.gate import gate
from rag.generate import Request, Usage, make_generator
from rag.judge import judge
from rag.language import detect_language
from rag.reply import CheckedReply
from rag.settings import Settings
from rag.verify import Verifier

Find = Callable[[str], EvidenceSet]  # the retrieve and evidence steps: question in, scored evidence out


@dataclass(frozen=True)
class Outcome:
    """What generation and verification leave for the answer."""

    text: str
    refused: bool
    short: str = ""
    reason: str = ""  # why it refused or withheld the answer


class AnswerChain:
    def __init__(self, settings: Settings, find: Find) -> None:
        self.settings = settings
        self._find = find

    def ask(self, question: str, history: History | None = None, backend: str | None = None) -> Answer:
        answer = None
        for item in self.stream(question, history, backend):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        history: History | None = None,
        backend: str | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[str | EvidenceFound | Answer]:
        """The evidence, the checked answer text, then the `Answer`. Once `stop` is set the model
        stops at its next token and the stream ends without an Answer: what was shown is all."""
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        backend = resolve(self.settings, backend)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        lang = detect_language(question)
        if lang == "und" and history:  # "And the second?" is too short to tell: the conversation's language
            lang = detect_language(" ".join(m.get("content", "") for m in history))

        rewrite = llm_rewriter(self.settings, backend) if has_model(backend) else None
        standalone = condense(question, history or [], rewrite)
        timings["condense"] = time.perf_counter() - started

        mark = time.perf_counter()
        evidence = self._find(standalone)
        blocks = evidence.blocks(self.settings.context_tokens)
        timings["evidence"] = time.perf_counter() - mark
        yield EvidenceFound(_block_citations(evidence, blocks))

        floor = self.settings.gate_for(has_model(backend))
        verifier = Verifier(evidence, blocks, lang, self.settings, floor)
        decision = gate(evidence, blocks, floor)
        usage = Usage()
        mark = time.perf_counter()
        judged = None
        if not decision.answer:
            outcome = Outcome("", True, reason=decision.reason)
            checked = None
        else:
            request = Request(standalone, lang, evidence, blocks)
            checked = CheckedReply(verifier, hold_short=judges(self.settings, backend))
            pieces = make_generator(self.settings, backend, stop).reply(request, usage)
            yield from _timed(_checked_stream(pieces, checked, stop), timings, started)
            if stop is not None and stop.is_set():
                return
            judged_at = time.perf_counter()
            judged = judge_reply(checked, verifier, request, backend, self.settings)
            timings["judge"] = time.perf_counter() - judged_at
            outcome = settle(checked, verifier, request, backend, lang, self.settings, judged)
            streamed = checked.shown.rstrip()
            if outcome.text.startswith(streamed) and (added := outcome.text[len(streamed) :]):
                yield added  # what settling added: a refusal, or the quote that states the short answer
        timings["generate"] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started

        citations = verifier.numbering.citations
        yield Answer(
            question=question,
            answer=outcome.text or prompts.refusal(lang),
            citations=citations,
            passages=evidence.passages,
            refused=outcome.refused,
            confidence=0.0
            if outcome.refused
            else confidence(backend, _signals(evidence.support, judged, outcome, checked), floor),
            backend=describe(self.settings, backend),
            timings={k: round(v, 4) for k, v in timings.items()},
            standalone_question=standalone,
            tokens=usage.tokens,
            dropped_citations=checked.dropped if checked else 0,
            short_answer="" if outcome.refused else outcome.short,
            raw_reply=checked.raw if checked else "",
            removed_claims=checked.withheld if checked else [],
            support=round(evidence.support, 4),
            judged=None if judged is None else round(judged, 4),
            refusal_reason=outcome.reason,
        )


def judges(settings: Settings, backend: str) -> bool:
    """Whether the model judges its own replies (rag/judge.py): the extractive quoter has no model."""
    return has_model(backend) and settings.judge_threshold > 0


def judge_reply(
    checked: CheckedReply, verifier: Verifier, request: Request, backend: str, settings: Settings
) -> float | None:
    """The judge's probability that the text the reply cites answers the question; None when the
    judge is off or nothing of the reply stood."""
    if not checked.hold_short or checked.short_failed or checked.declined or not (checked.short or checked.kept_claims):
        return None
    return judge(settings, backend, request.question, verifier.cited_text(checked.short_evidence))


def settle(
    checked: CheckedReply,
    verifier: Verifier,
    request: Request,
    backend: str,
    lang: str,
    settings: Settings,
    judged: float | None = None,
) -> Outcome:
    """What a checked reply amounts to: the answer shown, a quote of the nearest evidence, or a refusal.
    `judged` is the judge step's probability that the cited text answers the question."""
    support = request.evidence.support
    if checked.declined:
        if has_model(backend) and support >= settings.quote_when_declined:
            # The model found no answer, yet a sentence matches the question clearly: small models
            # decline too readily, above all across languages, so show it, as the nearest
            # evidence and not as an answer.
            return _nearest(verifier, lang, "the model found no answer in the evidence; the nearest evidence is quoted")
        return Outcome("", True, reason="the model found no answer in the evidence")
    if checked.short_failed:
        # The short answer is not what the evidence says: say so, with the nearest evidence.
        return _nearest(verifier, lang, f"short answer withheld: {checked.short_failed}")
    if judged is not None and judged < settings.judge_threshold:
        reason = f"answer withheld: reading the cited text alone, the model found no answer in it (p={judged:.2f})"
        # What the evidence does say, checked, under the notice that it is no answer.
        return _refusal_above(checked, lang, reason) if checked.kept_claims else _nearest(verifier, lang, reason)
    # The held short answer, now judged, goes first.
    shown = f"{checked.short}\n{checked.shown}" if checked.hold_short and checked.short else checked.shown
    if not has_model(backend) and asked_kind(request.question):
        # A question for a name, number or date: the quoter cannot tell whether a quote states
        # what is asked or only holds a name beside the topic, so the quotes are shown as what
        # is nearest, not as an answer.
        reason = f"the quoter does not read a {asked_kind(request.question)} off the evidence"
        return _refusal_above(checked, lang, reason, notice="quoted")
    if checked.short and checked.short_evidence is not None and not verifier.cites(checked.short_evidence):
        # The short answer stands, but nothing shown states it (its support fell, or says
        # something else): quote the sentence that does, so that the answer is checked by a click.
        return Outcome(f"{shown.rstrip()}\n{verifier.quote(checked.short_evidence)}", False, checked.short)
    if not checked.kept_claims:
        return Outcome("", True, reason="every claim of the reply was removed by verification")
    return Outcome(shown.strip(), False, checked.short)


def _refusal_above(checked: CheckedReply, lang: str, reason: str, notice: str = "unclear") -> Outcome:
    """A refusal that shows the checked sentences the reply stated under a notice that they are
    no answer (prompts/<notice>_<lang>.txt)."""
    return Outcome(f"{_notice(notice, lang)}\n{checked.shown.strip()}", True, reason=reason)


def _nearest(verifier: Verifier, lang: str, reason: str) -> Outcome:
    """A refusal that says the documents are unclear and quotes the best evidence sentence."""
    return Outcome(f"{_notice('unclear', lang)}\n{verifier.quote(verifier.evidence.ranked()[0])}", True, reason=reason)


def _notice(name: str, lang: str) -> str:
    """The line above quotes that are not an answer, in the question's language."""
    return prompts.load(f"{name}_de" if lang == "de" else f"{name}_en")


def _checked_stream(pieces: Iterator[str], checked: CheckedReply, stop: threading.Event | None) -> Iterator[str]:
    """The reply's checked text; generation stops as soon as nothing more can be shown, or
    at the next token once the reader stops the answer."""
    for piece in pieces:
        if stop is not None and stop.is_set():
            break
        if delta := checked.feed(piece):
            yield delta
        if checked.stopped:
            break
    close = getattr(pieces, "close", None)
    if close:
        close()  # stops the model mid-reply and frees its lock
    if stop is not None and stop.is_set():
        return  # a stopped answer shows what was checked so far, not the sentence in progress
    if tail := checked.finish():
        yield tail


def _timed(texts: Iterator[str], timings: dict[str, float], started: float) -> Iterator[str]:
    for text in texts:
        timings.setdefault("first_token", time.perf_counter() - started)
        yield text


def _block_citations(evidence: EvidenceSet, blocks: list[Block]) -> list[Citation]:
    return [citation_for(block.n, *evidence.span(block.sentences)) for block in blocks]


def _signals(support: float, judged: float | None, outcome: Outcome, checked: CheckedReply | None) -> Signals:
    return Signals(support, judged, bool(outcome.short), bool(checked and checked.removed))
