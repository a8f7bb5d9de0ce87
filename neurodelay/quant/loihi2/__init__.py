"""Loihi 2 (through Lava's bit-accurate ``fixed_pt`` models): the integer formats (:mod:`.formats`), the
integer model and the encoding of a Loihi-2-quantized IR network into it (:mod:`.model`), and the
post-training quantizer (:mod:`.quantizer`); everything is re-exported here.

Scale mapping (derivation). Lava's LIF computes, per step (docs/loihi2.md §L1, §L4)

    u[n] = ((4095 - du) / 4096) * u[n-1] + 64 * a[n]            a = summed integer synaptic input
    v[n] = ((4096 - dv) / 4096) * v[n-1] + u[n] + bias_mant * 2**bias_exp
    spike when v[n] > 64 * vth, then v := 0

and the IR (``neurodelay.ir.nodes``, with rest = reset = 0 and no refractory period)

    I[n] = beta * I[n-1] + w_arriving[n]
    V[n] = alpha * V[n-1] + (1 - alpha) * (i_scale * I[n] + bias);   spike when V[n] >= threshold

With ``v = c_v * V`` and ``u = c_u * I`` both equations coincide when

    4095 - du = 4096 * beta          4096 - dv = 4096 * alpha
    c_v = 64 * vth / threshold        c_u = c_v * (1 - alpha) * i_scale
    integer_weight * 2**weight_exp = c_u * w / 64                      (the IR's WeightFormat.scale = 64 / c_u)
    bias_mant * 2**bias_exp = c_v * (1 - alpha) * bias

up to the integer truncations of the chip (decays truncate toward zero) and the comparison
(Loihi's strict ``>`` against the IR's ``>=``, which differ only when V lands exactly on the
threshold). Loihi has no refractory period, resets v to 0 and has no rest potential: a network
that needs any of these raises :class:`~neurodelay.errors.TargetLimitError`.

A quantized network (output of :func:`quantize_network`) holds float parameters that are exactly
representable: its time constants give integer du/dv, its weights equal ``integer_weights * scale *
2**exponent`` and its biases encode without rounding. :func:`integer_model` turns it into a
:class:`Loihi2Model` deterministically and refuses (naming the field) anything that is not
representable, so the integers never silently differ from the network they came from.
"""

from __future__ import annotations

from .formats import TARGET, Loihi2Format, FORMAT, SIGN_MODES, DEFAULT_VTH, VTH_METADATA, READOUT_VTH
from .model import (
    Loihi2Neurons,
    Loihi2Synapses,
    Loihi2Model,
    effective_weights,
    sign_mode_of,
    effective_bias,
    uniform,
    check_neuron_limits,
    decay_integers,
    bias_encoding,
    incoming_scale,
    integer_model,
    encode_projection,
)
from .quantizer import QuantChange, QuantReport, quantize_weights, quantize_network

__all__ = [
    "TARGET",
    "Loihi2Format",
    "FORMAT",
    "SIGN_MODES",
    "DEFAULT_VTH",
    "VTH_METADATA",
    "READOUT_VTH",
    "Loihi2Neurons",
    "Loihi2Synapses",
    "Loihi2Model",
    "effective_weights",
    "sign_mode_of",
    "effective_bias",
    "uniform",
    "check_neuron_limits",
    "decay_integers",
    "bias_encoding",
    "incoming_scale",
    "integer_model",
    "encode_projection",
    "QuantChange",
    "QuantReport",
    "quantize_weights",
    "quantize_network",
]
