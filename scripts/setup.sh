#!/usr/bin/env bash
# Set up (or bring up to date) the project's virtual environment in .venv.
#   bash scripts/setup.sh         the chat: engine, UI, bundled models
#   bash scripts/setup.sh --dev   also the test tools and a headless Chromium
# Safe to run again: everything already in place is skipped quickly.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=false
[ "${1:-}" = "--dev" ] && dev=true

[ -x .venv/bin/python ] || python3 -m venv .venv
# Some machines list package folders that do not exist; pip warns about each once per package.
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2> >(grep -v "^WARNING: Location" >&2); }
pip install --upgrade pip wheel

# The CPU build of torch first: left to itself, sentence-transformers pulls the
# CUDA build and several GB of GPU libraries this project never uses.
pip install "torch==2.13.0"

# llama-cpp-python compiles from source (about 9 minutes on 2 cores, once: pip
# caches the wheel it builds).
if $dev; then pip install -e ".[dev]"; else pip install -e .; fi

bash scripts/install-models.sh

# system_package PACKAGE WHAT: a Debian package the tests use, installed when we may (as root).
system_package() {
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
    else
        echo "$2 need $1: sudo apt-get install $1" >&2
    fi
}
if $dev && ! command -v chromium >/dev/null 2>&1; then
    # The browser tests drive the system Chromium: Playwright's own browser download needs a network we don't have.
    system_package chromium "browser tests"
fi
# tests/test_postgres.py starts a throwaway PostgreSQL server; Debian keeps its programs off the PATH.
if $dev && ! command -v initdb >/dev/null 2>&1 && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    system_package postgresql "the PostgreSQL tests"
fi
echo "ready: .venv/bin/rag"
