"""Scale selection per projection, weight bit widths, and the one quantization entry point.

The targets' quantizers choose each projection's integer scale from the largest weight they are
given (max-abs: nothing clips, the grid is as coarse as the largest weight demands). A smaller
scale is selected here by clipping the float weights *before* the target's quantizer:

* ``max-abs``: no clipping (the target's own choice);
* ``percentile:P``: clip each projection's |weights| at their P-th percentile (0 < P <= 100);
* ``calibrated``: first the target's one free scale (the quantizer option its spec names as
  ``scale_option``, which sets every weight's LSB in network units) among one octave of
  candidates, so that the largest weights fill the mantissa instead of wasting up to a bit; then
  per projection the clip value among ``max|w| / 2**k`` (k = 0..4, each a step of the targets'
  power-of-two exponents). Both minimise the summed relative, activity-weighted squared weight
  error of the projections, ``sum_i n_i sum_j (q(w_ij) - w_ij)**2 / sum_i n_i sum_j w_ij**2`` on a
  calibration set, ``n_i`` the spikes of pre neuron i in the float reference simulation of the
  calibration inputs (never the evaluation labels).

Clipped weights are counted in the report (it compares with the unclipped network), so
``--strict`` refuses percentile or calibrated scales that clip.

Weight bits below the target's native width (:func:`reduce_weight_bits`) keep the target's format
and restrict each projection to integers ``L * 2**s * grid`` with ``|L| <= 2**(bits - 1) - 1``
(a chip with fewer weight bits does the same by dropping low bits): the smallest ``s`` that holds
the projection's largest integer, round half up, kept within the chip's integer range (a value
that would round past it is clipped, and counted as such by the report).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ValidationError
from ..executor import read_spike_inputs
from ..ir import Network
from .report import QuantizationSummary, summarize
from ..targets import Target, get_target

CALIBRATION_HALVINGS = 5


@dataclass(frozen=True)
class ScaleSelection:
    """``kind``: ``max-abs``, ``percentile`` or ``calibrated``; ``percentile``: P for ``percentile``."""

    kind: str = "max-abs"
    percentile: float | None = None

    @classmethod
    def parse(cls, text: str) -> "ScaleSelection":
        """``max-abs``, ``percentile:P`` (0 < P <= 100) or ``calibrated``."""
        if text in ("max-abs", "calibrated"):
            return cls(text)
        if text.startswith("percentile:"):
            try:
                value = float(text.split(":", 1)[1])
            except ValueError:
                value = float("nan")
            if not 0 < value <= 100:
                raise ValidationError(
                    "--scale", f"percentile {text.split(':', 1)[1]!r}", "percentile:P with 0 < P <= 100"
                )
            return cls("percentile", value)
        raise ValidationError("--scale", f"unknown scale selection {text!r}", "max-abs, percentile:P, calibrated")

    def __str__(self) -> str:
        return f"percentile:{self.percentile:g}" if self.kind == "percentile" else self.kind


def load_calibration(path: str | Path, network: Network) -> dict[str, np.ndarray]:
    """Calibration inputs from an ``.npz``: one bool ``[batch, steps, n]`` array per spike source
    (keyed by source name, or ``inputs`` for a network with one source)."""
    return read_spike_inputs(path, network, field="--calibration")


def clipped_network(network: Network, clips: dict[str, float]) -> Network:
    """A copy whose projections named in ``clips`` have |weights| clipped at the given magnitude."""
    projections = [
        replace(p, weights=np.clip(p.weights, -clips[p.name], clips[p.name])) if p.name in clips else p
        for p in network.projections
    ]
    return network.with_projections(projections)


def _activity_error(original: Network, quantized: Network, name: str, pre_spikes: np.ndarray) -> float:
    """The projection's quantization noise relative to its signal, weighted by presynaptic activity:
    ``sum_i n_i sum_j e_ij**2 / sum_i n_i sum_j w_ij**2`` (layers in different units count alike)."""
    before, after = original.projection(name), quantized.projection(name)
    weights = np.where(before.existing(), before.weights, 0.0)
    error = np.where(before.existing(), after.weights, 0.0) - weights
    signal = float(pre_spikes @ (weights**2).sum(axis=1))
    return float(pre_spikes @ (error**2).sum(axis=1)) / signal if signal > 0 else 0.0


def quantized_with(
    network: Network, target: Target, clips: dict[str, float], bits: int, options: dict[str, Any]
) -> tuple[Network, Any]:
    """The quantization pipeline: clip, the target's quantizer, the bit width; (network, target report)."""
    clipped = clipped_network(network, clips)
    quantized, target_report = target.quantize(clipped, **options)
    return reduce_weight_bits(quantized, target, bits, clipped), target_report


