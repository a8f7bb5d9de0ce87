"""Loihi 2's parity plug: quantize a float network for ``loihi2``, drawing the threshold mantissa
from ``rng`` so that campaigns cover small and large integer scales (and with them rounding to
zero, weight-exponent choice, clipping, 24-bit wrap of u and saturation of v)."""

from __future__ import annotations

import numpy as np

from ..ir import Network
from ..quant.loihi2 import quantize_network
from .campaign.plug import CampaignPlug

VTH_CHOICES = (16, 256, 2048, 8192, 65536, 131071)


def prepare(network: Network, rng: np.random.Generator | None) -> Network:
    """``network`` quantized for loihi2; ``rng`` None uses the quantizer's defaults."""
    options = {} if rng is None else {"vth": int(rng.choice(VTH_CHOICES))}
    quantized, _ = quantize_network(network, **options)
    return quantized


def arriving_activation(model, name: str, spikes: dict[str, np.ndarray], steps: int) -> np.ndarray:
    """int64 ``[steps, n]``: the activation Lava adds to population ``name``'s u at each step, rebuilt
    from the recorded spikes (``{population: bool [steps, n]}``) and the effective integer weights:
    per connection and delay d, the exponent-shifted per-step sum arrives at t + 1 + d (docs/loihi2.md §L3)."""
    from ..quant.loihi2 import effective_weights

    size = next(n.size for n in model.neurons if n.name == name)
    total = np.zeros((steps, size), np.int64)
    for synapses in model.synapses:
        if synapses.post != name:
            continue
        weights = effective_weights(synapses.weights, synapses.sign_mode, synapses.num_weight_bits)
        sent = spikes[synapses.pre].astype(np.int64)
        for delay in np.unique(synapses.delays_steps):
            sums = sent @ np.where(synapses.delays_steps == delay, weights, 0)
            sums = sums << synapses.weight_exp if synapses.weight_exp > 0 else sums >> -synapses.weight_exp
            arrival = 1 + int(delay)
            if arrival < steps:
                total[arrival:] += sums[: steps - arrival]
    return total


def coverage(network: Network, inputs: dict, reference) -> set[str]:
    """Loihi 2's corners in the reference run: ``u_wrap`` (u left (-2^23, 2^23] and wrapped, found
    by rebuilding each step's u before the wrap from the recorded spikes) and ``v_saturation``
    (v pinned at +-(2^23 - 1))."""
    from ..quant.loihi2 import FORMAT, integer_model

    model = integer_model(network)
    limit = FORMAT.state_limit
    spikes = {name: np.asarray(p.spikes[0], bool) for name, p in reference.populations.items()}
    found: set[str] = set()
    for neurons in model.neurons:
        states = reference.populations[neurons.name].states
        u, v = np.asarray(states["u"][0], np.int64), np.asarray(states["v"][0], np.int64)
        if np.any(np.abs(v) == limit - 1):
            found.add("v_saturation")
        factor = FORMAT.decay_unity - (neurons.du + 1)
        previous = np.vstack([np.zeros((1, neurons.size), np.int64), u[:-1]])
        product = previous * factor
        activation = arriving_activation(model, neurons.name, spikes, reference.steps)
        activation = ((activation + 2**31) & (2**32 - 1)) - 2**31
        unwrapped = np.sign(product) * (np.abs(product) >> 12) + (activation << FORMAT.activation_shift)
        consistent = (unwrapped - u) % (2 * limit) == 0  # the rebuild must agree with the run up to wraps
        if np.any(consistent & (unwrapped != u)):
            found.add("u_wrap")
    return found


CAMPAIGN = CampaignPlug(
    max_delay_steps=62,
    corners=("u_wrap", "v_saturation"),
    coverage=coverage,
    nets_per_run={"lava-fixed_pt": 8},
)
"""Campaign settings: delays up to Loihi 2's 62 steps, no refractory period (Lava's fixed-point LIF
has none), 8 networks per Lava child process (one interpreter and Lava import for all 8)."""
