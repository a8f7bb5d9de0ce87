"""NIR export / import: exact IR round trips, files that nir.read loads, foreign graphs, refusals."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from neurodelay import ir
from neurodelay.cli import main
from neurodelay.errors import ValidationError
from neurodelay.interchange import nir as bridge
from neurodelay.ir.random_nets import random_network
from strategies import networks
from test_ir_roundtrip import assert_same_network


def unquantized(network: ir.Network) -> ir.Network:
    """The same network without integer weights / formats (what NIR can hold)."""
    projections = [
        ir.Projection(
            p.name, p.pre, p.post, p.weights, p.delays_steps, p.max_delay_steps, mask=p.mask, metadata=p.metadata
        )
        for p in network.projections
    ]
    return network.with_projections(projections)


def as_executed(network: ir.Network) -> ir.Network:
    """The network with every delay as executors run it, floor(d + 0.5) steps (float dtype kept)."""
    projections = [
        ir.Projection(
            p.name,
            p.pre,
            p.post,
            p.weights,
            p.delays_steps if p.delays_steps.dtype.kind in "iu" else np.floor(p.delays_steps + 0.5),
            p.max_delay_steps,
            mask=p.mask,
            metadata=p.metadata,
        )
        for p in network.projections
    ]
    return network.with_projections(projections)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(network=networks())
def test_round_trip_through_a_nir_file_is_exact(network, tmp_path):
    path = tmp_path / "net.nir"
    exported = bridge.export(network, path)
    back, notes = bridge.read(path)
    assert_same_network(unquantized(as_executed(network)), back)
    assert notes == []
    quantized = [p.name for p in network.projections if p.is_quantized]
    assert all(
        any(f"projection {name}:" in line and "integer weights" in line for line in exported.report)
        for name in quantized
    )
    for projection in network.projections:
        fractional = (projection.delays_steps != np.floor(projection.delays_steps)) & projection.existing()
        assert fractional.any() == any(
            f"projection {projection.name}: {int(fractional.sum())} of " in line for line in exported.report
        )


def test_exported_graph_is_what_nir_says_it_is(tmp_path):
    network = random_network(5, recurrent=True, sparse=True, integer_delays=True, dt_ms=0.5, max_delay_steps=6)
    bridge.export(network, tmp_path / "net.nir")
    graph = nir.read(tmp_path / "net.nir")  # the nir package's own reader
    assert graph.metadata["dt"] == pytest.approx(0.0005) and graph.metadata["time_unit"] == "s"
    hidden = network.population("hidden")
    node = graph.nodes["hidden"]
    assert isinstance(node, nir.CubaLIF) and isinstance(graph.nodes["readout"], nir.CubaLI)
    assert np.allclose(node.tau_mem, hidden.tau_m_ms / 1000.0) and np.allclose(node.tau_syn, hidden.tau_syn_ms / 1000.0)
    assert np.allclose(node.w_in, node.tau_syn) and np.all(node.r == 1.0)
    assert np.all(node.v_threshold == hidden.threshold) and np.all(node.v_reset == hidden.reset)
    assert isinstance(graph.nodes["input"], nir.Input) and isinstance(graph.nodes["readout.output"], nir.Output)
    for projection in network.projections:
        exists = projection.existing()
        delays = projection.delays_steps
        branch_delays = sorted(np.unique(delays[exists]).tolist())
        linears = sorted(
            name
            for name, n in graph.nodes.items()
            if isinstance(n, nir.Linear) and name.startswith(projection.name + ".d")
        )
        assert sorted(int(name.rsplit(".d", 1)[1]) for name in linears) == branch_delays
        total = np.zeros_like(projection.weights)
        for name in linears:
            steps = int(name.rsplit(".d", 1)[1])
            weight = graph.nodes[name].weight.T
            assert np.all(weight[~(exists & (delays == steps))] == 0)
            total += weight
            if steps:
                delay_node = graph.nodes[f"{name}.delay"]
                assert np.allclose(delay_node.delay, steps * network.dt_ms / 1000.0)
                assert (name, f"{name}.delay") in graph.edges and (f"{name}.delay", projection.post) in graph.edges
            else:
                assert (name, projection.post) in graph.edges
            assert (projection.pre, name) in graph.edges
        assert np.array_equal(total, np.where(exists, projection.weights, 0.0))


def foreign_graph(with_dt=True):
    """A graph another tool could write: Delay before and after Affine, w_in = 1, r = 2."""
    tau_syn = np.array([0.004, 0.004])
    nodes = {
        "src": nir.Input(input_type={"input": np.array([3])}),
        "pre_delay": nir.Delay(delay=np.array([0.0, 0.002, 0.004])),
        "w": nir.Affine(weight=np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), bias=np.zeros(2)),
        "post_delay": nir.Delay(delay=np.array([0.001, 0.003])),
        "cell": nir.CubaLIF(
            tau_syn=tau_syn,
            tau_mem=np.array([0.02, 0.01]),
            r=np.array([2.0, 2.0]),
            v_leak=np.array([0.1, 0.1]),
            v_threshold=np.array([1.0, 1.5]),
            w_in=np.ones(2),
        ),
        "out": nir.Output(output_type={"output": np.array([2])}),
    }
    edges = [("src", "pre_delay"), ("pre_delay", "w"), ("w", "post_delay"), ("post_delay", "cell"), ("cell", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": 0.001} if with_dt else {})


def test_foreign_graph_imports_with_delays_and_input_gain():
    network, notes = bridge.from_nir(foreign_graph())
    projection = network.projection("src_cell")
    assert network.dt_ms == 1.0 and projection.pre == "src" and projection.post == "cell"
    assert projection.delays_steps.tolist() == [[1, 3], [3, 5], [5, 7]]  # pre delay + post delay
    gain = 2.0 * 1.0 / 0.004
    assert np.allclose(projection.weights, np.array([[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]) * gain)
    cell = network.population("cell")
    assert np.allclose(cell.tau_m_ms, [20.0, 10.0]) and np.allclose(cell.tau_syn_ms, 4.0)
    assert np.allclose(cell.rest, 0.1) and np.allclose(cell.bias, 0.0)
    assert any("multiplied by the input gain" in line for line in notes)


def test_import_needs_a_timestep_and_whole_step_delays():
    with pytest.raises(ValidationError) as raised:
        bridge.from_nir(foreign_graph(with_dt=False))
    assert raised.value.field == "metadata.dt"
    assert bridge.from_nir(foreign_graph(with_dt=False), dt_ms=1.0)[0].dt_ms == 1.0
    with pytest.raises(ValidationError) as raised:
        bridge.from_nir(foreign_graph(with_dt=False), dt_ms=0.3)
    assert raised.value.field == "nodes.pre_delay.delay" and "whole multiples" in raised.value.problem


def test_unsupported_nodes_and_biases_are_refused():
    graph = foreign_graph()
    graph.nodes["cell"] = nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2))
    with pytest.raises(ValidationError) as raised:
        bridge.from_nir(graph)
    assert raised.value.field == "nodes.cell" and "LIF" in raised.value.problem
    graph = foreign_graph()
    graph.nodes["w"].bias = np.array([0.0, 1.0])
    with pytest.raises(ValidationError, match="bias"):
        bridge.from_nir(graph)


def test_fractional_delays_are_written_as_executed_and_listed(tmp_path):
    network = random_network(2, integer_delays=False, max_delay_steps=5)
    exported = bridge.export(network, tmp_path / "a.nir")
    projection = network.projection("input_hidden")
    fractional = (projection.delays_steps != np.floor(projection.delays_steps)) & projection.existing()
    assert fractional.sum() > 0
    line = next(line for line in exported.report if line.startswith("projection input_hidden:"))
    assert f"{int(fractional.sum())} of {int(projection.existing().sum())} delays" in line
    listed = yaml.safe_load(nir.read(tmp_path / "a.nir").metadata["neurodelay_rounded_delays"])
    change = np.abs(np.floor(projection.delays_steps + 0.5) - projection.delays_steps)[fractional]
    assert listed["input_hidden"]["rounded"] == int(fractional.sum())
    assert listed["input_hidden"]["largest_change_steps"] == pytest.approx(change.max())
    back, _ = bridge.read(tmp_path / "a.nir")
    for original, imported in zip(network.projections, back.projections):
        assert np.array_equal(imported.delays_steps, np.floor(original.delays_steps + 0.5))
        assert np.array_equal(imported.weights, original.weights)


def test_too_many_branches_are_refused_naming_the_projection(tmp_path):
    network = random_network(3, integer_delays=True, max_delay_steps=8)
    with pytest.raises(ValidationError) as raised:
        bridge.to_nir(network, max_branch_elements=20)
    assert raised.value.field == "projections.input_hidden" and "branches" in raised.value.problem


def test_cli_export_and_import(tmp_path, capsys):
    network = random_network(4, recurrent=True, integer_delays=True)
    ir.save(network, tmp_path / "net.ndnet")
    assert main(["export", str(tmp_path / "net.ndnet"), "--target", "nir", "--out", str(tmp_path / "net.nir")]) == 0
    assert main(["import", str(tmp_path / "net.nir"), "--out", str(tmp_path / "back.ndnet")]) == 0
    assert_same_network(network, ir.load(tmp_path / "back.ndnet"))
    assert main(["import", str(tmp_path / "missing.nir"), "--out", str(tmp_path / "x.ndnet")]) == 1
    assert "missing.nir" in capsys.readouterr().err


def simulate_nir_graph(graph, inputs: dict[str, np.ndarray], steps: int) -> dict[str, np.ndarray]:
    """An independent reader of the graph's *NIR fields only*, stepped with the IR's discrete rule:
    each Linear (-> Delay) branch delivers a spike at step t to the target's I at t + 1 + delay/dt."""
    dt_s = float(graph.metadata["dt"])
    cells = {name: node for name, node in graph.nodes.items() if isinstance(node, (nir.CubaLIF, nir.CubaLI))}
    spikes = {name: np.asarray(value, bool) for name, value in inputs.items()}
    for name, node in cells.items():
        spikes[name] = np.zeros((1, steps, node.tau_mem.size), bool)
    branches = []
    for name, node in graph.nodes.items():
        if isinstance(node, nir.Linear):
            (pre,) = [a for a, b in graph.edges if b == name]
            (post,) = [b for a, b in graph.edges if a == name]
            delay = 0
            if isinstance(graph.nodes[post], nir.Delay):
                delay = int(round(float(graph.nodes[post].delay[0]) / dt_s))
                (post,) = [b for a, b in graph.edges if a == post]
            branches.append((pre, post, node.weight, delay))
    arrivals = {name: np.zeros((steps + 64, node.tau_mem.size)) for name, node in cells.items()}
    current = {name: np.zeros(node.tau_mem.size) for name, node in cells.items()}
    voltage = {name: np.array(node.v_leak, float) for name, node in cells.items()}
    for step in range(steps):
        for name, node in cells.items():
            beta, alpha = np.exp(-dt_s / node.tau_syn), np.exp(-dt_s / node.tau_mem)
            current[name] = beta * current[name] + arrivals[name][step] * node.w_in / node.tau_syn
            drive = node.r * (node.tau_syn / dt_s) * (1 - beta) * current[name]
            voltage[name] = node.v_leak + alpha * (voltage[name] - node.v_leak) + (1 - alpha) * drive
            if isinstance(node, nir.CubaLIF):
                fired = voltage[name] >= node.v_threshold
                spikes[name][0, step] = fired
                voltage[name] = np.where(fired, node.v_reset, voltage[name])
        for pre, post, weight, delay in branches:
            if step + 1 + delay < steps:
                arrivals[post][step + 1 + delay] += weight @ spikes[pre][0, step]
    return spikes


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exported_graph_simulated_from_nir_fields_matches_the_reference_simulator(seed, tmp_path):
    from dataclasses import replace

    from neurodelay.refsim import simulate

    network = random_network(
        seed,
        recurrent=True,
        sparse=seed == 1,
        integer_delays=True,
        max_delay_steps=6,
        n_inputs=6,
        n_hidden=10,
        weight_scale=1.5,
    )
    network = replace(
        network,
        populations=tuple(replace(p, refractory_steps=0) if isinstance(p, ir.LIF) else p for p in network.populations),
    )
    bridge.export(network, tmp_path / "net.nir")
    graph = nir.read(tmp_path / "net.nir")
    steps = 60
    inputs = {"input": np.random.default_rng(seed).random((1, steps, 6)) < 0.3}
    reference = simulate(network, inputs)
    from_graph = simulate_nir_graph(graph, inputs, steps)
    hidden_spikes = reference.populations["hidden"].spikes
    assert hidden_spikes.sum() > 0
    assert np.array_equal(from_graph["hidden"], hidden_spikes)


