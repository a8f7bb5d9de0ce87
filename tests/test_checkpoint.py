"""Checkpoints: plain data only (a crafted pickle is refused, never run), damage detected with a
one-line error that names the file and the state of the previous checkpoint, and a SIGKILL at any
point of a save resumes bit-identically."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from neurodelay import ir
from neurodelay.cli import main
from neurodelay.train.checkpoint import (
    MAGIC,
    PREVIOUS_NAME,
    CheckpointDamaged,
    load_checkpoint,
    plain,
    random_states,
    save_checkpoint,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example_state(epoch: int) -> dict:
    model = torch.nn.Linear(4, 3)
    optimiser = torch.optim.Adam(model.parameters())
    model(torch.ones(4)).sum().backward()
    optimiser.step()
    return {
        "config": {"name": "x", "epochs": 5},
        "limit": None,
        "world_size": 1,
        "completed_epochs": epoch,
        "model": model.state_dict(),
        "weight_optimiser": optimiser.state_dict(),
        "delay_optimiser": None,
        "sampler": {"bit_generator": np.random.default_rng(epoch).bit_generator.state},
        "random_states": random_states(),
        "records": [{"epoch": epoch, "loss": np.float64(0.25)}],
    }


class Payload:
    """Unpickling this calls os.system: what an attacker puts into a shared run folder."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def container(payload: bytes, **header) -> bytes:
    """A checkpoint file around ``payload`` with a correct checksum (anyone can compute one)."""
    fields = {
        "format_version": 2,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload_bytes": len(payload),
        "completed_epochs": 1,
    }
    fields.update(header)
    return MAGIC + json.dumps(fields).encode() + b"\n" + payload


def torch_bytes(value) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def test_round_trip_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, example_state(1))
    assert not (tmp_path / PREVIOUS_NAME).exists()
    saved = example_state(2)
    save_checkpoint(path, saved)
    state = load_checkpoint(path)
    assert state["completed_epochs"] == 2 and state["records"][0]["loss"] == 0.25
    assert state["sampler"] == saved["sampler"]
    assert load_checkpoint(tmp_path / PREVIOUS_NAME)["completed_epochs"] == 1
    assert state["model"].keys() == saved["model"].keys()
    for key, tensor in saved["model"].items():
        assert torch.equal(state["model"][key], tensor)


@pytest.mark.parametrize("wrapped", [True, False], ids=["crafted_container", "old_style_pickle"])
def test_a_pickle_that_runs_a_command_is_refused_and_never_run(tmp_path, wrapped):
    marker = tmp_path / "attacker_was_here"
    payload = torch_bytes({"config": Payload(marker)})
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(container(payload) if wrapped else payload)
    with pytest.raises(CheckpointDamaged) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    assert ("refused" in message) if wrapped else ("could run code" in message)
    assert not marker.exists()


def test_train_resume_on_a_malicious_checkpoint_exits_1_without_running_it(tmp_path, capsys):
    marker = tmp_path / "attacker_was_here"
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(container(torch_bytes({"config": Payload(marker)})))
    code = main(["train", str(EXAMPLES / "sequence_detection.yaml"), "--out", str(run), "--resume", "--no-progress"])
    error = capsys.readouterr().err.strip()
    assert code == 1 and not marker.exists()
    assert error.count("\n") == 0 and "checkpoint.pt" in error and "refused" in error


def damaged_versions(data: bytes) -> dict[str, bytes]:
    """Truncations, bit flips (header and payload, low and high bits), padding, garbage and empties."""
    header_end = data.index(b"\n", len(MAGIC)) + 1
    versions = {
        "empty": b"",
        "magic_only": MAGIC,
        "garbage": os.urandom(500),
        "truncated_header": data[: header_end - 5],
        "header_only": data[:header_end],
        "padded": data + b"\0",
        "no_newline_header": MAGIC + b"x" * 5000,
    }
    for fraction in (0.1, 0.5, 0.9, 0.999):
        versions[f"truncated_{fraction}"] = data[: int(len(data) * fraction)]
    rng = np.random.default_rng(14)
    for index, position in enumerate(rng.integers(header_end, len(data), 12)):
        for bit in (0, 7):
            flipped = bytearray(data)
            flipped[position] ^= 1 << bit
            versions[f"payload_flip_{index}_bit{bit}"] = bytes(flipped)
    for position in (0, len(MAGIC) + 3, header_end - 3):
        flipped = bytearray(data)
        flipped[position] ^= 1
        versions[f"header_flip_{position}"] = bytes(flipped)
    return versions


def test_every_damaged_checkpoint_is_a_one_line_error_naming_the_intact_previous(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, example_state(1))
    save_checkpoint(path, example_state(2))
    good = path.read_bytes()
    for name, data in damaged_versions(good).items():
        path.write_bytes(data)
        with pytest.raises(CheckpointDamaged) as caught:
            load_checkpoint(path)
        message = str(caught.value)
        assert message.startswith(str(path)) and "\n" not in message, name
        assert f"{tmp_path / PREVIOUS_NAME} (after epoch 1) is intact" in message, name


