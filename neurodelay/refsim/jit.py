"""numba's ``njit`` for the refsim's compiled engines, with an on-disk cache where one can be written."""

from __future__ import annotations

from typing import Callable

from numba import njit


def compiled(function: Callable) -> Callable:
    """``function`` compiled by numba (nopython mode, GIL released). The machine code is cached on
    disk where numba finds a writable place (``__pycache__`` beside the module, else the user's cache
    directory), so later processes skip the seconds of compiling; where none is writable (a
    read-only install) each process compiles on its first call instead."""
    try:
        return njit(cache=True, nogil=True)(function)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return njit(nogil=True)(function)
