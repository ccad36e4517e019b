"""The distributed tests (tests/distributed/), run inside a loopback-only network namespace.

Milvus binds every interface: its tests run in a namespace of their own (``unshare``: its own
network, holding only a loopback interface, and its own process tree, so that whatever they
start ends with them). Needs root, as CI has; skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Milvus's first start unpacks its binaries; the Milvus tests then take a few minutes.
TIMEOUT_S = 900


@pytest.mark.slow
def test_distributed_suite_passes_in_a_loopback_only_namespace(tmp_path: Path) -> None:
    pytest.importorskip("milvus", reason="the Milvus server package is in the test extra")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a loopback-only network namespace")
    inner = (
        f"ip link set lo up && exec {sys.executable} -m pytest -q -p no:cacheprovider "
        f"--basetemp={tmp_path / 'inner'} tests/distributed"
    )
    done = subprocess.run(
        ["unshare", "-n", "-p", "-f", "--mount-proc", "--kill-child", "--", "sh", "-c", inner],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]
