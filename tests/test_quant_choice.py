"""PTQ or QAT chosen by measurement (`neurodelay quantize --qat auto|on|off`): the accuracies
reported are recomputed here on the reference simulator, the threshold decides whether QAT runs,
a QAT that does no better is not kept, and networks without a training record say so."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurodelay import ir
from neurodelay.cli import main
from neurodelay.data import load_task
from neurodelay.data.yin_yang import YinYangParameters
from neurodelay.errors import ValidationError
from neurodelay.quant.calibration import quantize
from neurodelay.quant.choice import QatPolicy, quantize_choosing
from neurodelay.refsim import simulate

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SIZES = {"train_size": 120, "validation_size": 80, "test_size": 20}
BITS = "3"  # lossy enough on Loihi 2 that PTQ drops on this small net


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("choice")
    document = yaml.safe_load((EXAMPLES / "yin_yang.yaml").read_text())
    document.update(epochs=2, batch_size=10, eval_batch_size=100, device="cpu")
    document["data"].update(SIZES)
    document["network"].update(dt_ms=1.0)
    document["network"]["hidden"][0]["size"] = 12
    (folder / "config.yaml").write_text(yaml.safe_dump(document))
    assert main(["train", str(folder / "config.yaml"), "--out", str(folder / "run"), "--no-progress"]) == 0
    return folder / "run" / "network.ndnet"


def validation_split() -> tuple[np.ndarray, np.ndarray]:
    splits = load_task("yin_yang", YinYangParameters(duration_ms=40.0, **SIZES), 1.0)
    return splits.validation.inputs, splits.validation.labels


def accuracy_by_hand(network: ir.Network, mode: str) -> float:
    """The max_ce readout: class = readout neuron with the largest voltage maximum over time."""
    inputs, labels = validation_split()
    readout = simulate(network, {"input": inputs}, mode=mode).populations["readout"]
    scores = (readout.states["v"] * readout.state_scales["v"]).max(axis=1)
    return float(np.mean(scores.argmax(axis=1) == labels))


def quantize_command(trained: Path, out: Path, *extra: str) -> list[str]:
    return ["quantize", str(trained), "--target", "loihi2", "--weight-bits", BITS, "--out", str(out), *extra]


def test_qat_on_writes_the_fine_tuned_network_and_reports_all_three_accuracies(trained, tmp_path, capsys):
    out, report_path = tmp_path / "q.ndnet", tmp_path / "report.json"
    assert main(quantize_command(trained, out, "--qat", "on", "--qat-epochs", "2", "--report", str(report_path))) == 0
    printed = capsys.readouterr().out
    assert "accuracy on 80 validation samples" in printed and "chosen: QAT" in printed
    assert "fine-tuning with the quantizer in the loop (2 epochs on 120 training samples)" in printed
    choice = json.loads(report_path.read_text())["choice"]
    written = ir.load(out)
    assert written.provenance["fine_tuning"]["epochs"] == 2
    assert written.provenance["quantization_choice"] == choice
    network = ir.load(trained)
    ptq, _ = quantize(network, "loihi2", weight_bits=int(BITS))
    assert choice["float_accuracy"] == accuracy_by_hand(network, "float")
    assert choice["ptq_accuracy"] == accuracy_by_hand(ptq, "loihi2")
    assert choice["qat_accuracy"] == accuracy_by_hand(written, "loihi2")
    assert f"{100 * choice['qat_accuracy']:6.2f} %" in printed


def test_the_threshold_decides_whether_qat_runs(trained):
    network = ir.load(trained)
    splits = load_task("yin_yang", YinYangParameters(duration_ms=40.0, **SIZES), 1.0)
    ptq, _ = quantize(network, "loihi2", weight_bits=int(BITS))
    drop = 100 * (accuracy_by_hand(network, "float") - accuracy_by_hand(ptq, "loihi2"))
    assert drop > 0.1, "the test needs a PTQ that loses accuracy"
    common = dict(train=splits.train, check=splits.validation, loss="max_ce", weight_bits=int(BITS))
    kept, _, within = quantize_choosing(network, "loihi2", policy=QatPolicy("auto", drop + 0.05), **common)
    assert within.chosen == "ptq" and within.qat_accuracy is None and "within" in within.reason
    assert [p.weights.tolist() for p in kept.projections] == [p.weights.tolist() for p in ptq.projections]
    _, _, beyond = quantize_choosing(network, "loihi2", policy=QatPolicy("auto", drop - 0.05), **common)
    assert beyond.qat_accuracy is not None
    assert beyond.chosen == ("qat" if beyond.qat_accuracy > beyond.ptq_accuracy else "ptq")


def test_a_qat_that_does_worse_is_not_kept(trained):
    network = ir.load(trained)
    splits = load_task("yin_yang", YinYangParameters(duration_ms=40.0, **SIZES), 1.0)
    ruinous = QatPolicy("auto", 0.0, {"epochs": 1, "batch_size": 10, "weight_lr": 50.0})
    result, _, choice = quantize_choosing(
        network, "loihi2", train=splits.train, check=splits.validation, loss="max_ce", policy=ruinous, weight_bits=8
    )
    assert choice.qat_accuracy is not None and choice.qat_accuracy < choice.ptq_accuracy
    assert choice.chosen == "ptq" and "did not beat it" in choice.reason
    assert "fine_tuning" not in result.provenance


def test_a_network_without_a_training_record_is_quantized_with_ptq_and_says_so(trained, tmp_path, capsys):
    network = ir.load(trained)
    bare = tmp_path / "bare.ndnet"
    ir.save(replace(network, provenance={}), bare)
    assert main(["quantize", str(bare), "--target", "loihi2", "--out", str(tmp_path / "q.ndnet")]) == 0
    assert "no record of its training data" in capsys.readouterr().out
    assert main(["quantize", str(bare), "--target", "loihi2", "--out", str(tmp_path / "r.ndnet"), "--qat", "on"]) == 1
    assert "provenance.training" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, flag",
    [
        (["--qat", "off", "--qat-epochs", "2"], "--qat-epochs"),
        (["--qat", "off", "--check-samples", "10"], "--check-samples"),
        (["--qat", "on", "--qat-threshold", "2"], "--qat-threshold"),
        (["--qat-epochs", "0"], "--qat-epochs"),
        (["--qat-threshold", "nan"], "--qat-threshold"),
        (["--qat-threshold", "-1"], "--qat-threshold"),
    ],
)
def test_qat_options_that_cannot_apply_are_refused(trained, tmp_path, capsys, extra, flag):
    assert main(quantize_command(trained, tmp_path / "q.ndnet", *extra)) == 1
    error = capsys.readouterr().err
    assert flag in error and "\n" not in error.strip()
    assert not (tmp_path / "q.ndnet").exists()


def test_policy_refuses_unknown_modes():
    with pytest.raises(ValidationError, match="--qat"):
        QatPolicy("sometimes")
