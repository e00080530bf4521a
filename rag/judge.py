"""The judge step: the model reads the text its answer cites, alone, and says whether that
text contains the answer to the question.

A small model readily answers an on-topic question the evidence does not answer (a question
about a detail the passage changes, or an event it does not report). Asked afterwards, on the
cited text alone, without its reply and without the answer it gave (shown the answer, it
mostly agrees with itself), it tells those apart from answerable ones better than any
similarity (docs/benchmarks.md, "The model judges what it cites"). Its confidence is the
probability of "yes" against "no" on the first token.
"""

from __future__ import annotations

import math

from langchain_core.messages import HumanMessage

import prompts
from rag.backends import chat_model
from rag.llms import BackendUnavailable
from rag.settings import Settings

YES = {"yes", "ja"}
NO = {"no", "nein"}
TOP_TOKENS = 20
CITED_CHARS = 1500  # about 400 tokens: the cited sentences, not the whole evidence


def judge(settings: Settings, backend: str, question: str, cited: str) -> float | None:
    """P(yes) that `cited` contains the answer to `question`; None when the backend reports no
    log-probabilities and the reply is neither yes nor no."""
    model = chat_model(settings, backend)
    messages = [HumanMessage(prompts.load("judge").format(cited=cited[:CITED_CHARS], question=question))]
    try:
        reply = model.invoke(messages, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=TOP_TOKENS)
    except BackendUnavailable as exc:
        if exc.status != 400:
            raise
        # A server that takes no log-probabilities: its yes or no is the judgement.
        reply = model.invoke(messages, max_tokens=1, temperature=0.0)
    first = (reply.response_metadata.get("logprobs") or {}).get("content") or []
    if first:
        mass = {"yes": 0.0, "no": 0.0}
        for alternative in first[0].get("top_logprobs", []):
            word = alternative["token"].strip().lower()
            if word in YES or word in NO:
                mass["yes" if word in YES else "no"] += math.exp(alternative["logprob"])
        if mass["yes"] + mass["no"] > 0:
            return mass["yes"] / (mass["yes"] + mass["no"])
    word = str(reply.content).strip().lower().strip(".!")
    return 1.0 if word in YES else 0.0 if word in NO else None
