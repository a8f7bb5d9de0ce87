"""`neurodelay quantize` end to end on both targets: report contents cross-checked against the
targets' own counts, --strict, provenance, scale selection, bit widths, and spike-for-spike
reproduction of a float network whose values every target represents exactly."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from neurodelay import ir
from neurodelay.cli import main
from neurodelay.errors import TargetLimitError, ValidationError
from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from neurodelay.quant.calibration import ScaleSelection, quantize, reduce_weight_bits
from neurodelay.targets import get_target
from neurodelay.refsim import simulate

TARGETS = ("loihi2", "spinnaker")


def small_network(seed: int = 0, max_delay: int = 20) -> Network:
    rng = np.random.default_rng(seed)
    return Network(
        "small",
        1.0,
        (
            SpikeSource("input", 6),
            LIF("hidden", 10, tau_m_ms=20.0, tau_syn_ms=5.0),
            LeakyIntegrator("readout", 3, tau_m_ms=20.0, tau_syn_ms=5.0),
        ),
        (
            Projection(
                "input_hidden",
                "input",
                "hidden",
                rng.normal(1.0, 0.8, (6, 10)),
                rng.uniform(0, max_delay, (6, 10)),
                max_delay,
            ),
            Projection("hidden_readout", "hidden", "readout", rng.normal(0.0, 0.5, (10, 3)), np.zeros((10, 3)), 0),
        ),
    )


def inputs_for(network: Network, seed: int, batch: int = 4, steps: int = 80) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {s.name: rng.random((batch, steps, s.size)) < 0.08 for s in network.sources()}


@pytest.mark.parametrize("target", TARGETS)
def test_quantize_command_writes_network_report_and_provenance(tmp_path, capsys, target):
    network = small_network()
    source, out, report_path = tmp_path / "net.ndnet", tmp_path / "q.ndnet", tmp_path / "report.json"
    ir.save(network, source)
    assert main(["quantize", str(source), "--target", target, "--out", str(out), "--report", str(report_path)]) == 0
    printed = capsys.readouterr().out
    assert "input_hidden" in printed and "hidden_readout" in printed
    report = json.loads(report_path.read_text())
    quantized = ir.load(out)
    assert quantized.is_quantized and all(p.weight_format.target == target for p in quantized.projections)
    assert quantized.provenance["quantization_report"] == report
    rows = {row["name"]: row for row in report["projections"]}
    assert report["target_format"]["delay_range" if target == "loihi2" else "delays"]  # the format table used
    for projection in network.projections:
        row, q = rows[projection.name], quantized.projection(projection.name)
        error = q.weights - projection.weights
        assert row["synapses"] == projection.weights.size
        assert row["max_abs_weight_error"] == pytest.approx(np.abs(error).max())
        assert row["rms_weight_error"] == pytest.approx(np.sqrt((error**2).mean()))
        assert row["scale"] == q.weight_format.scale and row["exponent"] == q.weight_format.exponent
        assert row["weights_clipped"] == 0  # max-abs scales never clip
    # non-integer delays are counted as rounded, none clipped (all within 20 steps)
    delays = network.projection("input_hidden").delays_steps
    assert rows["input_hidden"]["delays_rounded"] == int(np.count_nonzero(delays != np.round(delays)))
    assert rows["input_hidden"]["delays_clipped"] == 0
    # the report's counts agree with the target quantizer's own, independently kept, counts
    own = quantized.provenance["quantization"]
    if target == "spinnaker":
        assert own["weights_rounded"] == sum(r["weights_rounded"] + r["weights_zeroed"] for r in rows.values())
        assert own["delays_rounded"] == sum(r["delays_rounded"] for r in rows.values())
    else:
        for index, projection in enumerate(network.projections):
            counted = {c["kind"]: c["count"] for c in own["changes"] if c["field"] == f"projections[{index}].weights"}
            assert counted.get("rounded", 0) == rows[projection.name]["weights_rounded"]
            assert counted.get("zeroed", 0) == rows[projection.name]["weights_zeroed"]
        assert any(p["parameter"] == "tau_m_ms" for p in report["parameters"])  # Loihi snaps time constants


@pytest.mark.parametrize("target", TARGETS)
def test_strict_names_the_clipping_projection(tmp_path, capsys, target):
    network = small_network()
    source = tmp_path / "net.ndnet"
    ir.save(network, source)
    code = main(
        [
            "quantize",
            str(source),
            "--target",
            target,
            "--out",
            str(tmp_path / "q.ndnet"),
            "--scale",
            "percentile:90",
            "--strict",
        ]
    )
    assert code != 0
    error = capsys.readouterr().err
    assert "input_hidden" in error and "clipped" in error
    assert not (tmp_path / "q.ndnet").exists()
    # without --strict the same clipping is reported, with the count the percentile implies
    _, summary = quantize(network, target, scale="percentile:90")
    row = next(p for p in summary.projections if p.name == "input_hidden")
    magnitudes = np.abs(network.projection("input_hidden").weights)
    limit = np.percentile(magnitudes, 90)
    expected = int(np.count_nonzero(magnitudes - limit > 0.5 * row.weight_grid * row.weight_unit))
    assert row.weights_clipped == expected > 0


def test_loihi2_delays_beyond_the_chip_are_clipped_and_strict_refuses():
    network = small_network(max_delay=100)
    network = network.with_projections(
        [replace(network.projections[0], delays_steps=np.full((6, 10), 70.0)), network.projections[1]]
    )
    _, summary = quantize(network, "loihi2")
    assert summary.projections[0].delays_clipped == 60 and summary.projections[0].max_abs_delay_error_steps == 8
    with pytest.raises(TargetLimitError, match="input_hidden.*delay"):
        quantize(network, "loihi2", strict=True)


def test_scale_parsing_rejects_bad_values():
    assert ScaleSelection.parse("percentile:99.5").percentile == 99.5
    for text in ("percentile:0", "percentile:101", "percentile:x", "minmax"):
        with pytest.raises(ValidationError, match="--scale"):
            ScaleSelection.parse(text)


def test_calibrated_needs_data_and_beats_max_abs_on_its_objective(tmp_path):
    network = small_network(3)
    with pytest.raises(ValidationError, match="--calibration"):
        quantize(network, "loihi2", scale="calibrated")
    calibration = inputs_for(network, 1, batch=8)
    calibrated_net, calibrated = quantize(network, "loihi2", scale="calibrated", calibration=calibration)
    max_abs_net, max_abs = quantize(network, "loihi2")
    assert max_abs.options["clips"] == {}
    spikes = simulate(network, calibration).populations

    def objective(quantized: Network) -> float:  # relative activity-weighted squared error, computed here
        total = 0.0
        for projection in network.projections:
            counts = spikes[projection.pre].spikes.sum(axis=(0, 1)).astype(float)
            error = quantized.projection(projection.name).weights - projection.weights
            noise = sum(counts[i] * np.sum(error[i] ** 2) for i in range(len(counts)))
            total += noise / sum(counts[i] * np.sum(projection.weights[i] ** 2) for i in range(len(counts)))
        return total

    for projection in network.projections:
        assert 0 < calibrated.options["clips"][projection.name] <= np.abs(projection.weights).max()
    assert calibrated.options["target_options"]["vth"] in get_target("loihi2").scale_option[1]
    assert objective(calibrated_net) < objective(max_abs_net)
    fixed_net, fixed = quantize(network, "loihi2", scale="calibrated", calibration=calibration, vth=8192)
    assert fixed.options["target_options"]["vth"] == 8192  # a given vth is kept
    assert objective(fixed_net) <= objective(max_abs_net)
    np.savez(tmp_path / "cal.npz", inputs=calibration["input"])
    source = tmp_path / "net.ndnet"
    ir.save(network, source)
    assert (
        main(
            [
                "quantize",
                str(source),
                "--target",
                "spinnaker",
                "--out",
                str(tmp_path / "q.ndnet"),
                "--scale",
                "calibrated",
                "--calibration",
                str(tmp_path / "cal.npz"),
            ]
        )
        == 0
    )
    np.savez(tmp_path / "bad.npz", inputs=calibration["input"][:, :, :2])
    assert (
        main(
            [
                "quantize",
                str(source),
                "--target",
                "spinnaker",
                "--out",
                str(tmp_path / "q2.ndnet"),
                "--scale",
                "calibrated",
                "--calibration",
                str(tmp_path / "bad.npz"),
            ]
        )
        != 0
    )


@pytest.mark.parametrize("target", TARGETS)
def test_reduced_bit_widths_hold_the_promised_levels(target):
    network = small_network(5)
    entry = get_target(target)
    for bits in (3, 5):
        quantized, summary = quantize(network, target, weight_bits=bits)
        for projection, row in zip(quantized.projections, summary.projections):
            grid = projection.metadata["weight_grid"]
            levels = projection.integer_weights // grid
            assert np.all(projection.integer_weights % grid == 0)
            assert np.abs(levels).max() <= 2 ** (bits - 1) - 1
            assert row.weights_clipped == 0  # a coarser grid rounds, it does not clip
            assert row.max_abs_weight_error <= 0.5 * grid * row.weight_unit * (1 + 1e-9)
        simulate(quantized, inputs_for(network, 0, batch=1, steps=20), mode=target)
    with pytest.raises(ValidationError, match="weight_bits"):
        reduce_weight_bits(quantize(network, target)[0], entry, entry.native_weight_bits + 1)


def representable(network: Network, target: str) -> Network:
    """``network`` with the values the target holds exactly (one quantization), as a float network."""
    quantized, _ = quantize(network, target)
    return quantized.with_projections(
        [replace(p, integer_weights=None, weight_format=None) for p in quantized.projections], provenance={}
    )


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exactly_representable_network_reproduces_float_spikes_on_the_target_mode(target, seed):
    network = representable(small_network(seed), target)
    quantized, summary = quantize(network, target)
    for row in summary.projections:  # nothing crossed a rounding boundary
        assert (row.weights_clipped, row.weights_zeroed, row.weights_rounded, row.delays_rounded) == (0, 0, 0, 0)
    assert summary.parameters == []
    inputs = inputs_for(network, 10 + seed)
    reference = simulate(network, inputs, mode="float")
    chip = simulate(quantized, inputs, mode=target)
    spikes = reference.populations["hidden"].spikes
    assert spikes.sum() > 20  # the comparison has something to compare
    np.testing.assert_array_equal(chip.populations["hidden"].spikes, spikes)
    readout = chip.populations["readout"]
    np.testing.assert_allclose(
        readout.states["v"] * readout.state_scales["v"], reference.populations["readout"].states["v"], atol=2e-3
    )


def test_reduced_bit_width_never_leaves_the_chip_range_and_counts_the_clip():
    """An excitatory Loihi 2 weight 0.4 LSB above 255 rounds to 255 at 8 bits; at 6 bits (step 16)
    it would round to 256, outside the chip's 0..255: it must become 240 and be reported clipped."""
    network = small_network(7)
    positive = network.with_projections(
        [replace(network.projections[0], weights=np.abs(network.projections[0].weights)), network.projections[1]]
    )
    weight_format = quantize(positive, "loihi2")[0].projection("input_hidden").weight_format
    unit = weight_format.scale * 2.0**weight_format.exponent
    levels = np.linspace(10.0, 200.0, 60).reshape(6, 10)
    levels[2, 3] = 255.4
    edge = positive.with_projections([replace(positive.projections[0], weights=levels * unit), positive.projections[1]])
    native, _ = quantize(edge, "loihi2")
    assert native.projection("input_hidden").integer_weights[2, 3] == 255
    assert native.projection("input_hidden").weight_format.exponent == weight_format.exponent
    reduced, summary = quantize(edge, "loihi2", weight_bits=6)
    integers = reduced.projection("input_hidden").integer_weights
    assert integers[2, 3] == 240 and integers.max() <= 255
    assert summary.projections[0].weights_clipped == 1


