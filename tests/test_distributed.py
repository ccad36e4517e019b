"""The distributed tests (tests/distributed/), run inside loopback-only network namespaces.

Milvus binds every interface and Ray probes outside addresses: their tests run in namespaces of
their own (``unshare``: a network holding only a loopback interface, and a process tree of its
own, so that whatever they start ends with them), one for Milvus and one for Ray, so that neither
starts while the other's servers hold the machine's ports and cores. Needs root, as CI has;
skipped elsewhere.
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


# Each group runs in a namespace of its own.
GROUPS = {
    "milvus": ["tests/distributed/test_milvus.py", "tests/distributed/test_service.py"],
    "ray": ["tests/distributed/test_ray.py"],
}


@pytest.mark.slow
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_distributed_suite_passes_in_a_loopback_only_namespace(tmp_path: Path, group: str) -> None:
    pytest.importorskip(group, reason=f"{group} is in the test extra")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a loopback-only network namespace")
    inner = (
        f"ip link set lo up && exec {sys.executable} -m pytest -q -p no:cacheprovider "
        f"--basetemp={tmp_path / 'inner'} {' '.join(GROUPS[group])}"
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


def test_every_distributed_test_file_runs_in_a_group() -> None:
    files = {str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "distributed").glob("test_*.py")}
    assert files == {name for names in GROUPS.values() for name in names}
