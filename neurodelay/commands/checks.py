"""Checks of command-line values that argparse accepts by type but a command cannot use.

Each raises a one-line :class:`ValidationError` naming the option, the value and the allowed
range, so that a negative seed or a zero timeout never reaches numpy, torch or an executor, and an
option that a mode would ignore is refused instead of being dropped silently.
"""

from __future__ import annotations

import argparse
import math

from ..errors import ValidationError

MAX_SEED = 2**63 - 1
"""Largest seed: numpy's and torch's generators both take 0 .. 2**63 - 1."""


def check_seed(seed: int, option: str = "--seed", count: int = 1) -> None:
    """``seed`` and the ``count - 1`` seeds after it (one per network) within ``0 .. MAX_SEED``."""
    if not 0 <= seed <= MAX_SEED - (count - 1):
        raise ValidationError(option, f"{seed} is out of range", f"an integer in [0, {MAX_SEED - (count - 1)}]")


def check_at_least(value: int | None, option: str, minimum: int = 1) -> None:
    """An integer option (None: not given) of at least ``minimum``."""
    if value is not None and value < minimum:
        raise ValidationError(option, f"{value} is out of range", f"an integer >= {minimum}")


def check_count(value: int | None, option: str, maximum: int, why: str) -> None:
    """A count option (None: not given) in ``1 .. maximum``; ``why`` says what bounds it."""
    if value is not None and not 1 <= value <= maximum:
        raise ValidationError(option, f"{value} is out of range", f"an integer in [1, {maximum}] ({why})")


def check_timeout(seconds: float | None, option: str = "--timeout") -> None:
    """A timeout in seconds (None: not given): finite and > 0."""
    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        raise ValidationError(option, f"{seconds} is out of range", "a finite number of seconds > 0")


def refuse_given(args: argparse.Namespace, options: dict[str, str], why: str, allowed: str) -> None:
    """Refuse each of ``options`` (``{flag: dest}``, default None or False) that was given: ``why``
    says in which mode it would have no effect, ``allowed`` what to do instead."""
    for flag, dest in options.items():
        if getattr(args, dest) not in (None, False):
            raise ValidationError(flag, f"given {why}, where it has no effect", allowed)
