"""The Lava executor: runs a loihi2-quantized network in Lava's bit-accurate simulation (or on a
Loihi 2 system) in a child process under a time limit, and returns the shared Recording.

Lava hangs instead of raising when a process model fails, and leaves worker processes behind when a
run is not stopped. So: everything is validated by the exporter before Lava starts; Lava runs in
its own process group (``python -m neurodelay.backends.lava.worker``), which is killed as a whole
when the time limit passes, and a hang or crash becomes an :class:`ExecutorError`.
"""
from __future__ import annotations

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

from neurodelay.errors import ExecutorError
from neurodelay.executor import Executor, Inputs, input_dict
from neurodelay.exporters.lava import ExportedModel, lower_network, save
from neurodelay.ir import Network
from neurodelay.recording import PopulationRecording, Recording


class LavaExecutor(Executor):
    """``run(network, inputs)`` in Lava. Options:

    timeout_s: wall-clock limit of one child process (start-up, every batch item, read-back).
    clip: export with weight clipping (reported in ``last_report``) instead of refusing.
    hardware: use ``Loihi2HwCfg`` (needs Intel's lava-loihi and a configured Loihi 2 system).
    workers: child processes that :meth:`run_many` keeps busy at once.
    """

    def __init__(self, *, timeout_s: float = 300.0, clip: bool = False, hardware: bool = False,
                 workers: int = 1) -> None:
        self.timeout_s = float(timeout_s)
        self.clip = clip
        self.hardware = hardware
        self.workers = max(1, int(workers))
        self.name = "lava-loihi2-hw" if hardware else "lava-fixed_pt"
        self.last_report: list[str] = []
        self._children: set[subprocess.Popen] = set()

    def run(self, network: Network, inputs: Inputs) -> Recording:
        exported = lower_network(network, clip=self.clip)
        self.last_report = exported.report
        return self.run_exported(exported, input_dict(network, inputs))

    def run_many(self, jobs: Sequence[tuple[Network, Inputs]]) -> list[Recording]:
        """Several independent runs, ``workers`` child processes at a time; results in job order."""
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(lambda job: self.run(*job), jobs))

    def run_exported(self, exported: ExportedModel, inputs: dict[str, np.ndarray]) -> Recording:
        """Run an already exported model on ``{source: bool [batch, steps, n]}``."""
        model = exported.model
        batch, steps = next(iter(inputs.values())).shape[:2]
        with tempfile.TemporaryDirectory(prefix="neurodelay-lava-") as scratch:
            scratch = Path(scratch)
            save(exported, scratch / "model")
            np.savez(scratch / "inputs.npz", **{name: spikes.astype(np.uint8) for name, spikes in inputs.items()})
            self._run_child(scratch, model.name)
            with np.load(scratch / "out.npz", allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        populations = {name: PopulationRecording(spikes.copy()) for name, spikes in inputs.items()}
        for neurons in model.neurons:
            try:
                populations[neurons.name] = PopulationRecording(
                    arrays[f"{neurons.name}/spikes"].astype(bool),
                    {"u": arrays[f"{neurons.name}/u"], "v": arrays[f"{neurons.name}/v"]},
                    {"u": 1.0 / neurons.u_per_unit, "v": 1.0 / neurons.v_per_unit})
            except KeyError:
                raise ExecutorError(f"Lava returned no recording of population {neurons.name!r}") from None
            if populations[neurons.name].spikes.shape != (batch, steps, neurons.size):
                raise ExecutorError(f"Lava returned {populations[neurons.name].spikes.shape} for "
                                    f"{neurons.name!r}, expected {(batch, steps, neurons.size)}")
        return Recording(self.name, exported.dt_ms, steps, populations)

    def _run_child(self, scratch: Path, name: str) -> None:
        command = [sys.executable, "-m", "neurodelay.backends.lava.worker", str(scratch / "model"),
                   str(scratch / "inputs.npz"), str(scratch / "out.npz")] + (["--hardware"] if self.hardware else [])
        started = time.monotonic()
        with open(scratch / "log.txt", "wb") as log:
            child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self._children.add(child)
            try:
                code = child.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                code = None
            finally:
                self._kill_group(child)
                self._children.discard(child)
        tail = (scratch / "log.txt").read_text(errors="replace")[-2000:]
        if code is None:
            raise ExecutorError(f"Lava run of {name!r} did not finish within {self.timeout_s:.0f} s and was "
                                f"stopped (Lava hangs when a process model raises). Log tail:\n{tail}")
        if code != 0 or not (scratch / "out.npz").exists():
            raise ExecutorError(f"Lava run of {name!r} failed (exit {code}, {time.monotonic() - started:.1f} s). "
                                f"Log tail:\n{tail}")

    @staticmethod
    def _kill_group(child: subprocess.Popen) -> None:
        """Kill what is left of the child's process group (Lava's own worker processes included)."""
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        child.wait()

    def close(self) -> None:
        for child in list(self._children):
            self._kill_group(child)
        self._children.clear()
