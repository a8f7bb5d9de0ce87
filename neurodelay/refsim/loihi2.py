"""Loihi 2 mode of the reference simulator: Lava 0.10.0's bit-accurate ``fixed_pt`` arithmetic of
LIF + Dense/DelayDense in vectorised numpy, batched over inputs.

Written from the rules of docs/loihi2.md (§L1-§L3), not from Lava's code. Per step n (IR numbering;
Lava's ``time_step`` is n + 1), for every LIF process, with all values int64 and ``wrap32`` the
int32 overflow of Lava's arrays:

    a      = sum over connections and delays of the contributions arriving at n          (int32 sum)
    u      = trunc0(u * (4095 - du) / 4096) + (a << 6)                                   (wrap32)
    u      = u - 2**24 if u > 2**23 else (u + 2**24 if u <= -2**23 else u)               (one wrap)
    v      = clip(trunc0(v * (4096 - dv) / 4096) + u + bias_mant * 2**bias_exp, +-(2**23 - 1))
    spike  = v > vth << 6;   v[spike] = 0                                                (u kept)

``trunc0`` truncates toward zero. A spike at step t through a connection with weight_exp e and
delay d adds ``shift(sum of the effective weights of the synapses with delay d, e)`` to the post
population's input at step t + 1 + d, where ``shift`` is ``<< e`` or an arithmetic ``>> -e``
applied to that per-step, per-delay sum and the effective weights are Lava's clipped and
bit-dropped integers (:func:`neurodelay.quant.loihi2.effective_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Network
from ..quant.loihi2 import (
    FORMAT,
    Loihi2Model,
    Loihi2Neurons,
    Loihi2Synapses,
    effective_bias,
    effective_weights,
    integer_model,
)
from ..recording import PopulationRecording, Recording
from .engine import resolve_engine

EXECUTOR_NAME = "refsim-loihi2"


def wrap32(values: np.ndarray) -> np.ndarray:
    """int64 values reduced to int32 with two's-complement overflow (still int64)."""
    return ((values + 2**31) & (2**32 - 1)) - 2**31


def truncated_decay(state: np.ndarray, factor: int) -> np.ndarray:
    """``state * factor / 4096`` truncated toward zero (int64)."""
    product = state * factor
    return np.sign(product) * (np.abs(product) >> 12)


@dataclass(frozen=True)
class LifParameters:
    """Integer parameters of one LIF process: decay factors (4096ths), vth << 6, bias per neuron ``[n]``."""

    current_factor: int
    voltage_factor: int
    threshold: int
    bias: np.ndarray

    @classmethod
    def of(cls, neurons: Loihi2Neurons) -> "LifParameters":
        unity = FORMAT.decay_unity
        return cls(
            unity - (neurons.du + 1),
            unity - neurons.dv,
            neurons.vth << FORMAT.threshold_shift,
            effective_bias(neurons.bias_mant, neurons.bias_exp),
        )


def lif_step(
    u: np.ndarray, v: np.ndarray, activation: np.ndarray, parameters: LifParameters
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One bit-accurate LIF step on int64 ``[batch, n]`` arrays; returns ``(spikes, u, v)`` (new arrays)."""
    limit = FORMAT.state_limit
    u = wrap32(truncated_decay(u, parameters.current_factor) + (activation << FORMAT.activation_shift))
    u = np.where(u > limit, u - 2 * limit, np.where(u <= -limit, u + 2 * limit, u))
    v = wrap32(truncated_decay(v, parameters.voltage_factor) + u + parameters.bias)
    v = np.clip(v, -(limit - 1), limit - 1)
    spikes = v > parameters.threshold
    return spikes, u, np.where(spikes, 0, v)


@dataclass(frozen=True)
class DelayedWeights:
    """A connection's effective weights grouped by delay: ``stacked`` ``[n_pre, k * n_post]`` (group g
    holds the weights of the synapses with delay ``delays[g]``) and ``delays`` int64 ``[k]``.

    The matrix is float32 when every possible per-step sum is below 2**24 (integers are then exact
    in float32, and BLAS runs twice as fast), float64 otherwise (exact below 2**53)."""

    stacked: np.ndarray
    delays: np.ndarray
    weight_exp: int
    n_post: int

    @classmethod
    def of(cls, synapses: Loihi2Synapses) -> "DelayedWeights":
        weights = effective_weights(synapses.weights, synapses.sign_mode, synapses.num_weight_bits)
        delays = np.unique(synapses.delays_steps)
        groups = [np.where(synapses.delays_steps == d, weights, 0) for d in delays]
        exact_in_float32 = int(np.abs(weights).sum(axis=0).max(initial=0)) < 2**24
        return cls(
            np.concatenate(groups, axis=1).astype(np.float32 if exact_in_float32 else np.float64),
            delays.astype(np.int64),
            synapses.weight_exp,
            weights.shape[1],
        )

    def contributions(self, spikes: np.ndarray) -> np.ndarray:
        """int64 ``[batch, k, n_post]``: per delay group, the exponent-shifted sum over spiking pre neurons."""
        sums = np.rint(spikes.astype(self.stacked.dtype) @ self.stacked).astype(np.int64)
        sums = sums.reshape(spikes.shape[0], len(self.delays), self.n_post)
        return sums << self.weight_exp if self.weight_exp > 0 else sums >> -self.weight_exp


def arrival_steps(step: int, delays_steps: np.ndarray) -> np.ndarray:
    """Steps at which spikes sent at ``step`` through ``delays_steps`` reach the post neurons' u."""
    return step + 1 + delays_steps


