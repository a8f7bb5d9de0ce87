"""`neurodelay study`: the sweep's rows, the CSV / Markdown / plot files, accuracies recomputed here
from the reference simulator, the delay-range option rows, and config errors naming the field."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from neurodelay import ir
from neurodelay.cli import main
from neurodelay.data import load_task
from neurodelay.data.yin_yang import YinYangParameters
from neurodelay.errors import ValidationError
from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from neurodelay.quant.calibration import quantize
from neurodelay.quant.delay_range import coarsen_inputs, coarsen_timestep, relay_chains
from neurodelay.quant.study import load_study_config
from neurodelay.targets import get_target
from neurodelay.refsim import simulate

DATA = {
    "task": "yin_yang",
    "train_size": 60,
    "validation_size": 10,
    "test_size": 80,
    "duration_ms": 40.0,
    "split": "test",
    "limit": 80,
    "train_limit": 60,
}


def network() -> Network:
    rng = np.random.default_rng(2)
    return Network(
        "yy_tiny",
        1.0,
        (SpikeSource("input", 5), LIF("hidden", 12), LeakyIntegrator("readout", 3)),
        (
            Projection(
                "input_hidden", "input", "hidden", rng.normal(1.5, 1.0, (5, 12)), rng.uniform(0, 9, (5, 12)), 10
            ),
            Projection("hidden_readout", "hidden", "readout", rng.normal(0, 0.5, (12, 3)), np.zeros((12, 3)), 0),
        ),
    )


def accuracy_by_hand(net: Network, inputs: np.ndarray, labels: np.ndarray, mode: str) -> float:
    """Class = readout neuron with the largest summed voltage (the sum_ce readout)."""
    readout = simulate(net, {"input": inputs}, mode=mode).populations["readout"]
    scores = (readout.states["v"] * readout.state_scales["v"]).sum(axis=1)
    return float(np.mean(scores.argmax(axis=1) == labels))


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    ir.save(network(), folder / "net.ndnet")
    config = {
        "network": "net.ndnet",
        "loss": "sum_ce",
        "data": DATA,
        "targets": ["loihi2", "spinnaker"],
        "weight_bits": [4, 8, 17],
        "delay_resolutions": [1, 2],
        "modes": ["ptq"],
        "signs_split": [False],
        "qat": {"epochs": 1, "batch_size": 30},
        "delay_range": {"bound": 3, "target": "spinnaker", "epochs": 1},
        "out": "results",
    }
    (folder / "study.yaml").write_text(yaml.safe_dump(config))
    assert main(["study", str(folder / "study.yaml")]) == 0
    return folder


def test_study_writes_one_row_per_combination(study):
    rows = list(csv.DictReader((study / "results" / "results.csv").open()))
    combos = {(r["target"], r["delay_resolution"], r["weight_bits"], r["mode"]) for r in rows}
    expected = {(t, str(k), str(b), "ptq") for t in ("loihi2", "spinnaker") for k in (1, 2) for b in (4, 8)}
    expected |= {("spinnaker", str(k), "17", "ptq") for k in (1, 2)}  # 17 bits exceed Loihi 2's 8
    assert combos == expected and len(rows) == len(expected)
    assert all(r["error"] == "" and r["parity"] == "not run" for r in rows)
    for row in rows:
        assert float(row["drop_pp"]) == pytest.approx(
            100 * (float(row["float_accuracy"]) - float(row["quantized_accuracy"]))
        )
        assert "spikes_hidden_change" in row
    markdown = (study / "results" / "results.md").read_text()
    assert markdown.count("\n| loihi2 |") == 4 and markdown.count("\n| spinnaker |") == 6
    assert "Delays beyond a bound of 3 steps" in markdown
    assert (study / "results" / "accuracy_vs_bits.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def yin_yang_test_split() -> tuple[np.ndarray, np.ndarray]:
    splits = load_task(
        "yin_yang", YinYangParameters(train_size=60, validation_size=10, test_size=80, duration_ms=40.0), 1.0
    )
    return splits.test.inputs, splits.test.labels


def test_study_accuracies_match_an_independent_evaluation(study):
    rows = list(csv.DictReader((study / "results" / "results.csv").open()))
    inputs_fine, labels = yin_yang_test_split()
    net = network()
    assert float(rows[0]["float_accuracy"]) == accuracy_by_hand(net, inputs_fine, labels, "float")
    for row in rows:
        if row["weight_bits"] != "8":
            continue
        factor = int(row["delay_resolution"])
        coarse, _ = coarsen_timestep(net, factor)
        inputs = coarsen_inputs({"input": inputs_fine}, factor)[0]["input"]
        quantized, _ = quantize(coarse, row["target"], weight_bits=8)
        assert float(row["quantized_accuracy"]) == accuracy_by_hand(quantized, inputs, labels, row["target"])
        assert float(row["float_accuracy_at_resolution"]) == accuracy_by_hand(coarse, inputs, labels, "float")


def test_delay_option_rows_count_neurons_and_cores(study):
    document = json.loads((study / "results" / "study.json").read_text())
    options = {row["option"].split(":")[0]: row for row in document["delay_options"]}
    assert set(options) == {"a", "b", "c"} and len(document["delay_options"]) == 4
    _, relays = relay_chains(network(), 3)
    assert options["c"]["neurons"] == 15 + relays.extra_neurons > 15
    assert options["c"]["cores"] > options["b"]["cores"] == 2  # one core per population
    assert "timestep x3" in options["b"]["option"]  # (1 + 9) / 3 - 1/2 -> 3 steps


def test_study_config_errors_name_the_field(tmp_path):
    path = tmp_path / "bad.yaml"
    for document, field in (
        ({"network": "n", "data": DATA, "targets": ["truenorth"]}, "targets"),
        ({"network": "n", "data": DATA, "weight_bits": [1]}, "weight_bits"),
        ({"network": "n", "data": {"task": "mnist"}}, "data.task"),
        ({"network": "n", "data": DATA, "sweep": 1}, "sweep"),
        ({"data": DATA}, "network"),
        ({"network": 5, "data": DATA}, "network"),
        ({"network": "n", "data": DATA, "out": [1]}, "out"),
        ({"network": "n", "data": DATA, "loss": "mse"}, "loss"),
        ({"network": "n", "data": DATA, "scale": "median"}, "scale"),
        ({"network": "n", "data": {"task": [1]}}, "data.task"),
        ({"network": "n", "data": {"limit": "many"}}, "data.limit"),
        ({"network": "n", "data": {"limit": 0}}, "data.limit"),
        ({"network": "n", "data": DATA, "weight_bits": "8"}, "weight_bits"),
        ({"network": "n", "data": DATA, "delay_resolutions": [True]}, "delay_resolutions"),
        ({"network": "n", "data": DATA, "delay_resolutions": [10**30]}, "delay_resolutions"),
        ({"network": "n", "data": DATA, "qat": {"epochs": "x"}}, "qat.epochs"),
        ({"network": "n", "data": DATA, "qat": {"target": "loihi2"}}, "qat.target"),
        ({"network": "n", "data": DATA, "qat": {"weight_lr": -1.0}}, "qat.weight_lr"),
        ({"network": "n", "data": DATA, "parity": {"samples": "many"}}, "parity.samples"),
        ({"network": "n", "data": DATA, "parity": {"enabled": "yes"}}, "parity.enabled"),
        ({"network": "n", "data": DATA, "parity": {"executors": ["x"]}}, "parity.executors"),
        ({"network": "n", "data": DATA, "delay_range": {}}, "delay_range.bound"),
        ({"network": "n", "data": DATA, "delay_range": {"bound": "x"}}, "delay_range.bound"),
        ({"network": "n", "data": DATA, "delay_range": {"bound": 5, "target": "tpu"}}, "delay_range.target"),
        ({"network": "n", "data": DATA, "delay_range": {"bound": 5, "epochs": [1]}}, "delay_range.epochs"),
        # accepted before, and the study ran without a row, twice each row, or ignored the executor
        ({"network": "n", "data": DATA, "targets": ["loihi2"], "weight_bits": [4, 12]}, "weight_bits"),
        ({"network": "n", "data": DATA, "weight_bits": [100]}, "weight_bits"),
        ({"network": "n", "data": DATA, "weight_bits": [8, 8]}, "weight_bits"),
        ({"network": "n", "data": DATA, "delay_resolutions": [1, 2, 1]}, "delay_resolutions"),
        ({"network": "n", "data": DATA, "parity": {"executors": {"truenorth": "x"}}}, "parity.executors"),
        (
            {"network": "n", "data": DATA, "targets": ["loihi2"], "parity": {"executors": {"spinnaker": "spynnaker"}}},
            "parity.executors",
        ),
        ({"network": "n", "data": DATA, "parity": {"executors": {"loihi2": "x"}}}, "parity.executors.loihi2"),
    ):
        path.write_text(yaml.safe_dump(document))
        with pytest.raises(ValidationError) as error:
            load_study_config(path)
        assert error.value.field == field and error.value.file == str(path), document


@pytest.mark.parametrize("given", ["config", "option"])
def test_a_study_out_that_is_a_file_is_refused_before_the_study(tmp_path, capsys, given):
    """An internal FileExistsError after every row was computed before."""
    (tmp_path / "a_file").write_text("x")
    path = tmp_path / "study.yaml"
    document = {"network": "missing.ndnet", "data": DATA}
    path.write_text(yaml.safe_dump({**document, "out": "a_file"} if given == "config" else document))
    argv = ["study", str(path)] + (["--out", str(tmp_path / "a_file")] if given == "option" else [])
    assert main(argv) == 1
    message = capsys.readouterr().err.rstrip("\n")
    option = f"{path}: out" if given == "config" else "--out"
    assert "\n" not in message and f"{option}: {tmp_path / 'a_file'} is a file" in message, message


def test_study_with_qat_signs_split_calibration_and_lava_parity(tmp_path):
    """Also: the task, its parameters and the loss come from the network's training provenance."""
    trained_with = {
        "data": {k: v for k, v in DATA.items() if k not in ("split", "limit", "train_limit")},
        "loss": {"name": "sum_ce"},
    }
    ir.save(
        network().with_projections(network().projections, provenance={"training": {"config": trained_with}}),
        tmp_path / "net.ndnet",
    )
    data = {"split": "test", "limit": DATA["limit"], "train_limit": DATA["train_limit"]}
    config = {
        "network": "net.ndnet",
        "data": data,
        "targets": ["loihi2"],
        "weight_bits": [6],
        "modes": ["ptq"],
        "signs_split": [True],
        "qat": {"epochs": 1, "batch_size": 30},
        "scale": "calibrated",
        "calibration_samples": 30,
        "parity": {"enabled": True, "samples": 1},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(config))
    assert main(["study", str(tmp_path / "study.yaml"), "--out", str(tmp_path / "out"), "--qat"]) == 0
    rows = list(csv.DictReader((tmp_path / "out" / "results.csv").open()))
    assert [(r["mode"], r["signs_split"], r["scale"]) for r in rows] == [
        ("ptq", "True", "calibrated"),
        ("qat", "True", "calibrated"),
    ]
    assert [r["parity"] for r in rows] == ["0 spike mismatches (1 samples)"] * 2  # Lava vs refsim loihi2 mode
    assert float(rows[0]["float_accuracy"]) == accuracy_by_hand(network(), *yin_yang_test_split(), "float")
    chosen = [json.loads(r["target_options"]) for r in rows]
    assert chosen[0] == chosen[1] and chosen[0]["vth"] in get_target("loihi2").scale_option[1]


