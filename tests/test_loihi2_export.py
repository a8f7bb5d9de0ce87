"""Lava exporter: limits, clipping reports, the saved artefact, the CLI, and the backend's guards."""

import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from neurodelay import ir
from neurodelay.backends.loihi2 import executor
from neurodelay.cli import main
from neurodelay.errors import ExecutorError, TargetLimitError
from neurodelay.exporters.loihi2 import ExportedModel, export, load, lower_network
from neurodelay.exporters.loihi2.lower import unconnected_pairs
from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from neurodelay.quant.loihi2 import Loihi2Model, Loihi2Neurons, Loihi2Synapses, quantize_network


def quantized_network(delay=3):
    network = Network(
        "small",
        1.0,
        (
            SpikeSource("in", 3),
            LIF("hidden", 4, tau_m_ms=10.0, tau_syn_ms=4.0, threshold=1.0, bias=0.05),
            LeakyIntegrator("out", 2, tau_m_ms=15.0, tau_syn_ms=3.0),
        ),
        (
            Projection(
                "in_hidden", "in", "hidden", np.linspace(-1.5, 2.0, 12).reshape(3, 4), np.full((3, 4), delay), 62
            ),
            Projection("hidden_hidden", "hidden", "hidden", 0.2 * np.eye(4), np.ones((4, 4), int), 62),
            Projection("hidden_out", "hidden", "out", np.full((4, 2), 0.3), np.zeros((4, 2), int), 62),
        ),
    )
    return quantize_network(network)[0]


def tiny_model(weights, delays, sign_mode="excitatory", weight_exp=0, du=100):
    neurons = Loihi2Neurons("n", 1, du, 10, 50, np.zeros(1, np.int64), np.zeros(1, np.int64), 1.0, 1.0)
    return Loihi2Model(
        "tiny",
        {"in": 2},
        (neurons,),
        (
            Loihi2Synapses(
                "p", "in", "n", np.array(weights, np.int64), np.array(delays, np.int64), weight_exp, sign_mode
            ),
        ),
    )


def test_saved_export_loads_back_identically(tmp_path):
    network = quantized_network()
    exported = export(network, tmp_path / "out").artefact
    loaded = load(tmp_path / "out")
    assert loaded.dt_ms == 1.0 and loaded.report == exported.report
    for before, after in zip(exported.model.neurons, loaded.model.neurons):
        assert (before.name, before.du, before.dv, before.vth, before.readout) == (
            after.name,
            after.du,
            after.dv,
            after.vth,
            after.readout,
        )
        assert np.array_equal(before.bias_mant, after.bias_mant) and np.array_equal(before.bias_exp, after.bias_exp)
    for before, after in zip(exported.model.synapses, loaded.model.synapses):
        assert np.array_equal(before.weights, after.weights) and np.array_equal(before.delays_steps, after.delays_steps)
        assert (before.weight_exp, before.sign_mode) == (after.weight_exp, after.sign_mode)
    assert any("readout 'out'" in line for line in exported.report)


def test_export_loads_without_torch_or_lava(tmp_path):
    export(quantized_network(), tmp_path / "out")
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['lava'] = None\n"
        "from neurodelay.exporters.loihi2.artefact import load\n"
        f"m = load({str(tmp_path / 'out')!r}).model; print(len(m.neurons), len(m.synapses))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "3"]


def test_limits_name_the_projection_and_value():
    from neurodelay.exporters.loihi2.limits import check_model

    with pytest.raises(TargetLimitError, match=r"projection 'p'.delays_steps: 63 .*0..62"):
        check_model(tiny_model([[1], [2]], [[63], [0]]))
    with pytest.raises(TargetLimitError, match=r"projection 'p'.weights\[0, 0\]: 300 .*0..255.*--clip"):
        check_model(tiny_model([[300], [2]], [[0], [0]]))
    with pytest.raises(TargetLimitError, match=r"weight_exp: 9"):
        check_model(tiny_model([[1], [2]], [[0], [0]], weight_exp=9))
    with pytest.raises(TargetLimitError, match=r"du: 4096"):
        check_model(tiny_model([[1], [2]], [[0], [0]], du=4096))
    with pytest.raises(TargetLimitError, match=r"weights\[0, 0\]: 3 .*even values"):
        check_model(tiny_model([[3], [-2]], [[0], [0]], sign_mode="mixed"))