def test_a_network_trained_from_python_samples_quantizes_without_its_data(tmp_path, capsys):
    """Task samples (train_on) has no check(): quantize called it and ended in an internal
    AttributeError. --qat auto quantizes without an accuracy check, --qat on says why it cannot."""
    from neurodelay.train import train_on
    from test_data_own import config

    run = tmp_path / "run"
    silent, firing = np.zeros((5, 2)), np.ones((5, 2))
    train_on([(firing, 0), (silent, 1)], [(firing, 0)], config({"task": "samples"}, epochs=1), run)
    capsys.readouterr()
    network = str(run / "network.ndnet")
    assert main(["quantize", network, "--target", "loihi2", "--out", str(tmp_path / "auto.ndnet")]) == 0
    assert "its training data cannot be loaded here (data.task 'samples'" in capsys.readouterr().out
    assert main(["quantize", network, "--target", "loihi2", "--out", str(tmp_path / "on.ndnet"), "--qat", "on"]) == 1
    message = capsys.readouterr().err.rstrip("\n")
    assert "\n" not in message and "data.task 'samples' takes its data from Python" in message, message


def test_report_and_network_on_one_path_are_refused_even_with_force(tmp_path, capsys):
    source = tmp_path / "net.ndnet"
    ir.save(small_network(), source)
    same = tmp_path / "q.ndnet"
    argv = ["quantize", str(source), "--target", TARGETS[0], "--out", str(same), "--force"]
    assert main(argv + ["--report", str(tmp_path / "." / "q.ndnet")]) == 1
    error = capsys.readouterr().err
    assert "--report" in error and "--out" in error and not same.exists()
    assert main(argv + ["--report", str(tmp_path / "report.json")]) == 0
    assert ir.load(same).is_quantized
