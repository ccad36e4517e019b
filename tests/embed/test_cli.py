"""The ``xlsearch`` console script, run as users run it."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from filelock import FileLock

from embed.cli import user_errors
from embed.store.builds import LOCK_FILE
from tests.conftest import checkout_env

XLSEARCH = str(Path(sys.executable).parent / "xlsearch")


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [XLSEARCH, *args], capture_output=True, text=True, timeout=timeout, env=checkout_env()
    )


@pytest.fixture
def vectors(tmp_path: Path, seed_vectors: Path) -> Path:
    target = tmp_path / "vectors"
    shutil.copytree(seed_vectors, target)
    return target


def test_rebuild_json_summary_for_scripts(seeds_copy: Path, vectors: Path) -> None:
    done = run("rebuild-index", "--seeds", str(seeds_copy), "--vectors", str(vectors), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert set(summary) == {
        "documents", "chunks", "embedded", "reused", "spans", "spans_embedded", "skipped",
        "seconds",
    }  # fmt: skip
    assert summary["documents"] == 5
    assert summary["embedded"] == 0 and summary["reused"] == summary["chunks"] > 0
    assert summary["spans_embedded"] == 0 and summary["spans"] > summary["chunks"]
    assert summary["skipped"] == []


def test_rebuild_human_summary(seeds_copy: Path, vectors: Path) -> None:
    done = run("rebuild-index", "--seeds", str(seeds_copy), "--vectors", str(vectors))
    assert done.returncode == 0, done.stderr
    assert "5 documents" in done.stdout and "0 embedded" in done.stdout
    assert "index already up to date" in done.stdout


def test_a_skipped_seed_is_named_once_on_stderr(
    tmp_path: Path, seeds_copy: Path, vectors: Path
) -> None:
    seeds = tmp_path / "seeds"
    shutil.copytree(seeds_copy, seeds)
    (seeds / "blank.txt").write_bytes(b"")

    done = run("rebuild-index", "--seeds", str(seeds), "--vectors", str(vectors))

    assert done.returncode == 0, done.stderr
    assert "1 skipped" in done.stdout and "blank.txt" not in done.stdout
    assert [line for line in done.stderr.splitlines() if "blank.txt" in line] == [
        f"WARNING embed.indexing.plan: skipped {seeds / 'blank.txt'}: empty file"
    ]


def test_missing_seeds_folder_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    done = run("rebuild-index", "--seeds", str(tmp_path / "nope"), "--vectors", str(tmp_path))
    assert done.returncode == 1
    assert "error: seeds folder" in done.stderr and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_concurrent_rebuild_exits_with_a_clear_message(seeds_copy: Path, vectors: Path) -> None:
    with FileLock(str(vectors / LOCK_FILE)):
        done = run("rebuild-index", "--seeds", str(seeds_copy), "--vectors", str(vectors))
    assert done.returncode == 1
    assert "another rebuild" in done.stderr and "Traceback" not in done.stderr


def test_search_without_an_index_says_what_to_run(tmp_path: Path) -> None:
    done = run("search", "terrorism", "--vectors", str(tmp_path))
    assert done.returncode == 1
    assert "rebuild-index" in done.stderr and "Traceback" not in done.stderr


def test_empty_query_is_refused(tmp_path: Path) -> None:
    done = run("search", "   ", "--vectors", str(tmp_path))
    assert done.returncode == 2 and "the query is empty" in done.stderr


def test_search_filters_by_document_and_refuses_bad_filters(vectors: Path) -> None:
    doc = "001_5bcb32c10d9a48df"
    done = run("search", "Bortnikov", "-k", "4", "--doc", doc, "--format", "jsonl",
               "--vectors", str(vectors))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["doc_id"] for line in done.stdout.splitlines()] == [doc] * 4
    for option, message in (
        (["--date-from", "2024/05/24"], "date_from must be a date as YYYY-MM-DD"),
        (["--doc", "nowhere"], "no document 'nowhere' in the index"),
    ):
        refused = run("search", "Bortnikov", *option, "--vectors", str(vectors))
        assert refused.returncode == 2 and message in refused.stderr
        assert "Traceback" not in refused.stderr


def test_search_results_as_csv_for_spreadsheets(vectors: Path) -> None:
    import csv
    import io

    done = run("search", "Бортников поблагодарил Жапарова", "-k", "3", "--format", "csv",
               "--vectors", str(vectors))  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout.removeprefix("\ufeff"))))
    assert [row["rank"] for row in rows] == ["1", "2", "3"]
    assert list(rows[0])[:3] == ["rank", "doc_id", "title"] and rows[0]["text"]
    lines = run("search", "Bortnikov", "-k", "2", "--format", "jsonl", "--vectors", str(vectors))
    assert [json.loads(line)["rank"] for line in lines.stdout.splitlines()] == [1, 2]


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt, as in a terminal: a process started in the background
    of a script ignores it, and then nothing interrupts its main thread, Ctrl-C included."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("sigint_raises")
def test_a_ctrl_c_swallowed_by_a_callback_still_stops_the_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Locked:
        pass

    def callback(_: object) -> None:
        raise KeyboardInterrupt  # where Python can only print it and go on

    hook = sys.unraisablehook
    with pytest.raises(typer.Exit) as stopped, user_errors():
        held = Locked()
        reference = weakref.ref(held, callback)
        del held
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the command running on; the interrupt comes here
            pass
    assert reference() is None
    assert stopped.value.exit_code == 130
    assert "interrupted" in capsys.readouterr().err
    assert sys.unraisablehook is hook
