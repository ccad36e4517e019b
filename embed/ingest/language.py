"""Language identification for documents and chunks, backed by py3langid."""

from __future__ import annotations

import threading

from py3langid.langid import MODEL_FILE, LanguageIdentifier

__all__ = ["MIN_CONFIDENCE", "MIN_LETTERS", "detect_language"]

# Below this many letters n-gram statistics are too thin to trust (a title like
# "Sadyr Japarov" says nothing about the language it is written in).
MIN_LETTERS = 20
# Normalised probability the best language must reach to be believed.
MIN_CONFIDENCE = 0.5

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
        An ISO 639-1 code such as ``"en"`` or ``"ru"``, or ``default``.
    """
    if sum(ch.isalpha() for ch in text) < min_letters:
        return default
    lang, confidence = _get_identifier().classify(text)
    if lang == UNDETERMINED or confidence < min_confidence:
        return default
    return str(lang)
