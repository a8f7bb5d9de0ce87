"""The prepared device check runs end to end on the CPU (``--tiny``), so that it cannot rot before a
session with a GPU runs it for real."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_tiny_runs_every_part_and_writes_its_results():
    done = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", "--tiny"], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = ROOT / "benchmarks" / "results" / "tiny"
    equality = json.loads((results / "gpu_check_equality.json").read_text())
    assert equality["passed"] and len(equality["nets"]) == 2
    assert all(net["float64_spike_count_mismatches"] == 0 for net in equality["nets"])
    epoch = json.loads((results / "gpu_check_epoch.json").read_text())
    assert epoch["passed"] and epoch["resumed_epochs"] == [1, 2] and epoch["epoch_seconds"] > 0
    scaling = json.loads((results / "delay_scaling_cpu.json").read_text())
    statuses = {(p["model"], p["max_delay"]): p["status"] for p in scaling["points"]}
    assert statuses == {("engine", 25): "ok", ("dcls", 25): "ok", ("engine", 512): "ok", ("dcls", 512): "ok"}
    assert set(scaling["dcls_over_engine"]) == {"25", "512"}
