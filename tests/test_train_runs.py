"""Whole training runs through the CLI: the sequence task learnt with delays only, the run folder,
Yin-Yang learning, and SIGKILL-and-resume ending bit-identical to an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurodelay import ir
from neurodelay.cli import main
from neurodelay.train.checkpoint import load_checkpoint

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def small_yin_yang(tmp_path: Path, **changes) -> Path:
    """The Yin-Yang example shrunk for CI: 1 ms steps, 60 hidden neurons, 3 epochs, a faster
    weight learning rate."""
    document = yaml.safe_load((EXAMPLES / "yin_yang.yaml").read_text())
    document.update(epochs=3, batch_size=20, eval_batch_size=200, device="cpu")
    document["network"]["dt_ms"] = 1.0
    document["network"]["hidden"][0]["size"] = 60
    document["optimiser"]["weight_lr"] = 0.02
    document.update(changes)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_sequence_detection_reaches_100_percent_learning_delays_only(tmp_path):
    run = tmp_path / "run"
    assert main(["train", str(EXAMPLES / "sequence_detection.yaml"), "--out", str(run), "--no-progress"]) == 0
    records = json.loads((run / "metrics.json").read_text())
    assert records[-1]["test_accuracy"] == 1.0 and records[-1]["train_accuracy"] == 1.0
    assert records[0]["test_accuracy"] < 1.0  # it starts wrong: something was learnt
    network = ir.load(run / "network.ndnet")
    projection = network.projection("input_readout")
    assert np.array_equal(projection.weights, np.ones((2, 2)))  # weights frozen at 1
    delays = projection.delays_steps
    # the start was diagonal 0 / off-diagonal 10; the solution makes input i reach output i later
    # than the other input reaches it by about the 10-step interval
    assert delays[0, 0] - delays[1, 0] > 5 and delays[1, 1] - delays[0, 1] > 5
    assert (run / "metrics.png").stat().st_size > 1000
    umask = os.umask(0)
    os.umask(umask)
    for name in ("metrics.json", "metrics.png", "checkpoint.pt"):  # not mkstemp's 0600
        assert (run / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    provenance = network.provenance["training"]
    assert provenance["config"]["loss"]["name"] == "max_ce"
    assert provenance["final_metrics"]["test_accuracy"] == 1.0
    assert set(provenance["software"]) >= {"neurodelay", "torch", "numpy", "python"}


def test_yin_yang_short_run_learns_and_writes_the_run_folder(tmp_path):
    run = tmp_path / "run"
    config = small_yin_yang(tmp_path)
    assert main(["train", str(config), "--out", str(run), "--limit", "400", "--no-progress"]) == 0
    records = json.loads((run / "metrics.json").read_text())
    assert [r["epoch"] for r in records] == [1, 2, 3]
    for record in records:
        assert {"train_loss", "train_accuracy", "validation_accuracy", "test_accuracy", "seconds"} <= set(record)
        assert 0.0 <= record["test_accuracy"] <= 1.0 and record["seconds"] > 0
    assert records[-1]["test_accuracy"] > 0.75  # chance is 1/3; measured: 0.8575
    assert records[-1]["train_loss"] < records[0]["train_loss"]
    checkpoint = load_checkpoint(run / "checkpoint.pt")
    assert checkpoint["completed_epochs"] == 3 and checkpoint["limit"] == 400
    assert {"python", "numpy", "torch"} <= set(checkpoint["random_states"])
    assert checkpoint["weight_optimiser"]["state"] and checkpoint["delay_optimiser"]["state"]
    # a second run into the same folder must not overwrite it
    assert main(["train", str(config), "--out", str(run), "--no-progress"]) == 1


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    return dict(ir.load(path).iter_arrays())


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path):
    # with the paper's loop around the optimiser: its state (best epoch, bump counts) must resume too
    config = small_yin_yang(
        tmp_path,
        epochs=3,
        batch_size=8,
        silent_neuron_bump={"amount": 0.002},
        early_stopping={"metric": "validation_accuracy", "patience": 2},
    )
    command = [sys.executable, "-m", "neurodelay", "train", str(config), "--limit", "160", "--no-progress"]
    environment = dict(os.environ, OMP_NUM_THREADS="2")
    reference = subprocess.run(
        command + ["--out", str(tmp_path / "whole")], env=environment, capture_output=True, text=True, timeout=600
    )
    assert reference.returncode == 0, reference.stderr

    interrupted = tmp_path / "interrupted"
    process = subprocess.Popen(
        command + ["--out", str(interrupted)], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    checkpoint = interrupted / "checkpoint.pt"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    epoch_seconds = json.loads((tmp_path / "whole" / "metrics.json").read_text())[1]["seconds"]
    time.sleep(0.4 * epoch_seconds)  # well inside epoch 2
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (interrupted / "network.ndnet").exists()
    saved = load_checkpoint(checkpoint)
    assert 1 <= saved["completed_epochs"] < 3

    resumed = subprocess.run(
        command + ["--out", str(interrupted), "--resume"], env=environment, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr
    whole, again = read_arrays(tmp_path / "whole" / "network.ndnet"), read_arrays(interrupted / "network.ndnet")
    assert whole.keys() == again.keys()
    for key in whole:
        assert whole[key].dtype == again[key].dtype and np.array_equal(whole[key], again[key]), key
    strip = lambda records: [{k: v for k, v in r.items() if k != "seconds"} for r in records]  # noqa: E731
    assert strip(json.loads((interrupted / "metrics.json").read_text())) == strip(
        json.loads((tmp_path / "whole" / "metrics.json").read_text())
    )


def test_resume_refuses_a_changed_config_and_a_missing_checkpoint(tmp_path, capsys):
    config = small_yin_yang(tmp_path, epochs=1)
    run = tmp_path / "run"
    assert main(["train", str(config), "--out", str(run), "--limit", "40", "--no-progress", "--resume"]) == 1
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["train", str(config), "--out", str(run), "--limit", "40", "--no-progress"]) == 0
    changed = small_yin_yang(tmp_path, epochs=1, seed=99)
    assert main(["train", str(changed), "--out", str(run), "--limit", "40", "--no-progress", "--resume"]) == 1
    assert "different config or --limit (seed: checkpoint 3, now 99; " in capsys.readouterr().err
    config = small_yin_yang(tmp_path, epochs=1)  # the same file again, as trained
    assert main(["train", str(config), "--out", str(run), "--limit", "30", "--no-progress", "--resume"]) == 1
    assert "(--limit: checkpoint 40, now 30; " in capsys.readouterr().err
    longer = small_yin_yang(tmp_path, epochs=2)  # only 'epochs' may change
    assert main(["train", str(longer), "--out", str(run), "--limit", "40", "--no-progress", "--resume"]) == 0
    assert [r["epoch"] for r in json.loads((run / "metrics.json").read_text())] == [1, 2]


class KilledWhileWritingMetrics(Exception):
    """Stands in for a SIGKILL that lands after an epoch's checkpoint, while its metrics are written."""


