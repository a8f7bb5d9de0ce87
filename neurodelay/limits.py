"""Resource limits applied to everything neurodelay reads: memory estimated before allocating.

A file can declare sizes (neurons, steps, trials, array shapes) that would need far more memory
than the machine has. Readers estimate the bytes a request needs from the declared sizes and call
:func:`check_memory` before allocating anything; the error states the estimate and the limit.

The limit is ``NEURODELAY_MEMORY_LIMIT_GB`` (gigabytes, 10^9 bytes) when set, else
:data:`DEFAULT_MEMORY_FRACTION` of the machine's physical memory.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import NeurodelayError, ValidationError

MEMORY_LIMIT_VARIABLE = "NEURODELAY_MEMORY_LIMIT_GB"
DEFAULT_MEMORY_FRACTION = 0.8
"""Default ceiling for what a file's declared sizes may ask for, as a fraction of physical memory."""


def memory_limit_bytes() -> int:
    """The memory ceiling in bytes (from :data:`MEMORY_LIMIT_VARIABLE` if set)."""
    text = os.environ.get(MEMORY_LIMIT_VARIABLE)
    if text is None:
        return int(DEFAULT_MEMORY_FRACTION * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value < 1e9:
        raise NeurodelayError(
            f"environment variable {MEMORY_LIMIT_VARIABLE}={text!r}: expected a positive number of gigabytes"
        )
    return int(value * 1e9)


def format_bytes(count: float) -> str:
    """``count`` bytes in the largest decimal unit that keeps the number >= 1 (e.g. ``93.0 GB``)."""
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{int(count)} bytes"


def check_memory(field: str, estimate_bytes: float, what: str, *, file: str | Path | None = None) -> None:
    """Raise :class:`ValidationError` on ``field`` if ``estimate_bytes`` exceeds the limit.

    what: what needs the memory, in words (e.g. ``"the training inputs [500000, 5000, 700]"``).
    """
    limit = memory_limit_bytes()
    if estimate_bytes > limit:
        raise ValidationError(
            field,
            f"{what} would need about {format_bytes(estimate_bytes)}",
            f"at most {format_bytes(limit)}; set {MEMORY_LIMIT_VARIABLE} to raise the limit",
            file=file,
        )
