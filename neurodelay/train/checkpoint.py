"""Training checkpoints that hold only tensors and plain data, carry a checksum, and are never lost.

``RUN_DIR/checkpoint.pt`` is written after every epoch. Its layout:

    line 1   ``neurodelay-checkpoint\\n`` (magic)
    line 2   JSON header: ``{"format_version": 2, "sha256": <hex>, "payload_bytes": N, "completed_epochs": k}``
    rest     N bytes: ``torch.save`` of the state (tensors, numbers, strings, lists, tuples, dicts)

Reading checks the magic, the length (truncation) and the SHA-256 of the payload (any flipped
bit) before unpickling, and unpickles with ``torch.load(weights_only=True)``: a payload that
asks for any other object (``os.system`` in a crafted pickle) is refused, never run. The checksum
detects damage, not forgery; the restricted unpickler is what keeps a crafted file from running code.

Saving keeps the checkpoint being replaced as ``checkpoint.previous.pt`` (hard link, or copy)
before the new one is renamed over ``checkpoint.pt``: at every instant ``checkpoint.pt`` is a
complete checkpoint (old or new), so a process killed at any point of a save resumes from it bit
for bit, and if ``checkpoint.pt`` is damaged later the error says whether the previous one is intact.
Restoring a checkpoint and running on reproduces an uninterrupted run bit for bit on CPU (same
software, same thread count).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_path, write_with
from ..errors import NeurodelayError
from ..limits import format_bytes, memory_limit_bytes

CHECKPOINT_NAME = "checkpoint.pt"
PREVIOUS_NAME = "checkpoint.previous.pt"
FORMAT_VERSION = 2
MAGIC = b"neurodelay-checkpoint\n"
MAX_HEADER_BYTES = 4096
REQUIRED_FIELDS = {"config": dict, "completed_epochs": int, "model": dict, "random_states": dict, "records": list}
"""Top-level fields every checkpoint must hold, with their types (what the trainer restores)."""


class CheckpointDamaged(NeurodelayError):
    """A checkpoint file that is not a complete, intact, plain-data neurodelay checkpoint."""


def random_states() -> dict[str, Any]:
    """The states of Python's, numpy's and torch's global generators (CUDA's too, when present),
    as plain data and tensors (numpy's key as an int64 tensor)."""
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"] = {
        "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
        "pos": int(numpy_state["state"]["pos"]),
    }
    states = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["torch_cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict[str, Any]) -> None:
    numpy_state = dict(states["numpy"])
    numpy_state["state"] = {
        "key": numpy_state["state"]["key"].numpy().astype(np.uint32),
        "pos": numpy_state["state"]["pos"],
    }
    random.setstate(states["python"])
    np.random.set_state(numpy_state)
    torch.set_rng_state(states["torch"])
    if "torch_cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch_cuda"])


def plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and numpy arrays as tensors (what the
    restricted unpickler accepts); dicts, lists and tuples are converted recursively."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        converted = [plain(item) for item in value]
        return converted if isinstance(value, list) else tuple(converted)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, np.generic):
        return value.item()
    return value