def test_per_step_export_reads_back_to_the_same_dynamics(tmp_path):
    network = random_network(6, recurrent=True, integer_delays=True, max_delay_steps=4)
    bridge.export(network, tmp_path / "a.nir", convention="per-step")
    assert nir.read(tmp_path / "a.nir").metadata["input_convention"] == "per-step"
    back, notes = bridge.read(tmp_path / "a.nir")
    assert len(notes) == len(network.projections) and all("input gain" in line for line in notes)
    for original, imported in zip(network.projections, back.projections):
        assert np.allclose(imported.weights, original.weights, rtol=1e-12, atol=0)
        assert np.array_equal(imported.delays_steps, original.delays_steps)
    with pytest.raises(ValidationError, match="disagrees"):
        bridge.read(tmp_path / "a.nir", convention="impulse")


def test_uniform_delays_fold_into_metadata_without_delay_nodes(tmp_path):
    network = random_network(7, integer_delays=True, max_delay_steps=4)
    uniform = [
        ir.Projection(
            p.name,
            p.pre,
            p.post,
            p.weights,
            np.full_like(p.delays_steps, 3),
            p.max_delay_steps,
            mask=p.mask,
            metadata=p.metadata,
        )
        for p in network.projections
    ]
    network = network.with_projections(uniform)
    exported = bridge.export(network, tmp_path / "a.nir", fold_uniform_delays=True)
    graph = nir.read(tmp_path / "a.nir")
    assert not any(isinstance(node, nir.Delay) for node in graph.nodes.values())
    assert sum("its one delay, 3 steps" in line for line in exported.report) == len(network.projections)
    back, _ = bridge.read(tmp_path / "a.nir")
    assert_same_network(unquantized(network), back)


