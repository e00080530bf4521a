"""rag.models: the bundled model assembles to the pinned file; bad model files are refused; models
are named in labels by their real names."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag import models
from rag.backends import describe
from rag.models import (
    QWEN_SHA256,
    QWEN_SIZE,
    SMOLLM2_SHA256,
    SMOLLM2_SIZE,
    ModelUnavailable,
    assemble,
    bundled_model_installed,
    check_memory,
    ensure_bundled_model,
    gguf_info,
    model_name,
    resolve_model,
    sha256_file,
    smollm2_path,
    verify_file,
)
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_bundled_qwen_assembles_to_the_pinned_file():
    assert bundled_model_installed()
    path = ensure_bundled_model()  # assembles on first run (~6 s), then trusts its stamp
    assert path.stat().st_size == QWEN_SIZE
    assert sha256_file(path) == QWEN_SHA256  # the real, full check
    start = time.perf_counter()
    assert resolve_model("") == path
    assert time.perf_counter() - start < 1.0, "a verified model must not be re-hashed"
    start = time.perf_counter()
    info = gguf_info(path)
    assert info.architecture == "qwen2" and info.min_size == QWEN_SIZE
    assert time.perf_counter() - start < 1.0, "a model's header is read without its vocabulary"


def test_smollm2_test_model_is_there_and_intact():
    path = smollm2_path()
    assert path.is_file() and path.stat().st_size == SMOLLM2_SIZE
    assert sha256_file(path) == SMOLLM2_SHA256
    assert resolve_model(str(path)) == path
    info = gguf_info(path)
    assert info.architecture == "llama" and info.min_size == info.size == SMOLLM2_SIZE


def test_missing_file_names_the_setting(tmp_path):
    with pytest.raises(ModelUnavailable) as err:
        resolve_model(str(tmp_path / "nope.gguf"))
    assert "does not exist" in str(err.value) and "RAG_MODEL_PATH" in str(err.value)


def test_user_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ModelUnavailable) as err:
        resolve_model("~/models/x.gguf")
    assert str(tmp_path / "models" / "x.gguf") in str(err.value)


def test_non_gguf_file_is_refused(tmp_path):
    bogus = tmp_path / "model.gguf"
    bogus.write_text("<html>404 Not Found</html>")
    with pytest.raises(ModelUnavailable) as err:
        resolve_model(str(bogus))
    msg = str(err.value)
    assert "not a GGUF file (bad magic" in msg and "RAG_MODEL_PATH" in msg
    with pytest.raises(ModelUnavailable, match="not a file"):
        resolve_model(str(tmp_path))


def _copy_prefix(src: Path, dest: Path, n: int) -> Path:
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        left = n
        while left > 0:
            block = fin.read(min(left, 8 << 20))
            if not block:
                break
            fout.write(block)
            left -= len(block)
    return dest


def test_the_bundled_model_is_labelled_by_its_real_name():
    assert describe(Settings(model_path=""), "local") == "local:Qwen2.5-Coder-1.5B-Instruct"  # the bundled model


def test_a_users_gguf_is_labelled_by_its_file_name(tmp_path):
    assert describe(Settings(model_path=str(tmp_path / "My-Model.Q4_K_M.gguf")), "local") == "local:My-Model.Q4_K_M"
    assert model_name(str(tmp_path / "Gone-7B.gguf")) == "Gone-7B"  # a label, not an error: loading says what is wrong


def test_truncated_gguf_is_refused(tmp_path):
    src = smollm2_path()
    cut = _copy_prefix(src, tmp_path / "cut.gguf", SMOLLM2_SIZE - 4096)  # an interrupted download
    with pytest.raises(ModelUnavailable) as err:
        resolve_model(str(cut))
    msg = str(err.value)
    assert "truncated" in msg and str(SMOLLM2_SIZE - 4096) in msg and "RAG_MODEL_PATH" in msg

    head = _copy_prefix(src, tmp_path / "head.gguf", 64 * 1024)  # cut inside the metadata
    with pytest.raises(ModelUnavailable) as err:
        resolve_model(str(head))
    assert "damaged GGUF" in str(err.value) and "RAG_MODEL_PATH" in str(err.value)


def test_corrupt_header_is_refused(tmp_path):
    bad = _copy_prefix(smollm2_path(), tmp_path / "bad.gguf", 1 << 20)
    with open(bad, "r+b") as fh:  # GGUF version 99
        fh.seek(4)
        fh.write((99).to_bytes(4, "little"))
    with pytest.raises(ModelUnavailable, match="unsupported GGUF version 99.*RAG_MODEL_PATH"):
        resolve_model(str(bad))


def test_assemble_refuses_a_mismatch_and_leaves_nothing_behind(tmp_path):
    parts = []
    for i in range(3):
        p = tmp_path / f"part{i}.bin"
        p.write_bytes(os.urandom(100_000 + i))
        parts.append(p)
    whole = b"".join(p.read_bytes() for p in parts)
    out = tmp_path / "out" / "model.gguf"

    with pytest.raises(ModelUnavailable, match="sha256 .* expected .*reinstall"):
        assemble(parts, out, len(whole), "0" * 64)
    assert not out.exists() and list(out.parent.iterdir()) == []  # temp file deleted

    with pytest.raises(ModelUnavailable, match="add up to"):
        assemble(parts, out, len(whole) + 1, hashlib.sha256(whole).hexdigest())

    sha = hashlib.sha256(whole).hexdigest()
    assert assemble(parts, out, len(whole), sha) == out
    assert out.read_bytes() == whole
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.gguf", "model.gguf.verified"]


def test_verification_stamp_is_invalidated_by_a_change(tmp_path):
    f = tmp_path / "m.gguf"
    data = os.urandom(200_000)
    f.write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    verify_file(f, len(data), sha)
    assert (tmp_path / "m.gguf.verified").is_file()
    verify_file(f, len(data), sha)  # trusted from the stamp
    time.sleep(0.01)
    with open(f, "r+b") as fh:  # same size, one byte changed: new mtime, so re-hashed
        fh.write(b"\0" if data[0] else b"\1")
    with pytest.raises(ModelUnavailable, match="sha256"):
        verify_file(f, len(data), sha)
    with pytest.raises(ModelUnavailable, match="bytes, expected"):
        verify_file(f, len(data) + 1, sha)


def test_memory_check():
    check_memory(1000)
    with pytest.raises(ModelUnavailable) as err:
        check_memory(10**13)  # 10 TB: more than any test machine has
    msg = str(err.value)
    assert "too big for memory" in msg and "RAG_MODEL_PATH" in msg
    with pytest.raises(ModelUnavailable, match="too big for memory"):
        check_memory(2 * 2**30, available=2 * 2**30)  # 2 GiB model, 2 GiB free: no room left
    check_memory(2 * 2**30, available=4 * 2**30)
    assert models.available_memory() is None or models.available_memory() > 0


def test_without_the_model_packages_the_error_says_how_to_install(tmp_path):
    # `python -S` sees no site-packages: the same code, on a machine without the parts.
    env = {**os.environ, "RAG_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-S", "-m", "rag.models"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 1
    assert "the bundled model is not installed" in run.stderr
    assert "bash scripts/install-models.sh" in run.stderr and "RAG_MODEL_PATH" in run.stderr
