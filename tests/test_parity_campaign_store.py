"""Parity campaigns, fast cases on the toy chip (tests/toy_lif, registered through an entry point):
a campaign killed with SIGKILL resumes to the same summary as an uninterrupted one; a directory
holding another campaign is refused; an injected mismatch comes back as a reproducible case (saved
network, inputs and seed reproduce it), and executor crashes and hangs are recorded, not dropped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from neurodelay import ir, refsim
from neurodelay.cli import main
from neurodelay.errors import ValidationError
from neurodelay.parity.campaign.distribution import draw_case
from neurodelay.parity.campaign.driver import Campaign, CampaignConfig
from neurodelay.parity.campaign.runner import campaign_plug
from neurodelay.parity.campaign.store import RESULTS
from neurodelay.targets import ENTRY_POINT_GROUP, get_target

TESTS = Path(__file__).resolve().parent
COUNT = 60


def install_plugins(folder: Path) -> Path:
    info = folder / "toy_campaign_chips-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-campaign-chips\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\ntoy_lif = toy_lif:TARGET\ntoy_lif_faulty = toy_lif.faulty:TARGET\n"
    )
    return folder


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    site = install_plugins(tmp_path / "site")
    monkeypatch.syspath_prepend(str(TESTS))
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(TESTS), os.environ.get("PYTHONPATH", "")]))
    return tmp_path


def campaign_command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "neurodelay", "parity", "--campaign", str(COUNT), "--target", "toy_lif",
            "--workers", "2", "--nets-per-run", "3", "--out", str(out), *extra]  # fmt: skip


def without_timing(summary: dict) -> dict:
    return {key: value for key, value in summary.items() if key != "throughput"}


def test_a_campaign_killed_mid_way_resumes_to_the_same_summary(plugins):
    whole, killed = plugins / "whole", plugins / "killed"
    assert subprocess.run(campaign_command(whole), capture_output=True, timeout=600).returncode == 0
    child = subprocess.Popen(
        campaign_command(killed), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            results = killed / RESULTS
            if results.exists() and results.read_text().count("\n") >= 9:
                break
            time.sleep(0.05)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the campaign and its workers, mid-way
        child.wait()
    lines = (killed / RESULTS).read_text().count("\n")
    assert 9 <= lines < COUNT, "the kill must land mid-way for this test to mean anything"
    with open(killed / RESULTS, "a") as stream:
        stream.write('{"seed": 59, "status": "matc')  # a record torn by the kill
    resumed = subprocess.run(campaign_command(killed, "--resume"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"{lines} of {COUNT} done" in resumed.stdout
    first, second = (json.loads((folder / "summary.json").read_text()) for folder in (whole, killed))
    assert second["completed"] == COUNT and second["throughput"]["sessions"] == 2
    assert without_timing(first) == without_timing(second)
    seeds = [json.loads(line)["seed"] for line in (killed / RESULTS).read_text().splitlines()]
    assert sorted(seeds) == list(range(COUNT))


def live_children(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` and that have not exited (zombies count as exited)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            children.append(int(stat.parent.name))
    return children


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc (Linux)")
def test_workers_of_a_killed_campaign_exit_with_it(plugins):
    """SIGKILL of the campaign process alone (not its group): its workers must not go on computing
    queued chunks or wait forever on the dead parent's queue."""
    out = plugins / "orphaned"
    child = subprocess.Popen(
        campaign_command(out), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not ((out / RESULTS).exists() and (out / RESULTS).read_text()):
            time.sleep(0.05)
        workers = live_children(child.pid)
        assert workers, "the campaign must have started its workers"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)]
    finally:
        os.killpg(child.pid, signal.SIGKILL)


def test_a_directory_holding_another_campaign_is_refused(plugins):
    out = plugins / "campaign"
    Campaign(CampaignConfig("toy_lif", None, 3, 0, out, workers=1), log=lambda line: None).run()
    with pytest.raises(ValidationError, match="holds another campaign.*count, seed"):
        Campaign(CampaignConfig("toy_lif", None, 4, 1, out, workers=1))
    with pytest.raises(ValidationError, match="holds no campaign"):
        Campaign(CampaignConfig("toy_lif", None, 3, 0, plugins / "empty", workers=1), resume=True)
    (plugins / "other").mkdir()
    (plugins / "other" / "file.txt").write_text("x")
    with pytest.raises(ValidationError, match="not empty"):
        Campaign(CampaignConfig("toy_lif", None, 3, 0, plugins / "other", workers=1))


def test_an_injected_mismatch_is_a_reproducible_case_and_failures_are_recorded(plugins, capsys):
    from toy_lif.faulty import CRASH_INPUTS, HANG_INPUTS, PERTURBED

    out = plugins / "faulty"
    summary = Campaign(
        CampaignConfig("toy_lif_faulty", None, 40, 0, out, workers=2, nets_per_run=4), log=lambda line: None
    ).run()
    records = {r["seed"]: r for r in map(json.loads, (out / RESULTS).read_text().splitlines())}
    spec = get_target("toy_lif_faulty")
    expected = {}
    for seed in range(40):
        network, _, _ = draw_case(seed, campaign_plug(spec), spec.resolve("delay_bound"))
        size = network.sources()[0].size
        has_l2 = any(p.name == PERTURBED for p in network.populations)
        expected[seed] = (
            "crashed"
            if size == CRASH_INPUTS
            else "hung"
            if size == HANG_INPUTS
            else "mismatch"
            if has_l2
            else "matched"
        )
    assert {seed: r["status"] for seed, r in records.items()} == expected
    assert {"mismatch", "matched"} <= set(expected.values())
    assert summary["statuses"]["mismatch"] == len(summary["mismatches"]) > 0
    assert {f["seed"] for f in summary["failures"]} == {
        s for s, status in expected.items() if status in ("crashed", "hung")
    }
    for case in summary["mismatches"]:
        assert case["first_divergence"]["population"] == PERTURBED and case["first_divergence"]["quantity"] == "v"
        files = {key: out / path for key, path in case["case"].items()}
        assert files["plot"].stat().st_size > 1000
        # the saved files reproduce it through the plain parity command
        report = plugins / f"again_{case['seed']}.json"
        code = main(
            [
                "parity",
                str(files["network"]),
                "--target",
                "toy_lif_faulty",
                "--inputs",
                str(files["inputs"]),
                "--json",
                str(report),
            ]
        )
        assert code == 1
        assert json.loads(report.read_text())["mismatched"][0]["first_divergence"] == case["first_divergence"]
        # and so does the seed: drawing and quantizing it again gives the saved network and inputs
        network, inputs, _ = draw_case(case["seed"], campaign_plug(spec), spec.resolve("delay_bound"))
        saved = ir.load(files["network"])
        quantized = spec.prepare_for_parity(network, np.random.default_rng([18_001, case["seed"], 1]))
        with np.load(files["inputs"]) as data:
            assert np.array_equal(data["input"].astype(bool), inputs["input"])
        for mine, theirs in zip(quantized.projections, saved.projections):
            assert np.array_equal(mine.integer_weights, theirs.integer_weights)
            assert np.array_equal(mine.integer_delays(), theirs.integer_delays())
        left, right = (refsim.simulate(n, inputs, mode="toy_lif_faulty") for n in (quantized, saved))
        assert np.array_equal(left.populations[PERTURBED].states["v"], right.populations[PERTURBED].states["v"])
    assert "reproduce: `neurodelay parity cases/" in (out / "summary.md").read_text()
