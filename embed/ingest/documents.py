"""Turn seed files into :class:`Document` records, refusing what cannot be indexed."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from embed.ingest.extracted import Unreadable
from embed.ingest.formats import FORMATS, seed_format
from embed.ingest.language import DOCUMENT_MIN_LETTERS, detect_language
from embed.ingest.layout import parse_layout

__all__ = [
    "SIDECAR_KEYS",
    "Document",
    "SeedError",
    "SeedScan",
    "discover_seeds",
    "document_id",
    "read_document",
    "source_digest",
]

logger = logging.getLogger(__name__)

# A plain-text seed's id is its path without this suffix; any other seed's is its whole path, so
# that ``a.html`` and ``a.pdf`` beside ``a.txt`` are three documents.
TEXT_SUFFIX = ".txt"
SIDECAR_SUFFIX = ".json"
# Seeds larger than this are skipped with a warning: a news article is a few KiB, and a file of
# tens of MiB (a dump, a log, a mistaken copy) would take minutes to embed and dominate results.
MAX_SEED_BYTES = 4 * 1024 * 1024
SIDECAR_KEYS = ("url", "publisher", "title", "date", "author", "lang")


class SeedError(Exception):
    """A seed file that cannot be indexed; the message names the file and why.

    Args:
        source: The file, relative to the seeds folder where it is under it.
        reason: Why it cannot be indexed.
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


@dataclass(frozen=True)
class Document:
    """One decoded seed with its metadata.

    Attributes:
        doc_id: Path relative to the seeds root, POSIX separators; without ``.txt`` for a
            plain-text seed, the whole path for any other (see :func:`document_id`).
        source: Path relative to the seeds root, POSIX separators, with its suffix.
        text: The document's text, which chunk offsets index into: a plain-text seed's decoded
            file (UTF-8 BOM dropped), or the text a reader extracted from another format (one
            paragraph per line, a PDF's pages separated by form feeds).
        sha256: Hex digest of the raw file bytes.
        title: Title from the sidecar, else the file's metadata (a page's title), else the first
            paragraph of the text.
        date: ISO date or date-time from the sidecar, the file's metadata or a ``date`` line, if
            any.
        lang: ISO 639-1 language code, or ``"und"`` when it cannot be told.
        url: Source URL from the sidecar or the file's metadata (a page's canonical URL), if any.
        publisher: Publisher from the sidecar or the file's metadata (a page's site name), if any.
        author: Author from the sidecar, the file's metadata or a trailing byline, if any.
        lang_given: Whether ``lang`` was given (by the sidecar or the file's metadata) rather
            than identified; a given language is every passage's, never identified again.
    """

    doc_id: str
    source: str
    text: str
    sha256: str
    title: str
    date: str | None
    lang: str
    url: str | None
    publisher: str | None
    author: str | None
    lang_given: bool = False


class SeedScan(NamedTuple):
    """Result of :func:`discover_seeds`: seeds to read and paths refused."""

    paths: list[Path]
    skipped: list[tuple[Path, str]]


def discover_seeds(root: Path) -> SeedScan:
    """List the seeds under ``root`` (files of a suffix in :data:`~embed.ingest.formats.FORMATS`),
    recursively and in sorted order.

    Symlinked directories are not descended into, and a file whose resolved
    path leaves ``root`` is skipped (and logged) rather than returned, so no
    caller can be tricked into reading outside the corpus. Of two seeds with one id
    (``a.html.txt`` and ``a.html``) the plain-text one is kept and the other skipped.

    Args:
        root: The seeds directory.

    Returns:
        ``(paths, skipped)``; ``skipped`` pairs each refused path with a reason.

    Raises:
        SeedError: When ``root`` is not a directory.
    """
    if not root.is_dir():
        raise SeedError(str(root), "seeds root is not a directory")
    real_root = root.resolve()
    paths: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in dirnames:
            if (here / name).is_symlink():
                skipped.append((here / name, "symlinked directory, not followed"))
        for name in filenames:
            if seed_format(name) is None:
                continue
            path = here / name
            reason = _outside_reason(path, real_root)
            if reason is None:
                paths.append(path)
            else:
                skipped.append((path, reason))
    paths, taken = _unique_ids(paths, root)
    skipped.extend(taken)
    skipped.sort(key=lambda item: item[0].as_posix())
    for path, reason in skipped:
        logger.warning("skipping %s: %s", path, reason)
    return SeedScan(paths, skipped)


def document_id(source: str) -> str:
    """The id of the seed at ``source`` (relative to the seeds root): without ``.txt`` for a
    plain-text seed, which is how ids always were, and the whole path for any other format.

    Args:
        source: The seed's path relative to the seeds root, POSIX separators.
    """
    return source.removesuffix(TEXT_SUFFIX)