def simulate_model(
    model: Loihi2Model, inputs: dict[str, np.ndarray], executor: str = EXECUTOR_NAME, *, engine: str | None = None
) -> Recording:
    """Run the integer model on ``{source: bool [batch, steps, n]}``; states ``u`` and ``v`` (int64 LSBs).

    ``engine``: ``compiled`` (:mod:`.loihi2_compiled`, the default) or ``numpy`` (this function's
    own loop, the oracle); see :mod:`neurodelay.refsim.engine`. Both return the same recording.
    Internally the numpy engine puts time on the leading axis (``[steps, batch, n]``, contiguous per
    step); the recording is returned in the shared ``[batch, steps, n]`` layout."""
    if resolve_engine(engine) == "compiled":
        from .loihi2_compiled import simulate_model as simulate_compiled

        return simulate_compiled(model, inputs, executor)
    batch, steps = next(iter(inputs.values())).shape[:2]
    slots = 2 + max((s.max_delay_steps for s in model.synapses), default=0)
    pending = {n.name: np.zeros((slots, batch, n.size), np.int64) for n in model.neurons}
    state = {n.name: (np.zeros((batch, n.size), np.int64), np.zeros((batch, n.size), np.int64)) for n in model.neurons}
    parameters = {n.name: LifParameters.of(n) for n in model.neurons}
    connections = [(s.pre, s.post, DelayedWeights.of(s)) for s in model.synapses]
    spikes = {name: np.ascontiguousarray(np.swapaxes(np.asarray(train, bool), 0, 1)) for name, train in inputs.items()}
    currents, voltages = {}, {}
    for neurons in model.neurons:
        spikes[neurons.name] = np.zeros((steps, batch, neurons.size), bool)
        currents[neurons.name] = np.zeros((steps, batch, neurons.size), np.int64)
        voltages[neurons.name] = np.zeros((steps, batch, neurons.size), np.int64)
    for step in range(steps):
        slot = step % slots
        for neurons in model.neurons:
            name = neurons.name
            activation = wrap32(pending[name][slot])
            pending[name][slot] = 0
            spikes[name][step], u, v = lif_step(*state[name], activation, parameters[name])
            state[name] = currents[name][step], voltages[name][step] = u, v
        for pre, post, weights in connections:
            arrival = arrival_steps(step, weights.delays) % slots  # distinct slots: delays are unique and < slots
            pending[post][arrival] += np.swapaxes(weights.contributions(spikes[pre][step]), 0, 1)
    record = {name: PopulationRecording(np.swapaxes(train, 0, 1)) for name, train in spikes.items()}
    for neurons in model.neurons:
        record[neurons.name].states = {
            "u": np.swapaxes(currents[neurons.name], 0, 1),
            "v": np.swapaxes(voltages[neurons.name], 0, 1),
        }
        record[neurons.name].state_scales = {"u": 1.0 / neurons.u_per_unit, "v": 1.0 / neurons.v_per_unit}
    return Recording(executor, 1.0, steps, record)


def simulate_network(network: Network, inputs: dict[str, np.ndarray], *, engine: str | None = None) -> Recording:
    """The refsim mode entry point: encode the loihi2-quantized ``network`` and simulate it with ``engine``."""
    recording = simulate_model(integer_model(network), inputs, engine=engine)
    recording.dt_ms = network.dt_ms
    return recording
