"""A reduced end-to-end demo: train, quantize for both targets, export both, parity, summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from neurodelay.demo import DEFAULT_CONFIG, DemoOptions, run_demo


def test_reduced_demo_end_to_end(tmp_path):
    config = yaml.safe_load(Path(DEFAULT_CONFIG).read_text())
    config["epochs"] = 2
    config["network"]["hidden"][0]["size"] = 12
    config_path = tmp_path / "demo.yaml"
    config_path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    log = tmp_path / "demo.log"
    with open(log, "w") as stream:  # as a user would: `neurodelay demo ... > demo.log 2>&1`
        finished = subprocess.run(
            [
                sys.executable,
                "-m",
                "neurodelay",
                "demo",
                "--out",
                str(out),
                "--config",
                str(config_path),
                "--limit",
                "120",
                "--parity-samples",
                "2",
            ],
            stdout=stream,
            stderr=subprocess.STDOUT,
            timeout=900,
        )
    text = log.read_text()
    assert finished.returncode == 0, text[-3000:]
    lines = text.splitlines()
    assert len(lines) < 100 and "\r" not in text, text[-3000:]  # one line per epoch and stage, no bar redraws
    assert "epoch 2/2" in text and "[4/4] summary" in text
    summary = json.loads((out / "summary.json").read_text())
    assert json.loads((out / "summary.json").read_text())["targets"].keys() == {"loihi2", "spinnaker"}
    assert (out / "summary.png").stat().st_size > 0
    assert (out / "export" / "loihi2" / "manifest.json").exists()
    assert (out / "export" / "spinnaker" / "run_on_spinnaker.py").exists()
    for target in ("loihi2", "spinnaker"):
        result = summary["targets"][target]
        assert result["mismatches"] == 0, result["parity"]
        assert 0.0 <= result["accuracy"] <= 1.0
        choice = result["quantization_choice"]  # PTQ, or QAT where PTQ lost > 1 pp on validation
        assert choice["samples"] == 120 and choice["split"] == "validation"
        assert (choice["qat_accuracy"] is not None) == (choice["ptq_drop_pp"] > 1.0)
        assert result["quantization_mode"] == choice["chosen"] and f"chosen: {choice['chosen'].upper()}" in text
    spinnaker_checks = [check["executor"] for check in summary["targets"]["spinnaker"]["parity"]]
    assert spinnaker_checks == ["virtual-board", "emulated-core"]
    assert summary["targets"]["loihi2"]["parity"][0]["executor"].startswith("lava")
    assert summary["float_accuracy"] > 1 / 3 - 0.1
    assert any(line.startswith("loihi2") for line in lines)
    # a second run reuses the trained network (checkpoint resume) and reproduces the summary
    again = run_demo(
        DemoOptions(tmp_path / "out", config_path, limit=120, parity_samples=2, progress=False, log=lambda line: None)
    )
    assert again["float_accuracy"] == summary["float_accuracy"]
    assert again["targets"]["loihi2"]["accuracy"] == summary["targets"]["loihi2"]["accuracy"]
