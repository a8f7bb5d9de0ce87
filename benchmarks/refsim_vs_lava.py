"""Speed of the refsim's Loihi 2 mode against Lava's own bit-accurate simulation of the same network.

    .venv/bin/python benchmarks/refsim_vs_lava.py [--steps 500] [--batch 256] [--out benchmarks/results/refsim_vs_lava.json]

Networks (quantized for loihi2, 10% Poisson inputs): ``layers_3x100`` (100 inputs -> 3 x [DelayDense
100x100, delays 0..10 -> LIF 100], the middle layer self-recurrent) and ``campaign_sized`` (the size
of a parity-campaign net). For each, measured side by side in one run, on the same machine:

- lava_marginal: Lava's simulation alone, ``L / (t(200 + L) - t(200))`` (``L = --lava-steps``) where t
  is the best of two wall times of run + stop with no recording processes, so compile, start-up and
  shut-down cancel out;
- lava_end_to_end: what a parity run costs, the Lava executor (child process, sinks and u/v monitors,
  read-back) on one input;
- the compiled engine's JIT compile (a new process with an empty numba cache) and its first call in
  a process that finds the on-disk cache;
- the refsim's two engines, each at batch 1 and at ``--batch`` inputs at once (sample-steps per
  second), recording u, v, spikes: ``compiled`` (numba, the default; timed after a warm-up call,
  the one-off JIT compile time is reported separately) and ``numpy`` (the oracle). Each refsim
  time is the best of ``--repeats`` wall times.

Both engines' results are checked against Lava's end-to-end recording and against each other (a
benchmark of a wrong simulator would mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":  # time a cold JIT compile; numba reads this when it is imported
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="refsim_bench_numba_")

import numba  # noqa: E402
import numpy as np  # noqa: E402

from neurodelay.atomic import write_json  # noqa: E402
from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource  # noqa: E402
from neurodelay.quant.loihi2 import integer_model, quantize_network  # noqa: E402
from neurodelay.refsim.loihi2 import simulate_model  # noqa: E402


def layered_network(seed: int = 0) -> Network:
    """100 inputs -> 3 x [DelayDense 100x100, delays 0..10 -> LIF 100], the middle layer self-recurrent."""
    rng = np.random.default_rng(seed)
    populations = [SpikeSource("input", 100)] + [LIF(f"l{i}", 100, tau_m_ms=20.0, tau_syn_ms=5.0) for i in (1, 2, 3)]
    pairs = [("input", "l1"), ("l1", "l2"), ("l2", "l2"), ("l2", "l3")]
    projections = [
        Projection(f"{pre}_{post}", pre, post, rng.normal(0.05, 0.3, (100, 100)), rng.integers(0, 11, (100, 100)), 10)
        for pre, post in pairs
    ]
    return quantize_network(Network("layers_3x100", 1.0, tuple(populations), tuple(projections)))[0]


def campaign_sized_network(seed: int = 0) -> Network:
    """The size of a parity-campaign net: 100 inputs -> LIF 16 (self-recurrent) -> LIF 8 -> readout 4,
    delays 0..62."""
    rng = np.random.default_rng(seed)
    populations = [
        SpikeSource("input", 100),
        LIF("l1", 16, tau_m_ms=10.0, tau_syn_ms=4.0),
        LIF("l2", 8, tau_m_ms=15.0, tau_syn_ms=3.0),
        LeakyIntegrator("readout", 4, tau_m_ms=20.0, tau_syn_ms=5.0),
    ]
    sizes = {p.name: p.size for p in populations}
    pairs = [("input", "l1"), ("l1", "l1"), ("l1", "l2"), ("l2", "readout")]
    projections = [
        Projection(
            f"{pre}_{post}",
            pre,
            post,
            rng.normal(0.1, 0.5, (sizes[pre], sizes[post])),
            rng.integers(0, 63, (sizes[pre], sizes[post])),
            62,
        )
        for pre, post in pairs
    ]
    return quantize_network(Network("campaign_sized", 1.0, tuple(populations), tuple(projections)))[0]


NETWORKS = {"layers_3x100": layered_network, "campaign_sized": campaign_sized_network}


def lava_run_seconds(model, inputs: np.ndarray, steps: int) -> float:
    """Wall time of ``run`` + ``stop`` (compile, simulate, shut down) for ``steps`` steps, without recording processes."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.source import RingBuffer

    from neurodelay.exporters.loihi2.lower import connection
    from lava.proc.lif.process import LIF as LavaLIF

    ports = {"input": RingBuffer(data=inputs[0, :steps].T.astype(float))}
    for neurons in model.neurons:
        ports[neurons.name] = LavaLIF(
            shape=(neurons.size,),
            du=neurons.du,
            dv=neurons.dv,
            vth=neurons.vth,
            bias_mant=neurons.bias_mant.astype(int),
            bias_exp=neurons.bias_exp.astype(int),
        )
    for synapses in model.synapses:
        process = connection(synapses)
        ports[synapses.pre].s_out.connect(process.s_in)
        process.a_out.connect(ports[synapses.post].a_in)
    entry = ports[model.neurons[0].name]
    started = time.perf_counter()
    try:
        entry.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    finally:
        entry.stop()  # waits for the runtime to finish: run() alone returned before the steps were done
    return time.perf_counter() - started


