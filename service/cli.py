"""The ``xlsearch`` command with ``serve`` added to the commands of :mod:`embed.cli`.

``embed`` never imports ``service``; this module extends the embed command instead, and is what
the ``xlsearch`` script runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from embed import BuildError, Encoder, TextEncoder, current_build
from embed.cli import (
    BackendOpt,
    MilvusCollectionOpt,
    MilvusUriOpt,
    ModelOpt,
    SeedsOpt,
    VectorsOpt,
    app,
    publish_if_asked,
    run_rebuild,
    setup_logging,
    user_errors,
)
from service.settings import ServiceSettings

__all__ = ["app"]


def _bring_index_up_to_date(
    settings: ServiceSettings, encoders: tuple[Encoder, TextEncoder | None]
) -> None:
    """Rebuild the index from the seeds before serving it, so that edited seeds are searchable.

    Only what changed is embedded; an unchanged corpus is answered from the live build's
    records without loading a model. When an index exists but cannot be rebuilt now (another
    rebuild holds the lock, the seeds folder is gone), it is served as it is, with a warning.

    Args:
        settings: The seeds and index folders.
        encoders: The models to embed with (those the service will search with).

    Raises:
        BuildError: When there is no index and none can be built.
    """
    live = current_build(settings.vectors_dir)
    if live is None:
        typer.echo(
            f"no index in {settings.vectors_dir}; building it from {settings.seeds_dir} first",
            err=True,
        )
    try:
        summary = run_rebuild(settings, progress=True, encoders=encoders)
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
        str | None, typer.Option(help="Interface to listen on [default: 127.0.0.1].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="TCP port [default: 8000].")
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
            "change [default: no watching].",
        ),
    ] = None,
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
        _bring_index_up_to_date(settings, (encoder, second))
        published = publish_if_asked(settings)
        if published:
            typer.echo(published, err=True)
    app = create_app(settings, encoder=encoder, second=second)
    # Our middleware logs one access line per request, with its request id and duration;
    # uvicorn's own access log would repeat every request without them.
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=False)


if __name__ == "__main__":
    app()
