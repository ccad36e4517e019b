"""A plain ``pip install`` of the project, with no extras, indexes and finds every seed format.

The rest of the suite runs in the editable install with the test extras, which bring in
packages of their own: a runtime dependency missing from pyproject.toml (lxml_html_clean was one)
would go unseen there. This test installs the project the way a user does, into a new virtual
environment, and runs that copy's ``xlsearch`` on one seed of each format.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.embed.ingest.pdfs import make_pdf

pytestmark = pytest.mark.slow

# Generous: on 2 shared cores the install alone (torch, onnxruntime, ...) takes a minute or two.
INSTALL_TIMEOUT = 1200
RUN_TIMEOUT = 600
# Local state, no part of the source: left out of the copy the test installs from.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv*", "vectors", "build", "*.egg-info", "__pycache__", ".*_cache", "test-artifacts"
)

CSTO_TXT = """\
CSTO forces hold joint exercise near Brest

The Collective Rapid Reaction Forces of the Collective Security Treaty Organization began the
joint exercise "Interaction-2025" at a training ground near Brest in Belarus on Monday.

About two thousand servicemen from Armenia, Belarus, Kazakhstan, Kyrgyzstan, Russia and
Tajikistan take part, with paratroopers, armoured vehicles, drones and transport aircraft.

The drills practise the defence of a member state against an armed incursion and end on Friday
with live firing watched by the defence ministers.
"""

# In Russian: the English questions below find it through the cross-language models.
SCO_MD = """\
# Саммит ШОС в Тяньцзине

Лидеры государств — членов **Шанхайской организации сотрудничества** собрались на саммит в
Тяньцзине.

Главы государств подписали декларацию о развитии организации до 2035 года и договорились создать
банк развития ШОС.

