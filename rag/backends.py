"""What answers a question: a backend is a chat model, or none (the extractive quoter).

Backends are registered under the `rag.llm_backends` entry points (rag/registry.py): this
project registers `local` and `openai` (rag/llms.py) and `extractive` (here). "auto" is a
choice, not a backend: local when a model is there, else extractive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from rag import registry
from rag.models import bundled_model_installed
from rag.settings import Settings

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

AUTO = "auto"


@dataclass(frozen=True)
class Backend:
    name: str
    describe: Callable[[Settings], str]  # who answers, as the UI and the evaluator show it
    # The model that writes replies from the numbered evidence, condenses follow-ups and judges
    # its answers; None for a backend that quotes the evidence instead.
    chat_model: Callable[[Settings], BaseChatModel] | None = None


@runtime_checkable
class Stoppable(Protocol):
    """A chat model that ends a streamed call once a signal is set, even amid a long prompt
    (which a closed stream only ends at its first token)."""

    def stopping(self, stop: threading.Event) -> BaseChatModel: ...


EXTRACTIVE = Backend("extractive", describe=lambda settings: "extractive")


def choices() -> tuple[str, ...]:
    """What a user may ask for: "auto" and every registered backend."""
    return (AUTO, *registry.names(registry.LLM_BACKENDS))


def backend(name: str) -> Backend:
    found = registry.load(registry.LLM_BACKENDS, name, "backend")
    if not isinstance(found, Backend):
        raise TypeError(f"the entry point for backend {name!r} gives a {type(found).__name__}, not a Backend")
    return found


def resolve(settings: Settings, requested: str | None) -> str:
    """The backend that will answer: `auto` is local when a model is there, else extractive."""
    name = requested or settings.llm_backend
    if name == AUTO:
        return "local" if settings.model_path or bundled_model_installed() else EXTRACTIVE.name
    backend(name)  # an unknown name fails here, with the choices
    return name


def has_model(name: str) -> bool:
    """Whether a chat model writes the replies of a resolved backend (else it quotes)."""
    return backend(name).chat_model is not None


def describe(settings: Settings, requested: str | None = None) -> str:
    """Who will answer, as the UI and the evaluator show it: e.g. local:Qwen2.5-Coder-1.5B-Instruct."""
    return backend(resolve(settings, requested)).describe(settings)


def chat_model(settings: Settings, name: str, stop: threading.Event | None = None) -> BaseChatModel:
    """The chat model of a backend, ending its streamed calls once `stop` is set if it can;
    a ValueError for a backend without one."""
    make = backend(name).chat_model
    if make is None:
        raise ValueError(
            f"the {name} backend has no chat model: choose one of "
            f"{', '.join(n for n in registry.names(registry.LLM_BACKENDS) if has_model(n))}"
        )
    model = make(settings)
    return model.stopping(stop) if stop is not None and isinstance(model, Stoppable) else model
