"""What the search API and the search page share: input checks, result links and shapes."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from functools import partial
from urllib.parse import quote

from fastapi import HTTPException, Request, status
from starlette.datastructures import URL, URLPath

from embed import Chunk, DocumentFilter, FilterError, Searcher, SearchResult
from service.schemas import FilterParams, Highlight, SearchHit, SourceRef, TranslationRef
from service.settings import ServiceSettings


def _invalid(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=message)


def _has_text(query: str) -> bool:
    """Whether ``query`` holds a visible character (not only spaces, controls, zero-widths)."""
    return any(ch.isprintable() and not ch.isspace() for ch in query)


# Tabs and line breaks come with pasted text and read as spaces; any other control character
# (NUL, escape, DEL, ...) is no part of a question.
_SPACE_CONTROLS = frozenset("\t\n\r")


def _bad_character(query: str) -> str | None:
    """Why ``query`` is not text to search, or ``None`` when it is.

    Invalid UTF-8 in a query string arrives as U+FFFD (the decoder's replacement character),
    and an unpaired surrogate (a JSON ``\\ud800``) encodes to no UTF-8 at all.
    """
    for position, ch in enumerate(query):
        category = unicodedata.category(ch)
        if ch == "\ufffd" or category == "Cs":
            return f"is not valid UTF-8 text (at character {position})"
        if category == "Cc" and ch not in _SPACE_CONTROLS:
            return f"holds the control character U+{ord(ch):04X} (at character {position})"
    return None


def check_queries(
    queries: Sequence[str], settings: ServiceSettings, batch: bool = False, name: str = "q"
) -> None:
    """Refuse blank, over-long or malformed queries (control characters, invalid UTF-8), and
    batches over the size limit.

    Args:
        queries: The queries of one request.
        settings: Where the limits come from.
        batch: The queries came as the ``queries`` list of a batch rather than as ``q``.
        name: What a single query is called in messages.

    Raises:
        HTTPException: 422 naming the first bad query and what is wrong with it.
    """
    if batch and len(queries) > settings.max_batch_queries:
        raise _invalid(
            f"queries holds {len(queries)} queries; the limit is {settings.max_batch_queries}"
        )
    limit = settings.max_query_chars
    for position, query in enumerate(queries):
        field = f"queries[{position}]" if batch else name
        if not _has_text(query):
            raise _invalid(f"{field} is empty: give some text to search for")
        bad = _bad_character(query)
        if bad is not None:
            raise _invalid(f"{field} {bad}; send the query as UTF-8 text")
        if len(query) > limit:
            raise _invalid(
                f"{field} is {len(query)} characters long; the limit is {limit} characters"
            )


def check_lang(lang: str | None, searcher: Searcher) -> frozenset[str] | None:
    """Normalise a language filter (one code, or several separated by commas) and refuse one
    the index has no passages in.

    Returns:
        The lower-cased codes, or ``None`` for no filter (an empty ``lang`` counts as none).

    Raises:
        HTTPException: 422 naming each code the index lacks and listing those it does have.
    """
    if lang is None or not lang.strip():
        return None
    codes = frozenset(code.strip().lower() for code in lang.split(",") if code.strip())
    missing = sorted(codes - searcher.languages)
    if not codes or missing:
        known = ", ".join(sorted(searcher.languages)) or "none"
        what = f"no passages in {', '.join(missing)}" if missing else "no language code"
        raise _invalid(f"lang {lang!r}: the index has {what} (it has: {known})")
    return codes


def check_filters(params: FilterParams, searcher: Searcher) -> DocumentFilter | None:
    """The document filter of a request, or ``None`` when it sets none.

    Raises:
        HTTPException: 422 for a malformed date, ``date_from`` after ``date_to``, or a
            document the index does not have.
    """
    try:
        filters = DocumentFilter.parse(params.doc, params.source, params.date_from, params.date_to)
        if filters is not None:
            filters.check(searcher.backend.documents)
    except FilterError as exc:
        raise _invalid(str(exc)) from exc
    return filters


def check_page(offset: int, k: int, searcher: Searcher) -> int:
    """How many results to rank for results ``offset+1 .. offset+k``.

    Every page is cut from the same ranking of the candidates, so ``offset + k`` may not pass
    their number; a first page is ranked alone, the later ones share one deeper ranking (and
    so one cache entry).

    Raises:
        HTTPException: 422 when the page lies past the candidates.
    """
    depth = searcher.ranking.candidates
    if offset + k > depth:
        raise _invalid(
            f"offset + k is {offset + k}; the results of one query are the {depth} best "
            "candidates, so offset + k may be at most that"
        )
    return k if offset == 0 else depth


def document_url(request: Request, doc_id: str) -> URL:
    """Absolute URL of a document's page on this service, on the host the request came to."""
    # Resolving a route walks the app's routes, for each of a result list's many links; a
    # document's path never changes, so the app resolves each one once.
    paths: dict[str, URLPath] | None = getattr(request.app.state, "document_paths", None)
    if paths is None:
        paths = request.app.state.document_paths = {}
    path = paths.get(doc_id)
    if path is None:
        path = paths[doc_id] = request.app.url_path_for(
            "document_page", doc_id=quote(doc_id, safe="/")
        )
    return path.make_absolute_url(request.base_url)


# The link of a passage: its document page, the passage marked.
Links = Callable[[Chunk], str]


def marked_passage(document: URL | str, chunk: Chunk) -> str:
    """``document``, the URL of ``chunk``'s document page, marking ``chunk`` and scrolled to its
    paragraph."""
    return f"{document}?start={chunk.start}&end={chunk.end}#p{chunk.paragraph}"


def passage_link(request: Request, chunk: Chunk) -> str:
    """URL of the document page that marks ``chunk``, on the host ``request`` came to."""
    return marked_passage(document_url(request, chunk.doc_id), chunk)


def links_of(request: Request) -> Links:
    """The passage links of the answer to ``request``."""
    return partial(passage_link, request)


def filter_note(filters: DocumentFilter | None, searcher: Searcher) -> str | None:
    """Why no passage can be returned, when ``filters`` allow no document of the index."""
    return None if filters is None else searcher.why_empty(filters)


def to_hit(result: SearchResult, link: Links) -> SearchHit:
    """The API form of one result, linked by ``link``."""
    chunk = result.chunk
    return SearchHit(
        rank=result.rank,
        score=round(result.score, 6),
        text=chunk.text,
        doc_id=chunk.doc_id,
        title=chunk.title,
        lang=chunk.lang,
        date=chunk.date,
        paragraph=chunk.paragraph,
        part=chunk.part,
        page=chunk.page,
        start=chunk.start,
        end=chunk.end,
        link=link(chunk),
        source=SourceRef(file=chunk.source, url=chunk.url),
        scores=result.scores,
        highlights=[Highlight(start=b, end=e) for b, e in result.highlights],
        translations=[
            TranslationRef(
                doc_id=t.chunk.doc_id,
                paragraph=t.chunk.paragraph,
                lang=t.chunk.lang,
                link=link(t.chunk),
                score=round(t.score, 4),
            )
            for t in result.translations
        ],
    )
