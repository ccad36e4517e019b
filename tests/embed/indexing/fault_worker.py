"""A rebuild "zygote" for the fault tests: loads the model once, forks a real rebuild per request.

Starting ``xlsearch rebuild-index`` costs ~20 s of imports and model loading on this machine, so
twenty crash trials as fresh CLI processes would take minutes. This process pays that once and then
forks a child per trial; each child is a real, separate process running the real rebuild (the
same ``rebuild_index`` under the CLI's own ``user_errors`` handler), which the test kills with real
signals. The model is loaded but never run here: torch's thread pool does not survive a fork once
used, so only the children encode.

Protocol (one line each, on stdin/stdout)::

    -> <seeds>\t<vectors>\t<stderr file>      start a rebuild
       [\tnowait] [\tholdbar]                   (holdbar: instead, hold tqdm's lock until killed)
    <- pid <child pid>
    <- exit <code>                            (negative: killed by that signal)
    -> wait <pid>                             (only after "pid" lines of concurrent children)

The worker exits when stdin closes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import typer
from tqdm import tqdm

from embed.cli import user_errors
from embed.indexing.rebuild import rebuild_index
from embed.settings import EmbedSettings, load_encoders


def _child(seeds: Path, vectors: Path, errors: Path, flags: list[str]) -> None:
    """Run one rebuild like the CLI does; never returns."""
    fd = os.open(errors, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    if "holdbar" in flags:  # a rebuild killed while its progress bar holds tqdm's lock
        tqdm.get_lock().acquire()
        print("holding", file=sys.stderr, flush=True)
        time.sleep(600)
        os._exit(0)  # never falls through into a rebuild the test did not ask for
    code = 0
    try:
        import torch

        torch.set_num_threads(1)
        with user_errors():
            summary = rebuild_index(seeds, vectors, ENCODER, second=None, progress=False)
            print(f"built {summary.build}", file=sys.stderr, flush=True)
    except typer.Exit as exc:
        code = exc.exit_code
    except BaseException:  # a traceback here is what the tests look for, so print it
        import traceback

        traceback.print_exc()
        code = 99
    sys.stderr.flush()
    os._exit(code)


def _status(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


# tqdm's default lock holds a multiprocessing semaphore, made by the first bar (loading the
# model draws one) and shared by every child forked after: a child killed inside a bar's
# critical section leaves it taken, and each later child's first bar waits on it forever (a
# CI run lost its last four fault tests so). The children are separate processes with one
# bar each at a time, so a thread lock is all they need.
tqdm.set_lock(threading.RLock())
ENCODER = load_encoders(EmbedSettings(second_model=None))[0]
ENCODER.model  # noqa: B018 - load the weights once, before forking
# Passages go through ONNX Runtime: its tokenizers are loaded and its graph read once here, so
# that every child, the one the kill test times first included, finds them in memory. Each child
# makes its own session, after the fork.
if ENCODER.passage_onnx is not None:
    ENCODER.passage_onnx.tokenizer  # noqa: B018
    ENCODER.passage_onnx.graph.read_bytes()
ENCODER.count_tokens("warm-up")


def main() -> None:
    print("ready", flush=True)
    for line in sys.stdin:
        line = line.rstrip("\n")
        if line.startswith("wait "):
            _, status = os.waitpid(int(line.split()[1]), 0)
            print(f"exit {_status(status)}", flush=True)
            continue
        seeds, vectors, errors, *flags = line.split("\t")
        pid = os.fork()
        if pid == 0:
            _child(Path(seeds), Path(vectors), Path(errors), flags)
        print(f"pid {pid}", flush=True)
        if "nowait" not in flags:
            _, status = os.waitpid(pid, 0)
            print(f"exit {_status(status)}", flush=True)


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: a killed child may have left shared locks held
