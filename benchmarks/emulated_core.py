"""Time the emulated IF_curr_exp core: one 256-neuron population (one core) for 1000 steps.

Driven by 64 Poisson-like sources (rate 0.05 per step) through dense excitatory and inhibitory
matrices, so the transfer, the update and the binary's synaptic-row processing all do work. The same
network runs through the refsim's SpiNNaker mode in the same process for a side-by-side ratio.
Writes benchmarks/results/emulated_core.json (atomically).

    .venv/bin/python benchmarks/emulated_core.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from neurodelay.atomic import write_json
from neurodelay.backends.spinnaker.emulated import EmulatedCoreExecutor
from neurodelay.backends.spinnaker.emulated.adapter import description_from_layout
from neurodelay.ir import LIF, Network, Projection, SpikeSource
from neurodelay.quant.spinnaker import integer_model, quantize_network
from neurodelay.refsim.spinnaker import simulate_model

N_NEURONS, N_STEPS, N_SOURCES = 256, 1000, 64
RESULT = Path(__file__).parent / "results" / "emulated_core.json"


def benchmark_network(seed: int = 0) -> tuple[Network, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    weights = rng.normal(0.0, 0.4, (N_SOURCES, N_NEURONS))
    delays = rng.integers(0, 16, (N_SOURCES, N_NEURONS))
    network = Network(
        "bench_256",
        1.0,
        (SpikeSource("input", N_SOURCES), LIF("cells", N_NEURONS, tau_m_ms=20.0, tau_syn_ms=5.0, refractory_steps=2)),
        (Projection("input_cells", "input", "cells", weights, delays, 15),),
    )
    quantized, _ = quantize_network(network)
    return quantized, {"input": rng.random((1, N_STEPS, N_SOURCES)) < 0.05}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    network, inputs = benchmark_network()
    layout = integer_model(network)
    description = description_from_layout(layout)
    executor = EmulatedCoreExecutor()
    emulated, reference = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        recording = executor.run_description(description, inputs)
        emulated.append(time.perf_counter() - start)
        start = time.perf_counter()
        expected, _ = simulate_model(layout, inputs)
        reference.append(time.perf_counter() - start)
    identical = all(
        np.array_equal(expected.populations["cells"].states[q], recording.populations["cells"].states[q])
        for q in ("v", "i_exc", "i_inh")
    ) and np.array_equal(expected.populations["cells"].spikes, recording.populations["cells"].spikes)
    result = {
        "benchmark": "emulated IF_curr_exp core, 256 neurons x 1000 steps (one core)",
        "neurons": N_NEURONS,
        "steps": N_STEPS,
        "sources": N_SOURCES,
        "spikes": int(recording.populations["cells"].spikes.sum()),
        "emulated_core_seconds": {"best": min(emulated), "all": emulated},
        "refsim_spinnaker_seconds": {"best": min(reference), "all": reference},
        "emulated_over_refsim": min(emulated) / min(reference),
        "target_seconds": 10.0,
        "within_target": min(emulated) < 10.0,
        "identical_to_refsim": bool(identical),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
    }
    write_json(RESULT, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
