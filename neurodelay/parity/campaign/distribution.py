"""The campaign's random networks: one seeded draw per network, aimed at the corners on purpose.

Every choice below is a discrete class drawn with a fixed probability, so that each corner is hit
by a known share of a campaign (docs/parity_campaigns.md lists them with their probabilities).
Whether a network actually exercised a corner is measured from its run (:mod:`.coverage`), not
assumed from the draw. Changing any draw changes :data:`DISTRIBUTION_VERSION`, which a campaign's
manifest records (a resumed campaign refuses a different distribution).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...ir import Network, Projection, SpikeSource
from ...ir.random_nets import maybe_readout, random_lif
from .plug import CampaignPlug

DISTRIBUTION_VERSION = 1
STREAM = 18_001
"""Salt of the campaign's random stream: ``default_rng([STREAM, seed])``."""

TOPOLOGIES = {"feed_forward": 0.45, "self_recurrent": 0.25, "loop": 0.3}
DENSITIES = {"very_sparse": 0.25, "sparse": 0.3, "dense": 0.45}
WEIGHT_SCALES = {"normal": 0.5, "overdrive": 0.3, "tiny": 0.2}
SIGNS = {"mixed": 0.6, "excitatory": 0.25, "inhibitory": 0.15}
DELAY_PROFILES = {"zero": 0.1, "one": 0.1, "maximum": 0.2, "mixed": 0.35, "long": 0.25}
INPUT_RATES = {"silent": 0.1, "sparse": 0.25, "moderate": 0.4, "very_active": 0.25}
BIASES = {"none": 0.6, "small": 0.25, "saturating": 0.15}
REFRACTORY_STEPS = (0, 0, 1, 2, 3, 8)
WIDE_SHARE = 0.15


@dataclass(frozen=True)
class Draw:
    """The discrete classes one seed drew (recorded beside the measured corners)."""

    topology: str
    weight_scale: str
    input_rate: str
    wide: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "topology": self.topology,
            "weight_scale": self.weight_scale,
            "input_rate": self.input_rate,
            "wide": self.wide,
        }


def pick(rng: np.random.Generator, table: dict[str, float]) -> str:
    names = list(table)
    return str(names[int(rng.choice(len(names), p=np.asarray(list(table.values())) / sum(table.values())))])


