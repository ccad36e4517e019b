"""Every language of the region: hit@1 per language and set, before (a base commit) and after.

    python bench/languages.py [--base REV] [--data ../shared/data] [--sets NAME ...]

Sets (``embed/evaluation/benchmarks.py``): the pooled twelve-language XQuAD-dev (each article in
one language, English questions; the same with the answer's language as filter; questions in
each language), the pooled Tatoeba of the fifteen region languages (and with the filter), and
the English-Russian guards with the seeds' query set. Each side indexes every corpus with its
own code (the base in a temporary git worktree, with this checkout's benchmark definitions, so
that both rank the same corpora) into its own cache folder, so a re-run only re-ranks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, header, worktree

from embed.util.tables import markdown_table

DEFAULT_SETS = (
    "xquad-12", "xquad-12-lang", "xquad-12-questions", "tatoeba-region", "tatoeba-region-lang",
    "xquad", "xquad-mixed", "xquad-parallel", "tatoeba", "seeds",
)  # fmt: skip
# The sets whose rows (one per language) are also summed into one figure.
_POOLED = ("xquad-12", "tatoeba-region")
# The commit before the languages work: its ranking is the "before" of the tables.
BEFORE_LANGUAGES = "6add5bd"
BENCHMARKS_FILE = ROOT / "embed" / "evaluation" / "benchmarks.py"
SEED_QUERIES = ROOT / "bench" / "queries" / "seeds.jsonl"

# Run by each side's interpreter with that side's code first on the path: loads this checkout's
# benchmark definitions by file, evaluates each set, prints the scores as JSON. Both import the
# build and search through the public API, which a base from before a layout change has too.
_WORKER = """
import importlib.util, json, sys
from dataclasses import asdict
from pathlib import Path
from embed import EmbedSettings, Searcher, load_encoders, rebuild_index
from embed.evaluation.metrics import QuerySet, evaluate, read_jsonl

file, data, workdir, seeds, queries, *sets = sys.argv[1:]
spec = importlib.util.spec_from_file_location("bench_benchmarks", file)
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module  # its dataclasses look their module up
spec.loader.exec_module(module)
settings = EmbedSettings()
encoder, second = load_encoders(settings)
scores = []
for name in sets:
    if name == "seeds":
        vectors = Path(workdir) / "seeds-vectors"
        rebuild_index(Path(seeds), vectors, encoder, second=second)
        searcher = Searcher.load(vectors, encoder, second, settings.ranking)
        scores.append(evaluate(searcher, QuerySet("seeds", "any", read_jsonl(Path(queries)))))
        continue
    searchers = {}
    for bench in module.BENCHMARKS[name](Path(data)):
        if bench.index_name not in searchers:
            searchers[bench.index_name], _ = module.benchmark_searcher(
                bench, Path(workdir), encoder, second, settings.ranking
            )
        scores.append(evaluate(searchers[bench.index_name], bench.query_set))
print(json.dumps([{k: v for k, v in asdict(s).items() if k != "misses"} for s in scores]))
"""


def _scores(code: Path, data: Path, workdir: Path, sets: list[str]) -> list[dict[str, object]]:
    """Each set's scores, ranked by the code in ``code``."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(code)}
    command = [
        sys.executable, "-c", _WORKER, str(BENCHMARKS_FILE), str(data), str(workdir),
        str(ROOT / "seeds"), str(SEED_QUERIES), *sets,
    ]  # fmt: skip
    done = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the sets ranked by {code} failed:\n{done.stderr[-3000:]}")
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def _pooled(rows: list[dict[str, object]], name: str, filtered: bool) -> tuple[float, int]:
    """The hit@1 of one pooled set's queries together, and how many there are."""
    chosen = [
        r for r in rows if r["name"] == name and ("(lang set)" in str(r["direction"])) == filtered
    ]
    total = sum(int(str(r["queries"])) for r in chosen)
    hits = sum(float(str(r["hit_at_1"])) * int(str(r["queries"])) for r in chosen)
    return (hits / total if total else 0.0), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=BEFORE_LANGUAGES, help="The commit of 'before'.")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    parser.add_argument(
        "--workdir", type=Path, default=Path(tempfile.gettempdir()) / "xlsearch-bench-languages"
    )
    args = parser.parse_args()
    data = args.data.resolve()
    with worktree(args.base) as base_tree:
        before = _scores(base_tree, data, args.workdir / "before", args.sets)
    after = _scores(ROOT, data, args.workdir / "after", args.sets)
    print(header(f"bench/languages.py, before = {args.base}, after = this checkout"))
    rows = []
    for old, new in zip(before, after, strict=True):
        rows.append(
            {
                "set": new["name"],
                "direction": new["direction"],
                "queries": new["queries"],
                "hit@1 before": old["hit_at_1"],
                "hit@1 after": new["hit_at_1"],
                "MRR@10 before": old["mrr_at_10"],
                "MRR@10 after": new["mrr_at_10"],
            }
        )
    print(markdown_table(rows))
    pooled = []
    for name in sorted({str(r["name"]) for r in after if r["name"] in _POOLED}):
        for filtered in (False, True):
            (old, n), (new, _) = _pooled(before, name, filtered), _pooled(after, name, filtered)
            if n:
                label = f"{name}{' (lang set)' if filtered else ''}"
                pooled.append({"set": label, "queries": n, "hit@1 before": round(old, 4),
                               "hit@1 after": round(new, 4)})  # fmt: skip
    print()
    print(markdown_table(pooled))


if __name__ == "__main__":
    main()
