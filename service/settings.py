"""Service settings: the shared :class:`EmbedSettings` plus how and where to serve."""

from __future__ import annotations

from pydantic import Field, SecretStr

from embed import EmbedSettings

DEFAULT_MAX_QUERY_CHARS = 1000


class ServiceSettings(EmbedSettings):
    """Everything ``xlsearch serve`` needs; each field can be set as ``XLSEARCH_<FIELD>``.

    For example ``XLSEARCH_PORT=9000`` or ``XLSEARCH_API_KEY=s3cret``. Command-line options take
    precedence over the environment.
    """

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port to listen on.")
    api_key: SecretStr | None = Field(
        None, description="When set, POST /reload needs it in the X-API-Key header."
    )
    max_query_chars: int = Field(
        DEFAULT_MAX_QUERY_CHARS,
        ge=1,
        # The model reads at most 512 tokens anyway; longer input only costs time.
        description="Longest query accepted, in characters.",
    )
    max_batch_queries: int = Field(
        32, ge=1, description="Most queries accepted by one POST /search/batch."
    )
    reload_interval: float = Field(
        1.0,
        ge=0,
        description="Seconds between checks of vectors/CURRENT for a new build; 0 turns the "
        "check off (POST /reload still works).",
    )
    watch: bool = Field(
        False,
        description="Rebuild the index when files in the seeds folder are added, changed, "
        "deleted or renamed, and serve the new build.",
    )
    watch_debounce_ms: int = Field(
        1000,
        ge=50,
        le=600_000,
        description="Quiet period of the seeds watch: a rebuild starts once the seeds folder "
        "has seen no change for this long (milliseconds).",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser; empty (the default) sends "
        "no CORS headers, so browsers refuse cross-origin calls.",
    )
    max_body_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Largest request body accepted, in bytes; larger ones get 413.",
    )
    result_cache: int = Field(
        512,
        ge=0,
        le=1_000_000,
        description="How many recent result lists are kept, by build, query, k and language, "
        "so that a repeated query skips the models; 0 turns the cache off.",
    )
    log_json: bool = Field(
        False, description="Write logs as one JSON object per line (request id included)."
    )
