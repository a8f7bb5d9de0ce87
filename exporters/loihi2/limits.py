"""Loihi 2's limits checked on an integer :class:`~neurodelay.quant.loihi2.Loihi2Model` before Lava sees it.

Lava hangs instead of raising on some invalid parameters (a delay above 63 raises inside a worker
process) and silently casts or wraps others (du = 4096 wraps in uint16), so every value is checked
here and a violation raises :class:`~neurodelay.errors.TargetLimitError` naming the process and
the value. Weights outside the sign mode's grid are clipped to what Lava delivers only when asked
(``clip=True``), and every clipped weight is reported.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...errors import TargetLimitError
from ...quant.loihi2 import FORMAT, SIGN_MODES, Loihi2Model, Loihi2Synapses, effective_weights


def _within(value: int | np.ndarray, bounds: tuple[int, int], where: str, name: str) -> None:
    values = np.asarray(value)
    bad = (values < bounds[0]) | (values > bounds[1])
    if np.any(bad):
        worst = values[bad].flat[0]
        raise TargetLimitError(
            f"{where}.{name}: {worst} is outside Loihi 2's range (allowed: {bounds[0]}..{bounds[1]})"
        )


def check_neurons(model: Loihi2Model) -> None:
    for neurons in model.neurons:
        where = f"population {neurons.name!r}"
        _within(neurons.du, FORMAT.decay_range, where, "du")
        _within(neurons.dv, FORMAT.decay_range, where, "dv")
        _within(neurons.vth, FORMAT.vth_range, where, "vth")
        _within(neurons.bias_mant, FORMAT.bias_mant_range, where, "bias_mant")
        _within(neurons.bias_exp, FORMAT.bias_exp_range, where, "bias_exp")


def check_synapses(synapses: Loihi2Synapses, clip: bool) -> tuple[Loihi2Synapses, list[str]]:
    """The synapses (weights clipped when ``clip``) and the lines reporting what was clipped."""
    where = f"projection {synapses.name!r}"
    if synapses.sign_mode not in SIGN_MODES:
        raise TargetLimitError(f"{where}.sign_mode: {synapses.sign_mode!r} (allowed: {', '.join(SIGN_MODES)})")
    if not 1 <= synapses.num_weight_bits <= FORMAT.weight_magnitude_bits:
        raise TargetLimitError(f"{where}.num_weight_bits: {synapses.num_weight_bits} (allowed: 1..8)")
    _within(synapses.weight_exp, FORMAT.weight_exp_range, where, "weight_exp")
    _within(synapses.delays_steps, FORMAT.delay_range, where, "delays_steps")
    delivered = effective_weights(synapses.weights, synapses.sign_mode, synapses.num_weight_bits)
    changed = delivered != synapses.weights
    if not np.any(changed):
        return synapses, []
    pre, post = (int(i) for i in np.argwhere(changed)[0])
    low, high = FORMAT.weight_limits(synapses.sign_mode)
    if not clip:
        raise TargetLimitError(
            f"{where}.weights[{pre}, {post}]: {synapses.weights[pre, post]} is not representable with "
            f"sign mode {synapses.sign_mode} and {synapses.num_weight_bits} weight bits (allowed: {low}..{high}"
            f"{', even values' if synapses.sign_mode == 'mixed' else ''}; Lava would deliver "
            f"{delivered[pre, post]}); re-quantize or export with --clip"
        )
    error = np.abs(delivered - synapses.weights)[changed]
    return replace(synapses, weights=delivered), [
        f"{where}.weights: clipped {int(changed.sum())}/{changed.size} to the {synapses.sign_mode} grid "
        f"(max |change| {int(error.max())} LSB)"
    ]


def check_activation(model: Loihi2Model) -> list[str]:
    """TargetLimitError if the worst-case per-step input can overflow Lava's int32 ``a_in << 6``;
    a warning line if it can push u beyond 24 bits (u then wraps, as on the chip)."""
    worst: dict[str, np.ndarray] = {n.name: np.zeros(n.size, np.int64) for n in model.neurons}
    for synapses in model.synapses:
        magnitude = np.abs(synapses.weights).sum(axis=0)
        worst[synapses.post] = worst[synapses.post] + (
            magnitude << synapses.weight_exp if synapses.weight_exp >= 0 else magnitude >> -synapses.weight_exp
        )
    warnings = []
    for name, bound in worst.items():
        peak = int(bound.max(initial=0))
        if peak > FORMAT.max_abs_activation:
            raise TargetLimitError(
                f"population {name!r}: worst-case synaptic input {peak} per step overflows "
                f"Lava's int32 activation (allowed: at most {FORMAT.max_abs_activation})"
            )
        if peak << FORMAT.activation_shift >= FORMAT.state_limit:
            warnings.append(
                f"population {name!r}: worst-case input {peak << FORMAT.activation_shift} u-LSB "
                f"per step can exceed the 24-bit current (u wraps on overflow)"
            )
    return warnings


def check_model(model: Loihi2Model, *, clip: bool = False) -> tuple[Loihi2Model, list[str]]:
    """``model`` checked against Loihi 2's limits (clipped weights when ``clip``) and the report lines."""
    check_neurons(model)
    lines: list[str] = []
    synapses = []
    for connection in model.synapses:
        checked, clipped = check_synapses(connection, clip)
        synapses.append(checked)
        lines += clipped
    model = replace(model, synapses=tuple(synapses))
    return model, lines + check_activation(model)
