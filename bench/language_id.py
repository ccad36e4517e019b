"""Language identification per language on the Tatoeba sentences of the region.

    python bench/language_id.py [--data ../shared/data]

For each test set (the fifteen region languages, Russian, and the English side of rus-eng):
accuracy of py3langid alone (its best of 142 languages), of the product's identifier
(:func:`embed.ingest.language.detect_language`: py3langid steered to the supported languages)
on every sentence, and the share it leaves undetermined at the document threshold
(``DOCUMENT_MIN_LETTERS``) and at the passage threshold (``MIN_LETTERS``).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from _common import ROOT, header
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from embed.evaluation.benchmarks import TATOEBA_REGION
from embed.ingest.language import (
    DOCUMENT_MIN_LETTERS,
    MIN_LETTERS,
    UNDETERMINED,
    detect_language,
)
from embed.util.tables import markdown_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    folder = args.data / "tatoeba"
    plain = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    sets = {lang: folder / f"tatoeba.{name}-eng.{name}" for name, lang in TATOEBA_REGION.items()}
    sets |= {"ru": folder / "tatoeba.rus-eng.rus", "en": folder / "tatoeba.rus-eng.eng"}
    rows = []
    for lang, path in sets.items():
        sentences = path.read_text(encoding="utf-8").splitlines()
        n = len(sentences)
        found = Counter(detect_language(s, min_letters=0, min_confidence=0) for s in sentences)
        wrong = found.copy()
        del wrong[lang]

        def undetermined(letters: int, sentences: list[str] = sentences) -> float:
            return sum(detect_language(s, min_letters=letters) == UNDETERMINED for s in sentences)

        rows.append(
            {
                "language": lang,
                "sentences": n,
                "py3langid alone": round(
                    sum(plain.classify(s)[0] == lang for s in sentences) / n, 3
                ),
                "product": round(found[lang] / n, 3),
                "taken for": ", ".join(f"{code} {count}" for code, count in wrong.most_common(2)),
                f"und at {DOCUMENT_MIN_LETTERS} letters": round(
                    undetermined(DOCUMENT_MIN_LETTERS) / n, 3
                ),
                f"und at {MIN_LETTERS}": round(undetermined(MIN_LETTERS) / n, 3),
            }
        )
    print(header("bench/language_id.py"))
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
