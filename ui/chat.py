"""The Gradio chat for briefers: streamed cited answers, sources, uploads, feedback.

Chat messages are HTML built by `ui.render` (markdown rendering is off), so every
piece of document-derived text is escaped once, in one place. The conversation
itself lives in a per-session list of `Turn`s; the chatbot only displays it, and
follow-ups send the plain answer texts, never the display HTML, as history.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.answer import Answer, EvidenceFound
from rag.backends import choices
from rag.engine import Engine
from rag.settings import Settings
from ui.access import Access
from ui.api import ANSWER_SLOTS
from ui.documents import document_rows, ingest_uploads, save_upload
from ui.examples import EXAMPLE_QUESTIONS
from ui.feedback import Vote, append_feedback, feedback_entry
from ui.render import (
    answer_html,
    documents_html,
    error_html,
    evidence_html,
    muted_html,
    sources_html,
    streaming_html,
    upload_report_html,
    user_html,
)

ASSETS = Path(__file__).parent / "assets"
SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"]

HEADER = (
    '<header class="rag-header"><div><h1>Briefing bot</h1>'
    "<p>Short answers from your documents. Every claim carries a numbered citation that opens its source.</p>"
    '</div><nav><a href="/docs" target="_blank">REST API</a><a href="/embed-demo" target="_blank">Embed widget</a>'
    "</nav></header>"
)
PLACEHOLDER = (
    "<strong>Ask about the documents</strong><br>"
    "Answers cite their sources as [1], [2], … — click one to read the passage."
)


@dataclass(frozen=True)
class Turn:
    answer_id: str  # ties later feedback lines to this answer
    answer: Answer


def theme() -> gr.themes.Base:
    """The default look with system fonts only: the stock theme would fetch web fonts."""
    return gr.themes.Default(primary_hue="blue", neutral_hue="slate", font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def _messages(turns: list[Turn]) -> list[dict[str, str]]:
    """What the chatbot shows; exactly two messages per turn, which feedback relies on."""
    shown: list[dict[str, str]] = []
    for turn in turns:
        shown.append({"role": "user", "content": user_html(turn.answer.question)})
        shown.append({"role": "assistant", "content": answer_html(turn.answer)})
    return shown


def _history(turns: list[Turn]) -> list[dict[str, str]]:
    history: list[dict[str, str]] = []
    for turn in turns:
        history.append({"role": "user", "content": turn.answer.question})
        history.append({"role": "assistant", "content": turn.answer.answer})
    return history


def _example_text(data: gr.SelectData) -> str:
    return data.value["text"]


def build_chat(engine: Engine, settings: Settings) -> gr.Blocks:
    access = Access.of(settings)

    def respond(question: str, turns: list[Turn], backend: str) -> Iterator[tuple[Any, ...]]:
        question = question.strip()
        if not question:
            yield gr.update(), turns, gr.update(), ""
            return
        shown = _messages(turns) + [{"role": "user", "content": user_html(question)}]
        if len(question) > settings.max_question_chars:
            yield (
                shown
                + [
                    {
                        "role": "assistant",
                        "content": error_html(
                            f"The question has {len(question)} characters; the limit is {settings.max_question_chars}."
                        ),
                    }
                ],
                turns,
                gr.update(),
                question,
            )
            return
        yield shown + [{"role": "assistant", "content": streaming_html("…")}], turns, gr.update(), ""
        text = ""
        try:
            for item in engine.ask_stream(question, _history(turns), backend):
                if isinstance(item, Answer):
                    turns = turns + [Turn(uuid.uuid4().hex, item)]
                    yield _messages(turns), turns, sources_html(item), ""
                elif isinstance(item, EvidenceFound):
                    # On screen before the model starts: the evidence the answer will cite.
                    yield gr.update(), turns, evidence_html(item), ""
                else:
                    text += item
                    yield shown + [{"role": "assistant", "content": streaming_html(text)}], turns, gr.update(), ""
        except Exception as exc:  # noqa: BLE001  (shown in the conversation, where the briefer is looking)
            yield (
                shown + [{"role": "assistant", "content": error_html(str(exc) or type(exc).__name__)}],
                turns,
                gr.update(),
                question,
            )

    def vote(turns: list[Turn], data: gr.LikeData) -> tuple[Any, ...]:
        if not isinstance(data.index, int) or data.liked not in (True, False) or data.index // 2 >= len(turns):
            return None, gr.update(visible=False)
        choice: Vote = "up" if data.liked else "down"
        before = _history(turns[: data.index // 2])
        turn = turns[data.index // 2]
        append_feedback(
            settings.feedback_file, feedback_entry(turn.answer.to_json(), turn.answer_id, choice, "", before)
        )
        return (turn, choice, before), gr.update(visible=True)

    def comment_on(pending: tuple[Turn, Vote, list[dict[str, str]]] | None, comment: str) -> tuple[Any, ...]:
        if pending and comment.strip():
            turn, choice, before = pending
            append_feedback(
                settings.feedback_file, feedback_entry(turn.answer.to_json(), turn.answer_id, choice, comment, before)
            )
            gr.Info("Thank you: your comment was saved.")
        return None, "", gr.update(visible=False)

    def documents_table() -> str:
        return documents_html(document_rows(engine))

    def add_files(
        paths: list[str] | None, request: gr.Request, progress: gr.Progress = gr.Progress()
    ) -> tuple[str, str, None]:
        if access.enabled and access.role_of({k.lower(): v for k, v in dict(request.headers).items()}) != "editor":
            # The guard keeps readers from uploading; this keeps them from adding a file uploaded before.
            return error_html("Adding documents needs an editor key: sign in with one."), documents_table(), None
        if not paths:
            return muted_html("Choose one or more files first."), documents_table(), None
        saved = []
        for path in paths:
            with open(path, "rb") as data:
                saved.append((Path(path).name, save_upload(settings, Path(path).name, data)))
        outcomes = ingest_uploads(engine, saved, lambda stage, done, total: progress((done, total), desc=stage))
        return upload_report_html(outcomes), documents_table(), None

    with gr.Blocks(title="Briefing bot", analytics_enabled=False) as blocks:
        turns = gr.State([])
        pending = gr.State(None)
        gr.HTML(HEADER)
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"), gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(
                        elem_id="rag-chat",
                        show_label=False,
                        height=560,
                        render_markdown=False,
                        sanitize_html=True,
                        latex_delimiters=[],
                        buttons=[],  # "copy" would copy our HTML markup
                        feedback_options=("Like", "Dislike"),
                        allow_tags=False,
                        examples=[{"text": q} for q in EXAMPLE_QUESTIONS],
                        placeholder=PLACEHOLDER,
                    )
                    with gr.Row(visible=False, elem_id="rag-comment") as comment_row:
                        comment = gr.Textbox(
                            show_label=False, scale=5, placeholder="Thanks for rating. Anything to add? (optional)"
                        )
                        send_comment = gr.Button("Send comment", scale=1)
                    with gr.Row():
                        question = gr.Textbox(
                            elem_id="rag-question",
                            show_label=False,
                            scale=6,
                            autofocus=True,
                            max_length=settings.max_question_chars,
                            placeholder="Ask a question, e.g. What are Rutte's three priorities?",
                        )
                        ask = gr.Button("Ask", variant="primary", scale=1, elem_id="rag-ask")
                    with gr.Row():
                        backend = gr.Dropdown(
                            list(choices()),
                            value=settings.llm_backend,
                            label="Answering backend",
                            scale=1,
                            min_width=160,
                        )
                        clear = gr.Button("New conversation", variant="secondary", scale=1)
                with gr.Column(scale=2, elem_id="rag-sources-column"):
                    sources = gr.HTML(sources_html(None), elem_id="rag-sources")
            with gr.Tab("Documents", id="documents"), gr.Row(equal_height=False):
                with gr.Column(scale=2):
                    files = gr.File(
                        label="Add documents (txt, md, html, pdf, docx, jsonl)",
                        file_count="multiple",
                        type="filepath",
                        elem_id="rag-upload",
                    )
                    add = gr.Button("Add to index", variant="primary", elem_id="rag-add")
                    report = gr.HTML(elem_id="rag-upload-report")
                with gr.Column(scale=3):
                    documents = gr.HTML(elem_id="rag-documents")

        ask_inputs = [question, turns, backend]
        ask_outputs = [chatbot, turns, sources, question]
        question.submit(respond, ask_inputs, ask_outputs, concurrency_limit=ANSWER_SLOTS, concurrency_id="answer")
        ask.click(respond, ask_inputs, ask_outputs, concurrency_limit=ANSWER_SLOTS, concurrency_id="answer")
        chatbot.example_select(_example_text, None, question, queue=False).then(
            respond, ask_inputs, ask_outputs, concurrency_limit=ANSWER_SLOTS, concurrency_id="answer"
        )
        # The chatbot's own trash button clears only the display: both reset the conversation.
        for event in (clear.click, chatbot.clear):
            event(
                lambda: ([], [], sources_html(None), None, gr.update(visible=False)),
                None,
                [chatbot, turns, sources, pending, comment_row],
                queue=False,
            )
        chatbot.like(vote, [turns], [pending, comment_row])
        send_comment.click(comment_on, [pending, comment], [pending, comment, comment_row])
        comment.submit(comment_on, [pending, comment], [pending, comment, comment_row])
        add.click(add_files, [files], [report, documents, files])
        blocks.load(documents_table, None, documents)
    return blocks
