"""The chip's fixed-point arithmetic: s16.15 encoding, ``kdivk``, the table exponential and the
constants the core derives at load time (docs/spinnaker.md §S1)."""

from __future__ import annotations

from decimal import Decimal, getcontext
from typing import Any

import numpy as np

from ...errors import TargetLimitError
from .formats import (
    EXP_SATURATION_HIGH_BITS,
    EXP_ZERO_BELOW_BITS,
    S1615_FRACTION_BITS,
    S1615_MAX_BITS,
    S1615_MIN_BITS,
    S1615_ONE,
    U032_ONE_BITS,
)


def encode_s1615(values: Any, field: str) -> np.ndarray:
    """s16.15 bits (int64 array) of ``values`` as the sPyNNaker host writes them: round half to even.

    Raises :class:`TargetLimitError` naming ``field`` when a value is outside the s16.15 range
    [-65536, 65535.99997].
    """
    scaled = np.asarray(values, np.float64) * S1615_ONE
    bits = np.round(scaled)
    if np.any(~np.isfinite(bits)) or np.any(bits < S1615_MIN_BITS) or np.any(bits > S1615_MAX_BITS):
        raise TargetLimitError(
            f"{field}: value(s) out of the SpiNNaker s16.15 range "
            f"(min {np.min(scaled) / S1615_ONE}, max {np.max(scaled) / S1615_ONE}); "
            "allowed: [-65536, 65535.99997]; lower voltage_scale_mv"
        )
    return bits.astype(np.int64)


def decode_s1615(bits: Any) -> np.ndarray:
    """Float value (float64) of s16.15 ``bits``."""
    return np.asarray(bits, np.float64) / S1615_ONE


def kdivk(numerator_bits: int, denominator_bits: int) -> int:
    """The chip's ``kdivk``: s16.15 division ``(a << 15) / b`` as an unsigned, truncating division."""
    if numerator_bits < 0 or denominator_bits <= 0:
        raise ValueError("kdivk is only used with a >= 0 and b > 0")
    return (numerator_bits << S1615_FRACTION_BITS) // denominator_bits


def _exp_tables() -> tuple[list[int], list[int]]:
    """``e^(k-13)`` for k in 0..25 and ``1 - e^(-i/16)`` for i in 0..15, both rounded to u32.32 / u0.32.

    Computed here at 60 significant digits; tests compare them with the entries published in the
    SpiNNaker C library (``stdfix-exp.c``).
    """
    getcontext().prec = 60
    e = Decimal(1).exp()
    integer_powers = [int((e ** (k - 13) * U032_ONE_BITS).to_integral_value()) for k in range(26)]
    sixteenths = [int(((1 - (-Decimal(i) / 16).exp()) * U032_ONE_BITS).to_integral_value()) for i in range(16)]
    return integer_powers, sixteenths


EXP_INTEGER_POWERS_U3232, EXPM1_SIXTEENTHS_U032 = _exp_tables()
EXP_SERIES_U032 = (5294, 4293434720, 2081624032)
"""Fitted quadratic ``c0 + y (c1 - c2 y)`` for ``1 - e^-y``, y in [0, 2^-4), from ``stdfix-exp.c``."""


def _mul_hi32(a: int, b: int) -> int:
    return ((a * b) >> 32) & 0xFFFFFFFF


def _scale_u3232(x: int, factor_u032: int) -> int:
    """u32.32 ``x`` times u0.32 ``factor``: exact high part plus the rounded product of the low part."""
    return (x >> 32) * factor_u032 + (((x & 0xFFFFFFFF) * factor_u032 + (1 << 31)) >> 32)


def _one_minus_exp_series(y_u032: int) -> int:
    c0, c1, c2 = EXP_SERIES_U032
    inner = (c1 - _mul_hi32(c2, y_u032)) & 0xFFFFFFFF
    return (_mul_hi32(inner, y_u032) + c0) & 0xFFFFFFFF


def exp_u3232(argument_bits: int) -> int:
    """The chip's table exponential: ``e^(argument_bits / 2^15)`` as a u32.32 integer.

    The argument is split into a whole part (table of e^k) and a fraction counted down from the
    next whole number: its top 4 bits index the table of ``1 - e^(-i/16)``, its low 11 bits go
    through the fitted quadratic; each correction multiplies the running value by ``1 - factor``.
    """
    whole = argument_bits >> S1615_FRACTION_BITS
    fraction = argument_bits - (whole << S1615_FRACTION_BITS)
    if fraction == 0:
        return EXP_INTEGER_POWERS_U3232[13 + whole]
    whole += 1
    remaining = S1615_ONE - fraction
    value = EXP_INTEGER_POWERS_U3232[13 + whole]
    value -= _scale_u3232(value, EXPM1_SIXTEENTHS_U032[remaining >> 11])
    value -= _scale_u3232(value, _one_minus_exp_series((remaining & 0x7FF) << 17))
    return value


def expk_bits(argument_bits: int) -> int:
    """The chip's ``expk``: s16.15 bits of e^x, truncated; saturating as on the chip."""
    if argument_bits > EXP_SATURATION_HIGH_BITS:
        return S1615_MAX_BITS
    if argument_bits < EXP_ZERO_BELOW_BITS:
        return 0
    return exp_u3232(argument_bits) >> 17


def expulr_bits(argument_bits: int) -> int:
    """The chip's ``expulr``: u0.32 bits of e^x for x <= 0 (the low 32 bits of the u32.32 value)."""
    if argument_bits > EXP_SATURATION_HIGH_BITS:
        return S1615_MAX_BITS
    if argument_bits < EXP_ZERO_BELOW_BITS:
        return 0
    return exp_u3232(argument_bits) & 0xFFFFFFFF


def synaptic_decay_and_init(tau_syn_bits: int, timestep_bits: int) -> tuple[int, int]:
    """u0.32 ``(decay, init)`` of an exponential synapse, derived as the chip derives them at load.

    decay = expulr(-ts/tau) and init = ((tau/ts) * (1.0ulr - decay)) >> 15, where 1.0ulr is the
    largest u0.32 value 2^32 - 1 (``unsigned long fract`` cannot hold 1.0).
    """
    decay = expulr_bits(-kdivk(timestep_bits, tau_syn_bits))
    one_minus_decay = (U032_ONE_BITS - 1) - decay
    init = (kdivk(tau_syn_bits, timestep_bits) * one_minus_decay) >> S1615_FRACTION_BITS
    return decay, init & 0xFFFFFFFF


def refractory_timesteps(tau_refrac_bits: int, timestep_bits: int) -> int:
    """The chip's ``T_refract = ceil(tau_refrac / ts)`` (integer part, +1 if any fraction bit is set)."""
    quotient = kdivk(tau_refrac_bits, timestep_bits)
    return (quotient >> S1615_FRACTION_BITS) + (1 if quotient & (S1615_ONE - 1) else 0)
