"""Experiment configs (validation with field paths), the network builder and the LR schedule."""

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurodelay.cli import main
from neurodelay.errors import ValidationError
from neurodelay.train import config_from_dict, load_config
from neurodelay.train.builder import build_network
from neurodelay.train.config import OptimiserSpec
from neurodelay.train.schedule import learning_rates

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name: str) -> dict:
    return yaml.safe_load((EXAMPLES / name).read_text())


@pytest.mark.parametrize("name", ["sequence_detection.yaml", "yin_yang.yaml", "yin_yang_fine.yaml"])
def test_examples_are_valid_and_round_trip(name):
    config = load_config(EXAMPLES / name)
    again = config_from_dict(copy.deepcopy(config.to_dict()))
    assert again.to_dict() == config.to_dict()


def edited(path: str, value, base: str = "yin_yang.yaml") -> dict:
    document = example(base)
    keys = path.split(".")
    target = document
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return document


@pytest.mark.parametrize(
    "path, value, field, allowed",
    [
        ("network.hidden.0.input.delays.high", 50.0, "network.hidden[0].input.delays", "[0, max_delay_steps = 40]"),
        (
            "network.hidden.0.input.delays",
            {"kind": "normal", "mean": 1.0, "std": 1.0},
            "network.hidden[0].input.delays.kind",
            "never clipped",
        ),
        ("network.hidden.0.size", 0, "network.hidden[0].size", "[1, 10000000]"),
        ("network.hidden.0.tau_m_ms", -3.0, "network.hidden[0].tau_m_ms", "> 0 ms"),
        ("network.hidden.0.sizee", 3, "network.hidden[0].sizee", "one of name, size"),
        ("network.dt_ms", "fast", "network.dt_ms", "a finite number"),
        ("network.readout.input.learn_delays", True, "network.readout.input.learn_delays", "max_delay_steps >= 1"),
        ("optimiser.delay_lr", -1.0, "optimiser.delay_lr", ">= 0"),
        ("optimiser.betas", [0.9], "optimiser.betas", "two numbers"),
        ("optimiser.lr_decay_per_epoch", 1.5, "optimiser.lr_decay_per_epoch", "(0, 1]"),
        ("loss.name", "mse", "loss.name", "'max_ce'"),
        ("device", "tpu", "device", "'auto'"),
        ("epochs", 0, "epochs", ">= 1"),
        ("batch_size", 2.5, "batch_size", "an integer"),
        ("optimiser", KeyError, "optimiser", "a value must be given"),
        ("data.task", "mnist", "data.task", "yin_yang"),
        ("data.t_max_ms", 60.0, "data.duration_ms", "> t_max_ms"),
        ("data.colour", "red", "data.colour", "one of r_big"),
        ("regularizer", {"target_spikes_per_neuron": 1.0}, "regularizer.strength", "a value must be given"),
        ("network.hidden.0.size", 10**7 + 1, "network.hidden[0].size", "[1, 10000000] neurons"),
        ("network.dt_ms", 1000.0, "network.hidden[0].tau_syn_ms", "or a smaller dt_ms"),
        ("network.readout.tau_syn_ms", 1e-300, "network.readout.tau_syn_ms", "or a smaller dt_ms"),
        ("network.hidden.0.refractory_steps", 10**30, "network.hidden[0].refractory_steps", "[0, 1000000]"),
        ("network.hidden.0.name", "a b", "network.hidden[0].name", "a letter or '_' first"),
        ("network.readout.name", "", "network.readout.name", "a letter or '_' first"),
        ("network.name", "../x", "network.name", "a letter or '_' first"),
        ("optimiser.weight_lr", 1e38, "optimiser.weight_lr", "float32 max"),
        ("optimiser.delay_lr", 1e300, "optimiser.delay_lr", "float32 max"),
        ("optimiser.weight_lr", float("inf"), "optimiser.weight_lr", "a finite number"),
        ("optimiser.delay_lr", float("nan"), "optimiser.delay_lr", "a finite number"),
        ("optimiser.eps", 1e-50, "optimiser.eps", "normal positive float32"),
        ("optimiser.eps", 1e39, "optimiser.eps", "normal positive float32"),
        ("silent_neuron_bump", {"amount": 1e300}, "silent_neuron_bump.amount", "a float32 number"),
        (
            "network.hidden.0.input.weights",
            {"kind": "constant", "value": 1e39},
            "network.hidden[0].input.weights",
            "float32",
        ),
        (
            "network.hidden.0.input.weights",
            {"kind": "uniform", "low": -1e308, "high": 1e308},
            "network.hidden[0].input.weights",
            "float32",
        ),
    ],
)
def test_bad_config_names_field_and_allowed_range(path, value, field, allowed):
    with pytest.raises(ValidationError) as caught:
        config_from_dict(edited(path, value))
    assert caught.value.field == field
    assert allowed in (caught.value.allowed or "")


def test_init_kind_takes_exactly_its_parameters():
    with pytest.raises(ValidationError) as caught:
        config_from_dict(edited("network.hidden.0.input.weights", {"kind": "normal", "mean": 0.0, "value": 1.0}))
    assert caught.value.field == "network.hidden[0].input.weights.value"
    assert caught.value.problem == "not used by kind 'normal'"


