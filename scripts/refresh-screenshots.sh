#!/usr/bin/env bash
# Refresh docs/screenshot-*.png from the browser tests (the tests alone never touch docs/).
set -euo pipefail
cd "$(dirname "$0")/.."
RAG_SCREENSHOT_DIR=docs .venv/bin/python -m pytest -q tests/test_browser.py \
    -k "chat_streams_a_cited_answer or widget_answers_on_a_page or on_a_phone"
git status --short docs/
