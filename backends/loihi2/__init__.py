"""Lava backend for Loihi 2: ``executor(**options) -> LavaExecutor`` (see :mod:`.executor`).

``py311_patch`` makes lava-nc 0.10.0 importable on Python 3.11 (applied by the project's set-up).
"""

from __future__ import annotations

from .executor import LavaExecutor

__all__ = ["executor", "LavaExecutor"]


def executor(**options) -> LavaExecutor:
    """A Lava executor; options: timeout_s, clip, hardware, workers (see LavaExecutor)."""
    return LavaExecutor(**options)