def test_graph_without_dt_takes_dt_ms():
    with pytest.raises(ValidationError, match="--dt-ms"):
        bridge.from_nir(foreign_graph(with_dt=False))
    network, _ = bridge.from_nir(foreign_graph(with_dt=False), dt_ms=1.0)
    assert network.dt_ms == 1.0


def test_cli_exports_a_float_network_listing_the_rounded_delays(tmp_path, capsys):
    network = random_network(8, integer_delays=False, max_delay_steps=6)  # delays as training leaves them
    ir.save(network, tmp_path / "float.ndnet")
    assert (
        main(
            [
                "export",
                str(tmp_path / "float.ndnet"),
                "--target",
                "nir",
                "--out",
                str(tmp_path / "f.nir"),
                "--input-convention",
                "per-step",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    for projection in network.projections:
        fractional = (projection.delays_steps != np.floor(projection.delays_steps)) & projection.existing()
        if fractional.any():
            assert f"projection {projection.name}: {int(fractional.sum())} of" in out
    assert nir.read(next(tmp_path.glob("*.nir"))).metadata["input_convention"] == "per-step"


def test_a_network_ending_in_a_loop_gets_an_output_node(tmp_path, capsys):
    """Only populations without outgoing projections got an Output node: a network whose last
    population feeds itself got none, and nir.NIRGraph's type inference refused the graph (the CLI
    said 'internal error'). The last population is now the graph's output, and it says so."""
    rng = np.random.default_rng(0)
    network = ir.Network(
        "loop_at_the_end",
        1.0,
        (ir.SpikeSource("input", 3), ir.LIF("hidden", 4, tau_m_ms=10.0, tau_syn_ms=5.0, threshold=1.0)),
        (
            ir.Projection("input_hidden", "input", "hidden", rng.normal(size=(3, 4)), np.ones((3, 4), np.int64), 2),
            ir.Projection("hidden_hidden", "hidden", "hidden", rng.normal(size=(4, 4)), np.full((4, 4), 2), 2),
        ),
    )
    path = ir.save(network, tmp_path / "loop.ndnet")
    assert main(["export", str(path), "--target", "nir", "--out", str(tmp_path / "loop.nir")]) == 0
    assert "'hidden', the last, gets the graph's Output node" in capsys.readouterr().out
    graph = nir.read(tmp_path / "loop.nir")  # what a peer loads: type inference needs an Output
    outputs = [name for name, node in graph.nodes.items() if isinstance(node, nir.Output)]
    assert outputs == ["hidden.output"] and ("hidden", "hidden.output") in graph.edges
    back, _ = bridge.read(tmp_path / "loop.nir")
    assert_same_network(back, network)


@pytest.mark.parametrize("target", ["loihi2", "spinnaker"])
def test_a_network_quantized_in_memory_exports_to_nir(tmp_path, target):
    """The quantizer's report holds numpy numbers: export (without a save and load between) ended
    in yaml's RepresenterError. The provenance read back is the one a network file keeps."""
    from neurodelay.quant.calibration import quantize

    quantized, _ = quantize(ir.load("examples/feedforward.ndnet"), target)
    bridge.export(quantized, tmp_path / "q.nir")
    back, _ = bridge.read(tmp_path / "q.nir")
    assert back.provenance == ir.load(ir.save(quantized, tmp_path / "q.ndnet")).provenance
    assert "quantization_report" in back.provenance
