"""The paper's training loop around the optimiser: the weight bump for silent hidden neurons,
early stopping with restoration of the best epoch (exact across resume), separate learning-rate
schedules for weights and delays, and seeded repeats."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurodelay import ir
from neurodelay.cli import main
from neurodelay.data import load_task
from neurodelay.errors import NeurodelayError, ValidationError
from neurodelay.refsim import simulate
from neurodelay.train import RunOptions, config_from_dict, train
from neurodelay.train import trainer as trainer_module
from neurodelay.train.checkpoint import load_checkpoint
from neurodelay.train.config import LrScheduleSpec, OptimiserSpec
from neurodelay.train.schedule import learning_rates

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SILENT = [0, 1]  # hidden neurons whose input weights start at zero: they can never fire


def tiny_yin_yang(**changes) -> dict:
    """Yin-Yang at 1 ms with 6 hidden neurons, two of them silent (all input weights 0)."""
    document = yaml.safe_load((EXAMPLES / "yin_yang.yaml").read_text())
    document.update(epochs=2, batch_size=10, eval_batch_size=100, device="cpu")
    document["network"]["dt_ms"] = 1.0
    hidden = document["network"]["hidden"][0]
    hidden["size"] = 6
    hidden["input"]["weights"] = {"kind": "values", "values": [[0.0, 0.0, 1.5, 1.5, 1.5, 1.5]] * 5}
    document["optimiser"]["weight_lr"] = 0.02
    document.update(changes)
    return document


def run(document: dict, out: Path, limit: int = 40, resume: bool = False) -> list[dict]:
    return train(config_from_dict(document), RunOptions(out, resume=resume, limit=limit, progress=False))


def hidden_spikes_per_neuron(run_dir: Path, document: dict, limit: int = 40) -> np.ndarray:
    """Spikes of each hidden neuron on the test split, simulated by the reference simulator."""
    config = config_from_dict(document)
    test = load_task(config.data.task, config.data.parameters, config.network.dt_ms).limited(limit).test
    recording = simulate(ir.load(run_dir / "network.ndnet"), test.inputs, mode="float")
    return recording.populations["hidden"].spikes.sum(axis=(0, 1))


def input_weights(run_dir: Path) -> np.ndarray:
    return ir.load(run_dir / "network.ndnet").projection("input_hidden").weights


def test_a_silent_neuron_stays_silent_without_the_bump_and_comes_back_with_it(tmp_path):
    plain = tiny_yin_yang()
    run(plain, tmp_path / "plain")
    # EventProp gives a neuron that never fires no gradient: its weights and silence stay
    assert np.all(input_weights(tmp_path / "plain")[:, SILENT] == 0.0)
    assert np.all(hidden_spikes_per_neuron(tmp_path / "plain", plain)[SILENT] == 0)

    bumped = tiny_yin_yang(silent_neuron_bump={"amount": 0.3, "period": "batch"})
    records = run(bumped, tmp_path / "bumped")
    assert records[0]["bumped_silent_neurons"]["hidden"] >= 2
    assert np.all(hidden_spikes_per_neuron(tmp_path / "bumped", bumped)[SILENT] > 0)
    weights = input_weights(tmp_path / "bumped")[:, SILENT]
    # once firing, the neurons learn: their weights are no longer a multiple of the bump
    assert np.all(weights > 0) and not np.allclose(weights / 0.3, np.round(weights / 0.3))


def test_the_epoch_bump_adds_the_amount_once_per_epoch_to_silent_neurons_only(tmp_path):
    document = tiny_yin_yang(epochs=3, silent_neuron_bump={"amount": 0.002})  # the paper's rule
    document["optimiser"].update(weight_lr=0.0, delay_lr=0.0)  # only the bump moves weights
    records = run(document, tmp_path / "run")
    assert [r["bumped_silent_neurons"]["hidden"] for r in records] == [2, 2, 2]
    weights = input_weights(tmp_path / "run")
    assert np.allclose(weights[:, SILENT], 3 * 0.002, rtol=0, atol=1e-7)  # float32 parameters
    assert np.all(weights[:, 2:] == np.float32(1.5))


def test_early_stopping_stops_and_the_network_is_the_best_epochs(tmp_path):
    # min_delta 1.0: no epoch can beat the first, so patience 2 stops after epoch 3
    stopping = {"metric": "validation_accuracy", "patience": 2, "min_delta": 1.0}
    records = run(tiny_yin_yang(epochs=6, early_stopping=stopping), tmp_path / "stopped")
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert [r["best_so_far"] for r in records] == [True, False, False]
    # an independent one-epoch run made the same parameters the stopped run restored
    run(tiny_yin_yang(epochs=1), tmp_path / "one_epoch")
    stopped, reference = (
        ir.load(tmp_path / "stopped" / "network.ndnet"),
        ir.load(tmp_path / "one_epoch" / "network.ndnet"),
    )
    for name, array in reference.iter_arrays():
        assert np.array_equal(dict(stopped.iter_arrays())[name], array), name
    assert stopped.provenance["training"]["best_epoch"] == 1
    # without restore_best the last epoch's parameters are written
    run(tiny_yin_yang(epochs=6, early_stopping=dict(stopping, restore_best=False)), tmp_path / "last")
    assert not np.array_equal(input_weights(tmp_path / "last"), input_weights(tmp_path / "stopped"))


def test_the_best_epoch_is_the_best_by_the_metric(tmp_path):
    records = run(tiny_yin_yang(epochs=4, early_stopping={"metric": "train_loss"}), tmp_path / "run")
    losses = [r["train_loss"] for r in records]
    kept = [r["epoch"] for r in records if r["best_so_far"]][-1]
    assert kept == 1 + int(np.argmin(losses)) and len(records) == 4  # patience null: never stops


def assert_same_run(records: list[dict], expected: list[dict], run_dir: Path, expected_dir: Path) -> None:
    """The same metric records (timings aside) and bit-identical written networks."""
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for r in rs]  # noqa: E731
    assert strip(records) == strip(expected)
    for (name, array), (_, again) in zip(
        ir.load(expected_dir / "network.ndnet").iter_arrays(), ir.load(run_dir / "network.ndnet").iter_arrays()
    ):
        assert np.array_equal(array, again), name


def test_resume_keeps_the_best_epoch_and_the_stop_exactly(tmp_path):
    document = tiny_yin_yang(
        epochs=5, early_stopping={"metric": "validation_accuracy", "patience": 2}, silent_neuron_bump={"amount": 0.05}
    )
    document["optimiser"].update(
        weight_schedule={"kind": "exponential", "decay_per_epoch": 0.8}, delay_schedule={"kind": "constant"}
    )
    whole = run(document, tmp_path / "whole")
    # the same run in two parts: 2 epochs, then resumed up to 5 (only 'epochs' may change)
    run(dict(document, epochs=2), tmp_path / "parts")
    parts = run(document, tmp_path / "parts", resume=True)
    assert_same_run(parts, whole, tmp_path / "parts", tmp_path / "whole")
    saved = load_checkpoint(tmp_path / "parts" / "checkpoint.pt")
    assert saved["best"]["epoch"] == [r["epoch"] for r in whole if r["best_so_far"]][-1]


def test_a_run_that_stopped_early_does_not_train_on_when_resumed_for_longer(tmp_path):
    stopping = {"metric": "train_accuracy", "patience": 1, "min_delta": 1.0}
    first = run(tiny_yin_yang(epochs=4, early_stopping=stopping), tmp_path / "run")
    assert len(first) == 2
    before = input_weights(tmp_path / "run")
    again = run(tiny_yin_yang(epochs=9, early_stopping=stopping), tmp_path / "run", resume=True)
    assert len(again) == 2 and np.array_equal(input_weights(tmp_path / "run"), before)


def test_early_stopping_on_validation_needs_a_validation_split(tmp_path):
    document = yaml.safe_load((EXAMPLES / "sequence_detection.yaml").read_text())
    document["early_stopping"] = {"patience": 3}
    with pytest.raises(ValidationError, match="early_stopping.metric"):
        run(document, tmp_path / "run")


@pytest.mark.parametrize(
    "section, value, field",
    [
        ("early_stopping", {"patience": 0}, "early_stopping.patience"),
        ("early_stopping", {"metric": "test_accuracy"}, "early_stopping.metric"),
        ("silent_neuron_bump", {"amount": -0.1}, "silent_neuron_bump.amount"),
        ("silent_neuron_bump", {"period": "step"}, "silent_neuron_bump.period"),
    ],
)
def test_bad_loop_sections_name_the_field(section, value, field):
    with pytest.raises(ValidationError, match=field.replace(".", r"\.")):
        config_from_dict(tiny_yin_yang(**{section: value}))


def test_weights_and_delays_follow_their_own_schedules():
    spec = OptimiserSpec(
        weight_lr=0.01, delay_lr=0.5, lr_decay_per_epoch=0.9, delay_schedule=LrScheduleSpec("cosine", final_factor=0.1)
    )
    for epoch in range(5):
        weight, delay = learning_rates(spec, epoch, 0, epochs=5)
        assert math.isclose(weight, 0.01 * 0.9**epoch)  # no own schedule: the shared decay
        expected = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * epoch / 4))
        assert math.isclose(delay, 0.5 * expected)
    assert math.isclose(learning_rates(spec, 4, 0, epochs=5)[1], 0.05)  # final_factor at the last epoch
    constant = OptimiserSpec(
        weight_lr=0.01, delay_lr=0.5, lr_decay_per_epoch=0.5, weight_schedule=LrScheduleSpec("constant")
    )
    assert learning_rates(constant, 3, 0) == (0.01, 0.5 * 0.5**3)
    with pytest.raises(ValidationError, match="final_factor"):
        config_from_dict(
            tiny_yin_yang(optimiser={"weight_lr": 0.1, "delay_lr": 0.1, "delay_schedule": {"kind": "cosine"}})
        )


def test_repeats_report_mean_and_std_over_seeds(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_yin_yang(epochs=2, seed=7)))
    out = tmp_path / "repeats"
    assert main(["train", str(config), "--out", str(out), "--limit", "40", "--repeats", "3", "--no-progress"]) == 0
    summary = json.loads((out / "repeats.json").read_text())
    finals = []
    for seed in (7, 8, 9):
        records = json.loads((out / f"seed_{seed}" / "metrics.json").read_text())
        assert ir.load(out / f"seed_{seed}" / "network.ndnet").provenance["training"]["config"]["seed"] == seed
        finals.append(records[-1]["test_accuracy"])
    assert [run["seed"] for run in summary["runs"]] == [7, 8, 9]
    assert math.isclose(summary["final_test"]["mean"], float(np.mean(finals)))
    assert math.isclose(summary["final_test"]["std"], float(np.std(finals, ddof=1)))
    assert "mean +- std" in (out / "repeats.md").read_text()
    assert "3 seeds, test accuracy final" in capsys.readouterr().out
    # a second call reads the finished runs back instead of training them again
    before = (out / "seed_8" / "metrics.json").stat().st_mtime_ns
    assert main(["train", str(config), "--out", str(out), "--limit", "40", "--repeats", "3", "--no-progress"]) == 0
    assert (out / "seed_8" / "metrics.json").stat().st_mtime_ns == before


def test_augmentation_acts_in_training_and_its_dropped_spikes_are_recorded(tmp_path):
    plain = run(tiny_yin_yang(), tmp_path / "plain")
    assert all("augmentation_dropped_spikes" not in record for record in plain)
    document = tiny_yin_yang()
    document["data"]["augmentation"] = {"time_jitter_ms": 2.0}
    jittered = run(document, tmp_path / "jittered")
    # one spike per input channel: jitter moves them but never merges two
    assert [record["augmentation_dropped_spikes"] for record in jittered] == [0, 0]
    assert [r["train_loss"] for r in jittered] != [r["train_loss"] for r in plain]
    document["data"]["augmentation"] = {"time_shift_ms": 35.0}  # spikes up to 30 ms moved by up to 35 ms
    shifted = run(document, tmp_path / "shifted")
    assert all(record["augmentation_dropped_spikes"] > 0 for record in shifted)


def averaging_document(epochs: int = 4) -> dict:
    document = tiny_yin_yang(epochs=epochs, silent_neuron_bump={"amount": 0.05})
    document["optimiser"].update(weight_schedule={"kind": "cosine", "final_factor": 0.1})
    return document


def epoch_end_parameters(monkeypatch, document: dict, out: Path) -> list[dict]:
    """Train ``document`` and keep the model parameters the checkpoint of each epoch holds."""
    saved = []
    original = trainer_module.save_checkpoint

    def keep(path, state):
        saved.append({key: tensor.clone() for key, tensor in state["model"].items()})
        original(path, state)

    monkeypatch.setattr(trainer_module, "save_checkpoint", keep)
    run(document, out)
    monkeypatch.setattr(trainer_module, "save_checkpoint", original)
    return saved


def test_weight_averaging_writes_the_mean_of_the_last_epochs(tmp_path, monkeypatch):
    plain = averaging_document()
    snapshots = epoch_end_parameters(monkeypatch, plain, tmp_path / "plain")
    averaged = dict(plain, weight_averaging={"epochs": 2})
    records = run(averaged, tmp_path / "averaged")
    # averaging changes nothing about training: the same epochs, then one more evaluation
    plain_records = json.loads((tmp_path / "plain" / "metrics.json").read_text())
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ("seconds", "averaged")} for r in rs]  # noqa: E731
    assert strip(records) == strip(plain_records)
    network = ir.load(tmp_path / "averaged" / "network.ndnet")
    for projection in network.projections:
        for field, prefix in (("weights", "weights."), ("delays_steps", "delays.")):
            mean = (snapshots[2][prefix + projection.name] + snapshots[3][prefix + projection.name]) / 2
            np.testing.assert_allclose(getattr(projection, field), mean.numpy(), rtol=1e-6, atol=1e-7)
    assert not np.allclose(network.projection("input_hidden").weights, snapshots[3]["weights.input_hidden"].numpy())
    summary = records[-1]["averaged"]
    assert (summary["first_epoch"], summary["last_epoch"]) == (3, 4)
    # the recorded test accuracy of the average, recomputed by the reference simulator
    config = config_from_dict(averaged)
    test = load_task(config.data.task, config.data.parameters, config.network.dt_ms).limited(40).test
    voltage = simulate(network, test.inputs, mode="float").populations["readout"]
    scores = voltage.states["v"].max(axis=1)
    assert summary["test_accuracy"] == pytest.approx(float(np.mean(scores.argmax(1) == test.labels)))
    assert json.loads((tmp_path / "averaged" / "metrics.json").read_text())[-1]["averaged"] == summary


def test_weight_averaging_survives_an_interruption_and_refuses_a_moved_window(tmp_path, monkeypatch):
    document = dict(averaging_document(), weight_averaging={"epochs": 3})
    whole = run(document, tmp_path / "whole")
    calls = []

    def interrupt_after_the_third_epoch(run_dir, records):
        calls.append(len(records))
        if len(records) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module, "plot_metrics", interrupt_after_the_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        run(document, tmp_path / "parts")
    monkeypatch.undo()
    parts = run(document, tmp_path / "parts", resume=True)
    assert_same_run(parts, whole, tmp_path / "parts", tmp_path / "whole")
    # a finished 2-epoch run averaged epochs 1-2; going on to 6 epochs would need epochs 4-6
    run(dict(document, epochs=2), tmp_path / "short")
    with pytest.raises(NeurodelayError) as refused:
        run(dict(document, epochs=6), tmp_path / "short", resume=True)
    assert "checkpoint.pt" in str(refused.value) and "weight_averaging" in str(refused.value)


def test_weight_averaging_and_early_stopping_exclude_each_other():
    document = tiny_yin_yang(weight_averaging={"epochs": 2}, early_stopping={"metric": "train_loss"})
    with pytest.raises(ValidationError) as refused:
        config_from_dict(document)
    assert refused.value.field == "weight_averaging"
    with pytest.raises(ValidationError) as refused:
        config_from_dict(tiny_yin_yang(weight_averaging={"epochs": 0}))
    assert refused.value.field == "weight_averaging.epochs"


def test_repeats_refuse_to_summarise_finished_runs_of_another_config(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_yin_yang(epochs=1, seed=4)))
    out = tmp_path / "repeats"
    argv = ["train", str(config), "--out", str(out), "--repeats", "1", "--no-progress", "--limit"]
    assert main(argv + ["20"]) == 0
    config.write_text(yaml.safe_dump(tiny_yin_yang(epochs=1, seed=4, batch_size=5)))
    capsys.readouterr()
    assert main(argv + ["20"]) == 1
    error = capsys.readouterr().err
    assert "seed_4" in error and "batch_size: that run 10, now 5" in error
    config.write_text(yaml.safe_dump(tiny_yin_yang(epochs=1, seed=4)))
    assert main(argv + ["30"]) == 1
    assert "--limit: that run 20, now 30" in capsys.readouterr().err
    assert main(argv + ["20"]) == 0
