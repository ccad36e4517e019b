"""Language identification for documents and chunks: py3langid, steered to the languages the
product knows.

py3langid tells 142 languages apart, and on short text a language of the region loses to a
neighbour the product never meets (Uzbek to Uzbek-in-Arabic-script, Tatar to Bashkir, Chinese to
Wu). So the product's languages (:data:`~embed.ingest.languages.LANGUAGES`) are preferred: when
they hold :data:`KNOWN_SHARE` of the probability, the likeliest of them is the answer; only text
that is plainly in another language keeps the identifier's own label. Per-language accuracy of
both: docs/languages.md.
"""

from __future__ import annotations

import threading
import unicodedata

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from embed.ingest.languages import LANGUAGES
from embed.util.text import HAN

__all__ = ["DOCUMENT_MIN_LETTERS", "MIN_CONFIDENCE", "MIN_LETTERS", "detect_language", "letters"]

# Below this many letters n-gram statistics are too thin to trust (a title like
# "Sadyr Japarov" says nothing about the language it is written in).
MIN_LETTERS = 20
# A whole document is identified from fewer: its passages inherit its language when they are
# too short to tell, and a one-sentence document guessed right is better than one of no
# language (measured on the Tatoeba sentences, docs/languages.md).
DOCUMENT_MIN_LETTERS = 8
# Normalised probability the best language must reach to be believed (of the known languages'
# share, when one of them is chosen).
MIN_CONFIDENCE = 0.5
# The share of the probability the known languages must hold for the likeliest of them to be
# chosen over the identifier's own best guess (fitted on the Tatoeba sentences, docs/languages.md).
KNOWN_SHARE = 0.05

_identifier: LanguageIdentifier | None = None
_lock = threading.Lock()


def _get_identifier() -> LanguageIdentifier:
    # Unpacking the model takes a noticeable fraction of a second, so it is done
    # once, on first use, and never at import time.
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def letters(text: str) -> int:
    """How much written language ``text`` holds: its letters with their combining marks
    (Devanagari and Thai vowel signs are marks, not letters), a Han character counting three
    (it is a syllable, often a word)."""
    count = sum(ch.isalpha() or unicodedata.category(ch) in ("Mn", "Mc") for ch in text)
    return count + 2 * len(HAN.findall(text))


# ISO 639-2 "undetermined": too short or too mixed to tell.
UNDETERMINED = "und"


def detect_language(
    text: str,
    default: str = UNDETERMINED,
    *,
    min_letters: int = MIN_LETTERS,
    min_confidence: float = MIN_CONFIDENCE,
) -> str:
    """Identify the language of ``text``.

    Args:
        text: Text to classify.
        default: Returned when the text is too short or the classifier is not
            confident; pass the document language here to let a short chunk
            inherit it.
        min_letters: Fewest alphabetic characters needed to attempt a guess.
        min_confidence: Lowest normalised probability accepted for the best guess.

    Returns:
        An ISO 639-1 code such as ``"en"`` or ``"kk"`` (of a known language unless the text is
        plainly in another), or ``default``.
    """
    if letters(text) < min_letters:
        return default
    ranked = _get_identifier().rank(text)
    known = [(lang, p) for lang, p in ranked if lang in LANGUAGES]
    share = sum(p for _, p in known)
    if known and share >= KNOWN_SHARE:
        lang, confidence = known[0][0], known[0][1] / share
    else:
        lang, confidence = ranked[0]
    if lang == UNDETERMINED or confidence < min_confidence:
        return default
    return str(lang)
