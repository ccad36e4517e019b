"""The ``xlsearch`` command keeps the embed commands and gains ``serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from filelock import FileLock
from typer.testing import CliRunner

from embed.store.builds import LOCK_FILE, current_build
from service.cli import app


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What ``serve`` hands to uvicorn, which is kept from actually listening."""
    calls: dict[str, Any] = {}
    for name in ("XLSEARCH_HOST", "XLSEARCH_PORT"):
        monkeypatch.delenv(name, raising=False)

    def run(app: FastAPI, host: str, port: int, access_log: bool = True) -> None:
        calls.update(app=app, host=host, port=port, access_log=access_log)

    monkeypatch.setattr(uvicorn, "run", run)
    return calls


def test_serve_is_a_command_beside_the_index_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])

    assert result.exit_code == 0
    for command in ("serve", "rebuild-index", "search", "model"):
        assert command in result.output


def test_serve_takes_paths_host_port_and_model() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)

    assert result.exit_code == 0
    for option in ("--vectors", "--seeds", "--host", "--port", "--model"):
        assert option in result.output


def test_serve_refuses_a_bad_port() -> None:
    assert CliRunner().invoke(app, ["serve", "--port", "70000"]).exit_code == 2


def test_serve_builds_the_index_first_when_there_is_none(
    tmp_path: Path, served: dict[str, Any]
) -> None:
    seeds, vectors = tmp_path / "seeds", tmp_path / "vectors"
    seeds.mkdir()
    (seeds / "note.txt").write_text("A short note\n\nOne paragraph of text.\n", encoding="utf-8")

    result = CliRunner().invoke(
        app, ["serve", "--seeds", str(seeds), "--vectors", str(vectors), "--port", "8765"]
    )

    assert result.exit_code == 0, result.output
    assert f"no index in {vectors}; building it from {seeds} first" in result.output
    assert current_build(vectors) is not None
    assert isinstance(served["app"], FastAPI)
    assert (served["host"], served["port"]) == ("127.0.0.1", 8765)


def test_serve_uses_an_existing_index_as_it_is(
    seed_vectors: Path, seeds_copy: Path, served: dict[str, Any]
) -> None:
    before = current_build(seed_vectors)

    result = CliRunner().invoke(
        app, ["serve", "--seeds", str(seeds_copy), "--vectors", str(seed_vectors)]
    )

    assert result.exit_code == 0, result.output
    assert "building" not in result.output
    assert current_build(seed_vectors) == before
    assert served["port"] == 8000
    # One access line per request, ours (with the request id), not uvicorn's as well.
    assert served["access_log"] is False


@pytest.mark.parametrize(
    ("options", "env", "watching"),
    [
        ([], None, False),
        (["--watch"], None, True),
        (["--no-watch"], "true", False),
        ([], "1", True),
    ],
)
def test_serve_watches_the_seeds_when_asked(
    seed_vectors: Path,
    seeds_copy: Path,
    served: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    options: list[str],
    env: str | None,
    watching: bool,
) -> None:
    monkeypatch.delenv("XLSEARCH_WATCH", raising=False)
    if env is not None:
        monkeypatch.setenv("XLSEARCH_WATCH", env)

    result = CliRunner().invoke(
        app, ["serve", "--seeds", str(seeds_copy), "--vectors", str(seed_vectors), *options]
    )

    assert result.exit_code == 0, result.output
    assert served["app"].state.settings.watch is watching


def test_serve_keeps_an_index_it_cannot_rebuild_now_and_says_why(
    seeds_copy: Path, vectors_copy: Path, served: dict[str, Any]
) -> None:
    live = current_build(vectors_copy)
    assert live is not None

    with FileLock(str(vectors_copy / LOCK_FILE)):
        result = CliRunner().invoke(
            app, ["serve", "--seeds", str(seeds_copy), "--vectors", str(vectors_copy)]
        )

    assert result.exit_code == 0, result.output
    assert "another rebuild" in result.output
    assert f"serving the index as it is ({live.name})" in result.output
    assert current_build(vectors_copy) == live
    assert isinstance(served["app"], FastAPI)


def test_serve_reports_a_missing_seeds_folder_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--seeds", str(tmp_path / "none"), "--vectors", str(tmp_path / "v")]
    )

    assert result.exit_code == 1
    assert "error: seeds folder" in result.output
    assert "Traceback" not in result.output


def test_serve_refuses_an_index_of_another_seeds_folder(
    tmp_path: Path, seeds_copy: Path, vectors_copy: Path, served: dict[str, Any]
) -> None:
    other = tmp_path / "other-seeds"
    other.mkdir()
    (other / "note.txt").write_text("A short note\n\nOne paragraph of text.\n", encoding="utf-8")
    live = current_build(vectors_copy)

    refused = CliRunner().invoke(
        app, ["serve", "--seeds", str(other), "--vectors", str(vectors_copy)]
    )

    assert refused.exit_code == 1
    assert f"was built from the seeds in {seeds_copy.resolve()}, not {other.resolve()}" in (
        refused.output
    )
    assert "--switch-seeds" in refused.output and "Traceback" not in refused.output
    assert current_build(vectors_copy) == live and "app" not in served

    switched = CliRunner().invoke(
        app, ["serve", "--seeds", str(other), "--vectors", str(vectors_copy), "--switch-seeds"]
    )

    assert switched.exit_code == 0, switched.output
    assert current_build(vectors_copy) != live


def test_serve_help_shows_the_defaults() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], terminal_width=200)

    for default in ("127.0.0.1", "8000", "vectors", "seeds", "--no-watch"):
        assert f"({default})" in result.output
    assert "listen on ." not in result.output and "TCP port ." not in result.output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--lang", "xx"],
            "lang 'xx': the index has no passages in xx (it has: en, ru)",
        ),
        (["--source", "nowhere.example"], "source 'nowhere.example' matches 0 of 5 documents"),
        (["--json", "--format", "csv"], "--json and --format csv ask for two formats"),
        (["--date-to", "2000-01-01"], "1 of 5 documents have a date"),
    ],
)
def test_search_refuses_what_the_api_refuses(
    seed_vectors: Path, options: list[str], message: str
) -> None:
    result = CliRunner().invoke(
        app, ["search", "Bishkek", "--vectors", str(seed_vectors), *options], terminal_width=200
    )

    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_search_as_csv_has_the_api_columns_and_a_bom(seed_vectors: Path) -> None:
    import csv
    import io

    from service.export import BOM, CSV_COLUMNS

    result = CliRunner().invoke(
        app, ["search", "Бортников", "-k", "2", "--format", "csv", "--vectors", str(seed_vectors)]
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(result.stdout.removeprefix(BOM))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 2
    assert rows[0]["link"].startswith("http://127.0.0.1:8000/view/")


def test_search_json_is_one_object_as_the_api_answers(seed_vectors: Path) -> None:
    import json

    result = CliRunner().invoke(
        app, ["search", "Bortnikov", "-k", "2", "--json", "--vectors", str(seed_vectors)]
    )

    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert set(answer) >= {"query", "took_ms", "build", "weak_match", "results"}
    assert [hit["rank"] for hit in answer["results"]] == [1, 2]