def test_study_rows_count_the_delays_a_target_clips(tmp_path):
    """Delays beyond Loihi 2's 62 steps are clipped by its quantizer: the study row says how many
    (before, its only `clipped` column counted weights, and a delay clip was invisible in the table)."""
    rng = np.random.default_rng(5)
    base = network()
    delays = rng.uniform(0, 80, (5, 12))
    wide = base.with_projections(
        [
            Projection("input_hidden", "input", "hidden", base.projections[0].weights, delays, 80),
            base.projections[1],
        ]
    )
    ir.save(wide, tmp_path / "net.ndnet")
    config = {
        "network": "net.ndnet",
        "loss": "sum_ce",
        "data": DATA,
        "targets": ["loihi2"],
        "weight_bits": [8],
        "modes": ["ptq"],
        "out": "results",
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(config))
    assert main(["study", str(tmp_path / "study.yaml")]) == 0
    (row,) = list(csv.DictReader((tmp_path / "results" / "results.csv").open()))
    beyond = int(np.count_nonzero(np.floor(delays + 0.5) > 62))  # round half up, then compare with the bound
    assert int(row["delays_clipped"]) == beyond > 0
    assert int(row["weights_clipped"]) == 0
    table = (tmp_path / "results" / "results.md").read_text()
    assert "| delays clipped |" in table and f"| 0 | {beyond} | not run |" in table