def calibrate(
    network: Network,
    target: Target,
    selection: ScaleSelection,
    calibration: dict[str, np.ndarray] | None,
    bits: int,
    options: dict[str, Any],
) -> tuple[dict[str, float], dict[str, Any]]:
    """Clip magnitude per projection and the target's options for ``selection`` (module docstring).

    ``calibrated`` first picks the target's free scale (``target.scale_option``, only when
    ``options`` does not fix it) among one octave of
    candidates, then the clips, each minimising the relative activity-weighted squared weight error.
    """
    if selection.kind == "max-abs":
        return {}, options
    magnitudes = {p.name: np.abs(p.weights[p.existing()]) for p in network.projections}
    if selection.kind == "percentile":
        return {
            name: float(np.percentile(values, selection.percentile))
            for name, values in magnitudes.items()
            if values.size and values.max() > 0
        }, options
    if calibration is None:
        raise ValidationError(
            "--calibration", "calibrated scales need calibration inputs", "an .npz of spike inputs (--calibration DATA)"
        )
    from ..refsim import simulate

    recording = simulate(network, calibration, mode="float")
    pre_spikes = {
        p.name: recording.populations[p.pre].spikes.sum(axis=(0, 1)).astype(np.float64) for p in network.projections
    }

    def total_error(clips: dict[str, float], trial_options: dict[str, Any]) -> float:
        quantized, _ = quantized_with(network, target, clips, bits, trial_options)
        return sum(_activity_error(network, quantized, name, spikes) for name, spikes in pre_spikes.items())

    name, candidates = target.scale_option
    if name not in options:
        errors = [total_error({}, {**options, name: candidate}) for candidate in candidates]
        options = {**options, name: candidates[int(np.argmin(errors))]}
    clips: dict[str, float] = {}
    for projection in network.projections:
        largest = float(magnitudes[projection.name].max(initial=0.0))
        if largest == 0:
            continue
        best = None
        for halving in range(CALIBRATION_HALVINGS):
            candidate = largest / 2.0**halving
            trial = {**clips, projection.name: candidate}
            quantized, _ = quantized_with(network, target, trial, bits, options)
            error = _activity_error(network, quantized, projection.name, pre_spikes[projection.name])
            if best is None or error < best[0]:
                best = (error, candidate)
        clips[projection.name] = best[1]
    return clips, options


