"""Question in, cited `Answer` out: condense → retrieve → prompt → LLM → verify.

`AnswerChain.stream()` yields answer text as it is generated and then one final
`Answer`; `ask()` returns just the `Answer`. The LLM step is a LangChain runnable
(`ChatPromptTemplate | chat model`), so any chat model slots in; the `extractive`
backend skips the LLM and quotes the best sentences instead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace

from langchain_core.messages import AIMessageChunk
from langchain_core.prompts import ChatPromptTemplate

import prompts
from rag.answer import Answer, Citation
from rag.chunking import count_tokens
from rag.citations import check_citations, cited_numbers, strip_marks
from rag.embedders import Embedder
from rag.extractive import ScoredSentence, extract_answer, score_sentences
from rag.llms import make_chat_model
from rag.loaders import detect_language
from rag.models import bundled_model_installed
from rag.reply import Reply, ReplyStream, parse_reply
from rag.retrieval import Passage
from rag.settings import Settings

BACKENDS = ("auto", "local", "openai", "extractive")
SUPPORT_MIN_WORDS = 3  # support shorter than this is just marks: quote the cited sentence instead
TITLE_IN_PROMPT_MAX = 60
LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "nl": "Dutch", "es": "Spanish", "it": "Italian"}
History = list[dict[str, str]]  # [{"role": "user" | "assistant", "content": "..."}]

# Personal pronouns: a question holding one leans on what was said before, and a rewrite
# that keeps one ("What was his second priority?") has not said who is meant.
_PERSONAL = {"he", "she", "his", "her", "him", "hers", "they", "their", "them", "er", "sie", "ihn", "ihm", "sein", "seine",
             "seiner", "seinen", "seinem", "ihr", "ihre", "ihrer", "ihren"}
# Words that make a question lean on what was said before ("and his second one?").
_REFERRING = _PERSONAL | {"it", "its", "this", "that", "these", "those", "there", "then", "also", "es", "dies", "diese",
                          "dieser", "dort", "dann", "auch"}
_FOLLOW_UP_START = re.compile(r"^\s*(and|but|what about|how about|und|aber|was ist mit|wie steht es mit)\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Draft:
    """What the generation step hands to verification."""

    text: str
    citations: list[Citation]
    refused: bool
    tokens: dict[str, int]
    dropped: int  # citation marks that pointed at no passage
    cited_share: float  # share of sentences carrying a citation
    short: str = ""  # the short answer, when the backend gave one


class AnswerChain:
    def __init__(self, settings: Settings, search: Callable[[str], list[Passage]], embedder: Embedder) -> None:
        self.settings = settings
        self._search = search
        self._embedder = embedder

    def ask(self, question: str, history: History | None = None, backend: str | None = None) -> Answer:
        answer = None
        for item in self.stream(question, history, backend):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(self, question: str, history: History | None = None, backend: str | None = None) -> Iterator[str | Answer]:
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        backend = resolve_backend(self.settings, backend)
        backend_label = _backend_name(self.settings, backend)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        lang = detect_language(question)

        standalone = self._condense(question, history or [], backend)
        timings["condense"] = time.perf_counter() - started

        mark = time.perf_counter()
        passages = self._search(standalone)
        timings["retrieve"] = time.perf_counter() - mark

        # The best sentence's support gates every backend: measured on the benchmarks it
        # separates answerable from unanswerable questions far better than passage cosine,
        # and a clear refusal costs no LLM call.
        mark = time.perf_counter()
        scored = score_sentences(standalone, passages, self._embedder)
        extract = extract_answer(standalone, scored, passages)
        relevance = extract.support
        if relevance < self.settings.min_relevance:
            draft = _Draft("", [], True, {}, 0, 0.0)
        elif backend == "extractive" or extract.compared:
            if backend != "extractive":
                # "Which came first, A or B?" with both dates found: comparing them is a rule's
                # job; the 1.5B model picked the wrong one in about half of such HotpotQA questions.
                backend_label = "extractive (compared the dates of both options)"
            draft = _Draft(extract.text, extract.citations, False, {}, 0, 1.0, extract.short)
            timings["first_token"] = time.perf_counter() - started
            yield draft.text
        else:
            context = prompt_context(scored, passages, self.settings.context_tokens)
            reply, tokens = yield from self._generate(standalone, lang, context, backend, timings, started)
            draft = _draft_from_reply(reply, tokens, scored, passages)
            if draft.refused and relevance >= self.settings.quote_when_declined:
                # Small models decline too readily, above all across languages; a clearly
                # supporting sentence, quoted and cited, serves better than a false refusal.
                backend_label = f"{backend_label} (declined; quoted the best sentence)"
                draft = _Draft(extract.text, extract.citations, False, draft.tokens, 0, 1.0, extract.short)
                yield draft.text
        timings["generate"] = time.perf_counter() - mark
        timings["total"] = time.perf_counter() - started

        yield Answer(
            question=question,
            answer=prompts.refusal(lang) if draft.refused else draft.text,
            citations=draft.citations,
            passages=passages,
            refused=draft.refused,
            confidence=0.0 if draft.refused else self._confidence(relevance, draft.cited_share),
            backend=backend_label,
            timings={k: round(v, 4) for k, v in timings.items()},
            standalone_question=standalone,
            tokens=draft.tokens,
            dropped_citations=draft.dropped,
            short_answer="" if draft.refused else draft.short,
        )

    def _condense(self, question: str, history: History, backend: str) -> str:
        """A standalone version of a follow-up question; other questions pass through."""
        previous = [m["content"] for m in history if m.get("role") == "user" and m.get("content")]
        if not previous or not refers_back(question):
            return question
        if backend != "extractive":
            rewritten = self._condense_with_llm(question, history, backend)
            if rewritten:
                return rewritten
        # Without an LLM (or when its rewrite is unusable) the last question gives the context.
        return f"{previous[-1]} {question}"

    def _condense_with_llm(self, question: str, history: History, backend: str) -> str:
        turns = "\n".join(f"{m['role']}: {m['content'][:300]}" for m in history[-4:])
        chain = ChatPromptTemplate.from_messages([("human", prompts.load("condense"))]) | make_chat_model(
            self.settings, backend
        )
        reply = str(chain.invoke({"history": turns, "question": question}).content).strip()
        rewritten = reply.splitlines()[0].strip().strip('"“”') if reply else ""
        # A rewrite much longer than the question is the model answering, not rewriting;
        # an unchanged one, or one still saying "his", resolved nothing.
        unchanged = rewritten.lower().rstrip("?. ") == question.lower().rstrip("?. ")
        unresolved = bool(set(re.findall(r"\w+", rewritten.lower())) & _PERSONAL)
        fits = 0 < len(rewritten) <= 3 * len(question) + 120
        return rewritten if fits and not unchanged and not unresolved else ""

    def _generate(
        self,
        question: str,
        lang: str,
        context: str,
        backend: str,
        timings: dict[str, float],
        started: float,
    ) -> Generator[str, None, tuple[Reply, dict[str, int]]]:
        """Stream the model's reply as the user should see it; return it parsed at the end."""
        chain = ChatPromptTemplate.from_messages([("human", prompts.load("answer"))]) | make_chat_model(self.settings, backend)
        inputs = {
            "passages": context,
            "question": question,
            "language": LANGUAGE_NAMES.get(lang, "the language of the question"),
        }
        stream, tokens = ReplyStream(), {}
        for chunk in chain.stream(inputs):
            if not isinstance(chunk, AIMessageChunk):
                continue
            if chunk.usage_metadata:
                tokens = {"prompt": chunk.usage_metadata["input_tokens"], "completion": chunk.usage_metadata["output_tokens"]}
            shown = stream.feed(str(chunk.content))
            if shown:
                timings.setdefault("first_token", time.perf_counter() - started)
                yield shown
            elif stream.declined:
                break  # a refusal: the support that may follow is not worth waiting for
        if tail := stream.finish():
            timings.setdefault("first_token", time.perf_counter() - started)
            yield tail
        return parse_reply(stream.raw), tokens

    def _confidence(self, relevance: float, cited_share: float) -> float:
        """How well the passages support an answer (above the refusal threshold) and citation coverage."""
        floor, ceiling = self.settings.min_relevance, 0.6
        matched = min(1.0, max(0.0, (relevance - floor) / (ceiling - floor)))
        return round(0.5 * matched + 0.5 * cited_share, 3)


