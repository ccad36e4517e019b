"""The search and document pages in Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import re
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
_SCORE = re.compile(r"^-?\d+\.\d{3}$")
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
        expect(russian.locator(".lang")).to_have_text("ru")
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
