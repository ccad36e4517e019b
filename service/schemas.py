"""Request and response models of the JSON API; field names are a contract with its clients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from embed import language_name
from service.settings import DEFAULT_MAX_QUERY_CHARS

K_DEFAULT = 10
K_MAX = 100
# Most documents one `doc` filter names.
DOC_FILTER_MAX = 100
ResultFormat = Literal["json", "jsonl", "csv"]

_Q = (
    "What to look for, in any language the model knows (English and Russian at least). "
    "Must not be blank; at most `max_query_chars` characters "
    f"({DEFAULT_MAX_QUERY_CHARS} unless configured otherwise)."
)
DOC_ID = (
    "Id of the document: the seed's path relative to the seeds folder, without `.txt` for a "
    "plain-text seed; `.html`, `.htm`, `.pdf` and `.md` seeds keep their suffix (may contain `/` "
    "for nested folders)."
)
_OFFSETS = (
    "in the document's `text` (see `GET /documents/{doc_id}`): the seed file itself for `.txt`, "
    "the text extracted from it for other formats"
)
_PAGE = "The page the passage starts on, for a PDF seed (1 is the first); `null` for other formats."
_LANG_MAX = 200  # room for every supported code, comma-separated; longer is a mistake
_K = f"Number of results to return, 1 to {K_MAX}."
_LANG = (
    "Only return passages in this language (ISO 639-1 code such as `en` or `kk`), or in any "
    "of several separated by commas (`kk,ru`); each must be one the index has passages in "
    "(see `GET /health`). Omit for all languages."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FilterParams(_Strict):
    """Filters by document, language and date, applied inside the candidate search: a filter
    that keeps few passages still returns up to `k` of them."""

    lang: str | None = Field(None, max_length=_LANG_MAX, description=_LANG, examples=["ru"])
    doc: list[str] = Field(
        default_factory=list,
        max_length=DOC_FILTER_MAX,
        description="Only passages of these documents (ids as in `doc_id` of a result); "
        f"repeat the parameter for several, at most {DOC_FILTER_MAX}. An id the index does not "
        "have is refused.",
    )
    source: str | None = Field(
        None,
        max_length=256,
        description="Only documents of this publisher (their `publisher`) or site (the host of "
        "their source URL, subdomains included, e.g. `tass.ru`), compared without case.",
    )
    date_from: str | None = Field(
        None,
        max_length=32,
        description="Only documents dated this day or later (`YYYY-MM-DD`, inclusive). With a "
        "date filter, documents without a date are left out.",
        examples=["2024-01-01"],
    )
    date_to: str | None = Field(
        None,
        max_length=32,
        description="Only documents dated this day or earlier (`YYYY-MM-DD`, inclusive); not "
        "before `date_from`.",
    )
    group: Literal["translations", "none"] = Field(
        "translations",
        description="`translations` (default): a passage and its translations are one result, "
        "shown by the passage in `lang` when it is given, else by the best ranked of them "
        "(usually the one in a language other than the query's), with the rest under "
        "`translations`; `k` counts these results. `none`: every passage is a result of its "
        "own, so a passage and its translation can both be listed.",
    )


class SearchRequest(FilterParams):
    """One query (the body of ``POST /search``, or the query string of ``GET /search``)."""

    q: str = Field(description=_Q, examples=["Who chaired the meeting in Bishkek?"])
    k: int = Field(K_DEFAULT, ge=1, le=K_MAX, description=_K)
    offset: int = Field(
        0,
        ge=0,
        le=K_MAX,
        description="Skip this many results: results `offset+1` to `offset+k` of the same "
        "ranking, for paging. `offset + k` may be at most the candidates ranked per query "
        f"(100 unless configured otherwise), and `offset` at most {K_MAX}.",
    )
    format: ResultFormat | None = Field(
        None,
        description="`json` (the default), `jsonl` (one result per line) or `csv` (a header "
        "row, then one row per result: rank, doc_id, title, lang, date, paragraph, page, score, "
        "text, link). Without it the `Accept` header decides (`text/csv`, `application/x-ndjson`).",
    )


class SimilarRequest(FilterParams):
    """The query string of ``GET /similar/{doc_id}/{paragraph}``."""

    k: int = Field(K_DEFAULT, ge=1, le=K_MAX, description=_K)


class BatchSearchRequest(FilterParams):
    """Several queries answered together, their embeddings computed in one model call; the
    filters, `k`, `offset` and `format` apply to every query."""

    queries: list[str] = Field(
        min_length=1,
        description="The queries; each follows the rules of `q` in `POST /search`. At most "
        "`max_batch_queries` (32 unless configured otherwise).",
        examples=[["terrorism in Central Asia", "встреча в Бишкеке"]],
    )
    k: int = Field(K_DEFAULT, ge=1, le=K_MAX, description=_K + " Applies to every query.")
    offset: int = Field(0, ge=0, le=K_MAX, description="As in `POST /search`, for every query.")
    format: ResultFormat | None = Field(
        None,
        description="As in `POST /search`; `jsonl` and `csv` hold every query's results, each "
        "row with its `query`.",
    )


class SourceRef(BaseModel):
    """Where a document came from."""

    file: str = Field(description="The seed file, relative to the seeds folder.")
    url: str | None = Field(description="The original URL, when the seed's metadata has one.")


class Highlight(BaseModel):
    """A span of the passage that matched the query best."""

    start: int = Field(description="Offset of the span's first character in `text`.")
    end: int = Field(description="Offset just past the span's last character in `text`.")


class _Named(BaseModel):
    """A model with an ISO 639-1 ``lang`` that also says the language's name, for a reader who
    does not know every code of the region (``ky``, ``tg``, ``hy``...)."""

    if TYPE_CHECKING:
        lang: str

    @computed_field(  # type: ignore[prop-decorator]
        description="English name of `lang` (e.g. `Kyrgyz`), or the code itself for a language "
        "the product does not know."
    )
    @property
    def language(self) -> str:
        return language_name(self.lang)


class TranslationRef(_Named):
    """A passage in another language that says the same thing."""

    doc_id: str = Field(description="Id of the document holding the counterpart.")
    paragraph: int = Field(description="Paragraph number of the counterpart in its document.")
    lang: str = Field(description="Language of the counterpart (ISO 639-1).")
    link: str = Field(description="URL of the counterpart, marked on its document page.")
    score: float = Field(description="Mean cosine between the two passages over the encoders.")


class SearchHit(_Named):
    """One ranked passage."""

    rank: int = Field(description="1-based position in the result list.")
    score: float = Field(
        description="Ranking score, higher is closer: the passage's scores from the ranking's "
        "channels (query-passage and query-sentence cosines, BM25) fused into one number, or "
        "its translation's when that is higher (a passage ranks as high as its parallel "
        "passage in another language); it compares results of one list only."
    )
    text: str = Field(description="The passage, whitespace-normalised.")
    doc_id: str = Field(description=DOC_ID)
    title: str = Field(description="Title of the document.")
    lang: str = Field(description="Language of the passage (ISO 639-1).")
    date: str | None = Field(description="Date of the document (ISO 8601), when known.")
    paragraph: int = Field(
        description="Paragraph number in the document: 0 is the title, content starts at 1."
    )
    part: int = Field(
        description="0, or the piece of a paragraph too long for the model that this passage is."
    )
    page: int | None = Field(description=_PAGE)
    start: int = Field(description=f"Offset of the passage's first character {_OFFSETS}.")
    end: int = Field(description=f"Offset just past the passage's last character {_OFFSETS}.")
    link: str = Field(
        description="URL of the document page on this service, scrolled to this passage "
        "with the passage marked."
    )
    source: SourceRef = Field(description="The seed file and the original URL.")
    scores: dict[str, float] = Field(
        description="Raw score per ranking channel, so a reader can see why it ranked: "
        "`dense` (query-passage cosine, e5), `dense_sentence` (best sentence, e5), `second` "
        "and `second_sentence` (the same with the second encoder), `lexical` (BM25 over "
        "transliterated text), `tokens` (late interaction: the mean over the query's tokens of "
        "each one's best cosine to the passage's tokens, e5 layer 8). Channels turned off are "
        "absent. In a corpus of several "
        "languages the channels are fused after language centering, so the ranking can "
        "differ from the order of these raw scores."
    )
    highlights: list[Highlight] = Field(
        description="The best-matching sentence(s) of the passage, as offsets in `text`."
    )
    translations: list[TranslationRef] = Field(
        description="Parallel passages: the same content in documents of another language."
    )


_WEAK = (
    "True when nothing in the index matches the query well: there is no result, or the best "
    "result's best-sentence cosines to the query, by both encoders, weighted and summed "
    "(`XLSEARCH_RANKING__WEAK_WEIGHTS`), fall below a threshold measured on XQuAD-dev "
    "(`__WEAK_BELOW`; see docs/ranking.md). The results are still returned. Null when the "
    "service has no rule for its model (another primary model than the default, until one is "
    "fitted and set)."
)


_FILTER_NOTE = (
    "Why there are no results when the filters (`doc`, `source`, `date_from`, `date_to`) allow "
    "no document of the index, e.g. \"no document matches every filter: source 'kabar.kg' "
    'matches 0 of 5 documents (no document has a publisher or a source URL)"; null otherwise.'
)


class SearchResponse(BaseModel):
    """The answer to one query."""

    query: str = Field(description="The query as received.")
    took_ms: float = Field(description="Time spent answering, in milliseconds.")
    build: str = Field(description="The index build that answered.")
    weak_match: bool | None = Field(description=_WEAK)
    filter_note: str | None = Field(None, description=_FILTER_NOTE)
    results: list[SearchHit] = Field(description="The passages, best first.")


class QueryResults(BaseModel):
    """The results of one query of a batch."""

    query: str = Field(description="The query as received.")
    weak_match: bool | None = Field(description=_WEAK)
    results: list[SearchHit] = Field(description="The passages, best first.")


class BatchSearchResponse(BaseModel):
    """The answers to a batch, in the order of the queries."""

    took_ms: float = Field(description="Time spent answering the whole batch, in milliseconds.")
    build: str = Field(description="The index build that answered every query of the batch.")
    filter_note: str | None = Field(None, description=_FILTER_NOTE)
    results: list[QueryResults] = Field(description="One entry per query, in request order.")


class ParagraphOut(BaseModel):
    """One passage of a document as indexed."""

    number: int = Field(description="Paragraph number: 0 is the title, content starts at 1.")
    part: int = Field(description="0, or the piece of a long paragraph this is.")
    page: int | None = Field(description=_PAGE)
    start: int = Field(description=f"Offset of the first character {_OFFSETS}.")
    end: int = Field(description=f"Offset just past the last character {_OFFSETS}.")
    lang: str = Field(description="Language of the passage (ISO 639-1).")
    text: str = Field(description="The passage, whitespace-normalised.")


class DocumentOut(_Named):
    """A document of the index."""

    doc_id: str = Field(description=DOC_ID)
    title: str = Field(description="Title, from the metadata or the first paragraph.")
    date: str | None = Field(description="Date (ISO 8601), when known.")
    lang: str = Field(description="Main language of the document (ISO 639-1).")
    author: str | None = Field(description="Author, when known.")
    publisher: str | None = Field(description="Publisher, when known.")
    source: SourceRef = Field(description="The seed file and the original URL.")
    link: str = Field(description="URL of the document's page on this service.")
    text: str = Field(
        description="The document's text, which `start`/`end` offsets index into: the seed file "
        "for `.txt`; for other formats the text extracted from it, one paragraph per line (a "
        "web page's main text, a PDF's pages separated by form feeds, Markdown without markup)."
    )
    paragraphs: list[ParagraphOut] = Field(
        description="The passages in reading order; a long paragraph has several parts."
    )


class ModelOut(BaseModel):
    """The embedding model."""

    name: str = Field(description="sentence-transformers model name or path.")
    checksum: str = Field(description="SHA-256 of the model's weights.")
    dimension: int = Field(description="Length of the embedding vectors.")


class LoadErrorOut(BaseModel):
    """The last failure to load an index."""

    build: str | None = Field(description="The build that failed (null: the pointer itself).")
    message: str = Field(description="What went wrong.")
    at: str = Field(description="When it happened (ISO 8601, UTC).")


class WatchOut(BaseModel):
    """The seeds watch: rebuilds after changes in the seeds folder (`xlsearch serve --watch`)."""

    enabled: bool = Field(description="Whether changes in the seeds folder start a rebuild.")
    rebuilding: bool = Field(description="Whether a rebuild is under way.")
    last_rebuild: str | None = Field(
        description="When the last rebuild succeeded (ISO 8601, UTC); null before the first."
    )
    last_error: str | None = Field(
        description="Why the last rebuild failed, until one succeeds; the previous build is "
        "served meanwhile, and the next change tries again."
    )
    failed_at: str | None = Field(description="When that failure happened (ISO 8601, UTC).")


class SkippedOut(BaseModel):
    """A seed the served index could not include."""

    source: str = Field(description="The file, relative to the seeds folder.")
    reason: str = Field(description="Why it could not be indexed.")


class HealthResponse(BaseModel):
    """State of the service and of the index it serves."""

    status: str = Field(
        description="`ok`; `degraded` when a newer index failed to load, or a rebuild after a "
        "change in the seeds failed, and the previous one is still served; `unavailable` when "
        "no index is loaded or its backend cannot be reached."
    )
    backend: str = Field("local", description="Where the index is read: `local` or `milvus`.")
    reachable: bool = Field(
        True, description="Whether the backend answers (a Milvus server can go away)."
    )
    ready: bool = Field(description="True when searches can be answered.")
    build: str | None = Field(description="Name of the build being served.")
    built_at: str | None = Field(description="When that build was made (ISO 8601, UTC).")
    loaded_at: str | None = Field(description="When the service loaded it (ISO 8601, UTC).")
    documents: int = Field(description="Documents in the index.")
    passages: int = Field(description="Passages (chunks) in the index: the index's size.")
    languages: list[str] = Field(description="Languages the index has passages in.")
    model: ModelOut | None = Field(description="The model that built the index.")
    second_model: ModelOut | None = Field(
        description="The second encoder whose vectors the index holds too, if any."
    )
    stale: list[str] = Field(
        description="Parts of the served build that this version makes differently (model, "
        "second_model, tokens, chunking, lexical, alignment): it is ranked without them until "
        "`xlsearch rebuild-index` makes them anew. Empty when the build is current."
    )
    seeds: str | None = Field(
        None,
        description="The seeds folder the served index was built from (absolute); null for a "
        "build from before it was recorded.",
    )
    location: str = Field(
        "", description="Where the index is read: its folder (absolute), or the Milvus server."
    )
    skipped: list[SkippedOut] = Field(
        default_factory=list,
        description="Seeds of that folder that could not be indexed, each with why (empty, not "
        "text of an encoding that can be told, damaged, ...); the rest is served.",
    )
    error: LoadErrorOut | None = Field(description="The last failure to load a newer index.")
    watch: WatchOut = Field(description="The seeds watch and its last rebuild.")


class ReloadResponse(BaseModel):
    """What ``POST /reload`` did."""

    reloaded: bool = Field(description="True when a new build is now served.")
    build: str | None = Field(description="The build served now.")
    previous: str | None = Field(description="The build served before the call.")


class ErrorResponse(BaseModel):
    """Any error: a 4xx for bad input, 401 for a missing key, 503 while no index is loaded."""

    detail: str = Field(description="What is wrong, in a sentence.")
    errors: list[dict[str, Any]] | None = Field(
        None, description="For invalid input, every problem found: where (`loc`) and what (`msg`)."
    )


_ERROR_MEANINGS = {
    400: "The request cannot be honoured as it stands (e.g. a doc_id leaving the seeds folder).",
    401: "The X-API-Key header is missing or wrong.",
    404: "No such document.",
    409: "The new index could not be loaded; the previous one is still served.",
    422: "Invalid input: the detail names the field and the problem.",
    503: "No index is loaded (yet).",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the given error codes, all shaped as ErrorResponse."""
    return {code: {"model": ErrorResponse, "description": _ERROR_MEANINGS[code]} for code in codes}
