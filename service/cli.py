"""The ``xlsearch`` command with ``serve`` and ``search`` added to the commands of
:mod:`embed.cli`.

``embed`` never imports ``service``; this module extends the embed command instead, and is what
the ``xlsearch`` script runs. ``search`` lives here because it answers as the API does: the same
checks of its input, the same result fields and CSV columns, links to the service's pages.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Literal
from urllib.parse import quote

import typer
from fastapi import HTTPException

from embed import BuildError, Chunk, Encoder, SeedsMismatch, TextEncoder, current_build
from embed.cli import (
    BackendOpt,
    MilvusCollectionOpt,
    MilvusUriOpt,
    ModelOpt,
    SeedsOpt,
    VectorsOpt,
    app,
    fail,
    publish_if_asked,
    run_rebuild,
    setup_logging,
    user_errors,
)
from service.schemas import K_MAX, FilterParams, SearchResponse
from service.searching import (
    Links,
    check_filters,
    check_lang,
    check_queries,
    filter_note,
    marked_passage,
    to_hit,
)
from service.settings import ServiceSettings

__all__ = ["app"]

# Exit status of a command refused for its input, as for a bad option.
USAGE_ERROR = 2


def _bring_index_up_to_date(
    settings: ServiceSettings,
    encoders: tuple[Encoder, TextEncoder | None],
    switch_seeds: bool,
) -> None:
    """Rebuild the index from the seeds before serving it, so that edited seeds are searchable.

    Only what changed is embedded; an unchanged corpus is answered from the live build's
    records without loading a model. When an index exists but cannot be rebuilt now (another
    rebuild holds the lock, the seeds folder is gone), it is served as it is, with a warning.

    Args:
        settings: The seeds and index folders.
        encoders: The models to embed with (those the service will search with).
        switch_seeds: Rebuild an index of another seeds folder from ``settings.seeds_dir``.

    Raises:
        SeedsMismatch: When the index was built from another seeds folder, unless
            ``switch_seeds``: serving it would show other documents than the user asked for.
        BuildError: When there is no index and none can be built.
    """
    vectors, seeds = settings.vectors_dir.absolute(), settings.seeds_dir.absolute()
    live = current_build(settings.vectors_dir)
    if live is None:
        typer.echo(f"no index in {vectors}; building it from {seeds} first", err=True)
    try:
        summary = run_rebuild(
            settings, progress=sys.stderr.isatty(), encoders=encoders, keep_seeds=not switch_seeds
        )
    except SeedsMismatch:
        raise
    except BuildError as exc:
        if live is None:
            raise
        typer.echo(f"warning: {exc}; serving the index as it is ({live.name})", err=True)
        return
    if live is not None and summary.changed:
        typer.echo(
            f"seeds changed: new build {summary.build} "
            f"({summary.embedded} chunks embedded, {summary.reused} reused)",
            err=True,
        )


@app.command()
def serve(
    vectors: VectorsOpt = None,
    seeds: SeedsOpt = None,
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on.", show_default="127.0.0.1")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="TCP port.", show_default="8000")
    ] = None,
    model: ModelOpt = None,
    backend: BackendOpt = None,
    milvus_uri: MilvusUriOpt = None,
    milvus_collection: MilvusCollectionOpt = None,
    watch: Annotated[
        bool | None,
        typer.Option(
            "--watch/--no-watch",
            help="Rebuild the index, and serve the new build, when files in the seeds folder "
            "change.",
            show_default="--no-watch",
        ),
    ] = None,
    switch_seeds: Annotated[
        bool,
        typer.Option(
            "--switch-seeds",
            help="Rebuild an index that was built from another seeds folder from this one "
            "(without it, serving is refused and the index is left as it is).",
        ),
    ] = False,
) -> None:
    """Serve the search page and the JSON API, bringing the index up to date with the seeds first.

    Every option can also come from an XLSEARCH_* environment variable (XLSEARCH_PORT, ...),
    as can the API key for POST /reload (XLSEARCH_API_KEY) and the seeds watch's quiet period
    (XLSEARCH_WATCH_DEBOUNCE_MS).
    """
    import uvicorn

    from embed import load_encoders
    from service.app import create_app

    setup_logging(verbose=True)
    given = {
        "vectors_dir": vectors, "seeds_dir": seeds, "host": host, "port": port, "model": model,
        "backend": backend, "milvus_uri": milvus_uri, "milvus_collection": milvus_collection,
        "watch": watch,
    }  # fmt: skip
    settings = ServiceSettings.model_validate({k: v for k, v in given.items() if v is not None})
    with user_errors():
        # Made here (they load lazily) so that a missing model is a message, not a traceback,
        # and shared by the rebuild and the service, so that neither loads them twice.
        encoder, second = load_encoders(settings)
        _bring_index_up_to_date(settings, (encoder, second), switch_seeds)
        published = publish_if_asked(settings)
        if published:
            typer.echo(published, err=True)
    app = create_app(settings, encoder=encoder, second=second)
    # Our middleware logs one access line per request, with its request id and duration;
    # uvicorn's own access log would repeat every request without them.
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=False)


def _service_links(settings: ServiceSettings) -> Links:
    """Passage links as the service at ``settings.host``:``settings.port`` gives them."""
    from service.routes.pages import router

    base = f"http://{settings.host}:{settings.port}/"

    def link(chunk: Chunk) -> str:
        path = router.url_path_for("document_page", doc_id=quote(chunk.doc_id, safe="/"))
        return marked_passage(path.make_absolute_url(base), chunk)

    return link


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in any language.")],
    k: Annotated[int, typer.Option("-k", min=1, max=K_MAX, help="Number of results.")] = 5,
    lang: Annotated[str | None, typer.Option(help="Only passages in this language.")] = None,
    doc: Annotated[
        list[str] | None,
        typer.Option(help="Only passages of this document (its id); repeat for several."),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Only documents of this publisher or site (e.g. tass.ru).")
    ] = None,
    date_from: Annotated[
        str | None, typer.Option(help="Only documents dated this day or later (YYYY-MM-DD).")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option(help="Only documents dated this day or earlier (YYYY-MM-DD).")
    ] = None,
    group: Annotated[
        Literal["translations", "none"],
        typer.Option(
            help="translations: a passage and its translations are one result; none: each "
            "passage is a result of its own (as the API's group)."
        ),
    ] = "translations",
    vectors: VectorsOpt = None,
    model: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
    output: Annotated[
        Literal["text", "json", "jsonl", "csv"] | None,
        typer.Option(
            "--format",
            help="text (for people), json (one object, as GET /search answers), jsonl (one "
            "result per line) or csv (the API's columns: rank, doc_id, title, lang, date, "
            "paragraph, page, score, text, link).",
            show_default="text",
        ),
    ] = None,
) -> None:
    """Search the index from the command line, with the checks and result fields of the API
    (links point to the service at XLSEARCH_HOST and XLSEARCH_PORT)."""
    from service.export import hits_csv

    setup_logging(False)
    if as_json and output not in (None, "json"):
        fail(f"--json and --format {output} ask for two formats; give one", USAGE_ERROR)
    chosen = "json" if as_json else output or "text"
    given = {"vectors_dir": vectors, "model": model}
    settings = ServiceSettings.model_validate({k: v for k, v in given.items() if v is not None})
    started = time.perf_counter()
    with user_errors():
        from embed.ranking.searcher import Searcher
        from embed.settings import load_encoders

        # Unvalidated: the filter's own parsing checks the dates, as for the API.
        params = FilterParams.model_construct(
            doc=doc or [], source=source, date_from=date_from, date_to=date_to
        )
        try:
            check_queries([query], settings, name="the query")
        except HTTPException as exc:
            fail(str(exc.detail), USAGE_ERROR)
        encoder, second = load_encoders(settings)
        searcher = Searcher.load(settings.vectors_dir, encoder, second, settings.ranking)
        try:
            code = check_lang(lang, searcher)
            filters = check_filters(params, searcher)
        except HTTPException as exc:
            fail(str(exc.detail), USAGE_ERROR)
        note = filter_note(filters, searcher)
        if note is not None:
            fail(note, USAGE_ERROR)
        results = searcher.search(query, k, code, filters, group != "none")
    links = _service_links(settings)
    hits = [to_hit(result, links) for result in results]
    if chosen == "json":
        answer = SearchResponse(
            query=query,
            took_ms=round((time.perf_counter() - started) * 1000, 1),
            build=searcher.build,
            weak_match=searcher.is_weak(results),
            results=hits,
        )
        typer.echo(answer.model_dump_json())
        return
    rows = [hit.model_dump(mode="json") for hit in hits]
    if chosen == "jsonl":
        for row in rows:
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    if chosen == "csv":
        sys.stdout.write(hits_csv(rows))
        return
    if searcher.is_weak(results):
        typer.echo("Nothing in the index matches this query well; the closest passages:")
    for r in results:
        where = f"{r.chunk.doc_id}#p{r.chunk.paragraph}"
        typer.echo(f"{r.rank:>2}. {r.score:.3f} [{r.chunk.lang}] {where}  {r.chunk.title}")
        typer.echo(f"    {r.chunk.text[:300]}")


if __name__ == "__main__":
    app()