def _unique_ids(paths: list[Path], root: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``paths`` sorted, less those whose id an earlier one has; ``.txt`` seeds claim first."""
    owners: dict[str, str] = {}
    kept: list[Path] = []
    taken: list[tuple[Path, str]] = []
    for path in sorted(paths, key=lambda p: (p.suffix != TEXT_SUFFIX, p.as_posix())):
        rel = path.relative_to(root).as_posix()
        doc_id = document_id(rel)
        if doc_id in owners:
            taken.append((path, f"its id {doc_id!r} is that of {owners[doc_id]}; rename one"))
        else:
            owners[doc_id] = rel
            kept.append(path)
    kept.sort(key=lambda p: p.relative_to(root).as_posix())
    return kept, taken


def _sidecar(path: Path) -> Path:
    """The metadata file of the seed at ``path``: ``<id>.json`` beside it (``a.txt``:
    ``a.json``; ``a.html``: ``a.html.json``)."""
    return path.with_name(document_id(path.name) + SIDECAR_SUFFIX)


def _outside_reason(path: Path, real_root: Path) -> str | None:
    """Why ``path`` must not be read, or None when it is a file inside the root."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return "broken or looping symlink"
    if not real.is_relative_to(real_root):
        return f"resolves outside the seeds root (to {real})"
    if not real.is_file():
        return "not a regular file"
    return None


def read_document(path: Path, root: Path) -> Document:
    """Read, validate and describe one seed.

    Args:
        path: The seed, inside ``root``, of a format in :data:`~embed.ingest.formats.FORMATS`.
        root: The seeds directory; ids and sources are relative to it.

    Returns:
        The document, with metadata from its ``.json`` sidecar when present, else from the
        file itself (an HTML page's metadata) or its layout.

    Raises:
        SeedError: When the file is outside ``root``, of no seed format, unreadable, empty,
            binary, not UTF-8, has no content (an HTML page without main text, a PDF without
            text), is damaged, or its sidecar is malformed.
    """
    rel = _relative(path, root)
    reason = _outside_reason(path, root.resolve())
    if reason is not None:
        raise SeedError(str(rel), reason)
    form = seed_format(rel)
    if form is None:
        raise SeedError(str(rel), f"not a seed format (suffixes: {', '.join(FORMATS)})")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SeedError(str(rel), f"cannot be read ({exc.strerror or exc})") from exc
    try:
        extracted = form.read(raw)
    except Unreadable as exc:
        raise SeedError(str(rel), str(exc)) from None
    layout = parse_layout(extracted.text, scraped=not form.extracted)
    if layout.heading is None:
        raise SeedError(str(rel), "no content besides metadata lines")
    meta = {**extracted.meta, **_read_sidecar(path, root, rel)}
    lang = meta.get("lang") or detect_language(
        "\n".join([layout.title, *(p.text for p in layout.paragraphs)]),
        min_letters=DOCUMENT_MIN_LETTERS,
    )
    return Document(
        doc_id=document_id(rel),
        source=rel,
        text=extracted.text,
        sha256=hashlib.sha256(raw).hexdigest(),
        title=meta.get("title") or layout.title,
        date=meta.get("date") or layout.date,
        lang=lang,
        url=meta.get("url"),
        publisher=meta.get("publisher"),
        author=meta.get("author") or layout.author,
        lang_given="lang" in meta,
    )


def source_digest(path: Path, root: Path, reader_version: int) -> str | None:
    """Identity of everything :func:`read_document` reads for ``path``: its place under
    ``root``, its bytes, its sidecar's bytes (or their absence), and the version of the reader
    (see :data:`embed.store.format.READER_VERSION`).

    Equal digests read to equal documents, so a rebuild need not parse a seed whose digest it
    has recorded (parsing is most of an unchanged rebuild's time on a large corpus).

    Returns:
        The hex digest, or ``None`` when the seed or its sidecar cannot be read this way (a
        symlinked sidecar, an unreadable file): :func:`read_document` then decides and says why.
    """
    sidecar = _sidecar(path)
    if sidecar.is_symlink():
        return None
    try:
        parts = [str(reader_version), _relative(path, root), _sha256(path)]
        if sidecar.exists():
            parts.append(_sha256(sidecar))
    except (OSError, SeedError):
        return None
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        # Mixed relative/absolute spellings of the same place.
        try:
            return path.absolute().relative_to(root.absolute()).as_posix()
        except ValueError:
            raise SeedError(str(path), f"not under the seeds root {root}") from None


def _read_sidecar(path: Path, root: Path, rel: str) -> dict[str, str]:
    """Metadata from the seed's sidecar (:func:`_sidecar`); empty when there is none."""
    sidecar = _sidecar(path)
    if not sidecar.exists() and not sidecar.is_symlink():
        return {}
    name = _relative(sidecar, root)
    reason = _outside_reason(sidecar, root.resolve())
    if reason is not None:
        raise SeedError(f"{name} (sidecar of {rel})", f"{reason}")
    try:
        data: Any = json.loads(sidecar.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SeedError(f"{name} (sidecar of {rel})", f"malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SeedError(f"{name} (sidecar of {rel})", "expected a JSON object")
    meta: dict[str, str] = {}
    for key in SIDECAR_KEYS:
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise SeedError(f"{name} (sidecar of {rel})", f"{key!r} must be a string or null")
        if value.strip():
            meta[key] = value.strip()
    if "date" in meta:
        try:
            datetime.fromisoformat(meta["date"])
        except ValueError:
            raise SeedError(
                f"{name} (sidecar of {rel})", f"'date' is not an ISO date: {meta['date']!r}"
            ) from None
    if "lang" in meta:
        meta["lang"] = meta["lang"].lower()
    return meta