def _draft_from_reply(reply: Reply, tokens: dict[str, int], scored: list[ScoredSentence], passages: list[Passage]) -> _Draft:
    """The reply checked: refused when the model declined, otherwise cited and verified.

    Small models often give the short answer with a bare mark ("Support: [1]"); the
    sentence of that passage that best answers the question is then quoted as support,
    so that the briefer sees the evidence, not just a number."""
    if reply.declined:
        return _Draft("", [], True, tokens, 0, 0.0)
    text = reply.text
    if len(strip_marks(reply.support).split()) < SUPPORT_MIN_WORDS and scored:
        marked = [n for n in cited_numbers(text) if 0 < n <= len(passages)]
        pool = [s for s in scored if s.n in marked] or scored
        best = max(pool, key=lambda s: s.score)
        text = f"{reply.answer_line}\n{best.text} [{best.n}]"
    checked = check_citations(text, passages)
    return _Draft(checked.text, checked.citations, False, tokens, checked.dropped, checked.cited_sentences, reply.short)


def prompt_context(scored: list[ScoredSentence], passages: list[Passage], budget: int) -> str:
    """The numbered passages as the model sees them: only their sentences that matter.

    Prompt processing is the slow part on a CPU (about 40 tokens/s for the 1.5B model
    on 2 cores), so the prompt gets the best-scoring sentences, each followed by the
    next one (lists and explanations continue there), until `budget` tokens. Numbers
    stay those of `passages`, so citations map back to whole passages."""
    # Next sentence in the document, even when overlapping chunks put it in another passage.
    doc_of = {s.n: passages[s.n - 1].doc_id for s in scored}
    ordered = sorted(scored, key=lambda s: (doc_of[s.n], s.start))
    following = {(a.n, a.start): b for a, b in zip(ordered, ordered[1:]) if doc_of[a.n] == doc_of[b.n]}
    chosen: dict[tuple[int, int], ScoredSentence] = {}
    used = 0
    for sentence in sorted(scored, key=lambda s: -s.score):
        for candidate in (sentence, following.get((sentence.n, sentence.start))):
            if candidate is None or (candidate.n, candidate.start) in chosen:
                continue
            tokens = count_tokens(candidate.text) + 1
            if chosen and used + tokens > budget:
                return _format_context(list(chosen.values()), passages)
            chosen[(candidate.n, candidate.start)] = candidate
            used += tokens
    return _format_context(list(chosen.values()), passages)


