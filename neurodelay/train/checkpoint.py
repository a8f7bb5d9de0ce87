"""Atomic training checkpoints: model, both optimisers, progress and every random-number state.

``RUN_DIR/checkpoint.pt`` is written after every epoch through a temporary file in the same
folder and ``os.replace``, so a process killed at any moment leaves either the previous complete
checkpoint or the new one. Restoring it and running on reproduces an uninterrupted run bit for
bit on CPU (same software, same thread count).
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import NeurodelayError
from ..atomic import write_with

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT_VERSION = 1


def random_states() -> dict[str, Any]:
    """The states of Python's, numpy's and torch's global generators (CUDA's too, when present)."""
    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["torch_cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict[str, Any]) -> None:
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "torch_cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch_cuda"])


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus the format version) to ``path`` atomically."""
    return write_with(path, lambda stream: torch.save(dict(state, format_version=FORMAT_VERSION), stream))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (our own file: full unpickling)."""
    path = Path(path)
    if not path.is_file():
        raise NeurodelayError(f"{path}: no checkpoint to resume from (run without --resume to start)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("format_version") != FORMAT_VERSION:
        raise NeurodelayError(f"{path}: checkpoint format {state.get('format_version')!r} "
                              f"(this version reads {FORMAT_VERSION})")
    return state
