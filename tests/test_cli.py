"""The neurodelay command as a user runs it (a subprocess of the installed console script)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from neurodelay.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def neurodelay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "neurodelay", *args], capture_output=True, text=True, cwd=ROOT)


def test_info_prints_populations_synapses_delays_and_loops():
    result = neurodelay("info", str(EXAMPLES / "recurrent.ndnet"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "hidden           lif               n=32" in out
    assert "hidden_hidden    hidden -> hidden (recurrent): 198 synapses (sparse)" in out
    assert "input_hidden     input -> hidden (feed-forward): 640 synapses" in out
    assert "synapses: 966" in out
    assert "recurrent loops: hidden" in out
    assert "delays (steps):" in out


def test_output_into_a_closed_pipe_ends_quietly():
    """``neurodelay info NET | head -1``: the reader gone, the command stops without an "internal
    error: BrokenPipeError" line (the read end is closed before the command writes anything)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "neurodelay", "info", str(EXAMPLES / "recurrent.ndnet")],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141 and result.stderr == "", result.stderr


def test_a_broken_pipe_to_anything_but_stdout_is_still_reported(monkeypatch, capsys):
    """Only stdout's reader gone ends quietly; a broken pipe to a worker is a failure."""
    import neurodelay.commands.info

    def broken(args):
        raise BrokenPipeError(32, "Broken pipe (a worker)")

    monkeypatch.setattr(neurodelay.commands.info, "run", broken)
    assert main(["info", "x.ndnet"]) == 2
    assert "internal error: BrokenPipeError" in capsys.readouterr().err


def test_validate_accepts_examples():
    for name in ("feedforward.ndnet", "recurrent.ndnet"):
        result = neurodelay("validate", str(EXAMPLES / name))
        assert result.returncode == 0 and "valid" in result.stdout