def refsim_seconds(model, inputs: np.ndarray, engine: str, repeats: int) -> float:
    """Best wall time of ``repeats`` runs of the refsim ``engine`` on ``inputs`` (after one untimed run)."""
    simulate_model(model, {"input": inputs}, engine=engine)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        simulate_model(model, {"input": inputs}, engine=engine)
        best = min(best, time.perf_counter() - started)
    return best


def first_call_seconds() -> float:
    """Wall time of the compiled engine's first call in this process minus a warm call, on a
    one-neuron network: the JIT compile, or loading it from numba's on-disk cache when present."""
    from neurodelay.quant.loihi2 import Loihi2Model, Loihi2Neurons, Loihi2Synapses

    one = np.ones(1, np.int64)
    model = Loihi2Model(
        "tiny",
        {"input": 1},
        (Loihi2Neurons("n", 1, 0, 0, 1, one, 0 * one, 1.0, 1.0),),
        (Loihi2Synapses("p", "input", "n", np.ones((1, 1), np.int64), np.zeros((1, 1), np.int64), 0, "excitatory"),),
    )
    inputs = {"input": np.ones((1, 10, 1), bool)}
    started = time.perf_counter()
    simulate_model(model, inputs, engine="compiled")
    first = time.perf_counter() - started
    started = time.perf_counter()
    simulate_model(model, inputs, engine="compiled")
    return first - (time.perf_counter() - started)


def cached_first_call_seconds() -> float:
    """:func:`first_call_seconds` in a new process that finds this process's on-disk cache."""
    code = "import refsim_vs_lava as b; print(b.first_call_seconds())"
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parent, capture_output=True, text=True)
    return float(done.stdout.split()[-1])


def identical(a, b, names) -> bool:
    return all(
        np.array_equal(a.populations[n].spikes, b.populations[n].spikes)
        and all(np.array_equal(a.populations[n].states[s], b.populations[n].states[s]) for s in ("u", "v"))
        for n in names
    )