Следующий саммит пройдёт в Бишкеке: председательство в организации переходит к Киргизии.
"""

CIS_PARAGRAPHS = [
    "The Council of Heads of Security Agencies and Special Services of the CIS member states "
    "held its 55th meeting in Astana on Wednesday, chaired by the head of Kazakhstan's National "
    "Security Committee.",
    "The heads of the services discussed joint measures against international terrorism, the "
    "financing of extremist groups and the recruitment of young people through messaging apps.",
    "The council approved a plan of joint counter-terrorist operations for the next two years and "
    "agreed to exchange data on foreign fighters returning from conflict zones.",
    "Delegations from Azerbaijan, Armenia, Belarus, Kyrgyzstan, Russia, Tajikistan and Uzbekistan "
    "took part; the next meeting is to be held in Minsk in the autumn.",
]
CIS_HTML = f"""\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>CIS security chiefs meet in Astana | Steppe News</title>
<meta property="og:site_name" content="Steppe News">
<meta name="author" content="Aigerim Bekova">
<meta property="article:published_time" content="2025-10-15">
</head>
<body>
<header><nav><a href="/">Home</a> <a href="/politics">Politics</a> <a href="/world">World</a>
<a href="/subscribe">Subscribe</a></nav></header>
<main>
<article>
<h1>CIS security chiefs meet in Astana</h1>
<p class="byline">By Aigerim Bekova, 15 October 2025</p>
{"".join(f"<p>{paragraph}</p>{chr(10)}" for paragraph in CIS_PARAGRAPHS)}</article>
<aside><h2>Related articles</h2><ul><li><a href="/a/1">Tenge steady against the dollar</a></li>
<li><a href="/a/2">New metro line opens in Almaty</a></li></ul></aside>
</main>
<footer><p>&copy; 2025 Steppe News. All rights reserved.</p></footer>
</body>
</html>
"""

FLOOD_PDF_PAGES = [
    [
        "Flood forces evacuation of villages along the Ishim river",
        "Emergency services evacuated more than 4,000 residents of eleven villages in the "
        "North Kazakhstan region after the Ishim river burst its banks following heavy snowmelt.",
        "Rescuers used boats and helicopters to reach families cut off by the water, and "
        "temporary shelters were opened in schools in Petropavl.",
    ],
    [
        "The water level near Petropavl rose by two metres in a day; engineers reinforced the "
        "dams with sandbags while the regional government declared a state of emergency.",
    ],
]

# Each seed's document id (a plain-text seed's drops ".txt") and an English question that only
# that seed answers.
QUESTIONS = {
    "csto_exercise": "Which countries' troops took part in the CSTO military exercise?",
    "sco_summit.md": "What did the leaders sign at the Shanghai Cooperation Organisation summit?",
    "cis_council.html": "What did the CIS security chiefs discuss at their meeting in Astana?",
    "flood.pdf": "How many people were evacuated because of the river flood?",
}


def _write_seeds(seeds: Path) -> None:
    seeds.mkdir()
    (seeds / "csto_exercise.txt").write_text(CSTO_TXT, encoding="utf-8")
    (seeds / "sco_summit.md").write_text(SCO_MD, encoding="utf-8")
    (seeds / "cis_council.html").write_text(CIS_HTML, encoding="utf-8")
    (seeds / "flood.pdf").write_bytes(make_pdf(FLOOD_PDF_PAGES))


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    """Run ``command`` to its end and return its stdout; fail the test on a non-zero exit.

    It runs in a session of its own, which is killed whole at the end: a timeout, or a child
    it left behind (pip's build backend, a model's worker), leaves no process running.
    """
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{command} still running after {timeout} s:\n{stdout}\n{stderr}")
    finally:
        with contextlib.suppress(ProcessLookupError):  # none left
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, f"{command} exited {process.returncode}:\n{stdout}\n{stderr}"
    return stdout


def test_plain_install_indexes_and_finds_every_seed_format(tmp_path: Path) -> None:
    # Without PYTHONPATH, and from a folder that is not the checkout, only the installed copy
    # can be imported.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # pip builds a local project in its own folder (build/, *.egg-info): install from a copy, so
    # that the checkout is not written to while another install or test may be using it.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    venv = tmp_path / "venv"
    # 1.8 GB: removed at the end, pass or fail (pytest keeps the last three runs' tmp_path).
    try:
        _run([sys.executable, "-m", "venv", str(venv)], tmp_path, env, RUN_TIMEOUT)
        python, xlsearch = venv / "bin" / "python", venv / "bin" / "xlsearch"
        pip = [str(python), "-m", "pip", "install", "-q"]
        # torch first and pinned, as the Makefile does: alone, pip might pick a multi-GB CUDA build.
        _run([*pip, "torch==2.13.0"], tmp_path, env, INSTALL_TIMEOUT)
        _run([*pip, str(source)], tmp_path, env, INSTALL_TIMEOUT)
        where = _run([str(python), "-c", "import embed; print(embed.__file__)"], tmp_path, env, 60)
        assert Path(where.strip()).is_relative_to(venv), where

        seeds, vectors = tmp_path / "seeds", tmp_path / "vectors"
        _write_seeds(seeds)
        rebuild = [str(xlsearch), "rebuild-index", "--seeds", str(seeds), "--vectors", str(vectors)]
        summary = json.loads(_run([*rebuild, "--json"], tmp_path, env, RUN_TIMEOUT))
        # A format whose reader fails in this install is skipped, not fatal: the counts tell.
        assert (summary["documents"], summary["skipped"]) == (4, []), summary

        for doc_id, question in QUESTIONS.items():
            search = [str(xlsearch), "search", question, "-k", "1", "--vectors", str(vectors)]
            lines = _run([*search, "--format", "jsonl"], tmp_path, env, RUN_TIMEOUT).splitlines()
            assert len(lines) == 1, (question, lines)
            assert json.loads(lines[0])["doc_id"] == doc_id, (question, lines[0])
    finally:
        shutil.rmtree(venv, ignore_errors=True)