def encode(state: dict[str, Any]) -> bytes:
    """The whole checkpoint file for ``state``: magic, header line, payload."""
    buffer = io.BytesIO()
    torch.save(plain(dict(state, format_version=FORMAT_VERSION)), buffer)
    payload = buffer.getvalue()
    header = {
        "format_version": FORMAT_VERSION,
        "sha256": hashlib.sha256(payload).hexdigest(),
        "payload_bytes": len(payload),
        "completed_epochs": int(state.get("completed_epochs", 0)),
    }
    return MAGIC + json.dumps(header).encode("ascii") + b"\n" + payload


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` (atomically), keeping an intact ``path`` as the previous checkpoint."""
    path = Path(path)
    data = encode(state)
    keep_previous(path)
    return write_with(path, lambda stream: stream.write(data))


def keep_previous(path: Path) -> None:
    """Make ``PREVIOUS_NAME`` beside ``path`` the checkpoint now at ``path``, if that one is intact;
    atomically (a hard link, or a copy where links are not supported, renamed into place)."""
    if not path.is_file():
        return
    try:
        read_verified(path)
    except CheckpointDamaged:
        return
    previous = path.with_name(PREVIOUS_NAME)
    with atomic_path(previous) as temporary:
        temporary.unlink()
        try:
            os.link(path, temporary)
        except OSError:
            shutil.copyfile(path, temporary)


def read_verified(path: Path) -> dict[str, Any]:
    """The state in the checkpoint at ``path``; :class:`CheckpointDamaged` (one line, without the
    file name) if it is not a complete, intact, plain-data checkpoint."""
    try:
        size = path.stat().st_size
        if 3 * size > memory_limit_bytes():
            raise CheckpointDamaged(
                f"is {format_bytes(size)}, loading it would need about "
                f"{format_bytes(3 * size)} (limit {format_bytes(memory_limit_bytes())})"
            )
        with open(path, "rb") as stream:
            magic = stream.read(len(MAGIC))
            header_line = stream.readline(MAX_HEADER_BYTES)
            payload = stream.read()
    except OSError as error:
        raise CheckpointDamaged(f"cannot be read ({error.strerror})") from None
    if magic != MAGIC:
        if magic.startswith(b"PK"):
            raise CheckpointDamaged(
                "is an old-style pickled checkpoint (format 1), which is not loaded because "
                "unpickling it could run code; start the run again without --resume"
            )
        raise CheckpointDamaged("is not a neurodelay checkpoint (no 'neurodelay-checkpoint' first line)")
    header = parse_header(header_line)
    if len(payload) != header["payload_bytes"]:
        raise CheckpointDamaged(
            f"is truncated or padded: {len(payload)} payload bytes, the header says {header['payload_bytes']}"
        )
    if hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise CheckpointDamaged("is damaged: the SHA-256 of its contents does not match the one written with it")
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        reason = " ".join(str(error).split())[:160]
        raise CheckpointDamaged(f"holds something other than tensors and plain data, refused ({reason})") from None
    except Exception as error:  # torch raises many types on payloads it cannot decode; all mean "damaged"
        raise CheckpointDamaged(f"has an unreadable payload ({type(error).__name__})") from None
    check_fields(state)
    if state["completed_epochs"] != header.get("completed_epochs"):
        raise CheckpointDamaged(
            f"has a damaged header line (completed_epochs {header.get('completed_epochs')!r}, "
            f"the contents say {state['completed_epochs']})"
        )
    return state


def parse_header(line: bytes) -> dict[str, Any]:
    try:
        header = json.loads(line.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise CheckpointDamaged("has a damaged header line") from None
    if not isinstance(header, dict):
        raise CheckpointDamaged("has a damaged header line")
    if header.get("format_version") != FORMAT_VERSION:
        raise CheckpointDamaged(f"has format {header.get('format_version')!r} (this version reads {FORMAT_VERSION})")
    size, digest = header.get("payload_bytes"), header.get("sha256")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or not isinstance(digest, str):
        raise CheckpointDamaged("has a damaged header line (payload_bytes, sha256)")
    return header


def check_fields(state: Any) -> None:
    if not isinstance(state, dict):
        raise CheckpointDamaged(f"holds a {type(state).__name__}, not a checkpoint mapping")
    for name, kind in REQUIRED_FIELDS.items():
        if not isinstance(state.get(name), kind) or isinstance(state.get(name), bool):
            raise CheckpointDamaged(f"field {name!r} is missing or not a {kind.__name__}")


def describe_previous(path: Path) -> str:
    """Whether the previous checkpoint kept beside ``path`` is intact, in words (for error messages)."""
    previous = path.with_name(PREVIOUS_NAME)
    if not previous.exists():
        return "no previous checkpoint is kept"
    try:
        state = read_verified(previous)
    except CheckpointDamaged as damage:
        return f"the previous checkpoint {previous} {damage} as well"
    return (
        f"the previous checkpoint {previous} (after epoch {state['completed_epochs']}) is intact: "
        f"copy it to {path} to resume from there"
    )


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read and verify a checkpoint written by :func:`save_checkpoint`; a missing or damaged file
    gives a one-line :class:`NeurodelayError` naming it and saying whether the previous one is intact."""
    path = Path(path)
    if not path.is_file():
        kept = "" if not path.with_name(PREVIOUS_NAME).exists() else f"; {describe_previous(path)}"
        raise NeurodelayError(f"{path}: no checkpoint to resume from (run without --resume to start){kept}")
    try:
        return read_verified(path)
    except CheckpointDamaged as damage:
        raise CheckpointDamaged(f"{path} {damage}; {describe_previous(path)}") from None
