"""The chat, the source viewer and the widget in headless Chromium against a real server.

Every test also checks that neither the browser nor the server reached any host but 127.0.0.1.
Screenshots of the chat, the viewer and the widget go to a temporary folder, or to the folder
RAG_SCREENSHOT_DIR names: `bash scripts/refresh-screenshots.sh` refreshes the docs' copies.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from test_api import READER, RUTTE, Server, running_server, serving  # tests/ is on sys.path under pytest

from ui.conversations import ConversationStore, FeedbackRow
from ui.server import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium phones home for updates, field trials and sync at start.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = (
    "Operation Nightjar briefing note\n\n"
    "The Nightjar exercise is commanded by Colonel Ilse Varga <script>window.__pwned=1</script> "
    "and takes place near Tallinn in May.\n\n"
    'Colonel Varga reports to the Baltic command. <img src=x onerror="window.__pwned=1">\n'
)
NIGHTJAR = "Who commands the Nightjar exercise?"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium: apt-get install chromium"),
]


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: never the tracked docs/ copies, unless asked for by RAG_SCREENSHOT_DIR."""
    chosen = os.environ.get("RAG_SCREENSHOT_DIR")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("browser-server")) as server:
        yield server


# Module scope: while Playwright's sync API is up, asyncio sees a running loop in the main
# thread, which would break later test files that call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def context(browser: object, server: Server) -> Iterator[object]:
    """A fresh browser context that fails the test if the browser or the server reached beyond loopback."""
    with watched_context(browser, server, viewport={"width": 1280, "height": 860}) as watched:
        yield watched


@contextmanager
def watched_context(browser: object, server: Server, **options: object) -> Iterator[object]:
    """A browser context with `options` (locale, viewport, colour scheme) that fails the test if
    the browser or the server reached beyond loopback."""
    context = browser.new_context(**options)
    hosts: set[str] = set()
    context.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or request.url))
    yield context
    context.close()
    assert hosts <= {"127.0.0.1"}, f"requests left loopback: {sorted(hosts - {'127.0.0.1'})}"
    assert server.outbound == []


def write_intranet_page(root: Path, snippet: str) -> None:
    """An intranet page with the snippet, and styles that would clash with the widget's."""
    (root / "index.html").write_text(
        "<!doctype html><html><head><title>Intranet</title><style>"
        "body { margin: 0; font-family: Georgia, serif; background: #f4f1ea; color: #333; }"
        "header { padding: 18px 40px; background: #3b3b58; color: #fff; font-size: 22px; }"
        "main { max-width: 640px; padding: 10px 40px; line-height: 1.6; }"
        "button { background: rgb(255, 0, 0) !important; }"  # must not reach the widget
        "</style></head><body><header>Team intranet</header><main><h2>Notices</h2>"
        "<p>The quarterly readiness review moves to Thursday. Briefing packs are due on Wednesday noon.</p>"
        "<p>Questions about the alliance's leadership change? Ask the briefing bot in the corner.</p></main>"
        f"{snippet}</body></html>",
        encoding="utf-8",
    )