def test_damage_with_no_intact_previous_says_so(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, example_state(1))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointDamaged, match="truncated.*no previous checkpoint is kept"):
        load_checkpoint(path)
    (tmp_path / PREVIOUS_NAME).write_bytes(b"junk")
    with pytest.raises(
        CheckpointDamaged, match=f"previous checkpoint {tmp_path / PREVIOUS_NAME} is not a neurodelay checkpoint"
    ):
        load_checkpoint(path)


@pytest.mark.parametrize("missing", ["config", "model", "random_states"])
def test_an_intact_file_without_a_required_field_is_refused(tmp_path, missing):
    state = example_state(1)
    del state[missing]
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(container(torch_bytes(plain(state))))
    with pytest.raises(CheckpointDamaged, match=f"field '{missing}' is missing"):
        load_checkpoint(path)


def test_a_damaged_checkpoint_is_not_kept_as_the_previous_one(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, example_state(1))
    save_checkpoint(path, example_state(2))
    path.write_bytes(path.read_bytes()[:-1])
    save_checkpoint(path, example_state(3))
    assert load_checkpoint(tmp_path / PREVIOUS_NAME)["completed_epochs"] == 1
    assert load_checkpoint(path)["completed_epochs"] == 3


KILL_POINTS = ["after_keeping_previous", "mid_write", "before_rename", "after_rename"]
KILLER = """
import os, signal, sys
from neurodelay.train import checkpoint

point, command = sys.argv[1], sys.argv[2:]
saves = [0]
real_write_with, real_keep_previous = checkpoint.write_with, checkpoint.keep_previous

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def keep_previous(path):
    saves[0] += 1
    real_keep_previous(path)
    if saves[0] == 2 and point == "after_keeping_previous":
        die()

def write_with(path, write, **options):
    def killing_write(stream):
        if saves[0] == 2 and point == "mid_write":
            buffer = []
            write(type("Collect", (), {"write": lambda self, data: buffer.append(data)})())
            stream.write(buffer[0][: len(buffer[0]) // 2]); stream.flush(); os.fsync(stream.fileno())
            die()
        write(stream)
        if saves[0] == 2 and point == "before_rename":
            stream.flush(); os.fsync(stream.fileno())
            die()
    result = real_write_with(path, killing_write, **options)
    if saves[0] == 2 and point == "after_rename":
        die()
    return result

checkpoint.keep_previous, checkpoint.write_with = keep_previous, write_with
if command[0] == "train":
    from neurodelay.cli import main
    sys.exit(main(command))
import torch
for epoch in (1, 2, 3):
    checkpoint.save_checkpoint(command[0], {"config": {}, "completed_epochs": epoch, "random_states": {},
                                            "records": [], "model": {"w": torch.full((500, 500), float(epoch))}})
"""
"""A child process that SIGKILLs itself inside the second checkpoint save, at the point named by
its first argument, while running either ``neurodelay train ...`` or three plain saves to a path."""


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_inside_a_save_leaves_a_complete_checkpoint(tmp_path, point):
    """Killed at ``point`` of the second save, checkpoint.pt is still complete and verified: the
    first state before the rename, the second after it, each bit for bit."""
    path = tmp_path / "checkpoint.pt"
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, point, str(path)], capture_output=True, text=True, timeout=300
    )
    assert killed.returncode == -9, killed.stderr
    epoch = 2 if point == "after_rename" else 1
    state = load_checkpoint(path)
    assert state["completed_epochs"] == epoch
    assert torch.equal(state["model"]["w"], torch.full((500, 500), float(epoch)))
    assert load_checkpoint(tmp_path / PREVIOUS_NAME)["completed_epochs"] == 1


@pytest.fixture(scope="module")
def short_config(tmp_path_factory) -> Path:
    """The sequence-detection example cut to 3 epochs (delays change every epoch)."""
    document = yaml.safe_load((EXAMPLES / "sequence_detection.yaml").read_text())
    document["epochs"] = 3
    path = tmp_path_factory.mktemp("config") / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture(scope="module")
def uninterrupted(short_config, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "run"
    done = subprocess.run(
        [sys.executable, "-m", "neurodelay", "train", str(short_config), "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.slow
@pytest.mark.parametrize("point", ["mid_write", "after_rename"])
def test_training_killed_inside_a_save_resumes_bit_identically(tmp_path, short_config, uninterrupted, point):
    """``neurodelay train`` killed (SIGKILL) inside the save after epoch 2, before or after the new
    checkpoint lands; ``--resume`` then finishes with the same network and metrics as the
    uninterrupted run."""
    out = tmp_path / "run"
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, point, "train", str(short_config), "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, killed.stderr
    assert load_checkpoint(out / "checkpoint.pt")["completed_epochs"] == (2 if point == "after_rename" else 1)
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "neurodelay",
            "train",
            str(short_config),
            "--out",
            str(out),
            "--resume",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    whole, again = (dict(ir.load(run / "network.ndnet").iter_arrays()) for run in (uninterrupted, out))
    assert whole.keys() == again.keys()
    for key in whole:
        assert whole[key].dtype == again[key].dtype and np.array_equal(whole[key], again[key]), key
    strip = lambda records: [{k: v for k, v in r.items() if k != "seconds"} for r in records]  # noqa: E731
    assert strip(json.loads((out / "metrics.json").read_text())) == strip(
        json.loads((uninterrupted / "metrics.json").read_text())
    )