def test_file_errors_name_the_file(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(edited("network.hidden.0.input.max_delay_steps", -1)))
    with pytest.raises(ValidationError) as caught:
        load_config(broken)
    assert caught.value.file == str(broken)
    assert main(["train", str(broken), "--out", str(tmp_path / "run")]) == 1
    message = capsys.readouterr().err
    assert "broken.yaml" in message and "network.hidden[0].input.max_delay_steps" in message
    assert not (tmp_path / "run").exists()
    (tmp_path / "tabs.yaml").write_text("data: [unclosed\n")
    with pytest.raises(ValidationError, match="not valid YAML"):
        load_config(tmp_path / "tabs.yaml")


def test_unsafe_yaml_tags_are_rejected(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("!!python/object/apply:os.system ['true']\n")
    with pytest.raises(ValidationError, match="not valid YAML"):
        load_config(evil)


def test_builder_follows_the_config_and_the_seed():
    config = load_config(EXAMPLES / "yin_yang.yaml")
    network = build_network(config.network, n_inputs=5, n_classes=3, seed=11)
    assert [p.name for p in network.populations] == ["input", "hidden", "readout"]
    hidden_in = network.projection("input_hidden")
    assert hidden_in.weights.shape == (5, 200) and hidden_in.max_delay_steps == 40
    assert hidden_in.delays_steps.min() >= 0.0 and hidden_in.delays_steps.max() < 10.0
    assert abs(hidden_in.weights.mean() - 1.5) < 0.25 and abs(hidden_in.weights.std() - 1.5) < 0.25
    readout_in = network.projection("hidden_readout")
    assert readout_in.metadata == {"learn_weights": True, "learn_delays": False}
    assert np.all(readout_in.delays_steps == 0.0)
    again = build_network(config.network, n_inputs=5, n_classes=3, seed=11)
    other = build_network(config.network, n_inputs=5, n_classes=3, seed=12)
    np.testing.assert_array_equal(again.projection("input_hidden").weights, hidden_in.weights)
    assert not np.array_equal(other.projection("input_hidden").weights, hidden_in.weights)


def test_builder_uses_explicit_values_and_checks_their_shape():
    config = load_config(EXAMPLES / "sequence_detection.yaml")
    network = build_network(config.network, n_inputs=2, n_classes=2, seed=0)
    projection = network.projection("input_readout")
    assert projection.delays_steps.tolist() == [[0.0, 10.0], [10.0, 0.0]]
    assert projection.weights.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    with pytest.raises(ValidationError) as caught:
        build_network(config.network, n_inputs=3, n_classes=2, seed=0)
    assert caught.value.field == "network.readout.input.delays.values"


def test_learning_rate_schedule():
    plain = OptimiserSpec(weight_lr=0.01, delay_lr=0.5, lr_decay_per_epoch=0.9)
    assert learning_rates(plain, 0, 0) == (0.01, 0.5)
    weight, delay = learning_rates(plain, 2, 40)
    assert math.isclose(weight, 0.01 * 0.81) and math.isclose(delay, 0.5 * 0.81)
    spec = config_from_dict(
        edited("optimiser.weight_lr_ease_in", {"start_factor": 0.01, "growth_per_batch": 1.05})
    ).optimiser
    # the paper's rule lr <- lr * 1.05 ** batch_index, applied at every batch from lr * 0.01
    rate = spec.weight_lr * 0.01
    for batch in range(40):
        if batch:
            rate = min(spec.weight_lr, rate * 1.05**batch)
        assert math.isclose(learning_rates(spec, 0, batch)[0], rate, rel_tol=1e-9)
    assert learning_rates(spec, 0, 14)[0] == spec.weight_lr  # 0.01 * 1.05 ** 105 = 1.68
    assert learning_rates(spec, 0, 13)[0] < spec.weight_lr  # 0.01 * 1.05 ** 91 = 0.85
    assert learning_rates(spec, 0, 10**6)[0] == spec.weight_lr  # no overflow far out


@pytest.mark.parametrize(
    "path, value",
    [("network.dt_ms", 1e-300), ("network.dt_ms", 1e-8), ("data.duration_ms", 1e300)],
)
def test_durations_of_more_than_a_billion_steps_name_the_config_and_the_field(tmp_path, capsys, path, value):
    config = tmp_path / "steps.yaml"
    config.write_text(yaml.safe_dump(edited(path, value, base="sequence_detection.yaml")))
    assert main(["train", str(config), "--out", str(tmp_path / "run"), "--no-progress"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"neurodelay train: error: {config}: data.duration_ms: ")
    assert "at most 1000000000 timesteps per sample" in error and "\n" not in error


def test_networks_beyond_the_memory_limit_are_refused_before_drawing(monkeypatch):
    monkeypatch.setenv("NEURODELAY_MEMORY_LIMIT_GB", "0.5")
    document = edited("network.hidden.0.size", 3000)
    second = copy.deepcopy(document["network"]["hidden"][0])
    document["network"]["hidden"].append(dict(second, name="hidden2"))
    config = config_from_dict(document)  # 9 million synapses between the hidden layers: about 0.6 GB to train
    with pytest.raises(ValidationError) as caught:
        build_network(config.network, n_inputs=5, n_classes=3, seed=0)
    assert caught.value.field == "network" and "synapses" in caught.value.problem