@contextmanager
def intranet_site(root: Path) -> Iterator[str]:
    """The folder served on a second loopback port: another origin than the chat's; yields the page's URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
        httpd.shutdown()


@pytest.fixture(scope="session")
def host_site(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("host-site")
    write_intranet_page(root, f'<script src="{server.url}/widget.js" data-title="Briefing bot" async></script>')
    with intranet_site(root) as url:
        yield url


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def open_chat(context: object, server: Server) -> object:
    page = context.new_page()
    page.add_init_script("""
        window.__sawStreaming = false;
        new MutationObserver(() => {
            if (document.querySelector('#rag-chat .rag-streaming')) window.__sawStreaming = true;
        }).observe(document, {subtree: true, childList: true});
    """)
    page.goto(server.url + "/")
    page.wait_for_selector("#rag-question textarea")
    return page


def ask_in_chat(page: object, question: str) -> object:
    """Ask and wait for the finished answer; returns the last assistant message."""
    before = page.locator("#rag-chat .rag-footer").count()
    page.fill("#rag-question textarea", question)
    page.click("#rag-ask")
    page.wait_for_function(f"document.querySelectorAll('#rag-chat .rag-footer').length > {before}")
    return page.locator("#rag-chat .message-row").last


def assert_not_pwned(page_or_frame: object) -> None:
    assert page_or_frame.evaluate("typeof window.__pwned") == "undefined"


def test_chat_streams_a_cited_answer_that_opens_the_source(context: object, server: Server, screenshots: Path) -> None:
    page = open_chat(context, server)
    answer = ask_in_chat(page, RUTTE)
    assert page.evaluate("window.__sawStreaming")
    cite = answer.locator("a.rag-cite").first
    assert re.fullmatch(r"\[\d+\]", cite.inner_text())
    assert cite.get_attribute("target") == "_blank"
    assert "answered by extractive" in answer.locator(".rag-footer").inner_text()
    sources = page.locator("#rag-sources .rag-source")
    assert sources.count() >= 1 and "· en" in sources.first.inner_text()

    german = ask_in_chat(page, "Wer lädt zum Gipfel in Ramstein ein?")
    assert german.locator("a.rag-cite").count() >= 1
    # Without a model no name is read off the quote: it is shown as the closest evidence.
    assert "Ohne Sprachmodell" in german.inner_text() and "Ramstein" in german.inner_text()
    assert "nächster Beleg zitiert" in german.locator(".rag-footer").inner_text()
    assert "· de" in page.locator("#rag-sources .rag-source").first.inner_text()
    page.screenshot(path=str(screenshots / "screenshot-chat.png"), full_page=True)

    with context.expect_page() as opened:
        german.locator("a.rag-cite").first.click()
    viewer = opened.value
    viewer.wait_for_load_state()
    mark = viewer.locator("mark#cited")
    assert mark.is_visible() and "Ramstein" in mark.inner_text()
    box = mark.bounding_box()
    assert box is not None and 0 <= box["y"] < viewer.viewport_size["height"]
    viewer.screenshot(path=str(screenshots / "screenshot-viewer.png"))


def test_refusal_is_a_notice_that_lists_the_nearest_passages(context: object, server: Server) -> None:
    page = open_chat(context, server)
    answer = ask_in_chat(page, "What is the boiling point of mercury in Kelvin?")
    assert answer.locator(".rag-refusal").is_visible()
    assert "not in the documents" in answer.locator(".rag-footer").inner_text()
    assert "Nearest passages" in page.locator("#rag-sources h3").inner_text()
    assert page.locator("#rag-sources .rag-source").count() >= 1


def test_feedback_with_a_comment_is_stored(context: object, server: Server) -> None:
    page = open_chat(context, server)
    ask_in_chat(page, RUTTE)
    page.locator("#rag-chat button[aria-label='Dislike']").last.click()
    page.locator("#rag-comment textarea").fill("Lists only one of the three priorities.")
    page.locator("#rag-comment button").click()
    page.wait_for_selector("#rag-comment", state="hidden")
    store = ConversationStore.of(server.settings)
    last = store.read_feedback()[-1]
    assert last["vote"] == "down" and last["comment"] == "Lists only one of the three priorities."
    assert last["question"] == RUTTE and last["citations"] and last["timestamp"]
    with store.engine.connect() as db:  # the vote, then the comment repeating it: one answer, two records
        given = select(FeedbackRow.comment).where(FeedbackRow.answer_id == last["answer_id"]).order_by(FeedbackRow.id)
        assert db.scalars(given).all() == ["", last["comment"]]


def test_uploaded_hostile_document_never_runs_anywhere(
    context: object, server: Server, host_site: str, tmp_path: Path
) -> None:
    hostile, bad = tmp_path / "nightjar.txt", tmp_path / "diagram.png"
    hostile.write_text(HOSTILE, encoding="utf-8")
    bad.write_bytes(b"\x89PNG\r\n\x1a\n")
    page = open_chat(context, server)
    page.click("button[role=tab][data-tab-id=documents]")
    page.set_input_files("#rag-upload input[type=file]", [str(hostile), str(bad)])
    page.wait_for_selector("#rag-upload :text('nightjar.txt')")
    page.click("#rag-add")
    report = page.locator("#rag-upload-report")
    report.locator("td:text-is('added')").wait_for()
    assert "unsupported file type .png" in report.inner_text()
    assert "nightjar" in page.locator("#rag-documents").inner_text()

    page.click("button[role=tab][data-tab-id=ask]")
    answer = ask_in_chat(page, NIGHTJAR)
    assert "<script>" in answer.inner_text()  # shown as text
    assert "<script>" in page.locator("#rag-sources").inner_text()
    assert_not_pwned(page)

    with context.expect_page() as opened:
        answer.locator("a.rag-cite").first.click()
    viewer = opened.value
    viewer.wait_for_load_state()
    assert "<script>window.__pwned=1</script>" in viewer.locator("article").inner_text()
    assert viewer.locator("article script, article img").count() == 0
    assert_not_pwned(viewer)

    host = context.new_page()
    host.goto(host_site)
    frame = open_widget(host)
    ask_in_widget(frame, NIGHTJAR)
    assert "<script>" in frame.locator(".w-bot").last.inner_text()
    assert_not_pwned(frame)
    assert_not_pwned(host)


def open_widget(host: object) -> object:
    host.locator("[data-rag-widget] button.launcher").click()
    host.frame_locator("[data-rag-widget] iframe").locator("#w-question").wait_for()
    return host.frame(url=lambda url: urlsplit(url).path == "/widget")


def ask_in_widget(frame: object, question: str) -> None:
    before = frame.locator(".w-footer").count()
    frame.locator("#w-question").fill(question)
    frame.locator("#w-send").click()
    frame.locator(".w-footer").nth(before).wait_for()


def test_widget_answers_on_a_page_of_another_origin(
    context: object, server: Server, host_site: str, screenshots: Path
) -> None:
    host = context.new_page()
    host.goto(host_site)
    launcher = host.locator("[data-rag-widget] button.launcher")
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") != "rgb(255, 0, 0)"
    frame = open_widget(host)
    frame.locator(".w-example").first.click()  # the first example is the Rutte question
    frame.locator(".w-footer").first.wait_for()
    bot = frame.locator(".w-bot").first
    link = bot.locator(".w-text a").first
    assert re.fullmatch(r"\[\d+\]", link.inner_text())
    assert link.get_attribute("href").startswith("/sources/")
    assert "answered by extractive" in bot.locator(".w-footer").inner_text()

    ask_in_widget(frame, "And who did he take over from?")
    follow_up = frame.locator(".w-bot").last
    assert "Stoltenberg" in follow_up.inner_text()
    # The quoter names no one: its quote is the closest evidence, linked like an answer's.
    assert "No clear answer in the documents" in follow_up.locator(".w-refusal strong").inner_text()
    assert follow_up.locator(".w-refusal a").first.get_attribute("href").startswith("/sources/")
    assert "closest evidence quoted" in follow_up.locator(".w-footer").inner_text()
    host.screenshot(path=str(screenshots / "screenshot-widget.png"))


def test_with_keys_a_browser_signs_in_and_the_widget_asks_with_its_reader_key(
    browser: object, context: object, server: Server, tmp_path: Path
) -> None:
    with intranet_site(tmp_path) as page_url:
        settings = server.settings.replace(
            api_key="editor-" + READER, reader_key=READER, cors_origins=(page_url.rsplit("/", 1)[0],)
        )  # may frame the widget
        with serving(create_app(settings, server.engine)) as url:
            page = context.new_page()
            page.goto(url + "/")
            assert urlsplit(page.url).path == "/login"
            page.fill("#key", READER)
            page.click("button[type=submit]")
            page.wait_for_selector("#rag-question textarea")
            assert re.search(r"\[\d+\]", ask_in_chat(page, RUTTE).inner_text())

            write_intranet_page(tmp_path, f'<script src="{url}/widget.js" data-key="{READER}" async></script>')
            visitor = browser.new_context()  # signed in nowhere: the snippet's key is all it has
            try:
                host = visitor.new_page()
                host.goto(page_url)
                frame = open_widget(host)
                ask_in_widget(frame, RUTTE)
                assert re.search(r"\[\d+\]", frame.locator(".w-bot").last.inner_text())
                assert "#key" not in frame.url
            finally:
                visitor.close()


def test_api_docs_work_offline(context: object, server: Server) -> None:
    page = context.new_page()
    page.goto(server.url + "/docs")
    page.wait_for_selector(".swagger-ui .opblock")
    assert page.locator(".opblock-summary-path[data-path='/api/ask']").count() == 1


# --------------------------------------------------------------------------- saved conversations


def conversation_titles(page: object) -> list[str]:
    return [t.strip() for t in page.locator("#rag-conversations label").all_inner_texts()]


def test_a_reloaded_page_shows_the_conversation_it_left(context: object, server: Server) -> None:
    page = open_chat(context, server)
    ask_in_chat(page, RUTTE)
    ask_in_chat(page, "And what did he say about China?")
    panel = page.locator("#rag-sources").inner_text()
    page.reload()
    page.wait_for_function("document.querySelectorAll('#rag-chat .rag-footer').length == 2")
    shown = page.locator("#rag-chat").inner_text()
    assert RUTTE in shown and "And what did he say about China?" in shown
    assert conversation_titles(page)[0] == RUTTE
    page.wait_for_function(  # the last answer's sources too
        "(panel) => document.querySelector('#rag-sources')?.innerText === panel", arg=panel
    )


def test_two_conversations_are_kept_apart_renamed_and_deleted(context: object, server: Server) -> None:
    page = open_chat(context, server)
    ask_in_chat(page, RUTTE)
    page.click("#rag-new")
    page.wait_for_function("document.querySelectorAll('#rag-chat .rag-footer').length == 0")
    ask_in_chat(page, "Wer lädt zum Gipfel in Ramstein ein?")
    assert conversation_titles(page) == ["Wer lädt zum Gipfel in Ramstein ein?", RUTTE]

    page.locator("#rag-conversations label", has_text=RUTTE).click()  # back to the first
    page.wait_for_function("document.querySelector('#rag-chat').innerText.includes('priorities')")
    assert "Ramstein" not in page.locator("#rag-chat").inner_text()

    page.click("#rag-manage")
    page.fill("#rag-title textarea, #rag-title input", "Rutte's priorities")
    page.click("#rag-rename")
    page.wait_for_function("document.querySelector('#rag-conversations').innerText.includes(\"Rutte's priorities\")")
    page.fill("#rag-search textarea, #rag-search input", "priorities")
    page.wait_for_function("document.querySelectorAll('#rag-conversations label').length == 1")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#rag-delete")
    page.wait_for_function("!document.querySelector('#rag-conversations').innerText.includes('priorities')")
    assert conversation_titles(page) == ["Wer lädt zum Gipfel in Ramstein ein?"]
    assert page.locator("#rag-chat .rag-footer").count() == 0  # the deleted one is no longer shown
    page.reload()
    page.wait_for_selector("#rag-conversations label")
    assert conversation_titles(page) == ["Wer lädt zum Gipfel in Ramstein ein?"]  # the delete was saved


def test_a_german_browser_gets_german_labels_and_can_switch(browser: object, server: Server) -> None:
    with watched_context(browser, server, viewport={"width": 1280, "height": 860}, locale="de-DE") as context:
        page = open_chat(context, server)
        page.wait_for_function("document.querySelector('#rag-ask')?.innerText.trim() === 'Fragen'")
        assert page.locator("#rag-new").inner_text().strip() == "Neue Unterhaltung"
        assert page.locator("#rag-question textarea").get_attribute("placeholder").startswith("Stellen Sie")
        page.get_by_label("English").check()
        page.wait_for_function("document.querySelector('#rag-ask')?.innerText.trim() === 'Ask'")
        page.reload()
        page.wait_for_function("document.querySelector('#rag-ask')?.innerText.trim() === 'Ask'")  # remembered


@pytest.mark.slow
def test_stop_ends_a_local_model_answer_and_the_server_goes_idle(context: object, server: Server) -> None:
    import psutil

    server.engine.ask("Who leads NATO?", backend="local")  # the model loaded: loading is not interruptible
    page = open_chat(context, server)
    page.get_by_label("Answering backend").click()
    page.get_by_role("option", name="local").click()
    page.fill("#rag-question textarea", RUTTE)
    page.click("#rag-ask")
    # The evidence is on screen before the model starts; a warm answer then takes about 10 s.
    page.wait_for_function("document.querySelector('#rag-sources')?.innerText.includes('Evidence found')")
    time.sleep(1.5)
    page.click("#rag-stop")
    # At the model's next token; the prompt's evaluation (2-5 s on 2 cores) runs to its end first.
    page.wait_for_selector("#rag-ask", state="visible", timeout=15_000)
    this = psutil.Process()  # the server answers in this process's threads
    before = sum(this.cpu_times()[:2])
    time.sleep(2)
    assert sum(this.cpu_times()[:2]) - before < 0.5  # CPU seconds in 2 s: the model is no longer generating
    stopped = page.locator("#rag-chat .message-row").last
    assert "Stopped before the end." in stopped.inner_text()
    page.reload()
    page.wait_for_function("document.querySelector('#rag-chat')?.innerText.includes('Stopped before the end.')")


def test_a_document_deleted_in_the_library_is_no_longer_cited(context: object, server: Server) -> None:
    note = (
        "Harbour pilot roster\n\nThe harbour pilot on duty in March is Captain Ilona Brasch. "
        "She boards ships from the Ostmole station.\n"
    )
    import httpx

    with httpx.Client(base_url=server.url, timeout=60) as api:
        uploaded = api.post("/api/documents", files=[("files", ("pilot-roster.txt", note.encode(), "text/plain"))])
    doc_id = uploaded.json()["files"][0]["documents"][0]
    question = "Who is the harbour pilot on duty in March?"
    page = open_chat(context, server)
    answer = ask_in_chat(page, question)
    assert "Brasch" in answer.inner_text()

    page.get_by_role("tab", name="Documents").click()
    page.wait_for_selector("#rag-documents tbody tr")
    assert "Harbour pilot roster" in page.locator("#rag-documents").inner_text()  # its real title
    page.locator("#rag-doomed input").click()
    page.get_by_role("option", name="Harbour pilot roster (pilot-roster.txt)").click()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#rag-forget")
    page.wait_for_function("!document.querySelector('#rag-documents').innerText.includes('Harbour pilot roster')")
    assert doc_id not in server.engine.snapshot().documents

    page.get_by_role("tab", name="Ask").click()
    again = ask_in_chat(page, question)
    assert "Brasch" not in again.inner_text()
    assert "pilot-roster" not in again.inner_text()


def test_on_a_phone_the_chat_fits_and_sources_fold_under_each_answer(
    browser: object, server: Server, screenshots: Path
) -> None:
    with watched_context(browser, server, viewport={"width": 375, "height": 740}, color_scheme="dark") as context:
        page = open_chat(context, server)
        page.wait_for_timeout(800)  # the page folds the conversation list once it has loaded
        listing = page.locator("#rag-conversations").bounding_box()
        assert listing is None or listing["x"] + listing["width"] <= 0  # slid out of view
        answer = ask_in_chat(page, RUTTE)
        box = answer.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        folded = answer.locator("details.rag-inline-sources")
        assert folded.is_visible() and not page.locator("#rag-sources").is_visible()
        folded.locator("summary").click()
        assert folded.locator(".rag-source").first.is_visible()
        question = page.locator("#rag-question textarea").bounding_box()
        assert question is not None and question["x"] + question["width"] <= 375
        page.screenshot(path=str(screenshots / "screenshot-phone.png"), full_page=True)
