"""The search and document pages in Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Dialog, Page, Route, expect, sync_playwright

from embed.models.encoder import Encoder, TextEncoder
from service.app import create_app
from tests.conftest import ROOT
from tests.service.conftest import free_port, make_settings

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic",
]  # fmt: skip
ARTIFACTS = ROOT / "test-artifacts"
EN_QUERY = "Director of the FSB Bortnikov chaired the meeting"
MARKUP_TITLE = "Title with <script>alert(1)</script>"
_SCORE = re.compile(r"^[01]\.\d{2}$")  # a cosine, never the fused score
DATED = "000_ede25ed87fc7c0a3"  # the one seed with a date: 2024-05-24
PARALLEL = "001_5bcb32c10d9a48df"  # its Russian translation, paragraph for paragraph
MARKUP_BODY = "Body text with <b>html</b> in it."


@contextmanager
def _serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free 127.0.0.1 port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    try:
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (.ci/run installs it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def seeds_site(
    seed_vectors: Path, seeds_copy: Path, encoder: Encoder, second: TextEncoder | None
) -> Iterator[str]:
    """The service over the seeds index, for the tests that only read it; yields its URL."""
    settings = make_settings(seed_vectors, seeds_copy)
    with _serve(create_app(settings, encoder=encoder, second=second)) as url:
        yield url


def _search(page: Page, query: str) -> None:
    page.get_by_label("Query").fill(query)
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()


def _docs_shown(page: Page) -> set[str]:
    return {item.get_attribute("data-doc-id") or "" for item in page.locator("li.result").all()}


def _screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def test_english_query_finds_a_russian_passage_marked_on_its_document_page(
    page: Page,
    seed_vectors: Path,
    seeds_copy: Path,
    encoder: Encoder,
    second: TextEncoder | None,
) -> None:
    app = create_app(make_settings(seed_vectors, seeds_copy), encoder=encoder, second=second)
    with _serve(app) as url:
        page.goto(url + "/")
        page.get_by_label("Query").press_sequentially(EN_QUERY)
        page.keyboard.press("Enter")

        russian = page.locator('li.result[data-lang="ru"]').first
        expect(russian).to_be_visible()
        expect(russian.locator(".lang")).to_have_text("Russian")
        expect(russian.locator(".score")).to_have_text(_SCORE)
        expect(russian.locator("p.passage mark")).not_to_be_empty()
        passage = russian.locator("p.passage").inner_text()
        assert "Бортников" in passage
        assert _screenshot(page, "search-page.png").stat().st_size > 0

        russian.locator("a.passage-link").click()
        page.wait_for_url("**/view/**")

        mark = page.locator("article mark")
        expect(mark).to_have_count(1)
        expect(mark).to_have_text(passage)
        expect(mark).to_be_in_viewport()
        paragraph = page.url.rsplit("#", 1)[1]
        expect(page.locator(f"#{paragraph} mark")).to_have_count(1)
        assert _screenshot(page, "document-page.png").stat().st_size > 0


def test_markup_in_a_seed_renders_as_text_on_both_pages(
    page: Page,
    tmp_path: Path,
    encoder: Encoder,
    second: TextEncoder | None,
    rebuild: Callable[[Path, Path], str],
) -> None:
    seeds, vectors = tmp_path / "seeds", tmp_path / "vectors"
    seeds.mkdir()
    (seeds / "markup.txt").write_text(f"{MARKUP_TITLE}\n\n{MARKUP_BODY}\n", encoding="utf-8")
    rebuild(seeds, vectors)
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    with _serve(create_app(make_settings(vectors, seeds), encoder=encoder, second=second)) as url:
        page.goto(f"{url}/?q=html+in+the+body+text")
        expect(page.get_by_text(MARKUP_BODY)).to_be_visible()
        expect(page.locator("h2").first).to_have_text(MARKUP_TITLE)
        page.locator("li.result", has_text=MARKUP_BODY).locator("a.passage-link").click()
        page.wait_for_url("**/view/markup**")
        expect(page.locator("article mark")).to_have_text(MARKUP_BODY)
        expect(page.locator("h1")).to_have_text(MARKUP_TITLE)
        assert page.locator("article b, article script").count() == 0

    assert dialogs == []


def test_api_docs_render_from_the_service_alone_with_the_network_off(
    page: Page, tmp_path: Path
) -> None:
    outside: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    page.context.route("**/*", local_only)
    # The pages need the schema, not an index: an empty folder keeps the models unloaded.
    with _serve(create_app(make_settings(tmp_path / "vectors", tmp_path / "seeds"))) as url:
        page.goto(f"{url}/docs")
        summary = page.locator(".opblock-summary-path")
        expect(summary.first).to_be_visible()
        assert "/search" in summary.all_inner_texts()

        health = page.locator(".opblock", has=page.locator('[data-path="/health"]'))
        health.locator(".opblock-summary").click()
        health.get_by_role("button", name="Try it out").click()
        health.get_by_role("button", name="Execute").click()
        # Try it out reaches the API under the page's policy: no index here, so 503.
        status = health.locator(".live-responses-table tr.response .response-col_status")
        expect(status).to_have_text("503")
        assert _screenshot(page, "api-docs.png").stat().st_size > 0

        page.goto(f"{url}/redoc")
        expect(page.get_by_role("heading", name="Search (query string)")).to_be_visible()

    assert outside == []


def test_filters_narrow_the_results_and_stay_in_the_form(page: Page, seeds_site: str) -> None:
    page.goto(seeds_site + "/")
    page.get_by_label("Document").fill(PARALLEL)
    _search(page, EN_QUERY)

    expect(page.locator("li.result")).to_have_count(10)
    assert _docs_shown(page) == {PARALLEL}
    expect(page.get_by_label("Document")).to_have_value(PARALLEL)

    page.get_by_label("Document").fill("")
    page.get_by_label("Dated from", exact=True).fill("2024-05-01")
    page.get_by_label("to", exact=True).fill("2024-05-31")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**date_from=2024-05-01**")

    expect(page.locator("li.result").first).to_be_visible()
    assert _docs_shown(page) == {DATED}
    expect(page.get_by_label("Dated from", exact=True)).to_have_value("2024-05-01")
    expect(page.get_by_label("to", exact=True)).to_have_value("2024-05-31")
    assert _screenshot(page, "search-page-filtered.png").stat().st_size > 0


def test_a_bad_date_shows_the_message_with_a_422(page: Page, seeds_site: str) -> None:
    response = page.goto(f"{seeds_site}/?q=Bishkek&date_from=2024-02-30")

    assert response is not None and response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("date_from must be a date as YYYY-MM-DD")
    expect(page.get_by_label("Query")).to_have_value("Bishkek")
    expect(page.locator("li.result")).to_have_count(0)
    assert _screenshot(page, "search-page-bad-date.png").stat().st_size > 0


def test_next_page_shows_ranks_11_to_20(page: Page, seeds_site: str) -> None:
    page.goto(seeds_site + "/")
    _search(page, EN_QUERY)
    first = [item.get_attribute("data-doc-id") for item in page.locator("li.result").all()]

    page.get_by_role("link", name="next →").click()
    page.wait_for_url("**offset=10**")

    results = page.locator("li.result")
    expect(results).to_have_count(10)
    ranks = [int(item.get_attribute("data-rank") or 0) for item in results.all()]
    assert ranks == list(range(11, 21))
    # The browser numbers the list from each item's value: 11, 12, ...
    assert results.first.evaluate("li => li.value") == 11
    expect(results.first.locator(".score")).to_have_text(_SCORE)
    assert _screenshot(page, "search-page-2.png").stat().st_size > 0

    page.get_by_role("link", name="← previous").click()
    page.wait_for_url("**offset=0**")
    assert [item.get_attribute("data-doc-id") for item in results.all()] == first


def test_similar_link_finds_the_translation_first(page: Page, seeds_site: str) -> None:
    page.goto(seeds_site + "/")
    # An English query shows the fact by its Russian passage; the similar passages of that
    # passage start with the one it was grouped with, its English original.
    _search(page, "The 54th meeting of the Council is taking place in Bishkek")
    source = page.locator(f'li.result[data-doc-id="{PARALLEL}"][data-paragraph="2"]')

    source.get_by_role("link", name="similar").click()
    page.wait_for_url(f"**/similar-page/{PARALLEL}/2**")

    expect(page.locator("blockquote.source-passage")).to_contain_text("54-ое заседание")
    first = page.locator("li.result").first
    expect(first).to_have_attribute("data-doc-id", DATED)
    expect(first).to_have_attribute("data-paragraph", "2")
    expect(first.locator("p.passage")).to_contain_text("The 54th meeting of the Council")
    assert _screenshot(page, "similar-page.png").stat().st_size > 0


def test_document_page_goes_back_to_the_results_and_shows_translations_beside(
    page: Page, seeds_site: str
) -> None:
    page.goto(seeds_site + "/")
    page.get_by_label("Language").select_option("en")
    _search(page, EN_QUERY)
    results_url = page.url
    results = [item.get_attribute("data-doc-id") for item in page.locator("li.result").all()]

    page.locator(f'li.result[data-doc-id="{DATED}"]').first.locator("a.passage-link").click()
    page.wait_for_url(f"**/view/{DATED}**")

    original = page.locator("section.parallel #p2")
    translation = page.locator("section.parallel:has(#p2) blockquote[lang=ru]")
    original.scroll_into_view_if_needed()
    expect(original).to_be_visible()
    expect(translation).to_be_visible()
    expect(translation).to_contain_text("В Бишкеке проходит 54-ое заседание")
    left, right = original.bounding_box(), translation.bounding_box()
    assert left is not None and right is not None
    assert right["x"] >= left["x"] + left["width"]  # beside it, not below
    assert right["y"] < left["y"] + left["height"]
    assert _screenshot(page, "document-page-parallel.png").stat().st_size > 0

    page.get_by_role("link", name="back to results").click()
    page.wait_for_url(results_url)
    assert [item.get_attribute("data-doc-id") for item in page.locator("li.result").all()] == (
        results
    )
    expect(page.get_by_label("Language")).to_have_value("en")


@pytest.fixture(scope="module")
def regional_site(
    regional_corpus: tuple[Path, Path], encoder: Encoder, second: TextEncoder | None
) -> Iterator[str]:
    """The service over short news items in nine languages; yields its URL."""
    seeds, vectors = regional_corpus
    with _serve(create_app(make_settings(vectors, seeds), encoder=encoder, second=second)) as url:
        yield url


@pytest.mark.parametrize("lang", ["hy", "ka", "zh"])
def test_the_machine_has_fonts_for_the_regions_scripts(lang: str) -> None:
    # Debian's Noto fonts, installed with Chromium: without them these passages are boxes.
    listed = subprocess.run(["fc-list", f":lang={lang}"], capture_output=True, text=True)
    assert listed.returncode == 0 and "Noto" in listed.stdout


def test_a_result_list_in_chinese_armenian_and_georgian_names_the_languages(
    page: Page, regional_site: str
) -> None:
    # Every passage of the small corpus is listed, whatever its rank.
    page.goto(regional_site + "/?q=summit+of+leaders+and+parliaments&k=20")
    shown = {item.get_attribute("data-lang") for item in page.locator("li.result").all()}
    assert {"zh", "hy", "ka"} <= shown
    for lang, name, word in (("hy", "Armenian", "Երևանում"), ("ka", "Georgian", "საქართველოს"),
                             ("zh", "Chinese", "上海合作组织")):  # fmt: skip
        result = page.locator(f'li.result[data-lang="{lang}"]').first
        expect(result.locator(".lang")).to_have_text(name)
        expect(result.locator("p.passage")).to_contain_text(word)
        box = result.locator("p.passage").bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0
    # The filter lists each language present by name, with its passages.
    options = page.get_by_label("Language").locator("option").all_inner_texts()
    assert "Armenian (2)" in options and "Georgian (2)" in options and "Chinese (2)" in options
    assert "fi (2)" in options  # a language the product does not know shows as identified
    assert _screenshot(page, "search-page-regional.png").stat().st_size > 0
