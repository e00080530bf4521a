"""The embeddable widget in headless Chromium, on a page of another origin, against a real server:
saved conversations, feedback, keyboard and focus, English and German, a phone-sized dark screen.

Every test also checks that neither the browser nor the server reached any host but 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import test_browser  # tests/ is on sys.path under pytest
from playwright.sync_api import expect
from test_api import RUTTE, Server, serving
from test_browser import ask_in_widget, intranet_site, open_widget, watched_context, write_intranet_page

from rag.engine import Engine
from ui.conversations import ConversationStore
from ui.server import create_app

# The browser tests' marks (skipped without Chromium) and fixtures, shared rather than copied:
# pytest finds fixtures among a module's names.
pytestmark = test_browser.pytestmark
browser, context, server, host_site = (
    test_browser.browser,
    test_browser.context,
    test_browser.server,
    test_browser.host_site,
)

FOLLOW_UP = "Who did Rutte take over from as NATO Secretary General?"
STORAGE_KEYS = {"rag-widget:client", "rag-widget:conversation"}


def stored(frame: Any) -> dict[str, str]:
    """What the widget keeps in its frame's local storage."""
    return frame.evaluate("Object.fromEntries(Object.entries(localStorage))")


def saved_conversation(server: Server, client_id: str, conversation_id: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/conversations/{conversation_id}", headers={"X-Client-Id": client_id})


def reopen(host: Any) -> Any:
    """Reload the host page and open the widget again: a new frame, which loads the saved turns."""
    host.reload()
    return open_widget(host)


def test_the_conversation_is_saved_on_the_server_and_outlives_a_reload(
    context: Any, server: Server, host_site: str
) -> None:
    host = context.new_page()
    host.goto(host_site)
    frame = open_widget(host)
    ask_in_widget(frame, RUTTE)
    kept = stored(frame)
    assert set(kept) == STORAGE_KEYS  # ids only: the turns stay on the server
    client_id, first = kept["rag-widget:client"], kept["rag-widget:conversation"]

    frame = reopen(host)
    frame.locator(".w-footer").first.wait_for()
    assert frame.locator(".w-user").all_inner_texts() == [RUTTE]
    assert frame.locator(".w-bot .w-text a").count() >= 1  # cited, as when it was asked

    frame.get_by_role("button", name="New conversation").click()
    assert frame.locator(".w-user").count() == 0 and frame.locator(".w-hello").is_visible()
    assert "rag-widget:conversation" not in stored(frame)  # created with the next question
    ask_in_widget(frame, FOLLOW_UP)
    second = stored(frame)["rag-widget:conversation"]
    assert second != first
    assert [t["question"] for t in saved_conversation(server, client_id, first).json()["turns"]] == [RUTTE]
    assert [t["question"] for t in saved_conversation(server, client_id, second).json()["turns"]] == [FOLLOW_UP]
    assert saved_conversation(server, "someone-else", second).status_code == 404

    # Deleted elsewhere: the widget starts afresh without a word of error.
    httpx.delete(f"{server.url}/api/conversations/{second}", headers={"X-Client-Id": client_id}).raise_for_status()
    frame = reopen(host)
    frame.locator(".w-hello").wait_for()
    assert frame.locator(".w-error").count() == 0
    assert "rag-widget:conversation" not in stored(frame)


def test_a_thumbs_down_is_recorded_with_the_turns_before_it(context: Any, server: Server, host_site: str) -> None:
    host = context.new_page()
    host.goto(host_site)
    frame = open_widget(host)
    ask_in_widget(frame, RUTTE)
    ask_in_widget(frame, FOLLOW_UP)
    down = frame.locator(".w-bot").last.get_by_role("button", name="Not helpful")
    down.click()
    frame.locator(".w-bot").last.get_by_role("status").filter(has_text="Thank you").wait_for()
    assert down.get_attribute("aria-pressed") == "true"
    last = ConversationStore.of(server.settings).read_feedback()[-1]
    assert last["vote"] == "down" and last["question"] == FOLLOW_UP and last["citations"]
    assert [m["role"] for m in last["history"]] == ["user", "assistant"]
    assert last["history"][0]["content"] == RUTTE

    # After a reload the vote names the saved turn, so feedback and conversation can be matched.
    kept = stored(frame)
    frame = reopen(host)
    frame.locator(".w-footer").nth(1).wait_for()
    frame.locator(".w-bot").first.get_by_role("button", name="Helpful", exact=True).click()
    frame.locator(".w-bot").first.get_by_role("status").filter(has_text="Thank you").wait_for()
    saved = saved_conversation(server, kept["rag-widget:client"], kept["rag-widget:conversation"]).json()
    last = ConversationStore.of(server.settings).read_feedback()[-1]
    assert last["vote"] == "up" and last["answer_id"] == saved["turns"][0]["answer_id"]


def test_opening_focuses_the_input_and_escape_closes(context: Any, server: Server, host_site: str) -> None:
    host = context.new_page()
    host.goto(host_site)
    frame = open_widget(host)
    expect(frame.locator("#w-question")).to_be_focused()  # (not wait_for_function: the frame's CSP forbids eval)
    panel = host.locator("[data-rag-widget] section.panel")

    host.keyboard.press("Escape")  # heard in the frame, which tells the host page
    panel.wait_for(state="hidden")
    launcher_focused = "document.querySelector('[data-rag-widget]').shadowRoot.activeElement?.className"
    assert host.evaluate(launcher_focused) == "launcher"

    host.keyboard.press("Enter")  # the launcher has focus: opens again
    panel.wait_for()
    expect(frame.locator("#w-question")).to_be_focused()

    host.locator("[data-rag-widget] button.close").focus()
    host.keyboard.press("Escape")  # and in the panel's own header
    panel.wait_for(state="hidden")

    # Every button, in the frame and on the host page, has a name a screen reader can say.
    ask_in_widget(open_widget(host), RUTTE)
    unnamed = "els => els.filter(b => !(b.getAttribute('aria-label') || b.textContent.trim())).length"
    assert frame.locator("button").evaluate_all(unnamed) == 0
    assert host.locator("[data-rag-widget] button").evaluate_all(unnamed) == 0


def test_a_german_browser_gets_german_labels_and_the_switch_is_remembered(
    browser: Any, server: Server, host_site: str
) -> None:
    with watched_context(browser, server, locale="de-DE") as german:
        host = german.new_page()
        host.goto(host_site)
        frame = open_widget(host)
        expect(frame.locator("#w-send")).to_have_text("Senden")
        expect(frame.locator("#w-question")).to_have_attribute("placeholder", "Frage stellen…")
        expect(frame.get_by_role("button", name="Neues Gespräch")).to_be_visible()
        expect(frame.locator(".w-hello")).to_contain_text("Fragen Sie die Dokumente")
        close = host.locator("[data-rag-widget] button.close")
        expect(close).to_have_attribute("aria-label", "Schließen")
        ask_in_widget(frame, RUTTE)
        expect(frame.locator(".w-footer").last).to_contain_text("beantwortet von extractive")

        frame.get_by_role("button", name="English").click()
        expect(frame.locator("#w-send")).to_have_text("Send")
        expect(frame.locator(".w-footer").last).to_contain_text("answered by extractive")
        expect(close).to_have_attribute("aria-label", "Close")  # told by the frame
        frame = reopen(host)
        expect(frame.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
        expect(frame.locator("#w-send")).to_have_text("Send")


def test_a_server_error_is_told_in_the_widgets_language(browser: Any, server: Server, tmp_path: Path) -> None:
    (tmp_path / "server").mkdir()
    with intranet_site(tmp_path) as page_url:
        settings = server.settings.replace(
            index_dir=tmp_path / "server" / "index", cors_origins=(page_url.rsplit("/", 1)[0],)
        )  # may frame the widget
        empty = Engine(settings, auto_demo=False)  # a server on a folder of its own, before the first upload
        with serving(create_app(settings, empty)) as url:
            write_intranet_page(tmp_path, f'<script src="{url}/widget.js" async></script>')
            with watched_context(browser, server, locale="de-DE") as german:
                host = german.new_page()
                host.goto(page_url)
                frame = open_widget(host)
                frame.locator("#w-question").fill(RUTTE)
                frame.locator("#w-send").click()
                failed = frame.locator(".w-bot .w-error")
                expect(failed).to_have_text(
                    "Keine Antwort möglich: es gibt noch keine Dokumente, aus denen sich antworten ließe"
                )
                frame.get_by_role("button", name="English").click()  # the failure is said anew, not kept in German
                expect(failed).to_have_text("Could not answer: there are no documents to answer from yet")


def test_on_a_phone_in_dark_mode_the_widget_fills_the_screen(
    browser: Any, server: Server, host_site: str, tmp_path: Path
) -> None:
    width, height = 375, 667
    with watched_context(browser, server, viewport={"width": width, "height": height}, color_scheme="dark") as phone:
        host = phone.new_page()
        host.goto(host_site)
        frame = open_widget(host)
        ask_in_widget(frame, RUTTE)
        panel = host.locator("[data-rag-widget] section.panel").bounding_box()
        assert panel == {"x": 0, "y": 0, "width": width, "height": height}
        question = frame.locator("#w-question").bounding_box()
        answer = frame.locator(".w-bot").last.bounding_box()
        assert question and answer
        for box in (question, answer):
            assert 0 <= box["x"] and box["x"] + box["width"] <= width
        assert 0 <= answer["y"] and answer["y"] + answer["height"] <= question["y"]  # scrolled into view
        assert question["y"] + question["height"] <= height
        assert not frame.locator(".w-sources").first.evaluate("d => d.open")  # folded under the answer
        background = frame.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background != "rgb(255, 255, 255)"
        host.screenshot(path=str(tmp_path / "widget-phone-dark.png"))
