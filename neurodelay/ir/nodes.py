"""Typed nodes of neurodelay's network IR.

Units: times in ms, delays in timesteps of the network's ``dt_ms``; voltages, currents, thresholds
and weights are in one dimensionless unit shared by the whole network (the threshold of the
engine's default LIF is 1.0). Per-neuron parameters are a Python float (shared by the population)
or a float array of shape ``[size]``.

Discrete-time dynamics (the one definition every executor implements; step n = 0, 1, ...):

    alpha = exp(-dt / tau_m),  beta = exp(-dt / tau_syn),  i_scale = (tau_syn / dt) * (1 - beta)
    I[n] = beta * I[n-1] + (sum of the weights arriving at step n)          # synaptic state
    V[n] = rest + alpha * (V[n-1] - rest) + (1 - alpha) * (i_scale * I[n] + bias)
    LIF only: not refractory and V[n] >= threshold  ->  spike at n, V[n] := reset,
              then V is held at reset for ``refractory_steps`` steps (no integration)
    I[-1] = 0, V[-1] = rest.

**Latency convention.** A spike emitted at step t through a synapse of integer delay d is added to
the target's ``I`` at step ``t + 1 + d`` (d >= 0): ``f(d) = d + 1``. Spike-source rows are the
steps at which the source fires. A delay that is not a whole number (while training) is used as
``floor(d + 0.5)`` steps by every executor (round half up, the engine's rounding). Exporters map
the convention to their target's (docs/loihi2.md §L3 and docs/spinnaker.md §S4 describe the two
built-in chips': identical, and ``d + 1`` for a tool chain that delivers at ``t + d``, ``d >= 1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

ParameterValue = Union[float, np.ndarray]
"""A neuron parameter: one float for the population, or a float64 array of shape ``[size]``."""


@dataclass(frozen=True, eq=False)
class SpikeSource:
    """Input neurons whose spike trains are given at run time (``inputs[name]``: ``[batch, steps, size]``)."""

    name: str
    size: int
    metadata: dict[str, Any] = field(default_factory=dict)

    kind = "spike_source"


@dataclass(frozen=True, eq=False)
class LIF:
    """Leaky integrate-and-fire neurons with exponential current synapses (see module docstring).

    tau_m_ms / tau_syn_ms: membrane and synaptic time constants in ms (> 0).
    threshold, reset, rest, bias: in the network's voltage unit; reset < threshold.
    refractory_steps: whole timesteps during which V is held at reset after a spike (>= 0).
    """

    name: str
    size: int
    tau_m_ms: ParameterValue = 20.0
    tau_syn_ms: ParameterValue = 5.0
    threshold: ParameterValue = 1.0
    reset: ParameterValue = 0.0
    rest: ParameterValue = 0.0
    bias: ParameterValue = 0.0
    refractory_steps: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    kind = "lif"


@dataclass(frozen=True, eq=False)
class LeakyIntegrator:
    """Non-spiking leaky-integrator readout: the LIF's V equation with no threshold and no reset."""

    name: str
    size: int
    tau_m_ms: ParameterValue = 20.0
    tau_syn_ms: ParameterValue = 5.0
    rest: ParameterValue = 0.0
    bias: ParameterValue = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)

    kind = "leaky_integrator"


Population = Union[SpikeSource, LIF, LeakyIntegrator]
POPULATION_TYPES: dict[str, type] = {cls.kind: cls for cls in (SpikeSource, LIF, LeakyIntegrator)}
NEURON_PARAMETERS: dict[str, tuple[str, ...]] = {
    "spike_source": (),
    "lif": ("tau_m_ms", "tau_syn_ms", "threshold", "reset", "rest", "bias"),
    "leaky_integrator": ("tau_m_ms", "tau_syn_ms", "rest", "bias"),
}


@dataclass(frozen=True, eq=False)
class WeightFormat:
    """How a quantized projection's integer weights map back to floats.

    ``float_weight = integer_weight * scale * 2.0 ** exponent``

    target: the registered target whose integer format the integers are in (:mod:`neurodelay.targets`).
    mantissa_bits: bits of the signed integer weight (sign included).
    exponent: shared power-of-two exponent of the projection (a chip's weight exponent, or a
        ring-buffer shift expressed as an exponent).
    scale: float value of one integer unit at exponent 0 (network units per LSB).
    """

    target: str
    mantissa_bits: int
    exponent: int
    scale: float

    def to_float(self, integer_weights: np.ndarray) -> np.ndarray:
        """Float weights (float64, same shape) that ``integer_weights`` stand for."""
        return np.asarray(integer_weights, dtype=np.float64) * self.scale * 2.0**self.exponent


@dataclass(frozen=True, eq=False)
class Projection:
    """All synapses from population ``pre`` to population ``post`` (``pre == post`` is recurrent).

    weights: ``[n_pre, n_post]`` float64, in the network's current unit per spike.
    delays_steps: ``[n_pre, n_post]`` delays in timesteps; float while training, integer-valued
        (int64) once quantized; within ``[0, max_delay_steps]``.
    max_delay_steps: the largest delay this projection may hold (int >= 0).
    mask: ``[n_pre, n_post]`` bool, True where a synapse exists; None means all-to-all. Weights
        and delays of absent synapses are kept at 0 and ignored by every executor.
    integer_weights / weight_format: present together once the projection is quantized;
        ``weights`` then equals ``weight_format.to_float(integer_weights)``.
    """

    name: str
    pre: str
    post: str
    weights: np.ndarray
    delays_steps: np.ndarray
    max_delay_steps: int
    mask: np.ndarray | None = None
    integer_weights: np.ndarray | None = None
    weight_format: WeightFormat | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_recurrent(self) -> bool:
        return self.pre == self.post

    @property
    def is_quantized(self) -> bool:
        return self.weight_format is not None

    @property
    def synapse_count(self) -> int:
        return int(self.weights.size if self.mask is None else np.count_nonzero(self.mask))

    def integer_delays(self) -> np.ndarray:
        """Delays as int64 ``[n_pre, n_post]``; only valid on integer-valued delays."""
        return np.asarray(self.delays_steps).astype(np.int64)

    def existing(self) -> np.ndarray:
        """``[n_pre, n_post]`` bool mask of existing synapses (all True when dense)."""
        return np.ones(self.weights.shape, bool) if self.mask is None else np.asarray(self.mask, bool)