def _format_context(chosen: list[ScoredSentence], passages: list[Passage]) -> str:
    chosen = [replace(s, n=_fullest_passage(s, chosen, passages)) for s in chosen]
    blocks = []
    for n in sorted({s.n for s in chosen}):
        sentences = sorted((s for s in chosen if s.n == n), key=lambda s: s.start)
        title = passages[n - 1].title
        # A short title names the subject ("Battle of Guam"); a long one is a text's first
        # sentence, which costs tokens and pulls a small model towards its subject.
        heading = f"[{n}] {title}\n" if len(title) <= TITLE_IN_PROMPT_MAX else f"[{n}] "
        blocks.append(heading + " ".join(s.text for s in sentences))
    return "\n\n".join(blocks)


def _fullest_passage(sentence: ScoredSentence, chosen: list[ScoredSentence], passages: list[Passage]) -> int:
    """The number of the passage that holds the sentence and most of the other chosen ones.

    Overlapping passages of one document share sentences, and each sentence was scored as the
    first one's: a list could then be split across two numbers ("[1] first, second … [2] third"),
    and the 1.5B model answered "What are Rutte's three priorities?" with the first alone."""
    doc_id = passages[sentence.n - 1].doc_id
    spans = [(s.start, s.end) for s in chosen if passages[s.n - 1].doc_id == doc_id]
    holding = [n for n, p in enumerate(passages, start=1)
               if p.doc_id == doc_id and p.start <= sentence.start and sentence.end <= p.end]
    return max(holding, key=lambda n: (sum(passages[n - 1].start <= a and b <= passages[n - 1].end for a, b in spans), -n),
               default=sentence.n)


def refers_back(question: str) -> bool:
    words = re.findall(r"\w+", question.lower())
    return bool(_FOLLOW_UP_START.match(question)) or any(w in _REFERRING for w in words) or len(words) <= 3


def resolve_backend(settings: Settings, requested: str | None) -> str:
    """The backend that will answer: `auto` is local when a model is there, else extractive."""
    backend = requested or settings.llm_backend
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "local" if settings.model_path or bundled_model_installed() else "extractive"
    return backend


def backend_label(settings: Settings, requested: str | None = None) -> str:
    """Who will answer, as the UI and the evaluator show it: e.g. local:qwen2.5-1.5b-instruct."""
    return _backend_name(settings, resolve_backend(settings, requested))


def _backend_name(settings: Settings, backend: str) -> str:
    if backend == "local":
        return f"local:{settings.model_path.rsplit('/', 1)[-1] if settings.model_path else 'qwen2.5-1.5b-instruct'}"
    if backend == "openai":
        return f"openai:{settings.openai_model}@{settings.openai_base_url}"
    return backend
