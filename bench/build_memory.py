"""Peak memory of ``xlsearch rebuild-index``: cold, and after one document changed.

    python bench/build_memory.py [--copies 4] [--baseline-source DIR] [--data ../shared/data]

Corpus: the five seeds plus ``--copies`` copies of the 240 XQuAD-dev paragraphs (120 English,
120 Russian), each copy's text made distinct by a numbered sentence, so that every paragraph is
embedded. Each rebuild runs as its own ``rebuild-index`` process; the parent samples its
``/proc`` status every 10 ms and reports the peak of ``RssAnon`` (memory the process owns,
which the kernel cannot drop) beside ``VmHWM`` (the kernel's peak resident set, which also
counts the index files' pages read through memory maps: those are evictable cache), the size of
the token-state files, and how long loading the cold build takes (``load_index``, which checks
every file's checksum: the start-up and ``/reload`` cost that grows with the corpus).

``--baseline-source`` runs the same rebuilds with the code of another checkout (for example a
``git worktree`` of an earlier commit), in the same run, alternating with this one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, SEEDS, header, rss_mb, table

from embed.evaluation.benchmarks import _read_xquad, write_corpus
from embed.store.builds import current_build

_CLI = "from service.cli import app; app()"


def rebuild(source: Path, seeds: Path, vectors: Path) -> dict[str, float]:
    """Run one ``rebuild-index`` with the code under ``source``; its seconds and peak memory."""
    env = {
        **os.environ,
        "PYTHONPATH": str(source),
        "XLSEARCH_SEEDS_DIR": str(seeds),
        "XLSEARCH_VECTORS_DIR": str(vectors),
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLI, "rebuild-index", "--json"],
        env=env, cwd=source, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    peak_anon = peak_hwm = 0.0
    while proc.poll() is None:
        try:
            peak_anon = max(peak_anon, rss_mb(proc.pid, "RssAnon"))
            peak_hwm = max(peak_hwm, rss_mb(proc.pid, "VmHWM"))
        except (OSError, RuntimeError):  # the process ended between poll() and the read
            break
        time.sleep(0.01)
    out, _ = proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"rebuild-index with {source} exited with {proc.returncode}")
    summary = json.loads(out)
    return {
        "seconds": time.perf_counter() - started,
        "embedded": summary["embedded"],
        "peak RssAnon MiB": peak_anon,
        "peak VmHWM MiB": peak_hwm,
    }


_LOAD = """
import sys, time
from pathlib import Path
from embed.store.builds import load_index
started = time.perf_counter()
load_index(Path(sys.argv[1]))
print(time.perf_counter() - started)
"""


def load_ms(source: Path, vectors: Path, runs: int = 3) -> float:
    """Median milliseconds of ``load_index`` (every file's checksum included) with the code
    under ``source``, each run in its own process, the files already in the page cache."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    times = [
        float(subprocess.check_output([sys.executable, "-c", _LOAD, str(vectors)], env=env))
        for _ in range(runs)
    ]
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--baseline-source", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlbench-memory"
    )
    args = parser.parse_args()
    corpus = args.workdir / "corpus"
    shutil.rmtree(args.workdir, ignore_errors=True)
    shutil.copytree(SEEDS, corpus)
    texts: dict[str, str] = {}
    for lang in ("en", "ru"):
        paragraphs, _ = _read_xquad(args.data / "xquad-dev" / f"xquad-dev.{lang}.json")
        for copy in range(args.copies):
            for i, text in enumerate(paragraphs):
                texts[f"{lang}-{copy}-{i:03d}"] = f"{text} ({lang} copy {copy + 1}.)"
    write_corpus(corpus / "xquad", texts)

    sources = {"this checkout": ROOT}
    if args.baseline_source:
        sources = {"baseline": args.baseline_source.resolve(), **sources}
    rows: list[dict[str, Any]] = []
    for name, source in sources.items():
        vectors = args.workdir / f"vectors-{len(rows)}"
        cold = rebuild(source, corpus, vectors)
        build = current_build(vectors)
        assert build is not None
        states_mb = sum(f.stat().st_size for f in build.glob("token_*.npy")) / 2**20
        rows.append({"code": name, "rebuild": "cold", **cold, "token states MiB": states_mb,
                     "index load ms": load_ms(source, vectors)})  # fmt: skip
        changed = corpus / "xquad" / "en-0-000.txt"
        original = changed.read_text(encoding="utf-8")
        changed.write_text(original + "\n\nOne more paragraph.\n", encoding="utf-8")
        one = rebuild(source, corpus, vectors)
        changed.write_text(original, encoding="utf-8")
        rows.append({"code": name, "rebuild": "one document changed", **one,
                     "token states MiB": states_mb})  # fmt: skip
    print(header(f"bench/build_memory.py: {len(texts) + 5} documents"))
    print(table(rows))


if __name__ == "__main__":
    main()
