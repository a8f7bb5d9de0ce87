"""Learning rates as pure functions of the position in training, so a resumed run needs no
scheduler state: the weight rate's ease-in and the per-epoch schedule of each rate."""

from __future__ import annotations

import math

from ..errors import ValidationError
from .config import LrScheduleSpec, OptimiserSpec


def epoch_factor(schedule: LrScheduleSpec | None, fallback_decay: float, epoch: int, epochs: int | None) -> float:
    """The factor one rate gets in ``epoch`` (from 0) of ``epochs``: its own ``schedule``, or
    ``fallback_decay ** epoch`` without one (see :class:`LrScheduleSpec`)."""
    if schedule is None:
        return fallback_decay**epoch
    if schedule.kind == "constant":
        return 1.0
    if schedule.kind == "exponential":
        return schedule.decay_per_epoch**epoch
    if epochs is None:
        raise ValidationError("optimiser schedule", "a cosine schedule needs the run's epochs", "epochs >= 1")
    progress = 1.0 if epochs <= 1 else min(1.0, epoch / (epochs - 1))
    return schedule.final_factor + (1.0 - schedule.final_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def learning_rates(
    spec: OptimiserSpec, epoch: int, global_batch: int, epochs: int | None = None
) -> tuple[float, float]:
    """``(weight_lr, delay_lr)`` for batch ``global_batch`` (counted from 0 over the whole run)
    of ``epoch`` (from 0) of a run of ``epochs`` (needed by cosine schedules only).

    Each rate is multiplied by its own schedule's factor (``weight_schedule``, ``delay_schedule``),
    or by ``lr_decay_per_epoch ** epoch`` when it has none. With an ease-in, the weight rate is
    further multiplied by ``min(1, start_factor * growth ** (k (k + 1) / 2))`` at global batch
    ``k``: the compounding rule ``lr <- lr * growth ** k`` of the paper's code.
    """
    weight_lr = spec.weight_lr * epoch_factor(spec.weight_schedule, spec.lr_decay_per_epoch, epoch, epochs)
    delay_lr = spec.delay_lr * epoch_factor(spec.delay_schedule, spec.lr_decay_per_epoch, epoch, epochs)
    ease_in = spec.weight_lr_ease_in
    if ease_in is not None:
        exponent = global_batch * (global_batch + 1) / 2
        # compare in log space: growth ** exponent overflows long after the factor has reached 1
        log_factor = math.log(ease_in.start_factor) + exponent * math.log(ease_in.growth_per_batch)
        weight_lr *= 1.0 if log_factor >= 0 else math.exp(log_factor)
    return weight_lr, delay_lr
