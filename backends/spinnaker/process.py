"""Run sPyNNaker builds in isolated child processes, each in its own temporary working directory.

sPyNNaker keeps global state between ``setup()`` and ``end()`` and reads its configuration from the
user's home; every build here runs in a fresh child process (killed with its process group on
timeout) whose working directory is a temporary folder. For a virtual board the child's ``HOME``
is that folder too, holding a ``.spynnaker.cfg`` written by neurodelay, so the user's home is never
read or written; for a real board the child keeps the user's own configuration.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ExecutorError
from ...exporters.spinnaker import pynn_model

VIRTUAL_BOARD_CONFIG = """[Machine]
virtual_board = True
version = 5

[Reports]
write_energy_report = False
"""
DEFAULT_TIMEOUT_S = 600.0


def run_job(
    models: list[dict[str, Any]],
    *,
    steps: int,
    record: bool,
    board: bool,
    inputs: list[dict[str, np.ndarray]] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> tuple[list[dict], list[dict[str, np.ndarray]]]:
    """Build ``models`` side by side in one sPyNNaker simulation in a child process; run ``steps``.

    Returns ``(read_back per model, recordings per model)``; recordings are empty unless ``record``
    (``{"<population>/<spikes|v|gsyn_exc|gsyn_inh>": array}`` in the chip's step numbering).
    Raises :class:`ExecutorError` with the end of the child's log when the build fails or times out.
    """
    if not models:
        raise ExecutorError("no model to build")
    work = Path(tempfile.mkdtemp(prefix="neurodelay-spinnaker-"))
    try:
        for index, model in enumerate(models):
            skeleton, arrays = pynn_model.model_arrays(model)
            (work / f"model_{index}.json").write_text(json.dumps(skeleton))
            np.savez(work / f"model_{index}.npz", **arrays)
            if inputs and inputs[index]:
                np.savez(work / f"inputs_{index}.npz", **inputs[index])
        (work / "job.json").write_text(
            json.dumps({"n_models": len(models), "steps": int(steps), "record": bool(record)})
        )
        environment = dict(os.environ)
        if not board:
            (work / ".spynnaker.cfg").write_text(VIRTUAL_BOARD_CONFIG)
            environment["HOME"] = str(work)
            environment["XDG_CONFIG_HOME"] = str(work / ".config")
        command = [sys.executable, "-m", "neurodelay.backends.spinnaker.child", str(work)]
        log_path = work / "child.log"
        with open(log_path, "wb") as log:
            child = subprocess.Popen(
                command, cwd=work, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                code = child.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                raise ExecutorError(
                    f"sPyNNaker build timed out after {timeout_s:g} s "
                    f"({'board' if board else 'virtual board'}); log tail:\n{_tail(log_path)}"
                )
        if code != 0 or not (work / "read_back.json").exists():
            raise ExecutorError(f"sPyNNaker build failed (exit {code}); log tail:\n{_tail(log_path)}")
        read_back = json.loads((work / "read_back.json").read_text())
        recordings = []
        for index in range(len(models)):
            path = work / f"recordings_{index}.npz"
            if path.exists():
                with np.load(path) as data:
                    recordings.append({key: data[key] for key in data.files})
            else:
                recordings.append({})
        return read_back, recordings
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _tail(path: Path, lines: int = 25) -> str:
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    kept = [line for line in text if " INFO: " not in line][-lines:]
    return "\n".join(kept) if kept else "(no output)"
