"""NIR graphs that snnTorch and Norse load and run, and their graphs imported back, on delay-free
feed-forward networks (neither peer has a Delay node).

Both peers step CubaLIF by forward Euler with a spike as an input of 1 for one step (the
``per-step`` convention, written with ``--input-convention per-step``) and pass a spike to the
next layer within the same step, where the IR takes one step per projection: population k of a
chain spikes at step t in the peer when it spikes at t + k in refsim. Norse's LIFCell adds a
spike's weight to the current at once, without the per-step factor dt/tau_syn (the ``jump``
convention on import), with the same zero latency.
Spike trains are compared exactly; membrane voltages are not (the peers run float32).
"""

from __future__ import annotations

import nir
import numpy as np
import pytest
import torch

from neurodelay import ir
from neurodelay.cli import main
from neurodelay.interchange import nir as bridge
from neurodelay.refsim import simulate

snntorch = pytest.importorskip("snntorch", reason="the interop extra (snnTorch) is not installed")
norse = pytest.importorskip("norse.torch", reason="the interop extra (Norse) is not installed")
from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.import_nir import import_from_nir  # noqa: E402

SNNTORCH_DT_MS = 0.1  # snnTorch 1.0.0 reads and writes NIR time constants with dt fixed at 1e-4 s
STEPS = 300


def chain_network(dt_ms: float, seed: int) -> ir.Network:
    """input(8) -> hidden LIF(6) -> out LIF(3), zero delays, one threshold per population (both
    peers take a single threshold), rest = bias = reset = 0 (neither peer has them)."""
    rng = np.random.default_rng(seed)
    populations = (
        ir.SpikeSource("input", 8),
        ir.LIF("hidden", 6, tau_m_ms=20 * dt_ms, tau_syn_ms=np.linspace(5, 10, 6) * dt_ms),
        ir.LIF("out", 3, tau_m_ms=15 * dt_ms, tau_syn_ms=7 * dt_ms),
    )
    projections = (
        ir.Projection("input_hidden", "input", "hidden", rng.normal(0.6, 0.5, (8, 6)), np.zeros((8, 6), np.int64), 0),
        ir.Projection("hidden_out", "hidden", "out", rng.normal(0.8, 0.5, (6, 3)), np.zeros((6, 3), np.int64), 0),
    )
    return ir.Network("chain", dt_ms, populations, projections)