def delays_for(rng: np.random.Generator, shape: tuple[int, int], profile: str, top: int) -> np.ndarray:
    """int64 delays in ``[0, top]``: all 0, all 1, all ``top``, mixed with 0, 1 and ``top`` present,
    or ``long`` (uniform in the top half)."""
    if profile == "zero":
        return np.zeros(shape, np.int64)
    if profile == "one":
        return np.full(shape, min(1, top), np.int64)
    if profile == "maximum":
        return np.full(shape, top, np.int64)
    if profile == "long":
        return rng.integers(top // 2, top + 1, shape).astype(np.int64)
    delays = rng.integers(0, top + 1, shape)
    flat = delays.reshape(-1)
    for position, value in zip(rng.permutation(flat.size)[:3], (0, min(1, top), top)):
        flat[position] = value
    return delays.astype(np.int64)


def connectivity(rng: np.random.Generator, shape: tuple[int, int], density: str) -> np.ndarray | None:
    """None (all-to-all) for ``dense``; else a mask of density 1-10 % or 20-80 % with one synapse at least."""
    if density == "dense":
        return None
    share = rng.uniform(0.01, 0.1) if density == "very_sparse" else rng.uniform(0.2, 0.8)
    mask = rng.random(shape) < share
    if not mask.any():
        mask[int(rng.integers(shape[0])), int(rng.integers(shape[1]))] = True
    return mask


def draw_case(seed: int, plug: CampaignPlug, delay_bound) -> tuple[Network, dict[str, np.ndarray], Draw]:
    """The float network, its inputs ``{"input": bool [1, steps, n]}`` and the classes drawn for ``seed``.

    ``delay_bound(network, population) -> int`` is the target's largest delay into a population
    (steps); the campaign's top delay into it is ``min(plug.max_delay_steps, that bound)``.
    """
    rng = np.random.default_rng([STREAM, seed])
    topology = pick(rng, TOPOLOGIES)
    weight_scale = pick(rng, WEIGHT_SCALES)
    input_rate = pick(rng, INPUT_RATES)
    wide = plug.wide_sizes is not None and rng.random() < WIDE_SHARE
    n_inputs = int(rng.integers(1, 17))
    names = ["l1", "l2"] if topology == "loop" or rng.random() < 0.5 else ["l1"]
    sizes = [int(rng.integers(1, 17)) for _ in names]
    if wide:
        sizes[0] = int(rng.integers(plug.wide_sizes[0], plug.wide_sizes[1] + 1))
        if rng.random() < 0.5:
            n_inputs = sizes[0]  # as many inputs as the wide core: every delay-extension stage is buildable
    populations: list = [SpikeSource("input", n_inputs)]
    thresholds: dict[str, float] = {}
    for name, size in zip(names, sizes):
        thresholds[name] = float(rng.uniform(0.3, 3.0))
        bias_class = pick(rng, BIASES)
        bias = 0.0
        if bias_class != "none":
            bias = rng.normal(0.0, thresholds[name] * (0.5 if bias_class == "small" else 50.0), size)
        refractory = int(rng.choice(REFRACTORY_STEPS)) if plug.refractory else 0
        populations.append(random_lif(rng, name, size, thresholds[name], bias, refractory))
    pairs = [("input", "l1")] + ([("l1", "l2")] if "l2" in names else [])
    if topology == "self_recurrent":
        pairs.append((names[-1], names[-1]))
    if topology == "loop":
        pairs.append(("l2", "l1"))
    readout = maybe_readout(rng, 0.4)
    if readout is not None:
        populations.append(readout)
        thresholds["readout"] = 1.0
        pairs.append((names[-1], "readout"))
    sizes = {p.name: p.size for p in populations}
    skeleton = Network(f"campaign_{seed}", 1.0, tuple(populations), ())
    projections = []
    longest = 0
    for pre, post in pairs:
        top = max(0, min(plug.max_delay_steps, int(delay_bound(skeleton, post))))
        shape = (sizes[pre], sizes[post])
        scale = thresholds[post] * rng.uniform(0.3, 3.0)
        scale *= {"normal": 1.0, "overdrive": rng.uniform(100.0, 1000.0), "tiny": rng.uniform(0.001, 0.02)}[
            weight_scale
        ]
        weights = rng.normal(0.0, scale, shape)
        sign = pick(rng, SIGNS)
        if sign != "mixed":
            weights = np.abs(weights) * (1.0 if sign == "excitatory" else -1.0)
        delays = delays_for(rng, shape, pick(rng, DELAY_PROFILES), top)
        mask = connectivity(rng, shape, pick(rng, DENSITIES))
        if mask is not None:
            weights, delays = np.where(mask, weights, 0.0), np.where(mask, delays, 0)
        longest = max(longest, int(delays.max()))
        projections.append(Projection(f"{pre}_{post}", pre, post, weights, delays, top, mask=mask))
    steps = longest + int(rng.integers(3, 40))
    rate = {
        "silent": 0.0,
        "sparse": rng.uniform(0.01, 0.1),
        "moderate": rng.uniform(0.1, 0.4),
        "very_active": rng.uniform(0.6, 1.0),
    }[input_rate]
    inputs = {"input": rng.random((1, steps, n_inputs)) < rate}
    network = Network(
        f"campaign_{seed}",
        1.0,
        tuple(populations),
        tuple(projections),
        provenance={
            "generator": "neurodelay.parity.campaign.distribution",
            "version": DISTRIBUTION_VERSION,
            "seed": seed,
        },
    )
    return network, inputs, Draw(topology, weight_scale, input_rate, wide)