def reduce_weight_bits(quantized: Network, target: Target, bits: int, source: Network | None = None) -> Network:
    """``quantized`` with every projection's integers restricted to ``bits`` (see the module docstring).

    source: the float network ``quantized`` was made from; its weights are rounded onto the coarser
    grid directly (one rounding, error <= half a coarse step). Without it the target's integers
    are rounded again. At the target's native width the network is returned unchanged. The grid
    used is stored in the projection's ``metadata['weight_grid']`` so the report knows a rounding step.
    """
    native = target.native_weight_bits
    if not 2 <= bits <= native:
        raise ValidationError("weight_bits", f"{bits} bits for {target.name}", f"2..{native}")
    if bits == native:
        return quantized
    projections = []
    for projection in quantized.projections:
        grid = target.weight_grid(projection)
        if source is None:
            levels = projection.integer_weights / grid
        else:
            unit = projection.weight_format.scale * 2.0**projection.weight_format.exponent
            levels = np.where(projection.existing(), source.projection(projection.name).weights, 0.0) / (unit * grid)
        top = 2 ** (bits - 1) - 1
        shift = 0
        while np.abs(np.floor(levels / 2.0**shift + 0.5)).max(initial=0) > top:
            shift += 1
        step = grid << shift
        low, high = target.integer_range(projection)  # rounding up may not leave the chip's range
        reduced = np.clip(np.floor(levels / 2.0**shift + 0.5).astype(np.int64), -(-low // step), high // step) * step
        reduced = np.where(projection.existing(), reduced, 0)
        projections.append(
            replace(
                projection,
                integer_weights=reduced,
                weights=projection.weight_format.to_float(reduced),
                metadata={**projection.metadata, "weight_grid": grid << shift, "weight_bits": bits},
            )
        )
    return quantized.with_projections(projections)


def split_signs(network: Network) -> Network:
    """Each projection with weights of both signs replaced by ``<name>_exc`` (the positive weights)
    and ``<name>_inh`` (the negative ones), masked to their synapses; an exact rewrite of the network.

    On a chip whose mixed-sign connections hold even integers only (docs/loihi2.md §L2), a
    one-signed one holds every integer of its magnitude and has its own exponent: splitting gains one
    bit of weight resolution for one more synapse process per split projection.
    """
    projections = []
    for projection in network.projections:
        existing = projection.existing()
        positive = existing & (projection.weights > 0)
        negative = existing & (projection.weights < 0)
        if not positive.any() or not negative.any():
            projections.append(projection)
            continue
        positive |= existing & (projection.weights == 0)  # zero weights stay, on the excitatory side
        for suffix, part in (("exc", positive), ("inh", negative)):
            projections.append(
                replace(
                    projection,
                    name=f"{projection.name}_{suffix}",
                    mask=part,
                    weights=np.where(part, projection.weights, 0.0),
                    delays_steps=np.where(part, projection.delays_steps, 0),
                    metadata={**projection.metadata, "split_from": projection.name},
                )
            )
    return network.with_projections(projections)


def quantize(
    network: Network,
    target: str,
    *,
    scale: str | ScaleSelection = "max-abs",
    calibration: dict[str, np.ndarray] | None = None,
    weight_bits: int | None = None,
    strict: bool = False,
    signs_split: bool = False,
    **options: Any,
) -> tuple[Network, QuantizationSummary]:
    """Quantize a float network for ``target`` and report every change against ``network``.

    scale: scale selection (see the module docstring); calibration: inputs for ``calibrated``;
    weight_bits: restrict weights below the target's native width (None: native);
    strict: raise TargetLimitError naming the projection when anything is clipped;
    signs_split: first split mixed-sign projections (:func:`split_signs`; the report then compares
    with the split float network, which is the same network);
    options: passed to the target's quantizer (its own keyword options);
        ``calibrated`` chooses the free scale among them unless it is given.

    The quantized network carries the report in ``provenance['quantization_report']`` (and the
    target's own report in ``provenance['quantization']``).
    """
    entry = get_target(target, "quantize")
    if signs_split:
        network = split_signs(network)
    selection = scale if isinstance(scale, ScaleSelection) else ScaleSelection.parse(scale)
    bits = entry.native_weight_bits if weight_bits is None else int(weight_bits)
    clips, options = calibrate(network, entry, selection, calibration, bits, options)
    quantized, target_report = quantized_with(network, entry, clips, bits, options)
    summary = summarize(
        entry,
        network,
        quantized,
        target_report,
        {
            "scale": str(selection),
            "clips": clips,
            "weight_bits": bits,
            "signs_split": signs_split,
            "target_options": options,
        },
    )
    if strict:
        summary.check_strict()
    provenance = {**quantized.provenance, "quantization_report": summary.to_dict()}
    return quantized.with_projections(quantized.projections, provenance=provenance), summary
