"""Loihi 2's parity plug: quantize a float network for ``loihi2``, drawing the threshold mantissa
from ``rng`` so that campaigns cover small and large integer scales (and with them rounding to
zero, weight-exponent choice, clipping, 24-bit wrap of u and saturation of v)."""

from __future__ import annotations

import numpy as np

from ..ir import Network
from ..quant.loihi2 import quantize_network

VTH_CHOICES = (16, 256, 2048, 8192, 65536, 131071)


def prepare(network: Network, rng: np.random.Generator | None) -> Network:
    """``network`` quantized for loihi2; ``rng`` None uses the quantizer's defaults."""
    options = {} if rng is None else {"vth": int(rng.choice(VTH_CHOICES))}
    quantized, _ = quantize_network(network, **options)
    return quantized
