"""Learning rates as pure functions of the position in training, so a resumed run needs no
scheduler state: the weight rate's ease-in and the per-epoch decay of both rates."""
from __future__ import annotations

import math

from .config import OptimiserSpec


def learning_rates(spec: OptimiserSpec, epoch: int, global_batch: int) -> tuple[float, float]:
    """``(weight_lr, delay_lr)`` for batch ``global_batch`` (counted from 0 over the whole run)
    of ``epoch`` (from 0).

    Both rates are multiplied by ``lr_decay_per_epoch ** epoch``. With an ease-in, the weight rate
    is further multiplied by ``min(1, start_factor * growth ** (k (k + 1) / 2))`` at global batch
    ``k``: the compounding rule ``lr <- lr * growth ** k`` of the paper's code.
    """
    decay = spec.lr_decay_per_epoch ** epoch
    weight_lr, delay_lr = spec.weight_lr * decay, spec.delay_lr * decay
    ease_in = spec.weight_lr_ease_in
    if ease_in is not None:
        exponent = global_batch * (global_batch + 1) / 2
        # compare in log space: growth ** exponent overflows long after the factor has reached 1
        log_factor = math.log(ease_in.start_factor) + exponent * math.log(ease_in.growth_per_batch)
        weight_lr *= 1.0 if log_factor >= 0 else math.exp(log_factor)
    return weight_lr, delay_lr
