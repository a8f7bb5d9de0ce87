"""The toy chip's format, quantizer and vectorised integer simulation (its refsim mode)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from neurodelay.errors import TargetLimitError
from neurodelay.ir import LIF, Network, WeightFormat, as_vector, decays
from neurodelay.recording import PopulationRecording, Recording

NAME = "toy_lif"
NATIVE_WEIGHT_BITS = 16
WEIGHT_LIMIT = 2**15 - 1
MAX_DELAY_STEPS = 15
DECAY_ONE = 256


@dataclass(frozen=True)
class ToyFormat:
    weights: str = "16-bit signed integers, one scale per post population"
    decays: str = "8-bit fractions a, b, c of 256"
    delays: str = "0..15 steps"


FORMAT = ToyFormat()


@dataclass
class ToyReport:
    """What the toy quantizer changed: ``{field: count}``."""

    changes: dict[str, int]

    def to_dict(self) -> dict:
        return {"target": NAME, "changes": dict(self.changes)}

    def lines(self) -> list[str]:
        return [f"{field}: {count}" for field, count in self.changes.items()] or [f"{NAME}: lossless"]


def v_per_unit(population, threshold_lsb: float) -> float:
    if isinstance(population, LIF):
        return threshold_lsb / float(as_vector(population.threshold, population.size)[0])
    return threshold_lsb


def factors(population, dt_ms: float) -> tuple[int, int, int]:
    """``(a, b, c)`` of a population, in 1/256."""
    alpha, beta, i_scale = decays(population, dt_ms)
    return (
        int(round(DECAY_ONE * alpha[0])),
        int(round(DECAY_ONE * beta[0])),
        int(round(DECAY_ONE * (1 - alpha[0]) * i_scale[0])),
    )


def quantize(network: Network, *, threshold_lsb: float = 4096.0) -> tuple[Network, ToyReport]:
    """Integer weights ``round(w v_per_unit)`` clipped to 16 bits, delays rounded and clipped to 0..15,
    biases rounded; rest, reset and refractoriness must be 0."""
    changes: dict[str, int] = {}
    scales = {}
    for population in network.neurons():
        rest = as_vector(population.rest, population.size)
        if np.any(rest != 0) or (
            isinstance(population, LIF)
            and (np.any(as_vector(population.reset, population.size) != 0) or population.refractory_steps)
        ):
            raise TargetLimitError(
                f"populations[{population.name}]: the toy chip needs rest 0, reset 0 and no refractory period"
            )
        scales[population.name] = v_per_unit(population, threshold_lsb)
    projections = []
    for projection in network.projections:
        scale = scales[projection.post]
        exists = projection.existing()
        exact = np.where(exists, projection.weights, 0.0) * scale
        integers = np.clip(np.rint(exact), -WEIGHT_LIMIT, WEIGHT_LIMIT).astype(np.int64)
        changes[f"{projection.name}.weights clipped"] = int(
            np.count_nonzero(exists & (np.abs(np.rint(exact)) > WEIGHT_LIMIT))
        )
        raw = np.asarray(projection.delays_steps, np.float64)
        delays = np.where(exists, np.clip(np.floor(raw + 0.5), 0, MAX_DELAY_STEPS), 0).astype(np.int64)
        changes[f"{projection.name}.delays changed"] = int(np.count_nonzero(exists & (delays != raw)))
        weight_format = WeightFormat(NAME, NATIVE_WEIGHT_BITS, 0, 1.0 / scale)
        projections.append(
            replace(
                projection,
                weights=weight_format.to_float(integers),
                integer_weights=integers,
                weight_format=weight_format,
                delays_steps=delays,
                max_delay_steps=min(projection.max_delay_steps, MAX_DELAY_STEPS),
            )
        )
    populations = []
    for population in network.populations:
        if population.kind != "spike_source":
            alpha = decays(population, network.dt_ms)[0][0]
            bias = as_vector(population.bias, population.size) * (1 - alpha) * scales[population.name]
            population = replace(
                population,
                bias=np.rint(bias) / ((1 - alpha) * scales[population.name]),
                metadata={**population.metadata, "toy_threshold_lsb": threshold_lsb},
            )
        populations.append(population)
    report = ToyReport({field: count for field, count in changes.items() if count})
    provenance = {**network.provenance, "quantization": report.to_dict()}
    return Network(network.name, network.dt_ms, tuple(populations), tuple(projections), provenance), report


def prepare(network: Network, rng) -> Network:
    return quantize(network)[0]


def integer_parameters(network: Network) -> dict:
    """Everything the chip holds, as plain integers (the exporter writes exactly this)."""
    populations = {}
    for population in network.neurons():
        threshold_lsb = float(population.metadata.get("toy_threshold_lsb", 4096.0))
        scale = v_per_unit(population, threshold_lsb)
        alpha = decays(population, network.dt_ms)[0][0]
        a, b, c = factors(population, network.dt_ms)
        populations[population.name] = {
            "size": population.size,
            "a": a,
            "b": b,
            "c": c,
            "spiking": isinstance(population, LIF),
            "theta": int(round(threshold_lsb)),
            "scale": 1.0 / scale,
            "bias": [int(x) for x in np.rint(as_vector(population.bias, population.size) * (1 - alpha) * scale)],
        }
    projections = [
        {
            "name": p.name,
            "pre": p.pre,
            "post": p.post,
            "weights": np.where(p.existing(), p.integer_weights, 0).astype(int).tolist(),
            "delays": np.where(p.existing(), p.integer_delays(), 0).astype(int).tolist(),
        }
        for p in network.projections
    ]
    return {
        "name": network.name,
        "dt_ms": network.dt_ms,
        "populations": populations,
        "projections": projections,
        "sources": {s.name: s.size for s in network.sources()},
    }


def simulate(network: Network, inputs: dict[str, np.ndarray]) -> Recording:
    """The toy chip's arithmetic, vectorised over the batch."""
    chip = integer_parameters(network)
    batch, steps = next(iter(inputs.values())).shape[:2]
    spikes = {name: np.asarray(values, bool) for name, values in inputs.items()}
    state = {
        name: (np.zeros((batch, p["size"]), np.int64), np.zeros((batch, p["size"]), np.int64))
        for name, p in chip["populations"].items()
    }
    record = {
        name: {
            "spikes": np.zeros((batch, steps, p["size"]), bool),
            "v": np.zeros((batch, steps, p["size"]), np.int64),
            "i": np.zeros((batch, steps, p["size"]), np.int64),
        }
        for name, p in chip["populations"].items()
    }
    for name, p in chip["populations"].items():
        spikes[name] = record[name]["spikes"]
    for step in range(steps):
        arriving = {name: np.zeros((batch, p["size"]), np.int64) for name, p in chip["populations"].items()}
        for projection in chip["projections"]:
            weights, delays = np.asarray(projection["weights"]), np.asarray(projection["delays"])
            for delay in np.unique(delays):
                sent = step - 1 - int(delay)
                if sent >= 0:
                    arriving[projection["post"]] += spikes[projection["pre"]][:, sent].astype(np.int64) @ np.where(
                        delays == delay, weights, 0
                    )
        for name, p in chip["populations"].items():
            v, i = state[name]
            i = np.floor_divide(i * p["b"], DECAY_ONE) + arriving[name]
            v = np.floor_divide(v * p["a"], DECAY_ONE) + np.floor_divide(i * p["c"], DECAY_ONE) + np.asarray(p["bias"])
            fired = (v >= p["theta"]) if p["spiking"] else np.zeros_like(v, bool)
            v = np.where(fired, 0, v)
            state[name] = (v, i)
            record[name]["spikes"][:, step], record[name]["v"][:, step], record[name]["i"][:, step] = fired, v, i
    populations = {name: PopulationRecording(values) for name, values in inputs.items()}
    for name, p in chip["populations"].items():
        populations[name] = PopulationRecording(
            record[name]["spikes"], {"v": record[name]["v"], "i": record[name]["i"]}, {"v": p["scale"], "i": p["scale"]}
        )
    return Recording(f"refsim-{NAME}", network.dt_ms, steps, populations)
