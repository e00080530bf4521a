"""The Gradio chat for briefers: streamed cited answers, sources, saved conversations,
stop, uploads, feedback, in English or German.

Chat messages are HTML built by `ui.render` (markdown rendering is off), so every
piece of document-derived text is escaped once, in one place. Conversations are saved
in the conversation store (ui/conversations.py) under an opaque owner id the browser
keeps in its local storage, with the open conversation, the chosen backend and the
interface language: a reload or a server restart brings them back. The open
conversation's turns are also held in the session as `SavedTurn`s; the chatbot only
displays them, and follow-ups send the plain answer texts, never the display HTML.
"""

from __future__ import annotations

import functools
import re
import tempfile
import threading
from collections.abc import Iterator
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
from ui.documents import (
    delete_document,
    document_rows,
    example_questions,
    filter_rows,
    ingest_uploads,
    library_summary,
    save_upload,
)
from ui.examples import EXAMPLE_QUESTIONS
from ui.feedback import Vote, append_feedback, feedback_entry
from ui.i18n import LANGUAGES, browser_language, language_label, say
from ui.render import (
    answer_html,
    documents_html,
    error_html,
    evidence_html,
    header_html,
    muted_html,
    sources_html,
    streaming_html,
    upload_report_html,
    user_html,
)

ASSETS = Path(__file__).parent / "assets"
SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"]

# What the browser keeps between visits (its local storage): ids and choices, never the turns.
BROWSER_DEFAULT = {"owner": "", "open": "", "backend": "", "lang": ""}


