"""The toy chip's exporter (one JSON file of integers) and its executor: an event-by-event loop over
the exported file, written independently of :func:`toy_lif.chip.simulate`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from neurodelay.atomic import write_json
from neurodelay.executor import Executor, input_dict
from neurodelay.export_result import ExportResult
from neurodelay.recording import PopulationRecording, Recording

from .chip import NAME, integer_parameters

FILE = "toy_lif.json"


def export(network, out_dir, **options) -> ExportResult:
    out = Path(out_dir)
    path = write_json(out / FILE, integer_parameters(network))
    return ExportResult(NAME, out, {"chip": path}, [f"{NAME}: integers written to {path}"])


def floor_div(value: int, divisor: int) -> int:
    return value // divisor  # Python's // floors, like numpy's floor_divide


def run_file(path: Path, inputs: dict[str, np.ndarray]) -> Recording:
    chip = json.loads(path.read_text())
    batch, steps = next(iter(inputs.values())).shape[:2]
    names = list(chip["populations"])
    recorded = {
        name: {
            key: np.zeros((batch, steps, chip["populations"][name]["size"]), dtype)
            for key, dtype in (("spikes", bool), ("v", np.int64), ("i", np.int64))
        }
        for name in names
    }
    for trial in range(batch):
        pending: dict[tuple[int, str, int], int] = {}  # (step, post, neuron) -> summed weight
        v = {name: [0] * chip["populations"][name]["size"] for name in names}
        i = {name: [0] * chip["populations"][name]["size"] for name in names}
        for step in range(steps):
            fired_now = {source: np.nonzero(inputs[source][trial, step])[0].tolist() for source in chip["sources"]}
            for name in names:
                p = chip["populations"][name]
                fired_now[name] = []
                for n in range(p["size"]):
                    i[name][n] = floor_div(i[name][n] * p["b"], 256) + pending.pop((step, name, n), 0)
                    v[name][n] = (
                        floor_div(v[name][n] * p["a"], 256) + floor_div(i[name][n] * p["c"], 256) + p["bias"][n]
                    )
                    if p["spiking"] and v[name][n] >= p["theta"]:
                        v[name][n] = 0
                        fired_now[name].append(n)
                        recorded[name]["spikes"][trial, step, n] = True
                    recorded[name]["v"][trial, step, n] = v[name][n]
                    recorded[name]["i"][trial, step, n] = i[name][n]
            for projection in chip["projections"]:
                for pre in fired_now[projection["pre"]]:
                    for post, (weight, delay) in enumerate(zip(projection["weights"][pre], projection["delays"][pre])):
                        key = (step + 1 + delay, projection["post"], post)
                        pending[key] = pending.get(key, 0) + weight
    populations = {name: PopulationRecording(np.asarray(values, bool)) for name, values in inputs.items()}
    for name in names:
        scale = chip["populations"][name]["scale"]
        populations[name] = PopulationRecording(
            recorded[name]["spikes"], {"v": recorded[name]["v"], "i": recorded[name]["i"]}, {"v": scale, "i": scale}
        )
    return Recording("toy-event-loop", chip["dt_ms"], steps, populations)


class ToyExecutor(Executor):
    name = "toy-event-loop"
    records = True

    def run(self, network, inputs) -> Recording:
        checked = input_dict(network, inputs)
        with tempfile.TemporaryDirectory() as folder:
            result = export(network, folder)
            return run_file(result.files["chip"], checked)


def executor(**options) -> ToyExecutor:
    return ToyExecutor()
