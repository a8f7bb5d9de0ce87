"""The trainer's device handling that a CPU can check: a run resumes under another device setting,
and ``--device`` overrides the config."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml

from neurodelay.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def sequence_config(tmp_path: Path, device: str) -> Path:
    document = yaml.safe_load((EXAMPLES / "sequence_detection.yaml").read_text())
    document.update(epochs=1, device=device)
    path = tmp_path / f"config_{device}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_a_checkpoint_resumes_under_another_device_setting(tmp_path):
    """Checkpoints are read onto the CPU and copied into the model wherever it lives, and 'device' is
    not part of what must match on resume (the CUDA -> CPU half runs in benchmarks/gpu_check.sh)."""
    run = tmp_path / "run"
    assert main(["train", str(sequence_config(tmp_path, "cpu")), "--out", str(run), "--no-progress"]) == 0
    document = yaml.safe_load(sequence_config(tmp_path, "auto").read_text())
    document["epochs"] = 2
    longer = tmp_path / "longer.yaml"
    longer.write_text(yaml.safe_dump(document))
    assert main(["train", str(longer), "--out", str(run), "--resume", "--no-progress"]) == 0
    records = json.loads((run / "metrics.json").read_text())
    assert [r["epoch"] for r in records] == [1, 2]


def test_device_on_the_command_line_overrides_the_config(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(
        ["train", str(sequence_config(tmp_path, "cpu")), "--out", str(run), "--device", "cuda", "--no-progress"]
    )
    if torch.cuda.is_available():
        assert code == 0
    else:
        assert code == 1
        assert "cuda requested but torch sees no CUDA device" in capsys.readouterr().err
