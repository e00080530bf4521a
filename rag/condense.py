"""The condense step: a follow-up question made standalone, keeping its own topic.

"What are Rutte's three priorities?" then "And what did he say about China?" becomes
"What did Rutte say about China?": the pronoun names what the conversation was about,
and the new topic stays. With an LLM the model rewrites the question; without one (or
when its rewrite is unusable) the pronoun is replaced by the entity the previous turn
was about. A question that needs no context passes through unchanged. Questions are
never glued together: that retrieves the previous topic again.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from langchain_core.prompts import ChatPromptTemplate

import prompts
from rag.backends import chat_model
from rag.claims import asked_kind, content_words, stated_answer
from rag.settings import Settings

History = list[dict[str, str]]  # [{"role": "user" | "assistant", "content": "..."}]
HISTORY_TURNS = 4  # messages the rewrite sees: older ones rarely hold the referent
TURN_CHARS = 300

_PERSONAL = {"he", "she", "him", "they", "them", "er", "ihn", "ihm"}
_POSSESSIVE = {
    "his",
    "her",
    "hers",
    "their",
    "its",
    "sein",
    "seine",
    "seiner",
    "seinen",
    "seinem",
    "seines",
    "ihr",
    "ihre",
    "ihrer",
    "ihren",
    "ihrem",
    "ihres",
}
_THING = {"it", "this", "that", "es", "dies"}
_REFERRING = (
    _PERSONAL
    | _POSSESSIVE
    | _THING
    | {"these", "those", "there", "then", "also", "diese", "dieser", "dort", "dann", "auch", "sie"}
)
_FOLLOW_UP_START = re.compile(
    r"^\s*(?:and|but|so|what about|how about|und|aber|was ist mit|wie steht es mit)\b[\s,]*", re.IGNORECASE
)
_NAME = re.compile(r"(?<![\w'’])[A-ZÄÖÜ][\w'’.-]*(?:\s+(?:(?:of|de|von|van|der)\s+)?[A-ZÄÖÜ][\w'’.-]*)*")
_QUESTION_WORDS = {
    "what",
    "who",
    "when",
    "where",
    "which",
    "why",
    "how",
    "and",
    "but",
    "did",
    "does",
    "do",
    "is",
    "are",
    "was",
    "were",
    "has",
    "have",
    "can",
    "will",
    "wer",
    "wann",
    "wo",
    "welche",
    "welcher",
    "welches",
    "warum",
    "wie",
    "und",
    "aber",
    "hat",
    "ist",
    "sind",
    "war",
    "the",
    "a",
    "an",
    "in",
    "on",
    "der",
    "die",
    "das",
}


def refers_back(question: str) -> bool:
    words = re.findall(r"\w+", question.lower())
    return bool(_FOLLOW_UP_START.match(question)) or any(w in _REFERRING for w in words) or len(words) <= 3


def condense(question: str, history: History, rewrite: Callable[[str, History], str] | None = None) -> str:
    """The standalone question; `rewrite` is the LLM's rewrite, when there is an LLM."""
    asked = [m["content"] for m in history if m.get("role") == "user" and m.get("content")]
    if not asked or not refers_back(question):
        return question
    if rewrite is not None:
        rewritten = _usable(rewrite(question, history), question)
        if rewritten:
            return rewritten
    return resolve(question, asked[-1], _last_answer(history))


def resolve(question: str, previous: str, previous_answer: str = "") -> str:
    """The question with its pronouns replaced by what the previous turn was about."""
    entity = topic_entity(previous, previous_answer)
    if not entity:
        return question
    stripped = _FOLLOW_UP_START.sub("", question).strip()
    words = re.findall(r"\w+", stripped)
    pronouns = [w for w in words if w.lower() in _PERSONAL | _POSSESSIVE | _THING]
    if not pronouns:
        own = [n for n in _names(stripped) if n.lower() not in previous.lower()]
        if own and len(words) <= 4 and entity in previous:
            return previous.replace(entity, own[0])  # "And Stoltenberg?": the same question about another
        return question
    german = any(
        w.lower() in {"er", "ihn", "ihm", "sein", "seine", "seiner", "seinen", "seinem", "seines"} for w in words
    )

    def replace(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.lower() in _POSSESSIVE:
            return f"{entity}s" if german and not entity.endswith("s") else f"{entity}'s"
        return entity

    pattern = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in dict.fromkeys(pronouns)) + r")\b")
    resolved = pattern.sub(replace, stripped, count=1)
    return resolved[0].upper() + resolved[1:] if resolved else question


def topic_entity(previous: str, previous_answer: str = "") -> str:
    """The name the previous turn was about: the person a "who" question was answered
    with, else the longest name in the previous question."""
    if asked_kind(previous) == "name" and previous_answer:
        answered = stated_answer(previous, previous_answer) or _first_name(previous_answer)
        if answered:
            return answered
    found = _names(previous)
    return max(found, key=len) if found else ""


def _names(text: str) -> list[str]:
    """Capitalised runs of words, without the question words that open a question."""
    found = []
    for match in _NAME.finditer(text):
        name = re.sub(r"['’]s?$", "", " ".join(w for w in match.group(0).split() if w.lower() not in _QUESTION_WORDS))
        if name:
            found.append(name)
    return found


def _first_name(answer: str) -> str:
    line = answer.strip().splitlines()[0] if answer.strip() else ""
    names = _names(line)
    return names[0] if names and len(line.split()) <= 6 else ""


def _last_answer(history: History) -> str:
    answers = [m["content"] for m in history if m.get("role") == "assistant" and m.get("content")]
    return answers[-1] if answers else ""


def _usable(rewritten: str, question: str) -> str:
    """The model's rewrite, or "" when it answered instead, resolved nothing, glued two
    questions or dropped what the question itself asks about."""
    line = rewritten.strip().splitlines()[0].strip().strip('"“”') if rewritten.strip() else ""
    words = set(re.findall(r"\w+", line.lower()))
    unchanged = line.lower().rstrip("?. ") == question.lower().rstrip("?. ")
    unresolved = bool(words & (_PERSONAL | _POSSESSIVE))
    glued = line.count("?") > 1
    own = content_words(_FOLLOW_UP_START.sub("", question)) - content_words(" ".join(_REFERRING))
    kept_topic = own <= content_words(line) or not own
    fits = 0 < len(line) <= 2 * len(question) + 80
    return line if fits and not unchanged and not unresolved and not glued and kept_topic else ""


def llm_rewriter(settings: Settings, backend: str) -> Callable[[str, History], str]:
    def rewrite(question: str, history: History) -> str:
        turns = "\n".join(f"{m['role']}: {m['content'][:TURN_CHARS]}" for m in history[-HISTORY_TURNS:])
        chain = ChatPromptTemplate.from_messages([("human", prompts.load("condense"))]) | chat_model(settings, backend)
        return str(chain.invoke({"history": turns, "question": question}).content)

    return rewrite
