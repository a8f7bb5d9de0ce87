"""A readable summary of a network: populations, synapse counts, delay histograms, memory, loops."""

from __future__ import annotations

import numpy as np

from .network import Network, memory_bytes
from .validate import NEURON_PARAMETERS

MAX_LISTED_LOOPS = 20
"""Recurrent loops listed by the summary at most (dense graphs have exponentially many)."""


def delay_histogram(delays_steps: np.ndarray, existing: np.ndarray, bins: int = 8) -> list[tuple[str, int]]:
    """Counts of existing synapses per delay range: ``[(label, count), ...]`` (label in steps)."""
    values = np.asarray(delays_steps)[existing]
    if values.size == 0:
        return []
    low, high = float(values.min()), float(values.max())
    if low == high:
        return [(f"{low:g}", int(values.size))]
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    return [(f"{edges[i]:g}-{edges[i + 1]:g}", int(c)) for i, c in enumerate(counts)]


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"[{value.min():g}..{value.max():g}]"
    return f"{value:g}"


def summary_text(network: Network) -> str:
    """Multi-line text summary used by ``neurodelay info``."""
    lines = [f"network {network.name!r}: dt = {network.dt_ms:g} ms, {'quantized' if network.is_quantized else 'float'}"]
    lines.append("populations:")
    for population in network.populations:
        parameters = [f"{name}={_describe(getattr(population, name))}" for name in NEURON_PARAMETERS[population.kind]]
        if population.kind == "lif":
            parameters.append(f"refractory_steps={population.refractory_steps}")
        lines.append(f"  {population.name:<16} {population.kind:<17} n={population.size:<7} " + " ".join(parameters))
    lines.append("projections:")
    total = 0
    for projection in network.projections:
        existing = projection.existing()
        total += projection.synapse_count
        weights = projection.weights[existing]
        kind = "recurrent" if projection.is_recurrent else "feed-forward"
        fmt = projection.weight_format
        quant = f", {fmt.target} {fmt.mantissa_bits}-bit exp {fmt.exponent}" if fmt else ""
        lines.append(
            f"  {projection.name:<16} {projection.pre} -> {projection.post} ({kind}): "
            f"{projection.synapse_count} synapses"
            f"{'' if projection.mask is None else ' (sparse)'}, weights "
            f"[{weights.min() if weights.size else 0:.4g}, {weights.max() if weights.size else 0:.4g}]"
            f", max_delay_steps={projection.max_delay_steps}{quant}"
        )
        histogram = delay_histogram(projection.delays_steps, existing)
        lines.append("      delays (steps): " + ", ".join(f"{label}: {count}" for label, count in histogram))
    loops = network.recurrent_loops(limit=MAX_LISTED_LOOPS + 1)
    lines.append(f"synapses: {total}; memory: {memory_bytes(network) / 2**20:.3f} MiB of arrays")
    listed = "; ".join(" -> ".join(loop) for loop in loops[:MAX_LISTED_LOOPS]) if loops else "none"
    if len(loops) > MAX_LISTED_LOOPS:
        listed = f"more than {MAX_LISTED_LOOPS}, the first {MAX_LISTED_LOOPS} found: {listed}"
    lines.append("recurrent loops: " + listed)
    return "\n".join(lines)
