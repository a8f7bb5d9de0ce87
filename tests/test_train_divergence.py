"""A run whose loss or parameters become NaN / infinite stops with one line and keeps its last good checkpoint."""

from pathlib import Path

import pytest
import torch
import yaml

from neurodelay.cli import main
from neurodelay.train import checkpoint as checkpoint_module
from neurodelay.train import trainer as trainer_module
from neurodelay.train.divergence import DivergenceMonitor, TrainingDiverged

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def tiny_config(tmp_path: Path, **changes) -> Path:
    document = yaml.safe_load((EXAMPLES / "yin_yang.yaml").read_text())
    document.update(epochs=1, batch_size=10, eval_batch_size=100, device="cpu")
    document["network"]["dt_ms"] = 1.0
    document["network"]["hidden"][0]["size"] = 8
    for key, value in changes.items():
        section, _, name = key.rpartition(".")
        (document[section] if section else document)[name] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def one_error_line(capsys) -> str:
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "Traceback" not in error, error
    return error


def test_an_infinite_loss_ends_in_one_line_naming_epoch_and_batch(tmp_path, capsys):
    config = tiny_config(tmp_path, regularizer={"target_spikes_per_neuron": 1.0, "strength": 1e308})
    assert main(["train", str(config), "--out", str(tmp_path / "run"), "--limit", "40", "--no-progress"]) == 1
    error = one_error_line(capsys)
    assert error.startswith("neurodelay train: error: training: diverged in epoch 1, batch 1 (loss is inf; ")
    assert "lower the learning rate" in error
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
    assert not (tmp_path / "run" / "network.ndnet").exists()


def test_huge_initial_weights_end_in_the_same_line(tmp_path, capsys):
    config = tiny_config(tmp_path)
    document = yaml.safe_load(config.read_text())
    document["network"]["hidden"][0]["input"]["weights"] = {"kind": "constant", "value": 3e38}
    config.write_text(yaml.safe_dump(document))
    assert main(["train", str(config), "--out", str(tmp_path / "run"), "--limit", "40", "--no-progress"]) == 1
    assert "training: diverged in epoch 1, batch 1 (" in one_error_line(capsys)


def test_divergence_after_a_good_epoch_keeps_the_good_checkpoint(tmp_path, capsys, monkeypatch):
    config = tiny_config(tmp_path)
    run = tmp_path / "run"
    assert main(["train", str(config), "--out", str(run), "--limit", "40", "--no-progress"]) == 0
    good = checkpoint_module.load_checkpoint(run / "checkpoint.pt")
    capsys.readouterr()
    longer = tiny_config(tmp_path, epochs=2)
    monkeypatch.setattr(trainer_module, "learning_rates", lambda *arguments: (float("nan"), float("nan")))
    code = main(["train", str(longer), "--out", str(run), "--resume", "--limit", "40", "--no-progress"])
    assert code == 1
    assert "diverged in epoch 2, batch " in one_error_line(capsys)
    kept = checkpoint_module.load_checkpoint(run / "checkpoint.pt")
    assert kept["completed_epochs"] == 1
    for name, tensor in kept["model"].items():
        assert torch.equal(tensor, good["model"][name]), name


@pytest.mark.parametrize("device_path", [False, True])
def test_the_monitor_names_the_first_bad_batch(device_path):
    weights = torch.ones(3, 2)
    monitor = DivergenceMonitor({"input_hidden.weights": weights}, torch.device("cpu"))
    monitor.immediate = not device_path  # the CUDA path: recorded on the device, read once per epoch
    monitor.start_epoch(4)
    monitor.observe(0, torch.tensor(0.5))
    monitor.observe(1, torch.tensor(0.4))
    weights[0, 0] = float("inf")
    if not device_path:
        with pytest.raises(TrainingDiverged, match=r"epoch 5, batch 3 \(loss 0.3; NaN or infinite values in input_h"):
            monitor.observe(2, torch.tensor(0.3))
        return
    monitor.observe(2, torch.tensor(0.3))
    monitor.observe(3, torch.tensor(float("nan")))
    with pytest.raises(TrainingDiverged, match=r"epoch 5, batch 3 \(loss 0.3; NaN or infinite values in input_h"):
        monitor.check_epoch()
    monitor.start_epoch(5)
    weights[0, 0] = 1.0
    monitor.observe(0, torch.tensor(float("nan")))
    with pytest.raises(TrainingDiverged, match=r"epoch 6, batch 1 \(loss is nan\)"):
        monitor.check_epoch()


def test_a_learning_rate_that_leaves_no_gradient_is_noted(tmp_path, capsys):
    """weight_lr 1e30 keeps every value finite (no divergence) but throws the weights so far that no
    gradient is left: the run says so at each such epoch instead of ending quietly at chance."""
    config = tiny_config(tmp_path)
    document = yaml.safe_load(config.read_text())
    document["optimiser"]["weight_lr"] = 1e30
    document["epochs"] = 2
    config.write_text(yaml.safe_dump(document))
    assert main(["train", str(config), "--out", str(tmp_path / "run"), "--limit", "40", "--no-progress"]) == 0
    error = capsys.readouterr().err
    assert "epoch 1: every" not in error  # the first batches still learn (and throw the weights out)
    assert "epoch 2: every weight and delay gradient was exactly 0 in all 4 batches" in error


def test_a_healthy_run_gets_no_silence_note(tmp_path, capsys):
    config = tiny_config(tmp_path)
    assert main(["train", str(config), "--out", str(tmp_path / "run"), "--limit", "40", "--no-progress"]) == 0
    assert "gradient was exactly 0" not in capsys.readouterr().err
