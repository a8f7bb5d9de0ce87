"""sPyNNaker backend: build (virtual board) or run (real board) a SpiNNaker-quantized network.

``executor(board=None, timeout_s=600, workers=1, nets_per_build=25)`` returns a
:class:`SpiNNakerExecutor` (board None: a real board only if ``NEURODELAY_SPINNAKER_BOARD=1``):

* ``build(network)`` maps the exported model with sPyNNaker and returns what it built (integer
  weights, delays, synapse types, ring-buffer shifts, delay slots; see
  :func:`neurodelay.exporters.spinnaker.pynn_model.read_back`). Works on a virtual board, which
  neurodelay configures in a temporary folder (never the user's home).
* ``run(network, inputs)`` needs a real board (configured by the user in
  ``~/.spynnaker.cfg``): the batch runs as parallel copies of the model in one simulation, and the
  recordings come back in the shared layout (spikes, ``v``, ``i_exc``, ``i_inh``, ``i_syn`` as
  s16.15 bits, shifted into the IR's step numbering). On a virtual board it raises, since a virtual
  run records nothing.

Each build runs in its own child process (:mod:`.process`), so sPyNNaker's global state never leaks.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

from ...errors import ExecutorError
from ...executor import Executor, Inputs, input_dict
from ...exporters.spinnaker import model_from_layout
from ...ir import Network
from ...quant.spinnaker import S1615_ONE, SpiNNakerModel, integer_model
from ...recording import PopulationRecording, Recording
from .process import DEFAULT_TIMEOUT_S, run_job


def board_recording(
    layout: SpiNNakerModel, chip: dict[str, np.ndarray], inputs: dict[str, np.ndarray], steps: int
) -> dict[str, PopulationRecording]:
    """Chip recordings of ``steps + 1`` ticks -> the shared layout for ``steps`` IR steps (one batch item).

    The chip records v before the update of tick t, so IR step n's v (after threshold and reset) is
    the chip's v at tick n + 1; gsyn at tick n is the current after the input of step n.
    """
    populations = {name: PopulationRecording(np.asarray(spikes, bool)[None, :steps]) for name, spikes in inputs.items()}
    for name, population in layout.populations.items():

        def bits(key: str) -> np.ndarray:
            return np.rint(np.asarray(chip[f"{name}/{key}"], np.float64) * S1615_ONE).astype(np.int64)

        v, i_exc, i_inh = bits("v"), bits("gsyn_exc"), bits("gsyn_inh")
        if v.shape[0] < steps + 1:
            raise ExecutorError(f"population {name}: the board recorded {v.shape[0]} ticks, expected {steps + 1}")
        init_mean = float(np.mean(population.init)) / 2.0**32
        current_scale = 1.0 / (S1615_ONE * layout.voltage_scale_mv * init_mean)
        populations[name] = PopulationRecording(
            np.asarray(chip[f"{name}/spikes"], bool)[None, :steps],
            {
                "v": v[None, 1 : steps + 1],
                "i_exc": i_exc[None, :steps],
                "i_inh": i_inh[None, :steps],
                "i_syn": (i_exc - i_inh)[None, :steps],
            },
            {
                "v": 1.0 / (S1615_ONE * layout.voltage_scale_mv),
                "i_exc": current_scale,
                "i_inh": current_scale,
                "i_syn": current_scale,
            },
        )
    return populations


BOARD_ENVIRONMENT_VARIABLE = "NEURODELAY_SPINNAKER_BOARD"
DEFAULT_NETS_PER_BUILD = 25


class SpiNNakerExecutor(Executor):
    """sPyNNaker through child processes; without a board (the default) a virtual board (build only).

    board: True runs on the board configured in ``~/.spynnaker.cfg``; None (default) means True
        only when the environment variable ``NEURODELAY_SPINNAKER_BOARD=1`` is set.
    workers: child processes building at once; nets_per_build: networks mapped side by side in one
        sPyNNaker build (its start-up costs several seconds); timeout_s: per build.
    """

    def __init__(
        self,
        board: bool | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        workers: int = 1,
        nets_per_build: int = DEFAULT_NETS_PER_BUILD,
    ) -> None:
        if board is None:
            board = os.environ.get(BOARD_ENVIRONMENT_VARIABLE, "") == "1"
        self.board = bool(board)
        self.timeout_s = float(timeout_s)
        self.workers = max(1, int(workers))
        self.nets_per_build = max(1, int(nets_per_build))
        self.name = "board" if self.board else "virtual-board"

    @property
    def records(self) -> bool:
        """Whether :meth:`run` returns recordings (only on a real board)."""
        return self.board

    def build(self, network: Network) -> dict[str, Any]:
        """Map ``network`` (quantized for SpiNNaker) and return what sPyNNaker built."""
        return self.build_many([network])[0]

    def build_many(self, networks: Sequence[Network]) -> list[dict[str, Any]]:
        """Map networks, ``nets_per_build`` side by side per sPyNNaker build, ``workers`` builds at once;
        return what sPyNNaker built for each (see ``pynn_model.read_back``)."""
        models = [model_from_layout(integer_model(network), steps=1) for network in networks]
        groups = [models[first : first + self.nets_per_build] for first in range(0, len(models), self.nets_per_build)]

        def build_group(group: list[dict[str, Any]]) -> list[dict[str, Any]]:
            read_back, _ = run_job(group, steps=1, record=False, board=self.board, timeout_s=self.timeout_s)
            return read_back

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return [item for built in pool.map(build_group, groups) for item in built]

    def run(self, network: Network, inputs: Inputs) -> Recording:
        if not self.board:
            raise ExecutorError(
                "a virtual SpiNNaker board maps the network but records nothing; "
                "use build() for what sPyNNaker built, or executor(board=True) with a "
                "board configured in ~/.spynnaker.cfg"
            )
        checked = input_dict(network, inputs)
        batch, steps = next(iter(checked.values())).shape[:2]
        layout = integer_model(network)
        model = model_from_layout(layout, steps=steps + 1)
        per_item = [{name: spikes[item].astype(np.uint8) for name, spikes in checked.items()} for item in range(batch)]
        _, chip = run_job(
            [model] * batch, steps=steps + 1, record=True, board=True, inputs=per_item, timeout_s=self.timeout_s
        )
        items = [
            board_recording(layout, chip[item], {k: v[item] for k, v in checked.items()}, steps)
            for item in range(batch)
        ]
        populations = {}
        for name in items[0]:
            first = items[0][name]
            populations[name] = PopulationRecording(
                np.concatenate([item[name].spikes for item in items]),
                {key: np.concatenate([item[name].states[key] for item in items]) for key in first.states},
                dict(first.state_scales),
            )
        return Recording(self.name, network.dt_ms, steps, populations)


def executor(**options: Any) -> SpiNNakerExecutor:
    """The sPyNNaker executor; options: ``board``, ``timeout_s``, ``workers``, ``nets_per_build``."""
    return SpiNNakerExecutor(**options)