def test_clip_reports_every_clipped_weight():
    from neurodelay.exporters.loihi2.limits import check_model

    model, lines = check_model(tiny_model([[300], [3]], [[0], [0]], sign_mode="mixed"), clip=True)
    assert model.synapses[0].weights[:, 0].tolist() == [254, 2]
    assert any("clipped 2/2" in line for line in lines)


def test_backend_refuses_invalid_models_before_starting_lava():
    with executor() as lava, pytest.raises(TargetLimitError, match="63"):
        lava.run_exported(
            [(ExportedModel(tiny_model([[1], [2]], [[63], [0]]), 1.0), {"in": np.zeros((1, 5, 2), bool)})]
        )


def test_a_hang_becomes_an_executor_error_and_the_child_is_gone():
    model = tiny_model([[1], [2]], [[1], [0]])
    lava = executor(timeout_s=0.2, timeout_per_step_s=0.0)
    with pytest.raises(ExecutorError, match="did not finish within"):
        lava.run_exported([(ExportedModel(model, 1.0), {"in": np.zeros((1, 5, 2), bool)})])
    assert not lava._children
    lava.close()


def live_members(group: int) -> list[int]:
    """Process ids of the process group ``group`` that are not zombies (Linux /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group and fields[0] not in ("Z", "X"):
                members.append(int(entry))
    return members


def test_a_real_lava_hang_is_stopped(tmp_path):
    """A delay of 64 makes Lava's DelayDense raise inside its worker, which hangs the run. The limit
    check would refuse it, so the job is written by hand to reach Lava."""
    import json as json_module

    from neurodelay.exporters.loihi2 import save

    save(ExportedModel(tiny_model([[1], [2]], [[64], [0]]), 1.0), tmp_path / "model0")
    np.savez(tmp_path / "inputs0.npz", **{"in": np.ones((1, 5, 2), np.uint8)})
    (tmp_path / "jobs.json").write_text(
        json_module.dumps(
            [
                {
                    "model": str(tmp_path / "model0"),
                    "inputs": str(tmp_path / "inputs0.npz"),
                    "out": str(tmp_path / "out0.npz"),
                }
            ]
        )
    )
    lava = executor(timeout_s=20, timeout_per_step_s=0.0)
    with pytest.raises(ExecutorError, match="did not finish within 20 s"):
        lava._run_child(tmp_path, "'tiny'", 5)
    assert live_members(lava.last_child_pid) == []  # killed processes may linger as zombies only
    assert not (tmp_path / "out0.npz").exists()


def test_disconnected_groups_are_joined():
    neurons = [Loihi2Neurons(n, 1, 0, 0, 1, np.zeros(1, np.int64), np.zeros(1, np.int64), 1.0, 1.0) for n in "abc"]
    model = Loihi2Model(
        "m",
        {"in": 1},
        tuple(neurons),
        (
            Loihi2Synapses("p", "in", "a", np.ones((1, 1), np.int64), np.zeros((1, 1), np.int64), 0, "excitatory"),
            Loihi2Synapses("q", "c", "c", np.ones((1, 1), np.int64), np.zeros((1, 1), np.int64), 0, "excitatory"),
        ),
    )
    assert unconnected_pairs(model) == [("a", "b"), ("a", "c")]


def test_export_cli(tmp_path, capsys):
    network_path = ir.save(quantized_network(), tmp_path / "q.ndnet")
    assert main(["export", str(network_path), "--target", "loihi2", "--out", str(tmp_path / "lava")]) == 0
    manifest = json.loads((tmp_path / "lava" / "manifest.json").read_text())
    assert manifest["target"] == "loihi2" and [n["name"] for n in manifest["neurons"]] == ["hidden", "out"]
    assert "exported for loihi2" in capsys.readouterr().out


def test_export_cli_refuses_an_unquantized_network(tmp_path, capsys):
    network = quantized_network()
    float_net = replace(
        network,
        projections=tuple(
            Projection(p.name, p.pre, p.post, p.weights, p.delays_steps, 62) for p in network.projections
        ),
    )
    path = ir.save(float_net, tmp_path / "f.ndnet")
    assert main(["export", str(path), "--target", "loihi2", "--out", str(tmp_path / "x")]) == 1
    assert "not quantized for loihi2" in capsys.readouterr().err


def test_lower_network_matches_the_refsim_scales():
    exported = lower_network(quantized_network())
    hidden = exported.model.neuron("hidden")
    assert hidden.vth == 8192 and hidden.v_per_unit == pytest.approx(64 * 8192)
