"""The languages the product knows: one row per language, the single place that says how each
is identified, split into sentences, analysed for BM25 and covered by the encoders.

A language not in the table is still indexed: its passages take the identifier's label, every
channel whose encoder may cover it scores them, and its words are analysed as their script's.
Encoder coverage comes from the models' own documentation: multilingual-e5 continues
XLM-RoBERTa, pre-trained on the 100 languages of CC-100 (Conneau et al., 2020), and USE
multilingual v3 was trained on 16 (Yang et al., 2019, "Multilingual Universal Sentence Encoder
for Semantic Retrieval"). What each row was measured at: docs/languages.md.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["COVERAGE", "LANGUAGES", "Language", "encoder_languages", "language_name"]

# The languages each encoder was trained on, as its documentation lists them (ISO 639-1).
# fmt: off
XLMR_LANGUAGES = frozenset((
    "af", "am", "ar", "as", "az", "be", "bg", "bn", "br", "bs", "ca", "cs", "cy", "da", "de",
    "el", "en", "eo", "es", "et", "eu", "fa", "fi", "fr", "fy", "ga", "gd", "gl", "gu", "ha",
    "he", "hi", "hr", "hu", "hy", "id", "is", "it", "ja", "jv", "ka", "kk", "km", "kn", "ko",
    "ku", "ky", "la", "lo", "lt", "lv", "mg", "mk", "ml", "mn", "mr", "ms", "my", "ne", "nl",
    "no", "om", "or", "pa", "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si", "sk", "sl", "so",
    "sq", "sr", "su", "sv", "sw", "ta", "te", "th", "tl", "tr", "ug", "uk", "ur", "uz", "vi",
    "xh", "yi", "zh",
))
USEM3_LANGUAGES = frozenset((
    "ar", "de", "en", "es", "fr", "it", "ja", "ko", "nl", "pl", "pt", "ru", "th", "tr", "zh",
))
# fmt: on
COVERAGE: dict[str, frozenset[str]] = {"e5": XLMR_LANGUAGES, "usem3": USEM3_LANGUAGES}
"""Encoder family -> the languages it covers."""


@dataclass(frozen=True)
class Language:
    """One language the product supports.

    Attributes:
        code: ISO 639-1 code, as the index, the API's ``lang`` and the identifier write it.
        name: English name, for the page and the API.
        script: ISO 15924 code of the script its news is written in.
        stemmer: The Snowball (PyStemmer) algorithm its words are stemmed with; ``None``: none
            has one, so words are only transliterated and folded.
        region: One of the languages the analysts' sources write in (the rest are the
            development sets' languages).
    """

    code: str
    name: str
    script: str
    stemmer: str | None
    region: bool

    @property
    def encoders(self) -> tuple[str, ...]:
        """The encoder families (:data:`COVERAGE`) trained on this language."""
        return tuple(name for name, codes in COVERAGE.items() if self.code in codes)


LANGUAGES: dict[str, Language] = {
    language.code: language
    for language in (
        Language("en", "English", "Latn", "english", True),
        Language("ru", "Russian", "Cyrl", "russian", True),
        Language("kk", "Kazakh", "Cyrl", None, True),
        Language("uz", "Uzbek", "Latn", None, True),
        Language("ky", "Kyrgyz", "Cyrl", None, True),
        Language("tg", "Tajik", "Cyrl", None, True),
        Language("tk", "Turkmen", "Latn", None, True),
        Language("az", "Azerbaijani", "Latn", "turkish", True),
        Language("hy", "Armenian", "Armn", "armenian", True),
        Language("ka", "Georgian", "Geor", None, True),
        Language("be", "Belarusian", "Cyrl", None, True),
        Language("uk", "Ukrainian", "Cyrl", None, True),
        Language("zh", "Chinese", "Hans", None, True),
        Language("hi", "Hindi", "Deva", "hindi", True),
        Language("ur", "Urdu", "Arab", None, True),
        Language("fa", "Persian", "Arab", "persian", True),
        Language("mn", "Mongolian", "Cyrl", None, True),
        Language("tt", "Tatar", "Cyrl", None, True),
        Language("ug", "Uyghur", "Arab", None, True),
        Language("ar", "Arabic", "Arab", "arabic", False),
        Language("de", "German", "Latn", "german", False),
        Language("el", "Greek", "Grek", "greek", False),
        Language("es", "Spanish", "Latn", "spanish", False),
        Language("ro", "Romanian", "Latn", "romanian", False),
        Language("th", "Thai", "Thai", None, False),
        Language("tr", "Turkish", "Latn", "turkish", False),
        Language("vi", "Vietnamese", "Latn", None, False),
    )
}
"""The supported languages by code: the region's, then the development sets' others."""


def language_name(code: str) -> str:
    """The English name of ``code``, or the code itself for a language the table lacks."""
    known = LANGUAGES.get(code)
    return known.name if known is not None else code


def encoder_languages(model: str) -> frozenset[str] | None:
    """The languages the encoder named ``model`` covers, when its family is known: ``usem3``,
    and multilingual-e5 of any size; ``None`` (no limit known) for any other model."""
    if model == "usem3":
        return COVERAGE["usem3"]
    if "multilingual-e5" in model:
        return COVERAGE["e5"]
    return None