def test_validate_broken_file_names_field_and_range_without_traceback(tmp_path):
    broken = tmp_path / "broken.ndnet"
    with zipfile.ZipFile(EXAMPLES / "feedforward.ndnet") as source, zipfile.ZipFile(broken, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "network.yaml":
                document = yaml.safe_load(data)
                document["network"]["projections"][0]["max_delay_steps"] = -3
                data = yaml.safe_dump(document).encode()
            target.writestr(name, data)
    result = neurodelay("validate", str(broken))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert str(broken) in result.stderr
    assert "network.projections[0].max_delay_steps" in result.stderr
    assert "integer in [0, 1000000]" in result.stderr


def test_missing_file_is_one_line_error():
    result = neurodelay("info", "/nonexistent/net.ndnet")
    assert result.returncode == 1 and "does not exist" in result.stderr and "Traceback" not in result.stderr


NET = str(EXAMPLES / "feedforward.ndnet")


@pytest.mark.parametrize(
    "argv, expect",
    [
        (["parity", NET, "--target", "loihi2", "--seed", "-1"], "--seed: -1 is out of range"),
        (["parity", "--target", "loihi2", "--random", "2", "--seed", str(2**63 - 1)], "--seed"),
        (["parity", "--campaign", "2", "--target", "loihi2", "--out", "{tmp}/c", "--seed", "-5"], "--seed"),
        (["gradcheck", "--random", "1", "--seed", "-3"], "--seed: -3 is out of range"),
        (["parity", NET, "--target", "loihi2", "--timeout", "0"], "--timeout: 0.0 is out of range"),
        (["parity", NET, "--target", "loihi2", "--timeout", "-3"], "--timeout"),
        (["parity", NET, "--target", "loihi2", "--timeout", "nan"], "--timeout: nan"),
        (["parity", NET, "--target", "loihi2", "--timeout", "inf"], "--timeout: inf"),
        (["parity", NET, "--target", "loihi2", "--workers", "0"], "--workers: 0 is out of range"),
        (["parity", "--campaign", "2", "--target", "loihi2", "--out", "{tmp}/c", "--workers", "-1"], "--workers"),
        (["parity", NET, "--target", "spinnaker", "--executor", "emulated-core", "--workers", "2"], "--workers"),
        (["parity", NET, "--target", "loihi2", "--rate", "1.5"], "--rate: 1.5"),
        (["parity", NET, "--target", "loihi2", "--steps", "0"], "--steps: 0"),
        (["demo", "--limit", "0", "--out", "{tmp}/d"], "--limit: 0 is out of range"),
        (["demo", "--parity-samples", "0", "--out", "{tmp}/d"], "--parity-samples: 0"),
        # output paths that cannot be written, refused before the run (an internal error after it before)
        (["parity", NET, "--target", "loihi2", "--json", "{tmp}"], "--json: {tmp} is a directory"),
        (["parity", NET, "--target", "loihi2", "--json", "{tmp}/in.npz/r.json"], "--json: {tmp}/in.npz/r.json"),
        (["parity", "--target", "loihi2", "--random", "1", "--plot", "{tmp}"], "--plot: {tmp} is a directory"),
        (["parity", "--campaign", "1", "--target", "loihi2", "--out", "{tmp}/in.npz"], "--out: {tmp}/in.npz is a file"),
        # counts that listed (or built) every network or seed first: a hang, then out of memory
        (["parity", "--target", "loihi2", "--random", str(10**20)], f"--random: {10**20} is out of range"),
        (["parity", "--target", "loihi2", "--random", "10001"], "--random: 10001 is out of range"),
        (
            ["parity", "--campaign", str(10**20), "--target", "loihi2", "--out", "{tmp}/c"],
            f"--campaign: {10**20} is out of range",
        ),
        (["gradcheck", "--random", str(10**20)], f"--random: {10**20} is out of range"),
        (  # each worker a process importing the tool chain: a fork bomb
            ["parity", "--campaign", "2", "--target", "loihi2", "--out", "{tmp}/c", "--workers", "100000"],
            "--workers: 100000 is out of range",
        ),
        (
            ["train", str(EXAMPLES / "sequence_detection.yaml"), "--out", "{tmp}/d", "--repeats", str(10**20)],
            f"--repeats: seeds 1..{10**20} pass 2**32 - 1",
        ),
        (["demo", "--out", "{tmp}/in.npz"], "--out: {tmp}/in.npz is a file"),
        (
            ["sweep", str(EXAMPLES / "sequence_detection.yaml"), "{tmp}/s.yaml", "--out", "{tmp}/in.npz"],
            "--out: {tmp}/in.npz is a file",
        ),
        (
            ["sweep", str(EXAMPLES / "sequence_detection.yaml"), "{tmp}/s.yaml", "--out", "{tmp}/in.npz/s"],
            "--out: {tmp}/in.npz/s: {tmp}/in.npz is a file, not a folder",
        ),
        (  # torch started 100000 threads: out of memory
            [
                "sweep",
                str(EXAMPLES / "sequence_detection.yaml"),
                "{tmp}/s.yaml",
                "--out",
                "{tmp}/d",
                "--threads-per-job",
                "100000",
            ],
            "--threads-per-job: got 100000",
        ),
        (["demo", "--out", "{tmp}/in.npz/d"], "--out: {tmp}/in.npz/d: {tmp}/in.npz is a file, not a folder"),
        (["plot", "{tmp}/in.npz", "--out", "{tmp}/in.npz"], "--out: {tmp}/in.npz is a file"),
        (["plot", "{tmp}/in.npz", "--out", "{tmp}/in.npz/p"], "--out: {tmp}/in.npz/p: {tmp}/in.npz is a file"),
        # given but without effect in the mode chosen
        (
            ["parity", NET, "--target", "loihi2", "--inputs", "{tmp}/in.npz", "--steps", "5"],
            "--steps: given with --inputs",
        ),
        (
            ["parity", NET, "--target", "loihi2", "--inputs", "{tmp}/in.npz", "--rate", "0.5"],
            "--rate: given with --inputs",
        ),
        (
            ["parity", NET, "--target", "loihi2", "--inputs", "{tmp}/in.npz", "--seed", "3"],
            "--seed: given with --inputs",
        ),
        (["parity", "--target", "loihi2", "--random", "1", "--batch", "4"], "--batch: given with --random"),
        (
            ["parity", "--target", "loihi2", "--random", "1", "--inputs", "{tmp}/in.npz"],
            "--inputs: given with --random",
        ),
        (
            ["parity", "--campaign", "2", "--target", "loihi2", "--out", "{tmp}/c", "--steps", "5"],
            "--steps: given with --campaign",
        ),
        (
            ["parity", "--campaign", "2", "--target", "loihi2", "--out", "{tmp}/c", "--json", "{tmp}/r.json"],
            "--json: given with --campaign",
        ),
        (["parity", NET, "--target", "loihi2", "--nets-per-run", "3"], "--nets-per-run: given without --campaign"),
        (["gradcheck", "--random", "1", "--force"], "--force: given without --json"),
        (
            ["quantize", NET, "--target", "loihi2", "--out", "{tmp}/q.ndnet", "--calibration", "{tmp}/in.npz"],
            "--calibration: given with --scale max-abs",
        ),
        (["export", NET, "--target", "nir", "--out", "{tmp}/n.nir", "--clip"], "--clip: given with --target nir"),
        (
            ["export", NET, "--target", "loihi2", "--out", "{tmp}/l2", "--fold-uniform-delays"],
            "--fold-uniform-delays: given with --target loihi2",
        ),
        (
            ["export", NET, "--target", "spinnaker", "--out", "{tmp}/sp", "--input-convention", "per-step"],
            "--input-convention: given with --target spinnaker",
        ),
    ],
)
def test_option_values_a_command_cannot_use_are_refused_in_one_line(argv, expect, tmp_path, capsys):
    """Negative seeds, timeouts <= 0 or not finite, counts < 1, and options the chosen mode would
    ignore end in exit 1 and one line naming the option, before any work starts."""
    np.savez(tmp_path / "in.npz", input=np.zeros((1, 10, 20), bool))
    code = main([part.replace("{tmp}", str(tmp_path)) for part in argv])
    message = capsys.readouterr().err.rstrip("\n")
    expect = expect.replace("{tmp}", str(tmp_path))
    assert code == 1 and "\n" not in message and expect in message, message
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()


def test_a_type_error_inside_an_executor_is_not_taken_for_a_refused_workers_option(monkeypatch, capsys):
    """Only the constructor's refusal of ``workers`` means "this executor runs no workers"; any other
    TypeError is a bug and is reported as one, not as a bad --workers option."""
    from neurodelay.targets import Target

    def broken(self, name=None, **options):
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'")

    monkeypatch.setattr(Target, "executor", broken)
    code = main(["parity", NET, "--target", "spinnaker", "--executor", "emulated-core", "--workers", "2"])
    error = capsys.readouterr().err
    assert code != 0 and "internal error: TypeError: unsupported operand" in error and "--workers:" not in error
