"""The Lava executor: runs a loihi2-quantized network in Lava's bit-accurate simulation (or on a
Loihi 2 system) in a child process under a time limit, and returns the shared Recording.

Lava hangs instead of raising when a process model fails, and leaves worker processes behind when a
run is not stopped. So: everything is validated by the exporter before Lava starts; Lava runs in
its own process group (``python -m neurodelay.backends.loihi2.worker``), which is killed as a whole
when the time limit passes, and a hang or crash becomes an :class:`ExecutorError`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from ...errors import ExecutorError
from ...executor import Executor, Inputs, input_dict
from ...exporters.loihi2 import ExportedModel, lower_network, save
from ...exporters.loihi2.limits import check_model
from ...ir import Network
from ...recording import PopulationRecording, Recording


class LavaExecutor(Executor):
    """``run(network, inputs)`` in Lava. Options:

    timeout_s, timeout_per_step_s: wall-clock limit of one child process: ``timeout_s`` plus
        ``timeout_per_step_s`` per simulated step (summed over its jobs and batch items).
    clip: export with weight clipping (reported in ``last_report``) instead of refusing.
    hardware: use ``Loihi2HwCfg`` (needs Intel's lava-loihi and a configured Loihi 2 system).
    workers: child processes that :meth:`run_many` keeps busy at once.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 120.0,
        timeout_per_step_s: float = 0.05,
        clip: bool = False,
        hardware: bool = False,
        workers: int = 1,
    ) -> None:
        self.timeout_s = float(timeout_s)
        self.timeout_per_step_s = float(timeout_per_step_s)
        self.clip = clip
        self.hardware = hardware
        self.workers = max(1, int(workers))
        self.name = "lava-loihi2-hw" if hardware else "lava-fixed_pt"
        self.last_report: list[str] = []
        self._children: set[subprocess.Popen] = set()
        self.last_child_pid: int | None = None  # process (and group) id of the latest child, for diagnostics

    def run(self, network: Network, inputs: Inputs) -> Recording:
        return self.run_many([(network, inputs)])[0]

    def run_many(self, jobs: Sequence[tuple[Network, Inputs]], jobs_per_child: int = 8) -> list[Recording]:
        """Independent runs, ``jobs_per_child`` per child process and ``workers`` children at a time
        (results in job order). Every network is exported and checked before any Lava run starts."""
        prepared = []
        for network, inputs in jobs:
            exported = lower_network(network, clip=self.clip)
            prepared.append((exported, input_dict(network, inputs)))
        self.last_report = [line for exported, _ in prepared for line in exported.report]
        chunks = [prepared[i : i + jobs_per_child] for i in range(0, len(prepared), max(1, jobs_per_child))]
        with ThreadPoolExecutor(self.workers) as pool:
            results = list(pool.map(self.run_exported, chunks))
        return [recording for chunk in results for recording in chunk]

    def run_exported(self, jobs: Sequence[tuple[ExportedModel, dict[str, np.ndarray]]]) -> list[Recording]:
        """Run already exported models, each on ``{source: bool [batch, steps, n]}``, in one child process.

        Each model is checked against Loihi 2's limits again (an export directory may have been edited),
        because Lava hangs rather than fails on some invalid values."""
        for exported, _ in jobs:
            check_model(exported.model, clip=False)
        with tempfile.TemporaryDirectory(prefix="neurodelay-lava-") as scratch:
            scratch = Path(scratch)
            manifest = []
            for index, (exported, inputs) in enumerate(jobs):
                save(exported, scratch / f"model{index}")
                np.savez(
                    scratch / f"inputs{index}.npz", **{name: spikes.astype(np.uint8) for name, spikes in inputs.items()}
                )
                manifest.append(
                    {
                        "model": str(scratch / f"model{index}"),
                        "inputs": str(scratch / f"inputs{index}.npz"),
                        "out": str(scratch / f"out{index}.npz"),
                    }
                )
            (scratch / "jobs.json").write_text(json.dumps(manifest))
            steps_total = sum(int(np.prod(next(iter(inputs.values())).shape[:2])) for _, inputs in jobs)
            self._run_child(scratch, ", ".join(repr(e.model.name) for e, _ in jobs), steps_total)
            recordings = []
            for index, (exported, inputs) in enumerate(jobs):
                with np.load(scratch / f"out{index}.npz", allow_pickle=False) as data:
                    arrays = {key: data[key] for key in data.files}
                recordings.append(self._recording(exported, inputs, arrays))
        return recordings

    def _recording(
        self, exported: ExportedModel, inputs: dict[str, np.ndarray], arrays: dict[str, np.ndarray]
    ) -> Recording:
        model = exported.model
        batch, steps = next(iter(inputs.values())).shape[:2]
        populations = {name: PopulationRecording(spikes.copy()) for name, spikes in inputs.items()}
        for neurons in model.neurons:
            try:
                populations[neurons.name] = PopulationRecording(
                    arrays[f"{neurons.name}/spikes"].astype(bool),
                    {"u": arrays[f"{neurons.name}/u"], "v": arrays[f"{neurons.name}/v"]},
                    {"u": 1.0 / neurons.u_per_unit, "v": 1.0 / neurons.v_per_unit},
                )
            except KeyError:
                raise ExecutorError(f"Lava returned no recording of population {neurons.name!r}") from None
            if populations[neurons.name].spikes.shape != (batch, steps, neurons.size):
                raise ExecutorError(
                    f"Lava returned {populations[neurons.name].spikes.shape} for "
                    f"{neurons.name!r}, expected {(batch, steps, neurons.size)}"
                )
        return Recording(self.name, exported.dt_ms, steps, populations)

    def _run_child(self, scratch: Path, names: str, steps_total: int) -> None:
        command = [sys.executable, "-m", "neurodelay.backends.loihi2.worker", str(scratch / "jobs.json")]
        command += ["--hardware"] if self.hardware else []
        limit = self.timeout_s + self.timeout_per_step_s * steps_total
        started = time.monotonic()
        with open(scratch / "log.txt", "wb") as log:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self._children.add(child)
            self.last_child_pid = child.pid
            try:
                code = child.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                code = None
            finally:
                self._kill_group(child)
                self._children.discard(child)
        tail = (scratch / "log.txt").read_text(errors="replace")[-2000:]
        if code is None:
            raise ExecutorError(
                f"Lava run of {names} did not finish within {limit:.0f} s and was stopped "
                f"(Lava hangs when a process model raises). Log tail:\n{tail}"
            )
        if code != 0:
            raise ExecutorError(
                f"Lava run of {names} failed (exit {code}, {time.monotonic() - started:.1f} s). Log tail:\n{tail}"
            )

    @staticmethod
    def _kill_group(child: subprocess.Popen, patience_s: float = 10.0) -> None:
        """Kill what is left of the child's process group (Lava's own worker processes included),
        again until no live member is left (a process may be forking while the first signal lands)."""
        deadline = time.monotonic() + patience_s
        while True:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                break
            child.poll()
            if not live_group_members(child.pid) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        child.wait()

    def close(self) -> None:
        for child in list(self._children):
            self._kill_group(child)
        self._children.clear()


def live_group_members(group: int) -> list[int]:
    """Ids of the non-zombie processes in process group ``group`` (read from /proc; [] where there is none)."""
    members = []
    proc = Path("/proc")
    if not proc.is_dir():
        return members
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == group and fields[0] not in ("Z", "X"):
                members.append(int(entry.name))
    return members
