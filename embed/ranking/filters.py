"""Narrowing a search to some documents: by id, by publisher or site, by date.

A :class:`DocumentFilter` is resolved against the build's document records into the set of
documents it allows; the index applies that set (with the language filter) inside its candidate
search (:class:`~embed.backends.base.RowFilter`), so that a filter keeping few passages still
returns as many results as it allows, ranked as an index of only those passages would rank them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

__all__ = ["DocumentFilter", "FilterError", "FilterValues"]


class FilterError(ValueError):
    """A filter that cannot be applied (a malformed date, an unknown document, ...)."""


def _parse_date(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        # fromisoformat also takes 20261206 and 2026-W49-7; the API documents one form.
        if len(value) == 10:
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise FilterError(f"{name} must be a date as YYYY-MM-DD, not {value!r}")


def _document_date(record: Mapping[str, Any]) -> date | None:
    """The day of a document's date (an ISO date or date-time), or ``None`` when it has none
    that can be read."""
    value = str(record.get("date") or "")[:10]
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").casefold()
    return host.removeprefix("www.")


def _share(count: int, total: int, what: str) -> str:
    """``"no document has a date"``, ``"1 of 5 documents have a date"``, ..."""
    if count == 0:
        return f"no document has {what}"
    return f"{count} of {total} documents have {what}"


@dataclass(frozen=True)
class FilterValues:
    """What the documents of an index offer the filters: their publishers and sites, and the
    span of their dates, so that a form can offer them and an empty result can say why.

    Attributes:
        documents: How many documents there are.
        publishers: The documents' publishers, sorted, each once.
        sites: The hosts of the documents' source URLs (without ``www.``), sorted, each once.
        with_source: How many documents have a publisher or a source URL.
        dated: How many documents have a date that can be read.
        first_date: The earliest of those dates (``None`` when none has one).
        last_date: The latest of them.
    """

    documents: int
    publishers: tuple[str, ...]
    sites: tuple[str, ...]
    with_source: int
    dated: int
    first_date: date | None
    last_date: date | None

    @classmethod
    def of(cls, documents: Mapping[str, Mapping[str, Any]]) -> FilterValues:
        """The values of the document records ``documents``."""
        publishers: set[str] = set()
        sites: set[str] = set()
        with_source = 0
        days = []
        for record in documents.values():
            publisher = str(record.get("publisher") or "").strip()
            site = _host(str(record.get("url") or ""))
            publishers.update([publisher] if publisher else [])
            sites.update([site] if site else [])
            with_source += bool(publisher or site)
            day = _document_date(record)
            if day is not None:
                days.append(day)
        return cls(
            len(documents), tuple(sorted(publishers)), tuple(sorted(sites)), with_source,
            len(days), min(days, default=None), max(days, default=None),
        )  # fmt: skip

    @property
    def sources(self) -> tuple[str, ...]:
        """What the ``source`` filter can match: the publishers, then the sites."""
        return self.publishers + tuple(site for site in self.sites if site not in self.publishers)

    def describe_sources(self) -> str:
        """How many documents the ``source`` filter can match at all, for people."""
        return _share(self.with_source, self.documents, "a publisher or a source URL")

    def summary(self) -> str:
        """What the source and date filters can match, as one sentence for people."""
        sources = self.describe_sources()
        return f"{sources[0].upper()}{sources[1:]}; {self.describe_dates()}."

    def describe_dates(self) -> str:
        """How many documents the date filters can match at all, and their span, for people."""
        found = _share(self.dated, self.documents, "a date")
        if self.first_date is None or self.last_date is None:
            return found
        if self.first_date == self.last_date:
            return f"{found} ({self.first_date})"
        return f"{found} ({self.first_date} to {self.last_date})"


@dataclass(frozen=True)
class DocumentFilter:
    """Which documents a search may return passages of; every criterion given must hold.

    Attributes:
        docs: Only these documents (ids), when given.
        source: Only documents of this publisher (the ``publisher`` of their record, compared
            without case) or site (the host of their ``url``, or a subdomain of it).
        date_from: Only documents dated this day or later.
        date_to: Only documents dated this day or earlier. With either date bound, undated
            documents are left out.
    """

    docs: tuple[str, ...] = ()
    source: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise FilterError(
                f"date_from ({self.date_from}) is after date_to ({self.date_to}): nothing can match"
            )

    @classmethod
    def parse(
        cls,
        docs: Sequence[str] | None = None,
        source: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
    ) -> DocumentFilter | None:
        """A filter from request or command-line values, or ``None`` when none is given.

        Raises:
            FilterError: A date is not ``YYYY-MM-DD``, or ``date_from`` is after ``date_to``.
        """
        found = cls(
            tuple(dict.fromkeys(d for d in docs or () if d)),
            (source or "").strip() or None,
            _parse_date("date_from", date_from),
            _parse_date("date_to", date_to),
        )
        return found if found != cls() else None

    def check(self, documents: Mapping[str, Mapping[str, Any]]) -> None:
        """Refuse a filter naming a document that ``documents`` lacks.

        Raises:
            FilterError: A document named in :attr:`docs` is not in ``documents``.
        """
        unknown = [doc for doc in self.docs if doc not in documents]
        if unknown:
            raise FilterError(f"no document {unknown[0]!r} in the index")

    def why_empty(
        self, documents: Mapping[str, Mapping[str, Any]], values: FilterValues | None = None
    ) -> str | None:
        """Why this filter allows none of ``documents``, for people; ``None`` when it allows
        some.

        Args:
            documents: The document records, by id.
            values: :meth:`FilterValues.of` ``documents``, when the caller keeps it.

        Raises:
            FilterError: A document named in :attr:`docs` is not in ``documents``.
        """
        if self.allowed(documents):
            return None
        values = values or FilterValues.of(documents)
        reasons = []
        if self.source is not None:
            matched = len(DocumentFilter(source=self.source).allowed(documents))
            reasons.append(
                f"source {self.source!r} matches {matched} of {values.documents} documents "
                f"({values.describe_sources()})"
            )
        if self.date_from or self.date_to:
            dates = DocumentFilter(date_from=self.date_from, date_to=self.date_to)
            span = f"from {self.date_from or 'any day'} to {self.date_to or 'any day'}"
            reasons.append(
                f"dates {span} match {len(dates.allowed(documents))} of {values.documents} "
                f"documents ({values.describe_dates()})"
            )
        if self.docs:
            reasons.append(f"doc names {len(self.docs)} of {values.documents} documents")
        return "no document matches every filter: " + "; ".join(reasons)

    def allowed(self, documents: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
        """The ids of the ``documents`` this filter allows.

        Raises:
            FilterError: A document named in :attr:`docs` is not in ``documents``.
        """
        self.check(documents)
        candidates = self.docs or tuple(documents)
        source = self.source.casefold().removeprefix("www.") if self.source else None
        kept = []
        for doc in candidates:
            record = documents[doc]
            if source is not None:
                publisher = str(record.get("publisher") or "").casefold()
                host = _host(str(record.get("url") or ""))
                if source != publisher and not (host == source or host.endswith("." + source)):
                    continue
            if self.date_from or self.date_to:
                day = _document_date(record)
                if day is None or (self.date_from and day < self.date_from):
                    continue
                if self.date_to and day > self.date_to:
                    continue
            kept.append(doc)
        return frozenset(kept)
