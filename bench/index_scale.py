"""What a build costs beyond embedding as the corpus grows: loading it, and linking translations.

    python bench/index_scale.py [--rows 100000] [--sizes 10000 100000] [--workdir DIR]

On the synthetic index of ``bench/latency.py`` (``_common.synthetic_index``: clustered random
vectors from both encoders, random int8 token states as many as e5 makes of each text), two
costs that every changed build or service start pays over the whole corpus, however little
changed:

* ``load_index``: every file read and checked against its checksum (start-up, ``POST /reload``);
  median of ``--runs`` loads in this process, the files in the page cache after the first; the
  checksums alone, and SHA-256 over the same files for comparison.
* ``align_parallel`` (``embed/indexing/alignment.py``), over the first N chunks of each
  ``--sizes``: FAISS
  candidates of the other language for every chunk, MaxSim checks of the close pairs; then the
  same as the next rebuild runs it after one chunk changed, the other chunks' candidates taken
  over (``find_candidates`` with ``Carried``). Below the full size the candidates come from an
  exact index over those rows.

The vectors are random, so which pairs link means nothing; the searches and checks are real work.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import header, synthetic_index, table

from embed.indexing.alignment import Carried, align_parallel, find_candidates
from embed.settings import EmbedSettings, load_encoders
from embed.store.builds import current_build, load_index, read_manifest
from embed.store.token_states import TokenStates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench")
    args = parser.parse_args()
    import faiss

    vectors = args.workdir / f"synthetic-{args.rows}"
    encoder, second = load_encoders(EmbedSettings())
    synthetic_index(vectors, args.rows, encoder, second)
    build = current_build(vectors)
    assert build is not None
    files = [f for f in build.rglob("*") if f.is_file()]
    size_gb = sum(f.stat().st_size for f in files) / 1e9
    loads, checks, sha256s = [], [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        data = load_index(vectors)
        loads.append(time.perf_counter() - started)
        started = time.perf_counter()
        read_manifest(build)
        checks.append(time.perf_counter() - started)
        started = time.perf_counter()
        for file in files:
            with file.open("rb") as handle:
                hashlib.file_digest(handle, "sha256")
        sha256s.append(time.perf_counter() - started)
    loading: list[dict[str, Any]] = [
        {"step": f"load_index ({size_gb:.1f} GB)", "seconds": statistics.median(loads)},
        {"step": f"of which checksums ({data.manifest.checksum})",
         "seconds": statistics.median(checks)},
        {"step": "SHA-256 of the same files", "seconds": statistics.median(sha256s)},
    ]  # fmt: skip
    langs = [c.chunk.lang for c in data.chunks]
    docs = [c.chunk.doc_id for c in data.chunks]
    tokens = TokenStates.of_build(data.arrays)
    extra = [data.arrays["second_embeddings"]] if "second_embeddings" in data.arrays else []
    aligning: list[dict[str, Any]] = []
    for n in args.sizes:
        index = data.index
        primary = data.embeddings[:n]
        if n < len(data.chunks):
            primary = np.ascontiguousarray(primary)
            index = faiss.IndexFlatIP(primary.shape[1])
            index.add(primary)
        kind = data.manifest.index.type if n >= len(langs) else "Flat"
        args_n = (langs[:n], index, primary, [e[:n] for e in extra], docs[:n], tokens)
        started = time.perf_counter()
        candidates = find_candidates(langs[:n], index, primary)
        links = align_parallel(*args_n, candidates=candidates)
        aligning.append(
            {
                "step": f"align_parallel ({kind}) over {n} chunks, every chunk searched",
                "seconds": time.perf_counter() - started,
                "linked": sum(bool(link) for link in links),
            }
        )
        # The next rebuild, after one chunk was embedded anew: the other lists are taken over.
        sources = np.arange(n)
        sources[n // 2] = -1
        started = time.perf_counter()
        carried = Carried(candidates, sorted(set(langs[:n])), sources)
        links = align_parallel(
            *args_n, candidates=find_candidates(langs[:n], index, primary, carried)
        )
        aligning.append(
            {
                "step": "the same after one chunk changed, the other lists taken over",
                "seconds": time.perf_counter() - started,
                "linked": sum(bool(link) for link in links),
            }
        )
    print(header("bench/index_scale.py: whole-corpus costs of a build"))
    print(table(loading))
    print()
    print(table(aligning))


if __name__ == "__main__":
    main()
