"""The verify step: every claim of an answer checked against the evidence it cites.

A claim (one sentence of the answer) stands when the evidence block it cites holds every
number, month and name it states (`rag/claims.py`, across English and German) and its
meaning is close to one of that block's sentences (cosine of the multilingual embedder,
at least `claim_similarity`). A claim whose cited block fails, but that another block
clearly backs, is cited to that block; a claim that no block backs is removed, with the
reason. Each kept mark is narrowed to the sentences of the block the claim rests on, so
[n] opens exactly that span.

The short answer is a claim too: it must be of the kind the question asks for ("how
much" wants an amount, not a year), and one evidence sentence on the question's topic
must hold all of it. When it fails, no answer is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rag.answer import RemovedClaim
from rag.citations import Numbering, marks, strip_marks
from rag.claims import Facts, asked_kind, content_words, facts, is_kind, missing, restates, vocabulary
from rag.evidence import Block, EvidenceSet
from rag.settings import Settings

MIN_CLAIM_WORDS = 2  # fewer content words is a list number or a stray fragment, not a claim
_LIST_MARKER = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+")


@dataclass(frozen=True)
class Support:
    block: Block
    sentences: tuple[int, ...]  # the block's sentences the claim rests on (a contiguous run)
    similarity: float


@dataclass(frozen=True)
class Verdict:
    text: str  # the sentence with final [n] marks, or "" when removed or not a claim
    removed: RemovedClaim | None = None
    dropped: int = 0  # marks that named no block


class Verifier:
    def __init__(
        self, evidence: EvidenceSet, blocks: list[Block], lang: str, settings: Settings, min_relevance: float
    ) -> None:
        self.evidence = evidence
        self.blocks = {b.n: b for b in blocks}
        self.lang = lang
        self.claim_similarity = settings.claim_similarity
        self.min_relevance = min_relevance  # the gate of the backend that answers
        self.answer_coverage = settings.answer_coverage
        self.numbering = Numbering()
        self._asked = vocabulary(evidence.question)
        self._words: dict[int, frozenset[str]] = {}

    # ------------------------------------------------------------------ sentences

    def check(self, sentence: str) -> Verdict:
        """One sentence of the answer as written (with the model's [n] marks)."""
        claim = _LIST_MARKER.sub("", strip_marks(sentence)).strip()  # "1." numbers a list, it states nothing
        cited = marks(sentence)
        valid = [n for n in dict.fromkeys(cited) if n in self.blocks]
        dropped = len(cited) - len([n for n in cited if n in self.blocks])
        if not claim.strip(" .,;:!?\"'“”"):
            return Verdict("", dropped=dropped)  # marks or a list number alone
        if len(content_words(claim)) < MIN_CLAIM_WORDS and not facts(claim).numbers:
            return Verdict(
                _keep_layout(sentence, strip_marks(sentence)), dropped=dropped
            )  # "Yes." states nothing to cite
        # A line announcing a list ("Rutte's three priorities are:") is kept for its items.
        if restates(claim, self.evidence.question) and not claim.rstrip().endswith(":"):
            return Verdict("", dropped=dropped)  # "Mark Rutte" for "What is Mark Rutte's nickname?" answers nothing
        supports = self._supports(claim, [self.blocks[n] for n in valid])
        if not supports:  # its marks are wrong (or missing): cite the block that backs it, if one does
            others = [b for n, b in self.blocks.items() if n not in valid]
            supports = self._supports(claim, others)[:1]
        if not supports:
            return Verdict(
                "", RemovedClaim(claim, self._why_not(claim, [self.blocks[n] for n in valid])), dropped=dropped
            )
        numbers = [self._number(s) for s in supports]
        body = claim.rstrip()
        end = len(body.rstrip(".!?…"))  # the marks go before the full stop: "… 14 years [1]."
        marker = _LIST_MARKER.match(strip_marks(sentence))
        marked = (
            (marker.group(0).lstrip() if marker else "")
            + body[:end]
            + "".join(f" [{n}]" for n in dict.fromkeys(numbers))
            + body[end:]
        )
        return Verdict(_keep_layout(sentence, marked), dropped=dropped)

    def _supports(self, claim: str, blocks: list[Block]) -> list[Support]:
        """The blocks that back the claim, best first."""
        if not blocks or not self.evidence.sentences:
            return []
        similarity = self.evidence.similarity([claim])[0]
        found = []
        for block in blocks:
            backing = self._backing(block.sentences)
            if missing(self._facts(claim, block), backing):
                continue
            best = max(block.sentences, key=lambda i: similarity[i])
            if similarity[best] < self.claim_similarity:
                continue
            found.append(Support(block, self._narrow(claim, block, best), float(similarity[best])))
        return sorted(found, key=lambda s: -s.similarity)

    def _facts(self, claim: str, block: Block) -> Facts:
        """German nouns are capitalised: across languages only unmistakable names are checked."""
        langs = {self.evidence.passages[self.evidence.sentences[i].passage].lang for i in block.sentences}
        return facts(claim, self.lang, unmistakable_names=langs != {self.lang})

    def _backing(self, sentences: tuple[int, ...]) -> Facts:
        """What the sentences back: their own facts and their title's, and the question's.
        The question's names count only where the passage mentions them: a claim may say
        "Rutte" where the sentence says "he", but a question about "American Union law" does
        not make "American" true of a passage on European law."""
        passages = {self.evidence.sentences[i].passage for i in sentences}
        titles = " ".join(self.evidence.passages[p].title for p in passages)
        own = vocabulary(f"{self.evidence.text(sentences)} {titles}")
        asked_names = self._asked.names & set().union(*(self._passage_words(p) for p in passages))
        return Facts(own.numbers | self._asked.numbers, own.months | self._asked.months, own.names | asked_names)

    def _passage_words(self, passage: int) -> frozenset[str]:
        if passage not in self._words:
            self._words[passage] = vocabulary(self.evidence.passages[passage].text).names
        return self._words[passage]

    def _narrow(self, claim: str, block: Block, best: int) -> tuple[int, ...]:
        """The best-matching sentence, widened to the block's sentences that hold the claim's
        facts it lacks ("his second and third priorities" may rest on two sentences)."""
        told = self._facts(claim, block)
        lacking = set(missing(told, self._backing((best,))))
        holding = [
            i for i in block.sentences if i == best or (lacking and lacking - set(missing(told, self._backing((i,)))))
        ]
        at = [block.sentences.index(i) for i in holding]
        return block.sentences[min(at) : max(at) + 1]

    def _number(self, support: Support) -> int:
        return self.numbering.number(*self.evidence.span(support.sentences))

    def _why_not(self, claim: str, cited: list[Block]) -> str:
        """Why no block backs the claim, told of the block that comes closest."""
        blocks = cited or list(self.blocks.values())
        if not blocks:
            return "no evidence to check it against"
        similarity = self.evidence.similarity([claim])[0]

        def shortfall(block: Block) -> tuple[int, float]:
            return len(missing(self._facts(claim, block), self._backing(block.sentences))), -float(
                np.max(similarity[list(block.sentences)])
            )

        best = min(blocks, key=shortfall)
        absent, closeness = shortfall(best)
        where = "the evidence it cites" if cited else "any evidence"
        if absent:
            return f"{', '.join(missing(self._facts(claim, best), self._backing(best.sentences)))} not in {where}"
        return f"meaning not close to {where} (similarity {-closeness:.2f} < {self.claim_similarity:.2f})"

    # ------------------------------------------------------------------ short answer

    def check_short(self, short: str) -> tuple[int | None, str]:
        """(the evidence sentence that states the short answer, or None; why not)."""
        kind = asked_kind(self.evidence.question)
        if not is_kind(kind, short):
            return None, f"“{short}” is not the {kind} the question asks for"
        told = facts(f"x {short}", self.lang)  # a short answer opens no sentence: "Brussels" is a name
        words = content_words(short) - content_words(self.evidence.question)
        stating = []
        for i in range(len(self.evidence.sentences)):
            sentence = self.evidence.sentences[i]
            same_language = self.evidence.passages[sentence.passage].lang == self.lang
            backing = self._backing((i,))
            if missing(facts(short, self.lang, unmistakable_names=not same_language), backing):
                continue
            if told.names and not told.names & vocabulary(sentence.text).names:
                continue  # across languages too, a name answer must be named in the sentence itself, not its title
            if same_language and len(words - backing.names) * 2 > len(words):
                continue  # most of its words are not the sentence's
            stating.append(i)
        # On topic with the sentence before it, as the model read it (`EvidenceSet.context`).
        on_topic = [i for i in stating if self._topic_score(i) >= self.min_relevance]
        if not on_topic and stating:
            return None, f"“{short}” is stated only in evidence off the question's topic"
        # The sentence stating the answer must also say what the question asks about it: "Kamala
        # Harris" stated beside "the upcoming election" does not answer who won it.
        asking = [i for i in on_topic if self._covers(i)]
        if asking:
            return max(asking, key=lambda i: (self._topic_score(i), self.evidence.sentences[i].score)), ""
        if on_topic:
            return None, (
                f"the evidence naming “{short}” leaves most of the question unsaid "
                f"(it holds under {self.answer_coverage:.0%} of the question's words)"
            )
        absent = missing(told, self._asked)
        return None, f"“{short}” is in no evidence" + (f" ({', '.join(absent)})" if absent else "")

    def _topic_score(self, i: int) -> float:
        return max(self.evidence.sentences[j].score for j in self.evidence.context(i, list(self.blocks.values())))

    def _covers(self, i: int) -> bool:
        """Whether sentence i holds enough of the question's words; across languages words
        cannot be compared, and the sentence's similarity (its score) has to do."""
        sentence = self.evidence.sentences[i]
        if self.evidence.passages[sentence.passage].lang != self.lang:
            return True
        # With the sentence before it: "23 von 32 Ländern" answers a question about the 2 %
        # target that the sentence before it names.
        return self.evidence.coverage(self.evidence.context(i, list(self.blocks.values()))) >= self.answer_coverage

    def cites(self, i: int) -> bool:
        """Whether a citation given so far opens a span that holds evidence sentence i."""
        sentence = self.evidence.sentences[i]
        return any(
            c.doc_id == sentence.doc_id and c.start <= sentence.start and sentence.end <= c.end
            for c in self.numbering.citations
        )

    def cited_text(self, also: int | None = None) -> str:
        """The text of every span cited so far, and evidence sentence `also` if none holds it."""
        quotes = [c.quote for c in self.numbering.citations]
        if also is not None and not self.cites(also):
            quotes.append(self.evidence.sentences[also].text)
        return " ".join(quotes)

    def quote(self, i: int) -> str:
        """A sentence of the evidence, verbatim and cited."""
        sentence = self.evidence.sentences[i]
        n = self.numbering.number(*self.evidence.span((i,)))
        return f"{sentence.text} [{n}]"


def _keep_layout(original: str, text: str) -> str:
    """`text` with the whitespace (and list marker) around the original sentence kept."""
    lead = original[: len(original) - len(original.lstrip())]
    trail = original[len(original.rstrip()) :]
    return f"{lead}{text.strip()}{trail}" if text.strip() else original