def test_a_run_killed_while_writing_its_metrics_resumes_from_that_epochs_checkpoint(tmp_path, monkeypatch):
    # a sweep's re-queued trial found metrics.json without a checkpoint ("already holds a run")
    # when the kill fell between the two: the checkpoint now comes first, and a resumed run rewrites
    # the metrics of the epochs its checkpoint holds
    import neurodelay.train.trainer as trainer

    config, run = small_yin_yang(tmp_path, epochs=2), tmp_path / "run"

    def killed(*_):
        raise KilledWhileWritingMetrics

    with monkeypatch.context() as patch:
        patch.setattr(trainer, "write_metrics", killed)
        assert main(["train", str(config), "--out", str(run), "--limit", "40", "--no-progress"]) == 2  # internal
    assert load_checkpoint(run / "checkpoint.pt")["completed_epochs"] == 1
    assert not (run / "metrics.json").exists()
    shorter = small_yin_yang(tmp_path, epochs=1)  # (the same file) the checkpoint's epoch is the last one
    assert main(["train", str(shorter), "--out", str(run), "--limit", "40", "--no-progress", "--resume"]) == 0
    assert [r["epoch"] for r in json.loads((run / "metrics.json").read_text())] == [1]
    config = small_yin_yang(tmp_path, epochs=2)
    assert main(["train", str(config), "--out", str(run), "--limit", "40", "--no-progress", "--resume"]) == 0
    assert [r["epoch"] for r in json.loads((run / "metrics.json").read_text())] == [1, 2]
