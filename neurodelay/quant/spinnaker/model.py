"""The integer model of a SpiNNaker-quantized network: what the exporter writes, the refsim
simulates and read-back parity compares (docs/spinnaker.md §S6)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import TargetLimitError, ValidationError
from ...ir import LIF, LeakyIntegrator, Network, as_vector
from .fixed_point import encode_s1615, expk_bits, kdivk, refractory_timesteps, synaptic_decay_and_init
from .formats import (
    DELAY_EXTENSION_STAGES,
    LEAKY_INTEGRATOR_THRESHOLD_MV,
    MAX_SHIFT,
    S1615_FRACTION_BITS,
    TARGET,
    word_limit,
)
from .placement import auto_neurons_per_core, check_delay_extensions, delay_slots, max_delay_steps


@dataclass
class PopulationLayout:
    """One neuron population as sPyNNaker's ``IF_curr_exp`` (float PyNN parameters and chip integers).

    pynn_parameters: PyNN cell parameters, float64 ``[size]`` each, in ms / nF / mV / nA.
    bits: the s16.15 words the host writes (int64 ``[size]``): v_init, v_rest, v_reset, v_thresh,
        i_offset, tau_m, cm, tau_refrac, tau_syn (one tau for both receptor types).
    r_membrane, exp_tc: s16.15 bits derived on chip; t_refract: timesteps;
    decay, init: u0.32 bits of the synapses (same for exc and inh).
    shift: ring-buffer left shift used for both receptor types.
    neurons_per_core: the value the exporter pins; slots: D, ring-buffer delay slots of its cores.
    """

    name: str
    size: int
    pynn_parameters: dict[str, np.ndarray]
    bits: dict[str, np.ndarray]
    r_membrane: np.ndarray
    exp_tc: np.ndarray
    t_refract: np.ndarray
    decay: np.ndarray
    init: np.ndarray
    shift: int
    neurons_per_core: int
    slots: int
    needs_delay_extension: bool


@dataclass
class SynapseList:
    """Synapses of one IR projection on one receptor type, as sPyNNaker gets them.

    pre, post: int64 ``[k]`` neuron indices; weight_words: int64 ``[k]`` in 1..65535;
    delay_steps: int64 ``[k]`` sPyNNaker delays (IR delay + 1), in 1..9 D.
    """

    projection: str
    pre_population: str
    post_population: str
    receptor: str
    pre: np.ndarray
    post: np.ndarray
    weight_words: np.ndarray
    delay_steps: np.ndarray


@dataclass
class SpiNNakerModel:
    """Everything the exporter, the reference simulator and read-back parity need about one network."""

    network_name: str
    dt_ms: float
    timestep_bits: int
    voltage_scale_mv: float
    populations: dict[str, PopulationLayout]
    sources: dict[str, int]
    synapses: list[SynapseList]


def _settings(network: Network) -> dict[str, Any]:
    settings = network.provenance.get("spinnaker")
    if not isinstance(settings, dict) or "voltage_scale_mv" not in settings:
        raise ValidationError(
            "provenance.spinnaker",
            "the network was not quantized for SpiNNaker",
            "a network returned by quantize_network",
        )
    for projection in network.projections:
        if projection.weight_format is None or projection.weight_format.target != TARGET:
            raise ValidationError(
                f"projections[{projection.name}].weight_format",
                "not quantized for SpiNNaker",
                "WeightFormat(target='spinnaker', ...)",
            )
    return settings


def timestep_bits(dt_ms: float) -> int:
    """s16.15 bits of the timestep; dt must be a whole number of microseconds (sPyNNaker's clock)."""
    if abs(dt_ms * 1000.0 - round(dt_ms * 1000.0)) > 1e-9:
        raise TargetLimitError(
            f"dt_ms: {dt_ms} ms is not a whole number of microseconds (allowed: multiples of 0.001 ms)"
        )
    if round(dt_ms * 1000.0) < 1:
        raise TargetLimitError(
            f"dt_ms: {dt_ms:g} ms is below sPyNNaker's 1 us clock (allowed: multiples of 0.001 ms, at least 0.001 ms)"
        )
    return int(encode_s1615(dt_ms, "dt_ms"))


def pynn_cell_parameters(
    population: LIF | LeakyIntegrator, dt_ms: float, voltage_scale_mv: float
) -> dict[str, np.ndarray]:
    """PyNN ``IF_curr_exp`` parameters (float64 ``[size]`` each; ms, nF, mV, nA) for one IR population."""
    n = population.size
    tau_m = as_vector(population.tau_m_ms, n)
    rest = as_vector(population.rest, n) * voltage_scale_mv
    if isinstance(population, LIF):
        reset = as_vector(population.reset, n) * voltage_scale_mv
        threshold = as_vector(population.threshold, n) * voltage_scale_mv
        tau_refrac = np.full(n, population.refractory_steps * dt_ms)
    else:
        reset, threshold, tau_refrac = rest.copy(), np.full(n, LEAKY_INTEGRATOR_THRESHOLD_MV), np.zeros(n)
    tau_syn = as_vector(population.tau_syn_ms, n)
    return {
        "tau_m": tau_m,
        "cm": tau_m.copy(),
        "v_rest": rest,
        "v_reset": reset,
        "v_thresh": threshold,
        "tau_syn_E": tau_syn,
        "tau_syn_I": tau_syn.copy(),
        "tau_refrac": tau_refrac,
        "i_offset": as_vector(population.bias, n) * voltage_scale_mv,
        "v": rest.copy(),
    }


def chip_constants(
    name: str, parameters: dict[str, np.ndarray], step_bits: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(bits, derived)``: the s16.15 parameter words and the constants the core derives from them."""
    bits = {
        key: encode_s1615(parameters[key], f"populations[{name}].{key}")
        for key in ("v", "v_rest", "v_reset", "v_thresh", "i_offset", "tau_m", "cm", "tau_refrac", "tau_syn_E")
    }
    if np.any(bits["tau_m"] <= 0) or np.any(bits["tau_syn_E"] <= 0) or np.any(bits["cm"] <= 0):
        raise TargetLimitError(
            f"populations[{name}]: tau_m, cm and tau_syn must be at least 2^-15 ms after s16.15 encoding"
        )
    r = np.array([kdivk(int(t), int(c)) for t, c in zip(bits["tau_m"], bits["cm"])], np.int64)
    exp_tc = np.array([expk_bits(-kdivk(step_bits, int(t))) for t in bits["tau_m"]], np.int64)
    t_refract = np.array([refractory_timesteps(int(t), step_bits) for t in bits["tau_refrac"]], np.int64)
    decay_init = np.array([synaptic_decay_and_init(int(t), step_bits) for t in bits["tau_syn_E"]], np.int64)
    derived = {
        "r_membrane": r,
        "exp_tc": exp_tc,
        "t_refract": t_refract,
        "decay": decay_init[:, 0],
        "init": decay_init[:, 1],
    }
    return bits, derived


def ring_buffer_shifts(network: Network) -> dict[str, int]:
    """The ring-buffer shift of every neuron population: ``exponent + 15`` of its incoming projections'
    weight formats, which must agree (0 without incoming projections); every weight word must fit
    :func:`word_limit` of that shift."""
    shifts: dict[str, int] = {}
    for population in network.neurons():
        incoming = network.incoming(population.name)
        found = {p.name: p.weight_format.exponent + S1615_FRACTION_BITS for p in incoming}
        if len(set(found.values())) > 1:
            raise ValidationError(
                f"projections[{','.join(found)}].weight_format.exponent",
                f"projections into {population.name!r} have different ring-buffer shifts {found}",
                "one exponent per post population (SpiNNaker has one shift per population)",
            )
        shift = next(iter(found.values()), 0)
        if not 0 <= shift <= MAX_SHIFT:
            raise TargetLimitError(
                f"populations[{population.name}]: ring-buffer shift {shift}; allowed: 0..{MAX_SHIFT}"
            )
        for projection in incoming:
            largest = int(np.abs(projection.integer_weights).max(initial=0))
            if largest > word_limit(shift):
                raise TargetLimitError(
                    f"projections[{projection.name}].integer_weights: |{largest}| exceeds the "
                    f"{word_limit(shift)} a SpiNNaker weight word can hold at shift {shift}"
                )
        shifts[population.name] = shift
    return shifts


_MODELS: weakref.WeakKeyDictionary[Network, SpiNNakerModel] = weakref.WeakKeyDictionary()


def integer_model(network: Network) -> SpiNNakerModel:
    """The integer SpiNNaker view of a network returned by :func:`quantize_network`.

    Networks are immutable, so the model is built once per network object and shared by every caller
    (quantizer report, exporter, refsim mode, backends, build parity): treat it as read-only.
    Raises :class:`TargetLimitError` naming the projection, the delay and the limit when a delay
    exceeds what the post population's cores can hold even with a delay extension.
    """
    model = _MODELS.get(network)
    if model is None:
        model = _MODELS[network] = _build_model(network)
    return model


def _build_model(network: Network) -> SpiNNakerModel:
    settings = _settings(network)
    scale = float(settings["voltage_scale_mv"])
    step_bits = timestep_bits(network.dt_ms)
    pinned = settings.get("neurons_per_core", {})
    synapses: list[SynapseList] = []
    needed: dict[str, int] = {p.name: 0 for p in network.neurons()}
    for projection in network.projections:
        exists = projection.existing() & (projection.integer_weights != 0)
        delays = projection.integer_delays() + 1
        for receptor, select in (
            ("excitatory", projection.integer_weights > 0),
            ("inhibitory", projection.integer_weights < 0),
        ):
            pre, post = np.nonzero(exists & select)
            if pre.size:
                synapses.append(
                    SynapseList(
                        projection.name,
                        projection.pre,
                        projection.post,
                        receptor,
                        pre.astype(np.int64),
                        post.astype(np.int64),
                        np.abs(projection.integer_weights[pre, post]),
                        delays[pre, post],
                    )
                )
                needed[projection.post] = max(needed[projection.post], int(delays[pre, post].max()))
    shifts = ring_buffer_shifts(network)
    populations: dict[str, PopulationLayout] = {}
    for population in network.neurons():
        parameters = pynn_cell_parameters(population, network.dt_ms, scale)
        bits, derived = chip_constants(population.name, parameters, step_bits)
        if isinstance(population, LIF) and np.any(bits["v_reset"] >= bits["v_thresh"]):
            raise TargetLimitError(
                f"populations[{population.name}].reset: reset and threshold are equal in s16.15 "
                "at this voltage scale (the chip checks the threshold while refractory, so the "
                "neuron would fire every step); allowed: threshold - reset >= 2^-15 mV after "
                "scaling; raise voltage_scale_mv"
            )
        per_core = int(pinned.get(population.name) or auto_neurons_per_core(population.size, needed[population.name]))
        slots = delay_slots(population.size, per_core, needed[population.name])
        populations[population.name] = PopulationLayout(
            population.name,
            population.size,
            parameters,
            bits,
            derived["r_membrane"],
            derived["exp_tc"],
            derived["t_refract"],
            derived["decay"],
            derived["init"],
            shifts[population.name],
            per_core,
            slots,
            needed[population.name] > slots,
        )
    for synapse_list in synapses:
        slots = populations[synapse_list.post_population].slots
        worst = int(synapse_list.delay_steps.max())
        if worst > max_delay_steps(slots):
            post = populations[synapse_list.post_population]
            raise TargetLimitError(
                f"projections[{synapse_list.projection}]: delay of {worst - 1} steps (sPyNNaker delay "
                f"{worst} steps = {worst * network.dt_ms:g} ms) exceeds SpiNNaker's limit of "
                f"{max_delay_steps(slots)} steps for population {post.name!r} ({slots} ring-buffer slots "
                f"at {post.neurons_per_core} neurons per core, plus {DELAY_EXTENSION_STAGES} delay-extension "
                f"stages); allowed IR delays: 0..{max_delay_steps(slots) - 1} steps"
            )
    sources = {s.name: s.size for s in network.sources()}
    check_delay_extensions(populations, {**sources, **{p.name: p.size for p in network.neurons()}}, synapses)
    return SpiNNakerModel(network.name, network.dt_ms, step_bits, scale, populations, sources, synapses)
