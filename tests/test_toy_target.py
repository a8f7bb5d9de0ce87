"""docs/adding_a_target.md, proved: a toy chip defined only in tests/toy_lif and registered only
through a real ``neurodelay.targets`` entry point (a dist-info installed in a temporary folder on the
path) goes through ``quantize``, ``export``, ``parity --random`` and ``study`` without any edit to
neurodelay. Its refsim mode (vectorised numpy) and its executor (an event loop over the exported file)
are two independent implementations of its arithmetic, so parity compares something."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurodelay import ir
from neurodelay.cli import main
from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from neurodelay.targets import ENTRY_POINT_GROUP, all_targets, get_target

TESTS = Path(__file__).resolve().parent
DATA = {
    "task": "yin_yang",
    "train_size": 40,
    "validation_size": 10,
    "test_size": 40,
    "duration_ms": 40.0,
    "split": "test",
    "limit": 40,
    "train_limit": 40,
}


def install_plugin(folder: Path) -> Path:
    """A distribution ``toy-lif-chip`` whose only content is the entry point ``toy_lif = toy_lif:TARGET``."""
    info = folder / "toy_lif_chip-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-lif-chip\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntoy_lif = toy_lif:TARGET\n")
    return folder


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.syspath_prepend(str(install_plugin(tmp_path / "site")))
    return tmp_path


def float_network() -> Network:
    rng = np.random.default_rng(3)
    return Network(
        "toy_net",
        1.0,
        (SpikeSource("input", 5), LIF("hidden", 10), LeakyIntegrator("readout", 3)),
        (
            Projection(
                "input_hidden", "input", "hidden", rng.normal(1.5, 1.0, (5, 10)), rng.uniform(0, 20, (5, 10)), 20
            ),
            Projection("hidden_readout", "hidden", "readout", rng.normal(0, 0.5, (10, 3)), np.zeros((10, 3)), 0),
        ),
    )


def test_the_toy_target_is_not_registered_without_its_entry_point():
    assert "toy_lif" not in all_targets()


def test_quantize_export_parity_and_study_through_the_entry_point(plugin, capsys):
    assert get_target("toy_lif").description.startswith("toy integer LIF")
    ir.save(float_network(), plugin / "net.ndnet")
    report = plugin / "report.json"
    assert (
        main(
            [
                "quantize",
                str(plugin / "net.ndnet"),
                "--target",
                "toy_lif",
                "--out",
                str(plugin / "q.ndnet"),
                "--report",
                str(report),
            ]
        )
        == 0
    )
    summary = json.loads(report.read_text())
    assert summary["target"] == "toy_lif" and summary["target_format"]["delays"] == "0..15 steps"
    delays = {row["name"]: row for row in summary["projections"]}
    assert delays["input_hidden"]["delays_clipped"] > 0  # 20-step delays do not fit 0..15
    quantized = ir.load(plugin / "q.ndnet")
    assert all(p.weight_format.target == "toy_lif" for p in quantized.projections)

    assert main(["export", str(plugin / "q.ndnet"), "--target", "toy_lif", "--out", str(plugin / "export")]) == 0
    chip = json.loads((plugin / "export" / "toy_lif.json").read_text())
    assert chip["projections"][0]["weights"] == quantized.projections[0].integer_weights.tolist()
    capsys.readouterr()

    assert (
        main(["parity", "--target", "toy_lif", "--random", "12", "--seed", "3", "--json", str(plugin / "parity.json")])
        == 0
    )
    parity = json.loads((plugin / "parity.json").read_text())
    assert (parity["nets"], parity["mismatches"], parity["executor"]) == (12, 0, "toy-event-loop")
    assert parity["compared"]["spikes"] > 50  # the nets spike: the check compares something
    assert main(["parity", str(plugin / "q.ndnet"), "--target", "toy_lif", "--steps", "60", "--rate", "0.3"]) == 0

    config = {
        "network": "net.ndnet",
        "loss": "sum_ce",
        "data": DATA,
        "targets": ["toy_lif"],
        "weight_bits": [6, 16],
        "delay_resolutions": [1],
        "modes": ["ptq"],
        "parity": {"enabled": True, "samples": 2},
        "out": "study",
    }
    (plugin / "study.yaml").write_text(yaml.safe_dump(config))
    assert main(["study", str(plugin / "study.yaml")]) == 0
    rows = list(csv.DictReader((plugin / "study" / "results.csv").open()))
    assert [(r["target"], r["weight_bits"], r["error"]) for r in rows] == [("toy_lif", "6", ""), ("toy_lif", "16", "")]
    assert all(r["parity"] == "0 spike mismatches (2 samples)" for r in rows)


def test_a_fresh_interpreter_finds_the_toy_target(tmp_path):
    """No in-process state: the console entry reads the entry point from the path on its own."""
    site = install_plugin(tmp_path / "site")
    ir.save(float_network(), tmp_path / "net.ndnet")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(TESTS)])}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "neurodelay",
            "quantize",
            str(tmp_path / "net.ndnet"),
            "--target",
            "toy_lif",
            "--out",
            str(tmp_path / "q.ndnet"),
        ],
        capture_output=True,
        text=True,
        env=environment,
    )
    assert result.returncode == 0, result.stderr
    assert "quantized for toy_lif" in result.stdout
    assert ir.load(tmp_path / "q.ndnet").projections[0].weight_format.target == "toy_lif"


def test_a_broken_entry_point_is_reported_and_leaves_the_other_targets(tmp_path, monkeypatch, capsys):
    site = tmp_path / "site"
    info = site / "broken_chip-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-chip\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nbroken = no_such_module_here:TARGET\n")
    monkeypatch.syspath_prepend(str(site))
    assert {"loihi2", "spinnaker"} <= set(all_targets())
    assert "broken" not in all_targets()
    warning = capsys.readouterr().err
    assert "neurodelay: warning: target 'broken'" in warning and "no_such_module_here" in warning
    with pytest.raises(SystemExit) as refused:  # argparse: not a choice
        main(["parity", "--target", "broken", "--random", "1"])
    assert refused.value.code == 2