def theme() -> gr.themes.Base:
    """The default look with system fonts only: the stock theme would fetch web fonts."""
    return gr.themes.Default(primary_hue="blue", neutral_hue="slate", font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def _messages(turns: list[SavedTurn], lang: str) -> list[dict[str, str]]:
    """What the chatbot shows; exactly two messages per turn, which feedback relies on."""
    shown: list[dict[str, str]] = []
    for turn in turns:
        shown.append({"role": "user", "content": user_html(turn.question)})
        shown.append({"role": "assistant", "content": turn_html(turn, lang)})
    return shown


def turn_html(turn: SavedTurn, lang: str) -> str:
    if turn.answer is None:
        return error_html(turn.error or "failed", say("could_not_answer", lang))
    if turn.status == "stopped":
        return answer_html(turn.answer) + muted_html(say("stopped", lang))
    return answer_html(turn.answer)


def _last_answer(turns: list[SavedTurn]) -> Answer | None:
    return next((t.answer for t in reversed(turns) if t.answer is not None and t.status == "answered"), None)


def _conversation_choices(store: ConversationStore, owner: str, lang: str, search: str = "") -> list[tuple[str, str]]:
    return [(c.title or say("untitled", lang), c.id) for c in store.find(owner, search)]


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


class Answering:
    """The answers being written, one per browser session: a second question waits its turn
    with a message instead of interleaving, and Stop reaches the running one."""

    def __init__(self) -> None:
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def begin(self, session: str) -> threading.Event | None:
        with self._lock:
            if session in self._stops:
                return None
            self._stops[session] = threading.Event()
            return self._stops[session]

    def end(self, session: str) -> None:
        with self._lock:
            self._stops.pop(session, None)

    def stop(self, session: str) -> None:
        with self._lock:
            if session in self._stops:
                self._stops[session].set()


def build_chat(engine: Engine, settings: Settings, store: ConversationStore) -> gr.Blocks:
    access = Access.of(settings)
    answering = Answering()

    with gr.Blocks(title="Briefing bot", analytics_enabled=False) as blocks:
        browser = gr.BrowserState(dict(BROWSER_DEFAULT), storage_key="rag-chat")
        turns = gr.State([])
        pending = gr.State(None)
        confirmed = gr.Checkbox(visible=False)
        with gr.Sidebar(label=say("conversations", "en"), open=True, elem_id="rag-sidebar"):
            start = gr.Button(say("new_conversation", "en"), variant="secondary", elem_id="rag-new")
            find = gr.Textbox(show_label=False, placeholder=say("search_titles", "en"), elem_id="rag-search")
            listed = gr.Radio(choices=[], show_label=False, elem_id="rag-conversations")
            with gr.Accordion(say("manage", "en"), open=False, elem_id="rag-manage") as manage:
                title = gr.Textbox(show_label=False, placeholder=say("new_title", "en"), elem_id="rag-title")
                rename_button = gr.Button(say("rename", "en"), size="sm", elem_id="rag-rename")
                export = gr.DownloadButton(say("export", "en"), size="sm", elem_id="rag-export")
                remove = gr.Button(say("delete", "en"), size="sm", variant="stop", elem_id="rag-delete")
            language = gr.Radio(
                [(name, code) for code, name in LANGUAGES.items()],
                value="en",
                label=say("language", "en"),
                elem_id="rag-language",
            )
        header = gr.HTML(header_html("en"))
        with gr.Tabs():
            with gr.Tab(say("tab_ask", "en"), id="ask") as ask_tab, gr.Row(equal_height=False):
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
                        placeholder=say("chat_placeholder", "en"),
                    )
                    with gr.Row(visible=False, elem_id="rag-comment") as comment_row:
                        comment = gr.Textbox(show_label=False, scale=5, placeholder=say("comment_placeholder", "en"))
                        send_comment = gr.Button(say("send_comment", "en"), scale=1)
                    with gr.Row():
                        question = gr.Textbox(
                            elem_id="rag-question",
                            show_label=False,
                            scale=6,
                            autofocus=True,
                            max_length=settings.max_question_chars,
                            placeholder=say("placeholder", "en"),
                        )
                        ask = gr.Button(say("ask", "en"), variant="primary", scale=1, elem_id="rag-ask")
                        stop = gr.Button(say("stop", "en"), variant="stop", scale=1, visible=False, elem_id="rag-stop")
                    with gr.Row():
                        backend = gr.Dropdown(
                            list(choices()),
                            value=settings.llm_backend,
                            label=say("backend", "en"),
                            scale=2,
                            min_width=160,
                        )
                        again = gr.Button(say("ask_again", "en"), scale=1, elem_id="rag-again")
                with gr.Column(scale=2, elem_id="rag-sources-column"):
                    sources = gr.HTML(sources_html(None), elem_id="rag-sources")
            with gr.Tab(say("tab_documents", "en"), id="documents") as documents_tab, gr.Row(equal_height=False):
                with gr.Column(scale=2):
                    files = gr.File(
                        label=say("add_documents", "en"),
                        file_count="multiple",
                        type="filepath",
                        elem_id="rag-upload",
                    )
                    add = gr.Button(say("add_to_index", "en"), variant="primary", elem_id="rag-add")
                    report = gr.HTML(elem_id="rag-upload-report")
                with gr.Column(scale=3):
                    library_summary_box = gr.Markdown(elem_id="rag-library-summary")
                    with gr.Row():
                        library_words = gr.Textbox(
                            show_label=False,
                            placeholder=say("filter_documents", "en"),
                            scale=3,
                            elem_id="rag-library-filter",
                        )
                        library_lang = gr.Dropdown(
                            [(say("any_language", "en"), "")],
                            value="",
                            show_label=False,
                            scale=1,
                            elem_id="rag-library-lang",
                        )
                    documents = gr.HTML(elem_id="rag-documents")
                    with gr.Row():
                        doomed = gr.Dropdown([], label=say("document_to_delete", "en"), scale=3, elem_id="rag-doomed")
                        forget = gr.Button(say("delete_document", "en"), variant="stop", scale=1, elem_id="rag-forget")

        # ------------------------------------------------------------------ language

        translated = [
            header,
            manage,
            start,
            find,
            title,
            rename_button,
            export,
            remove,
            language,
            ask_tab,
            documents_tab,
            comment,
            send_comment,
            question,
            ask,
            stop,
            backend,
            again,
            files,
            add,
            library_words,
            doomed,
            forget,
        ]

        def interface(lang: str) -> list[Any]:
            """Every label of the page in `lang`, in the order of `translated`."""
            return [
                header_html(lang),
                gr.update(label=say("manage", lang)),
                gr.update(value=say("new_conversation", lang)),
                gr.update(placeholder=say("search_titles", lang)),
                gr.update(placeholder=say("new_title", lang)),
                gr.update(value=say("rename", lang)),
                gr.update(label=say("export", lang)),
                gr.update(value=say("delete", lang)),
                gr.update(label=say("language", lang), value=lang),
                gr.update(label=say("tab_ask", lang)),
                gr.update(label=say("tab_documents", lang)),
                gr.update(placeholder=say("comment_placeholder", lang)),
                gr.update(value=say("send_comment", lang)),
                gr.update(placeholder=say("placeholder", lang)),
                gr.update(value=say("ask", lang)),
                gr.update(value=say("stop", lang)),
                gr.update(label=say("backend", lang)),
                gr.update(value=say("ask_again", lang)),
                gr.update(label=say("add_documents", lang)),
                gr.update(value=say("add_to_index", lang)),
                gr.update(placeholder=say("filter_documents", lang)),
                gr.update(label=say("document_to_delete", lang)),
                gr.update(value=say("delete_document", lang)),
            ]

        def switch_language(lang: str, saved: dict[str, str], shown_turns: list[SavedTurn]) -> list[Any]:
            saved = {**saved, "lang": lang}
            listed_now = gr.update(
                choices=_conversation_choices(store, saved["owner"], lang), value=saved["open"] or None
            )
            return [saved, conversation_view(shown_turns, lang), listed_now, *interface(lang)]

        def conversation_view(shown_turns: list[SavedTurn], lang: str) -> Any:
            """The chatbot: the turns, or for a new conversation what the library holds and
            example questions drawn from it."""
            welcome = f"{say('chat_placeholder', lang)}\n\n{library_summary(engine, lang)}"
            examples = example_questions(engine) or list(EXAMPLE_QUESTIONS)
            return gr.update(
                value=_messages(shown_turns, lang), placeholder=welcome, examples=[{"text": q} for q in examples]
            )

        # ------------------------------------------------------------------ conversations

        shown = [browser, turns, chatbot, sources, listed]

        def restore(saved: dict[str, str] | None, request: gr.Request) -> list[Any]:
            """On page load: this browser's owner id (made on its first visit), its conversations,
            the one that was open, its backend and its language."""
            saved = {**BROWSER_DEFAULT, **(saved or {})}
            if not saved["owner"]:
                saved["owner"] = f"browser:{new_id()}"
            if saved["lang"] not in LANGUAGES:
                saved["lang"] = browser_language(request.headers.get("accept-language", "") if request else "")
            chosen = saved["backend"] if saved["backend"] in choices() else settings.llm_backend
            return [
                *show(saved),
                chosen,
                _markdown_file(store, saved["owner"], saved["open"]),
                *interface(saved["lang"]),
            ]

        def show(saved: dict[str, str]) -> list[Any]:
            """The open conversation (none if it is gone), in the order of `shown`."""
            opened: list[SavedTurn] = []
            if saved["open"]:
                try:
                    opened = store.get(saved["owner"], saved["open"]).turns
                except NoSuchConversation:  # deleted in another tab, or another server's database
                    saved = {**saved, "open": ""}
            listed_now = gr.update(
                choices=_conversation_choices(store, saved["owner"], saved["lang"]), value=saved["open"] or None
            )
            panel = sources_html(_last_answer(opened), saved["lang"])
            return [saved, opened, conversation_view(opened, saved["lang"]), panel, listed_now]

        def open_conversation(conversation_id: str | None, saved: dict[str, str]) -> list[Any]:
            saved = {**saved, "open": conversation_id or ""}
            return [*show(saved), _markdown_file(store, saved["owner"], saved["open"])]

        def new_conversation(saved: dict[str, str]) -> list[Any]:
            # Made in the store with its first question: empty conversations do not pile up.
            return [*show({**saved, "open": ""}), None, None, gr.update(visible=False)]

        def search(text: str, saved: dict[str, str]) -> Any:
            return gr.update(
                choices=_conversation_choices(store, saved["owner"], saved["lang"], text), value=saved["open"] or None
            )

        def rename(new_title: str, saved: dict[str, str]) -> list[Any]:
            if saved["open"] and new_title.strip():
                store.rename(saved["owner"], saved["open"], new_title)
                return [search("", saved), ""]
            return [gr.skip(), new_title]

        def delete(saved: dict[str, str], sure: bool) -> list[Any]:
            if not sure or not saved["open"]:
                return [gr.skip()] * (len(shown) + 1)
            try:
                store.delete(saved["owner"], saved["open"])
            except NoSuchConversation:
                pass  # already gone: the list shows what is left
            return [*show({**saved, "open": ""}), None]

        def remember_backend(chosen: str, saved: dict[str, str]) -> dict[str, str]:
            return {**saved, "backend": chosen}

        # ------------------------------------------------------------------ asking

        asked = [chatbot, turns, sources, question, browser, listed, export, ask, stop]

        def respond(
            text: str, shown_turns: list[SavedTurn], chosen: str, saved: dict[str, str], request: gr.Request
        ) -> Iterator[list[Any]]:
            lang = saved.get("lang") or "en"

            def view(
                chat: Any = None,
                now: Any = None,
                panel: Any = None,
                box: str = "",
                saved: Any = None,
                listed: Any = None,
                exported: Any = None,
                busy: bool | None = None,
            ) -> list[Any]:
                """One update of `asked`; what is not given stays as it is."""
                values = [chat, now, panel, box, saved, listed, exported]
                buttons = [None, None] if busy is None else [gr.update(visible=not busy), gr.update(visible=busy)]
                return [gr.skip() if v is None else v for v in values + buttons]

            text = text.strip()
            if not text:
                yield view(now=shown_turns)
                return
            session = request.session_hash or "" if request else ""
            stop_signal = answering.begin(session)
            if stop_signal is None:
                gr.Warning(say("busy", lang))
                yield view(now=shown_turns, box=text)
                return
            try:
                yield from answer(text, shown_turns, chosen, saved, lang, stop_signal, view)
            finally:
                answering.end(session)

        def answer(
            text: str,
            shown_turns: list[SavedTurn],
            chosen: str,
            saved: dict[str, str],
            lang: str,
            stop_signal: threading.Event,
            view: Any,
        ) -> Iterator[list[Any]]:
            asking = _messages(shown_turns, lang) + [{"role": "user", "content": user_html(text)}]
            if len(text) > settings.max_question_chars:
                limit = say("too_long", lang, count=len(text), limit=settings.max_question_chars)
                yield view(asking + [{"role": "assistant", "content": error_html(limit)}], shown_turns, box=text)
                return
            owner = saved["owner"] or f"browser:{new_id()}"
            opened = saved["open"]
            try:
                store.recent(owner, opened, 1) if opened else None
            except NoSuchConversation:
                opened, shown_turns = "", []  # deleted in another tab: this question starts a new one
            if not opened:
                opened = store.create(owner).id
            saved = {**saved, "owner": owner, "open": opened}
            listed_now = search("", saved)
            writing = [{"role": "assistant", "content": streaming_html("…")}]
            yield view(asking + writing, shown_turns, saved=saved, listed=listed_now, busy=True)
            streamed = ""
            stream = engine.ask_stream(text, as_history(shown_turns), chosen, stop_signal)
            try:
                for item in saving_turn(stream, store, owner, opened, text, new_id()):
                    if isinstance(item, EvidenceFound):
                        # On screen before the model starts: the evidence the answer will cite.
                        yield view(now=shown_turns, panel=evidence_html(item))
                    elif isinstance(item, str):
                        streamed += item
                        yield view(asking + [{"role": "assistant", "content": streaming_html(streamed)}], shown_turns)
            except Exception:  # noqa: BLE001  (saved as a failed turn with its error, shown below)
                pass
            # The store has the turn as it ended (answered, stopped or failed): read it alone, not
            # the whole conversation again.
            ended = shown_turns + store.recent(owner, opened, 1)
            last = _last_answer(ended[-1:])
            yield view(
                _messages(ended, lang),
                ended,
                sources_html(last) if last else None,
                saved=saved,
                listed=search("", saved),
                exported=_markdown_file(store, owner, opened),
                busy=False,
            )

        def stop_answer(request: gr.Request) -> None:
            answering.stop(request.session_hash or "" if request else "")

        def last_question(shown_turns: list[SavedTurn]) -> str:
            return shown_turns[-1].question if shown_turns else ""

        # ------------------------------------------------------------------ feedback

        def vote(shown_turns: list[SavedTurn], saved: dict[str, str], data: gr.LikeData) -> list[Any]:
            index = data.index if isinstance(data.index, int) else -1
            if data.liked not in (True, False) or not 0 <= index // 2 < len(shown_turns):
                return [None, gr.update(visible=False)]
            turn = shown_turns[index // 2]
            if turn.answer is None:
                return [None, gr.update(visible=False)]
            choice: Vote = "up" if data.liked else "down"
            before = as_history(shown_turns[: index // 2])
            record(turn, choice, "", before, saved)
            return [(turn, choice, before), gr.update(visible=True)]

        def record(
            turn: SavedTurn, choice: Vote, remark: str, before: list[dict[str, str]], saved: dict[str, str]
        ) -> None:
            assert turn.answer is not None
            entry = feedback_entry(turn.answer.to_json(), turn.answer_id, choice, remark, before)
            append_feedback(store, saved["owner"], entry)

        def comment_on(
            waiting: tuple[SavedTurn, Vote, list[dict[str, str]]] | None, remark: str, saved: dict[str, str]
        ) -> list[Any]:
            if waiting and remark.strip():
                turn, choice, before = waiting
                record(turn, choice, remark, before, saved)
                gr.Info(say("comment_saved", saved.get("lang") or "en"))
            return [None, "", gr.update(visible=False)]

        # ------------------------------------------------------------------ documents

        def library(words: str | None, lang: str | None, saved: dict[str, str] | None) -> list[Any]:
            """The Documents tab: what the index holds, the table filtered by words and language,
            and the documents one may delete, in the order of `shelves`."""
            speaks = (saved or {}).get("lang") or "en"
            rows = document_rows(engine)
            languages = sorted({(language_label(row["language"], speaks), row["lang"]) for row in rows})
            shown_rows = filter_rows(rows, words or "", lang or "")
            return [
                library_summary(engine, speaks),
                documents_html(shown_rows, speaks),
                gr.update(choices=[(say("any_language", speaks), ""), *languages]),
                gr.update(
                    choices=[(f"{row['title']} ({row['source']})", row["doc_id"]) for row in shown_rows], value=None
                ),
            ]

        def delete_from_library(
            doc_id: str | None, words: str, lang: str, sure: bool, saved: dict[str, str], request: gr.Request
        ) -> list[Any]:
            if doc_id and sure and is_editor(request):
                delete_document(engine, doc_id)
            return library(words, lang, saved)

        def is_editor(request: gr.Request) -> bool:
            # The guard keeps readers from uploading; this keeps them from changing the library.
            return (
                not access.enabled
                or access.role_of({k.lower(): v for k, v in dict(request.headers).items()}) == "editor"
            )

        def add_files(
            paths: list[str] | None, saved: dict[str, str], request: gr.Request, progress: gr.Progress = gr.Progress()
        ) -> list[Any]:
            lang = saved.get("lang") or "en"
            if not is_editor(request):
                return [
                    error_html(say("editor_needed", lang), say("could_not_answer", lang)),
                    None,
                    *library("", "", saved),
                ]
            if not paths:
                return [muted_html(say("choose_files", lang)), None, *library("", "", saved)]
            uploads = []
            for path in paths:
                with open(path, "rb") as data:
                    uploads.append((Path(path).name, save_upload(settings, Path(path).name, data)))
            outcomes = ingest_uploads(engine, uploads, lambda stage, done, total: progress((done, total), desc=stage))
            return [upload_report_html(outcomes, lang), None, *library("", "", saved)]

        # ------------------------------------------------------------------ wiring

        shelves = [library_summary_box, documents, library_lang, doomed]
        looking = [library_words, library_lang, browser]

        ask_inputs = [question, turns, backend, browser]
        answering_events: dict[str, Any] = {"concurrency_limit": ANSWER_SLOTS, "concurrency_id": "answer"}
        question.submit(respond, ask_inputs, asked, **answering_events)
        ask.click(respond, ask_inputs, asked, **answering_events)
        chatbot.example_select(_example_text, None, question, queue=False).then(
            respond, ask_inputs, asked, **answering_events
        )
        again.click(last_question, [turns], question, queue=False).then(respond, ask_inputs, asked, **answering_events)
        stop.click(stop_answer, None, None, queue=False)

        blocks.load(restore, [browser], [*shown, backend, export, *translated])
        language.input(switch_language, [language, browser, turns], [browser, chatbot, listed, *translated]).then(
            library, looking, shelves
        )
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
            # Asked in the browser, in its language: the answer travels as the checkbox's value.
            js="(saved, _) => [saved, confirm(saved && saved.lang === 'de' ? "
            f"{say('confirm_delete', 'de')!r} : {say('confirm_delete', 'en')!r})]",
        )
        backend.input(remember_backend, [backend, browser], browser, queue=False)
        chatbot.like(vote, [turns, browser], [pending, comment_row])
        send_comment.click(comment_on, [pending, comment, browser], [pending, comment, comment_row])
        comment.submit(comment_on, [pending, comment, browser], [pending, comment, comment_row])
        add.click(add_files, [files, browser], [report, files, *shelves])
        blocks.load(library, looking, shelves)
        library_words.change(library, looking, shelves, queue=False)
        library_lang.input(library, looking, shelves, queue=False)
        forget.click(
            delete_from_library,
            [doomed, library_words, library_lang, confirmed, browser],
            shelves,
            js="(doc, words, lang, _, saved) => [doc, words, lang, Boolean(doc) && confirm(saved && saved.lang === 'de' ? "
            f"{say('confirm_delete_document', 'de')!r} : {say('confirm_delete_document', 'en')!r}), saved]",
        )
    return blocks
