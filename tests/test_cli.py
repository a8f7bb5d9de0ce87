"""The neurodelay command as a user runs it (a subprocess of the installed console script)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

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
