"""The sPyNNaker exporter: files, the standalone script on a virtual board, delay-extension mapping, limits."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from neurodelay.errors import TargetLimitError
from neurodelay.exporters.spinnaker import SCRIPT_NAME, export, model_from_network
from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from neurodelay.parity.spinnaker import compare_build
from neurodelay.quant.spinnaker import quantize_network


def extension_network() -> Network:
    """20 inputs -> 140 LIF (self-recurrent) -> 3 readouts; at 256 neurons per core the LIF cores hold
    32 delay slots, so delays up to 60 (sPyNNaker 61) need one delay-extension stage."""
    rng = np.random.default_rng(5)

    def projection(name, pre, post, n_pre, n_post, top):
        mask = rng.random((n_pre, n_post)) < 0.3
        weights = np.where(mask, rng.normal(0, 0.5, (n_pre, n_post)), 0.0)
        delays = np.where(mask, rng.integers(0, top + 1, (n_pre, n_post)), 0)
        return Projection(name, pre, post, weights, delays, top, mask=mask)

    return Network(
        "extension",
        1.0,
        (
            SpikeSource("input", 20),
            LIF("hidden", 140, tau_m_ms=15.0, refractory_steps=1),
            LeakyIntegrator("readout", 3),
        ),
        (
            projection("input_hidden", "input", "hidden", 20, 140, 60),
            projection("hidden_hidden", "hidden", "hidden", 140, 140, 60),
            projection("hidden_readout", "hidden", "readout", 140, 3, 20),
        ),
    )


def test_export_writes_model_script_and_summary(tmp_path):
    quantized, report = quantize_network(extension_network(), neurons_per_core=256)
    result = export(quantized, tmp_path / "out", steps=50)
    for name in ("model.json", "model.npz", SCRIPT_NAME, "export.json"):
        assert (tmp_path / "out" / name).exists()
    summary = json.loads((tmp_path / "out" / "export.json").read_text())
    assert summary["delay_extension"] == ["hidden"] and summary["delay_slots"]["hidden"] == 32
    assert summary["shifts"] == report.shifts
    source = result.files["script"].read_text()
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not any(name.startswith("neurodelay") for name in imported)
    assert "pyNN.spiNNaker" in imported
    assert not list(tmp_path.glob("out/.*.tmp"))


def test_model_weights_are_exact_weight_units_and_delays_are_ir_plus_one():
    quantized, report = quantize_network(extension_network(), neurons_per_core=256)
    model = model_from_network(quantized)
    projection = next(p for p in model["projections"] if p["label"] == "input_hidden:inhibitory")
    ir = quantized.projection("input_hidden")
    unit = 2.0 ** (report.shifts["hidden"] - 15)
    for i, j, w, d in zip(
        projection["pre_index"], projection["post_index"], projection["weight_nA"], projection["delay_ms"]
    ):
        assert w == -ir.integer_weights[i, j] * unit
        assert d == ir.delays_steps[i, j] + 1


def test_pinned_neurons_per_core_beyond_the_delay_limit_fails_at_export(tmp_path):
    weights = np.full((4, 300), 0.01)
    delays = np.zeros((4, 300), np.int64)
    delays[2, 7] = 400
    network = Network(
        "far", 1.0, (SpikeSource("in", 4), LIF("out", 300)), (Projection("in_out", "in", "out", weights, delays, 400),)
    )
    quantized, report = quantize_network(network)  # auto: 16 per core, 512 slots
    assert report.neurons_per_core == {"out": 16}
    pinned = quantized.with_projections(
        quantized.projections,
        provenance={
            **quantized.provenance,
            "spinnaker": {**quantized.provenance["spinnaker"], "neurons_per_core": {"out": 256}},
        },
    )
    with pytest.raises(TargetLimitError) as raised:
        export(pinned, tmp_path / "out")
    message = str(raised.value)
    assert "projections[in_out]" in message and "400" in message and "288" in message
    assert not (tmp_path / "out").exists()


def virtual_board_env(home) -> dict:
    (home / ".spynnaker.cfg").write_text("[Machine]\nvirtual_board = True\nversion = 5\n")
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def test_standalone_script_builds_on_a_virtual_board_with_a_delay_extension(tmp_path):
    quantized, _ = quantize_network(extension_network(), neurons_per_core=256)
    result = export(quantized, tmp_path / "export")
    completed = subprocess.run(
        [sys.executable, str(result.files["script"]), "--steps", "5"],
        cwd=tmp_path,
        env=virtual_board_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    read_back = json.loads((tmp_path / "read_back.json").read_text())
    assert read_back["delay_extension"] == {"hidden": True, "readout": False}
    mismatches, checked = compare_build(quantized, read_back)
    assert mismatches == []
    beyond_core = int(
        sum(
            np.count_nonzero(
                quantized.projection(name).existing()
                & (quantized.projection(name).integer_weights != 0)
                & (quantized.projection(name).delays_steps + 1 > 32)
            )
            for name in ("input_hidden", "hidden_hidden")
        )
    )
    assert beyond_core > 100 and checked["synapses"] > beyond_core


@pytest.mark.parametrize(
    "argv, expect",
    [
        (["--inputs", "{out}/two.npz"], "--inputs: {out}/two.npz: input: values other than 0 and 1"),
        (["--inputs", "{out}/minus_one.npz"], "--inputs: {out}/minus_one.npz: input: values other than 0 and 1"),
        (["--steps", "0"], "--steps: 0 is out of range"),
    ],
)
def test_the_standalone_script_refuses_inputs_that_are_no_spikes(tmp_path, argv, expect):
    """The script fed any non-zero value as a spike (2, -1) and ran 0 steps; it now stops before
    sPyNNaker is imported, naming the file and the array."""
    quantized, _ = quantize_network(extension_network(), neurons_per_core=256)
    out = tmp_path / "out"
    export(quantized, out, steps=50)
    np.savez(out / "two.npz", input=np.full((50, 20), 2, np.int8))
    np.savez(out / "minus_one.npz", input=np.full((50, 20), -1))
    done = subprocess.run(
        [sys.executable, SCRIPT_NAME, *(part.format(out=out) for part in argv)],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and expect.format(out=out) in done.stderr, done.stderr


def test_the_cli_report_names_the_export_folder_not_its_staging_folder(tmp_path, capsys):
    """``neurodelay export`` builds the folder beside its destination and renames it; the report
    said "run it with: cd OUT/.name.XXXX && ...", a folder that no longer exists."""
    from neurodelay.cli import main

    network = tmp_path / "q.ndnet"
    assert main(["quantize", "examples/feedforward.ndnet", "--target", "spinnaker", "--out", str(network)]) == 0
    capsys.readouterr()
    out = tmp_path / "export"
    assert main(["export", str(network), "--target", "spinnaker", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"cd {out} && python {SCRIPT_NAME}" in printed, printed
    assert (out / SCRIPT_NAME).is_file()
