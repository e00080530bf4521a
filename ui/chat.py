"""The Gradio chat for briefers: streamed cited answers, sources, saved conversations,
uploads, feedback.

Chat messages are HTML built by `ui.render` (markdown rendering is off), so every
piece of document-derived text is escaped once, in one place. Conversations are saved
in the conversation store (ui/conversations.py) under an opaque owner id the browser
keeps in its local storage, with the open conversation and the chosen backend: a reload
or a server restart brings them back. The open conversation's turns are also held in
the session as `SavedTurn`s; the chatbot only displays them, and follow-ups send the
plain answer texts, never the display HTML, as history.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gradio as gr

from rag.answer import Answer, EvidenceFound
from rag.backends import choices
from rag.engine import Engine
from rag.settings import Settings
from ui.access import Access
from ui.api import ANSWER_SLOTS
from ui.conversations import ConversationStore, NoSuchConversation, SavedTurn, as_history, new_id, saving_turn
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

BROWSER_DEFAULT = {"owner": "", "open": "", "backend": ""}  # what the browser keeps between visits


def theme() -> gr.themes.Base:
    """The default look with system fonts only: the stock theme would fetch web fonts."""
    return gr.themes.Default(primary_hue="blue", neutral_hue="slate", font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def _messages(turns: list[SavedTurn]) -> list[dict[str, str]]:
    """What the chatbot shows; exactly two messages per turn, which feedback relies on."""
    shown: list[dict[str, str]] = []
    for turn in turns:
        shown.append({"role": "user", "content": user_html(turn.question)})
        shown.append({"role": "assistant", "content": turn_html(turn)})
    return shown


def turn_html(turn: SavedTurn) -> str:
    if turn.answer is None:
        return error_html(turn.error or "the answer failed")
    if turn.status == "stopped":
        return answer_html(turn.answer) + muted_html("Stopped before the end.")
    return answer_html(turn.answer)


def _conversation_choices(store: ConversationStore, owner: str, search: str = "") -> list[tuple[str, str]]:
    return [(c.title or "New conversation", c.id) for c in store.find(owner, search)]


def _markdown_file(store: ConversationStore, owner: str, conversation_id: str) -> str | None:
    """The open conversation as a Markdown file for the export button (None: nothing to export)."""
    if not conversation_id:
        return None
    try:
        conversation = store.get(owner, conversation_id)
    except NoSuchConversation:
        return None
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", conversation.title).strip("-")[:60] or "conversation"
    path = _exports() / f"{name}-{conversation.id[:8]}.md"  # one file per conversation, rewritten
    path.write_text(conversation.markdown(), encoding="utf-8")
    return str(path)


@functools.cache
def _exports() -> Path:
    return Path(tempfile.mkdtemp(prefix="rag-exports-"))


def _example_text(data: gr.SelectData) -> str:
    return data.value["text"]


def build_chat(engine: Engine, settings: Settings, store: ConversationStore) -> gr.Blocks:
    access = Access.of(settings)

    def restore(saved: dict[str, str] | None) -> tuple[Any, ...]:
        """On page load: this browser's owner id (made on its first visit), its conversations,
        the one that was open and the backend it chose."""
        saved = {**BROWSER_DEFAULT, **(saved or {})}
        if not saved["owner"]:
            saved["owner"] = f"browser:{new_id()}"
        turns: list[SavedTurn] = []
        if saved["open"]:
            try:
                turns = store.get(saved["owner"], saved["open"]).turns
            except NoSuchConversation:  # deleted elsewhere, or another server's database
                saved["open"] = ""
        chosen = saved["backend"] if saved["backend"] in choices() else settings.llm_backend
        last = next((t.answer for t in reversed(turns) if t.answer is not None), None)
        return (
            saved,
            turns,
            _messages(turns),
            sources_html(last),
            gr.update(choices=_conversation_choices(store, saved["owner"]), value=saved["open"] or None),
            chosen,
            _markdown_file(store, saved["owner"], saved["open"]),
        )

    def open_conversation(conversation_id: str | None, saved: dict[str, str]) -> tuple[Any, ...]:
        return restore({**saved, "open": conversation_id or ""})[:5] + (
            _markdown_file(store, saved["owner"], conversation_id or ""),
        )

    def new_conversation(saved: dict[str, str]) -> tuple[Any, ...]:
        # Made in the store with its first question: empty conversations do not pile up.
        saved = {**saved, "open": ""}
        return saved, [], [], sources_html(None), gr.update(value=None), None, None, gr.update(visible=False)

    def search(text: str, saved: dict[str, str]) -> Any:
        return gr.update(choices=_conversation_choices(store, saved["owner"], text), value=saved["open"] or None)

    def rename(title: str, saved: dict[str, str]) -> tuple[Any, ...]:
        if not saved["open"] or not title.strip():
            return gr.skip(), title
        store.rename(saved["owner"], saved["open"], title)
        return gr.update(choices=_conversation_choices(store, saved["owner"]), value=saved["open"]), ""

    def delete(saved: dict[str, str], confirmed: bool) -> tuple[Any, ...]:
        if not confirmed or not saved["open"]:
            return (gr.skip(),) * 6
        try:
            store.delete(saved["owner"], saved["open"])
        except NoSuchConversation:
            pass  # already gone: the list below shows what is left
        saved = {**saved, "open": ""}
        return (
            saved,
            [],
            [],
            sources_html(None),
            gr.update(choices=_conversation_choices(store, saved["owner"]), value=None),
            None,
        )

    def remember_backend(backend: str, saved: dict[str, str]) -> dict[str, str]:
        return {**saved, "backend": backend}

    def respond(
        question: str, turns: list[SavedTurn], backend: str, saved: dict[str, str]
    ) -> Iterator[tuple[Any, ...]]:
        keep = (gr.skip(), gr.skip(), gr.skip())  # browser state, conversation list, export: unchanged
        question = question.strip()
        if not question:
            yield gr.skip(), turns, gr.skip(), "", *keep
            return
        shown = _messages(turns) + [{"role": "user", "content": user_html(question)}]
        if len(question) > settings.max_question_chars:
            limit = f"The question has {len(question)} characters; the limit is {settings.max_question_chars}."
            yield shown + [{"role": "assistant", "content": error_html(limit)}], turns, gr.skip(), question, *keep
            return
        owner = saved["owner"] or f"browser:{new_id()}"
        opened = saved["open"]
        try:
            store.history(owner, opened) if opened else None
        except NoSuchConversation:
            opened, turns = "", []  # deleted in another tab: this question starts a new one
        if not opened:
            opened = store.create(owner).id
        saved = {**saved, "owner": owner, "open": opened}
        listed = gr.update(choices=_conversation_choices(store, owner), value=opened)
        yield (
            shown + [{"role": "assistant", "content": streaming_html("…")}],
            turns,
            gr.skip(),
            "",
            saved,
            listed,
            gr.skip(),
        )
        text, answer_id = "", new_id()
        stream = saving_turn(
            engine.ask_stream(question, as_history(turns), backend), store, owner, opened, question, answer_id
        )
        try:
            for item in stream:
                if isinstance(item, Answer):
                    turns = turns + [SavedTurn(answer_id, question, item, "answered", "", datetime.now(UTC))]
                    listed = gr.update(choices=_conversation_choices(store, owner), value=opened)
                    exported = _markdown_file(store, owner, opened)
                    yield _messages(turns), turns, sources_html(item), "", saved, listed, exported
                elif isinstance(item, EvidenceFound):
                    # On screen before the model starts: the evidence the answer will cite.
                    yield gr.skip(), turns, evidence_html(item), "", *keep
                else:
                    text += item
                    streamed = shown + [{"role": "assistant", "content": streaming_html(text)}]
                    yield streamed, turns, gr.skip(), "", *keep
        except Exception as exc:  # noqa: BLE001  (shown in the conversation, where the briefer is looking)
            failed = SavedTurn(answer_id, question, None, "failed", str(exc) or type(exc).__name__, datetime.now(UTC))
            turns = turns + [failed]
            yield _messages(turns), turns, gr.skip(), question, *keep

    def vote(turns: list[SavedTurn], saved: dict[str, str], data: gr.LikeData) -> tuple[Any, ...]:
        if not isinstance(data.index, int) or data.liked not in (True, False) or data.index // 2 >= len(turns):
            return None, gr.update(visible=False)
        turn = turns[data.index // 2]
        if turn.answer is None:
            return None, gr.update(visible=False)
        choice: Vote = "up" if data.liked else "down"
        before = as_history(turns[: data.index // 2])
        record(turn, choice, "", before, saved)
        return (turn, choice, before), gr.update(visible=True)

    def record(
        turn: SavedTurn, choice: Vote, comment: str, before: list[dict[str, str]], saved: dict[str, str]
    ) -> None:
        assert turn.answer is not None
        append_feedback(
            settings.feedback_file, feedback_entry(turn.answer.to_json(), turn.answer_id, choice, comment, before)
        )
        try:
            store.set_feedback(saved["owner"], turn.answer_id, choice, comment)
        except NoSuchConversation:
            pass  # the conversation was deleted meanwhile; the feedback file still has the vote

    def comment_on(
        pending: tuple[SavedTurn, Vote, list[dict[str, str]]] | None, comment: str, saved: dict[str, str]
    ) -> tuple[Any, ...]:
        if pending and comment.strip():
            turn, choice, before = pending
            record(turn, choice, comment, before, saved)
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
        browser = gr.BrowserState(dict(BROWSER_DEFAULT), storage_key="rag-chat")
        turns = gr.State([])
        pending = gr.State(None)
        confirmed = gr.Checkbox(visible=False)
        with gr.Sidebar(label="Conversations", open=True, elem_id="rag-sidebar"):
            start = gr.Button("New conversation", variant="secondary", elem_id="rag-new")
            find = gr.Textbox(show_label=False, placeholder="Search titles", elem_id="rag-search")
            listed = gr.Radio(choices=[], show_label=False, elem_id="rag-conversations")
            with gr.Accordion("Rename, export or delete", open=False, elem_id="rag-manage"):
                title = gr.Textbox(show_label=False, placeholder="New title", elem_id="rag-title")
                rename_button = gr.Button("Rename", size="sm", elem_id="rag-rename")
                export = gr.DownloadButton("Export as Markdown", size="sm", elem_id="rag-export")
                remove = gr.Button("Delete", size="sm", variant="stop", elem_id="rag-delete")
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

        ask_inputs = [question, turns, backend, browser]
        ask_outputs = [chatbot, turns, sources, question, browser, listed, export]
        answering: dict[str, Any] = {"concurrency_limit": ANSWER_SLOTS, "concurrency_id": "answer"}
        question.submit(respond, ask_inputs, ask_outputs, **answering)
        ask.click(respond, ask_inputs, ask_outputs, **answering)
        chatbot.example_select(_example_text, None, question, queue=False).then(
            respond, ask_inputs, ask_outputs, **answering
        )
        shown = [browser, turns, chatbot, sources, listed]
        blocks.load(restore, [browser], [*shown, backend, export])
        listed.input(open_conversation, [listed, browser], [*shown, export])
        # The chatbot's own trash button clears only the display: both start a new conversation.
        for event in (start.click, chatbot.clear):
            event(new_conversation, [browser], [*shown, export, pending, comment_row], queue=False)
        find.change(search, [find, browser], listed, queue=False)
        rename_button.click(rename, [title, browser], [listed, title])
        title.submit(rename, [title, browser], [listed, title])
        remove.click(
            delete,
            [browser, confirmed],
            [*shown, export],
            js="(saved, _) => [saved, confirm('Delete this conversation and its answers?')]",
        )
        backend.input(remember_backend, [backend, browser], browser, queue=False)
        chatbot.like(vote, [turns, browser], [pending, comment_row])
        send_comment.click(comment_on, [pending, comment, browser], [pending, comment, comment_row])
        comment.submit(comment_on, [pending, comment, browser], [pending, comment, comment_row])
        add.click(add_files, [files], [report, documents, files])
        blocks.load(documents_table, None, documents)
    return blocks
