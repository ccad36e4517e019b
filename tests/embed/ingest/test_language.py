"""Tests for embed.ingest.language against the real seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from embed.ingest.chunking import chunk_document
from embed.ingest.documents import discover_seeds, read_document
from embed.ingest.language import detect_language
from embed.ingest.languages import LANGUAGES, language_name

SEEDS = Path(__file__).parents[3] / "seeds"
EXPECTED_LANG = {
    "000_ede25ed87fc7c0a3": "en",
    "001_5bcb32c10d9a48df": "ru",
    "002_9319827ac0fa4145": "en",
    "003_49e06463a676a368": "en",
    "004_c2ed28fc8de17507": "en",
}


def _words(text: str) -> int:
    return len(text.split())


def test_detects_english_and_russian() -> None:
    assert detect_language("The meeting was held at the state residence in Cholpon-Ata.") == "en"
    assert detect_language("В Бишкеке проходит заседание Совета руководителей органов.") == "ru"


@pytest.mark.parametrize("text", ["", "   ", "12345 67890 !!!", "Sadyr Japarov"])
def test_too_little_text_returns_default(text: str) -> None:
    assert detect_language(text) == "und"
    assert detect_language(text, default="ru") == "ru"


def test_min_letters_is_configurable() -> None:
    assert detect_language("Sadyr Japarov", default="ru") == "ru"
    # 22 letters: enough by default, not when more are demanded.
    assert detect_language("Садыр Жапаров встретился", default="en") == "ru"
    assert detect_language("Садыр Жапаров встретился", default="en", min_letters=30) == "en"


def test_low_confidence_returns_default() -> None:
    # No guess can reach a probability above 1.
    text = "The meeting was held at the residence."
    assert detect_language(text, "xx", min_confidence=1.01) == "xx"
    assert detect_language(text, "xx") == "en"


@pytest.mark.parametrize("doc_id", sorted(EXPECTED_LANG))
def test_seed_document_and_chunk_languages(doc_id: str) -> None:
    doc = read_document(SEEDS / f"{doc_id}.txt", SEEDS)
    assert doc.lang == EXPECTED_LANG[doc_id]
    chunks = chunk_document(doc, _words, max_tokens=20)
    assert len(chunks) > 3
    assert {chunk.lang for chunk in chunks} == {EXPECTED_LANG[doc_id]}


def test_every_seed_has_an_expected_language() -> None:
    paths, _ = discover_seeds(SEEDS)
    assert {p.stem for p in paths} == set(EXPECTED_LANG)


# One real news-like sentence per supported language (the region's, then the dev sets' others).
SENTENCES = {
    "en": "The foreign ministers of the member states met in Astana to discuss regional security.",
    "ru": "Министры иностранных дел государств-членов встретились в Астане, чтобы обсудить "
    "региональную безопасность.",
    "kk": "Мүше мемлекеттердің сыртқы істер министрлері аймақтық қауіпсіздікті талқылау үшін "
    "Астанада кездесті.",
    "uz": "A'zo davlatlarning tashqi ishlar vazirlari mintaqaviy xavfsizlikni muhokama qilish "
    "uchun Astanada uchrashdi.",
    "ky": "Мүчө мамлекеттердин тышкы иштер министрлери аймактык коопсуздукту талкуулоо үчүн "
    "Астанада жолугушту.",
    "tg": "Вазирони корҳои хориҷии давлатҳои узв барои муҳокимаи амнияти минтақавӣ дар Остона "
    "вохӯрданд.",
    "tk": "Agza döwletleriň daşary işler ministrleri sebitleýin howpsuzlygy ara alyp "
    "maslahatlaşmak üçin Astanada duşuşdylar.",
    "az": "Üzv dövlətlərin xarici işlər nazirləri regional təhlükəsizliyi müzakirə etmək üçün "
    "Astanada görüşüblər.",
    "hy": "Անդամ պետությունների արտաքին գործերի նախարարները հանդիպեցին Աստանայում՝ "
    "տարածաշրջանային անվտանգությունը քննարկելու համար։",
    "ka": "წევრი სახელმწიფოების საგარეო საქმეთა მინისტრები ასტანაში შეხვდნენ რეგიონული "
    "უსაფრთხოების განსახილველად.",
    "be": "Міністры замежных спраў дзяржаў-удзельніц сустрэліся ў Астане, каб абмеркаваць "
    "рэгіянальную бяспеку.",
    "uk": "Міністри закордонних справ держав-членів зустрілися в Астані, щоб обговорити "
    "регіональну безпеку.",
    "zh": "成员国外交部长在阿斯塔纳举行会晤，讨论地区安全问题。",
    "hi": "सदस्य देशों के विदेश मंत्रियों ने क्षेत्रीय सुरक्षा पर चर्चा करने के लिए अस्ताना में मुलाकात की।",
    "ur": "رکن ممالک کے وزرائے خارجہ نے علاقائی سلامتی پر بات چیت کے لیے آستانہ میں ملاقات کی۔",
    "fa": "وزرای امور خارجه کشورهای عضو برای گفتگو درباره امنیت منطقه‌ای در آستانه دیدار کردند.",
    "mn": "Гишүүн орнуудын Гадаад хэргийн сайд нар бүс нутгийн аюулгүй байдлын асуудлыг "
    "хэлэлцэхээр Астана хотод уулзлаа.",
    "tt": "Әгъза дәүләтләрнең тышкы эшләр министрлары төбәк иминлеген тикшерү өчен Астанада "
    "очраштылар.",
    "ug": "ئەزا دۆلەتلەرنىڭ تاشقى ئىشلار مىنىستىرلىرى رايون بىخەتەرلىكىنى مۇزاكىرە قىلىش ئۈچۈن "
    "ئاستانادا كۆرۈشتى.",
    "ar": "التقى وزراء خارجية الدول الأعضاء في أستانا لمناقشة الأمن الإقليمي.",
    "de": "Die Außenminister der Mitgliedstaaten trafen sich in Astana, um über regionale "
    "Sicherheit zu beraten.",
    "el": "Οι υπουργοί Εξωτερικών των κρατών μελών συναντήθηκαν στην Αστάνα για να συζητήσουν "
    "την περιφερειακή ασφάλεια.",
    "es": "Los ministros de Asuntos Exteriores de los Estados miembros se reunieron en Astaná "
    "para debatir la seguridad regional.",
    "ro": "Miniștrii de externe ai statelor membre s-au întâlnit la Astana pentru a discuta "
    "despre securitatea regională.",
    "th": "รัฐมนตรีต่างประเทศของประเทศสมาชิกได้พบกันที่กรุงอัสตานาเพื่อหารือเรื่องความมั่นคงในภูมิภาค",
    "tr": "Üye devletlerin dışişleri bakanları bölgesel güvenliği görüşmek üzere Astana'da bir "
    "araya geldi.",
    "vi": "Các bộ trưởng ngoại giao của các quốc gia thành viên đã gặp nhau tại Astana để thảo "
    "luận về an ninh khu vực.",
}


def test_every_supported_language_has_a_sentence() -> None:
    assert set(SENTENCES) == set(LANGUAGES)


@pytest.mark.parametrize("lang", sorted(SENTENCES))
def test_identifies_each_supported_language(lang: str) -> None:
    assert detect_language(SENTENCES[lang]) == lang


def test_a_language_the_product_does_not_know_keeps_its_label() -> None:
    french = (
        "Les ministres des Affaires étrangères se sont réunis à Astana pour parler de sécurité."
    )
    assert "fr" not in LANGUAGES
    assert detect_language(french) == "fr"
    assert language_name("fr") == "fr"


def test_every_supported_language_has_an_english_name() -> None:
    assert (language_name("ky"), language_name("tg"), language_name("hy")) == (
        "Kyrgyz",
        "Tajik",
        "Armenian",
    )
    assert all(language_name(code) not in {"", code} for code in LANGUAGES)


def test_a_sidecar_language_wins_for_the_document_and_every_passage(tmp_path: Path) -> None:
    # Kazakh text, declared Kyrgyz: the declaration is what the index must say.
    (tmp_path / "note.txt").write_text(
        "Кездесу\n\n" + SENTENCES["kk"] + "\n\n" + SENTENCES["ru"], encoding="utf-8"
    )
    (tmp_path / "note.json").write_text('{"lang": "KY"}', encoding="utf-8")
    doc = read_document(tmp_path / "note.txt", tmp_path)
    assert doc.lang == "ky" and doc.lang_given
    assert {chunk.lang for chunk in chunk_document(doc, _words, max_tokens=200)} == {"ky"}


def test_without_a_sidecar_each_passage_is_identified(tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text(
        "Кездесу\n\n" + SENTENCES["kk"] + "\n\n" + SENTENCES["ru"], encoding="utf-8"
    )
    doc = read_document(tmp_path / "note.txt", tmp_path)
    assert not doc.lang_given
    langs = [chunk.lang for chunk in chunk_document(doc, _words, max_tokens=200)]
    assert langs[-2:] == ["kk", "ru"]