def measure(network: Network, steps: int, batch: int, lava_steps: int, repeats: int, rng: np.random.Generator) -> dict:
    model = integer_model(network)
    n_inputs = model.sources["input"]
    inputs = rng.random((batch, steps, n_inputs)) < 0.1
    lava_inputs = rng.random((1, lava_steps + 200, n_inputs)) < 0.1
    short = min(lava_run_seconds(model, lava_inputs, 200) for _ in range(2))
    long = min(lava_run_seconds(model, lava_inputs, 200 + lava_steps) for _ in range(2))
    lava_marginal = lava_steps / (long - short)

    from neurodelay.backends.loihi2 import executor

    single = {"input": inputs[:1]}
    started = time.perf_counter()
    with executor() as lava:
        lava_recording = lava.run(network, single)
    lava_end_to_end_s = time.perf_counter() - started

    names = [n.name for n in model.neurons]
    reference = simulate_model(model, single, engine="numpy")
    compiled = simulate_model(model, single, engine="compiled")
    rates = {
        engine: {
            "batch1_steps_per_s": steps / refsim_seconds(model, single["input"], engine, repeats),
            "batched_sample_steps_per_s": steps * batch / refsim_seconds(model, inputs, engine, max(1, repeats // 3)),
        }
        for engine in ("compiled", "numpy")
    }
    lava_end_to_end = steps / lava_end_to_end_s
    result = {
        "neurons": sum(n.size for n in model.neurons),
        "synapses": int(sum(np.count_nonzero(s.weights) for s in model.synapses)),
        "numpy_matches_lava": identical(reference, lava_recording, names),
        "compiled_matches_lava": identical(compiled, lava_recording, names),
        "compiled_matches_numpy_batched": identical(
            simulate_model(model, {"input": inputs}, engine="numpy"),
            simulate_model(model, {"input": inputs}, engine="compiled"),
            names,
        ),
        "spikes_per_step": float(sum(reference.populations[n].spikes.sum() for n in names) / steps),
        "lava_marginal_steps_per_s": lava_marginal,
        "lava_run_seconds": {"200 steps": short, f"{200 + lava_steps} steps": long},
        "lava_end_to_end_seconds_batch1": lava_end_to_end_s,
        "lava_end_to_end_steps_per_s": lava_end_to_end,
    }
    for engine, rate in rates.items():
        single_rate, batched_rate = rate["batch1_steps_per_s"], rate["batched_sample_steps_per_s"]
        result[f"{engine}_batch1_steps_per_s"] = single_rate
        result[f"{engine}_batched_sample_steps_per_s"] = batched_rate
        result[f"ratio_{engine}_batch1_vs_lava_marginal"] = single_rate / lava_marginal
        result[f"ratio_{engine}_batched_vs_lava_marginal"] = batched_rate / lava_marginal
        result[f"ratio_{engine}_batch1_vs_lava_end_to_end"] = single_rate / lava_end_to_end
        result[f"ratio_{engine}_batched_vs_lava_end_to_end"] = batched_rate / lava_end_to_end
    result["ratio_compiled_vs_numpy_batch1"] = (
        result["compiled_batch1_steps_per_s"] / result["numpy_batch1_steps_per_s"]
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lava-steps", type=int, default=3000, help="extra steps timed for Lava's marginal rate")
    parser.add_argument("--repeats", type=int, default=9, help="refsim runs per timing (the best counts)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "refsim_vs_lava.json"))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(1)
    load_before = os.getloadavg()[0]
    jit_seconds = first_call_seconds()  # a cold compile: NUMBA_CACHE_DIR is a new, empty folder
    cached_seconds = cached_first_call_seconds()
    results = {
        name: measure(build(), args.steps, args.batch, args.lava_steps, args.repeats, rng)
        for name, build in NETWORKS.items()
    }
    result = {
        "benchmark": "refsim_vs_lava",
        "steps": args.steps,
        "batch": args.batch,
        "lava_steps": args.lava_steps,
        "repeats": args.repeats,
        "compiled_jit_compile_seconds": jit_seconds,
        "compiled_first_call_seconds_with_disk_cache": cached_seconds,
        "networks": results,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m": [load_before, os.getloadavg()[0]],
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "numpy": np.__version__,
            "numba": numba.__version__,
        },
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    shutil.rmtree(os.environ["NUMBA_CACHE_DIR"], ignore_errors=True)
    write_json(Path(args.out), result)
    print(json.dumps(result, indent=2))
    checks = ("numpy_matches_lava", "compiled_matches_lava", "compiled_matches_numpy_batched")
    return 0 if all(r[check] for r in results.values() for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