def inputs(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((3, STEPS, 8)) < 0.2


def run_stepwise(
    model: torch.nn.Module, layers: dict[str, torch.nn.Module], spikes: np.ndarray, *, stateful_call: bool
) -> dict[str, np.ndarray]:
    """Feed ``spikes`` ([batch, steps, n]) one step at a time; bool [batch, steps, n] per layer."""
    recorded: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    for name, module in layers.items():
        module.register_forward_hook(
            lambda _m, _i, out, name=name: recorded[name].append(
                (out[0] if isinstance(out, tuple) else out).detach().numpy().copy()
            )
        )
    state = None
    with torch.no_grad():
        for step in range(spikes.shape[1]):
            frame = torch.from_numpy(spikes[:, step].astype(np.float32))
            if stateful_call:
                _, state = model(frame, state)
            else:
                model(frame)
    return {name: np.stack(frames, 1) > 0 for name, frames in recorded.items()}


def assert_shifted_equal(reference: np.ndarray, peer: np.ndarray, shift: int) -> None:
    """refsim spikes at step t + shift equal the peer's at step t (the last ``shift`` steps of the
    peer have no refsim counterpart)."""
    assert reference.sum() > 20, "too few spikes for a meaningful comparison"
    end = reference.shape[1] - shift
    assert np.array_equal(reference[:, shift:], peer[:, :end])


@pytest.mark.parametrize("seed", [0, 1])
def test_snntorch_runs_an_exported_graph_spike_for_spike(tmp_path, seed):
    network = chain_network(SNNTORCH_DT_MS, seed)
    bridge.export(network, tmp_path / "chain.nir", convention="per-step")
    graph = nir.read(tmp_path / "chain.nir")
    assert graph.metadata["input_convention"] == "per-step"
    model = import_from_nir(graph)
    spikes = inputs(seed)
    peer = run_stepwise(model, {"hidden": model.hidden, "out": model.out}, spikes, stateful_call=False)
    reference = simulate(network, spikes, mode="float")
    assert_shifted_equal(reference.spikes("hidden"), peer["hidden"], 1)
    assert_shifted_equal(reference.spikes("out"), peer["out"], 2)


@pytest.mark.parametrize("dt_ms", [0.1, 0.5])
def test_norse_runs_an_exported_graph_spike_for_spike(tmp_path, dt_ms):
    network = chain_network(dt_ms, 2)
    bridge.export(network, tmp_path / "chain.nir", convention="per-step")
    model = norse.from_nir(nir.read(tmp_path / "chain.nir"), dt=dt_ms / 1000)
    spikes = inputs(2)
    peer = run_stepwise(model, {"hidden": model.hidden, "out": model.out}, spikes, stateful_call=True)
    reference = simulate(network, spikes, mode="float")
    assert_shifted_equal(reference.spikes("hidden"), peer["hidden"], 1)
    assert_shifted_equal(reference.spikes("out"), peer["out"], 2)


def test_the_impulse_convention_is_not_what_the_peers_run(tmp_path):
    """The default export (exact for neurodelay) gives the peers inputs dt/tau_syn too small."""
    network = chain_network(SNNTORCH_DT_MS, 0)
    graph, _ = bridge.to_nir(network)
    model = norse.from_nir(graph, dt=SNNTORCH_DT_MS / 1000)
    spikes = inputs(0)
    peer = run_stepwise(model, {"hidden": model.hidden}, spikes, stateful_call=True)
    assert simulate(network, spikes, mode="float").spikes("hidden").sum() > 20
    assert peer["hidden"].sum() == 0


def snntorch_chain(seed: int) -> torch.nn.Sequential:
    """The same shape built in snnTorch (per-neuron alpha/beta/threshold: its exporter needs arrays)."""
    torch.manual_seed(seed)

    def synaptic(size: int, alpha: torch.Tensor, beta: torch.Tensor):
        return snntorch.Synaptic(
            alpha=alpha,
            beta=beta,
            threshold=torch.ones(size),
            init_hidden=True,
            reset_mechanism="zero",
            reset_delay=False,
        )

    model = torch.nn.Sequential(
        torch.nn.Linear(8, 6, bias=False),
        synaptic(6, torch.full((6,), 0.8), torch.linspace(0.85, 0.95, 6)),
        torch.nn.Linear(6, 3, bias=False),
        synaptic(3, torch.full((3,), 0.7), torch.full((3,), 0.9)),
    )
    with torch.no_grad():
        model[0].weight.mul_(4.0)
        model[2].weight.mul_(3.0)
    return model


def test_snntorch_graph_imports_and_refsim_matches_snntorch(tmp_path, capsys):
    model = snntorch_chain(3)
    nir.write(tmp_path / "snn.nir", export_to_nir(model, torch.zeros(1, 8), ignore_dims=[0]))
    assert (
        main(
            [
                "import",
                str(tmp_path / "snn.nir"),
                "--out",
                str(tmp_path / "snn.ndnet"),
                "--dt-ms",
                str(SNNTORCH_DT_MS),
                "--input-convention",
                "per-step",
            ]
        )
        == 0
    )
    assert "'0' -> 'n0'" in capsys.readouterr().out  # torch exporters name nodes "0", "1", ...
    network = ir.load(tmp_path / "snn.ndnet")
    assert [p.name for p in network.populations] == ["input", "n1", "n3"]
    spikes = inputs(3)
    peer = run_stepwise(model, {"n1": model[1], "n3": model[3]}, spikes, stateful_call=False)
    reference = simulate(network, spikes, mode="float")
    assert_shifted_equal(reference.spikes("n1"), peer["n1"], 1)
    assert_shifted_equal(reference.spikes("n3"), peer["n3"], 2)


def test_norse_lifcell_graph_imports_and_refsim_matches_norse(tmp_path):
    dt_s = 0.0005
    torch.manual_seed(4)

    def cell(size: int, tau_syn_inv: float, tau_mem_inv: float):  # per-neuron values: NIR needs equal shapes
        return norse.LIFCell(
            norse.LIFParameters(
                tau_syn_inv=torch.full((size,), tau_syn_inv),
                tau_mem_inv=torch.full((size,), tau_mem_inv),
                v_leak=torch.zeros(size),
                v_th=torch.ones(size),
                v_reset=torch.zeros(size),
            ),
            dt=dt_s,
        )

    model = norse.SequentialState(
        torch.nn.Linear(8, 6, bias=False),
        cell(6, 200.0, 100.0),
        torch.nn.Linear(6, 3, bias=False),
        cell(3, 250.0, 80.0),
    )
    with torch.no_grad():
        model[0].weight.mul_(6.0)
        model[2].weight.mul_(4.0)
    # Norse 1.1.0's to_nir writes tau = dt / tau_inv; dt = 1 makes that the time constant in s
    nir.write(tmp_path / "norse.nir", norse.to_nir(model, torch.zeros(8), dt=1.0))
    network, report = bridge.read(tmp_path / "norse.nir", dt_ms=dt_s * 1000, convention="jump")
    assert any("renamed" in line for line in report)
    spikes = inputs(4)
    peer = run_stepwise(model, {"n1": model[1], "n3": model[3]}, spikes, stateful_call=True)
    reference = simulate(network, spikes, mode="float")
    assert_shifted_equal(reference.spikes("n1"), peer["n1"], 1)
    assert_shifted_equal(reference.spikes("n3"), peer["n3"], 2)
