"""What the emulated core runs: SpiNNaker integer parameters per population and synaptic matrices.

This is the description sPyNNaker itself would load onto a board, written as plain dataclasses:

* :class:`IfCurrExpParameters` — the per-neuron words of the IF_curr_exp parameter region
  (``neuron_params_t`` of ``neuron_model_lif_impl.h``, ``threshold_type_static``, the exponential
  synapse parameters), each an int64 array ``[n]`` holding **s16.15 bits** (value = bits / 32768,
  in mV, nF, ms or nA as named), except ``refract_timer_steps`` (whole timesteps). Derived constants
  (R_membrane, exp_TC, T_refract, synaptic decay and init) are *not* here: the binary's own
  parameter loader computes them on the emulated core.
* :class:`SynapticMatrix` — one projection as sPyNNaker builds its synaptic rows: uint16 weights in
  ring-buffer units of the target's synapse type, delays in timesteps (``1 <= d <= D``, the target
  core's ring-buffer slots), one synapse type (``excitatory`` or ``inhibitory``) per matrix, a mask.
* :class:`CorePopulation` / :class:`SourcePopulation` and :class:`EmulatedNetwork` tie them together.

Latency (the chip's): a spike emitted (or injected) at step t through delay d is added to ring
slot ``t + d`` and enters the target's synaptic current at the start of step ``t + d``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from ....errors import TargetLimitError, ValidationError

S1615_ONE = 1 << 15
"""s16.15 bits of 1.0."""
INT32_RANGE = (-(1 << 31), (1 << 31) - 1)
WEIGHT_MAX = 0xFFFF
"""Largest ring-buffer weight (uint16) of one synapse, in units of 2^(shift - 15) nA."""
MAX_RING_BUFFER_BITS = 14
"""log2 of a core's ring-buffer entries: neuron bits + synapse-type bits + delay bits <= 14."""
SYNAPSE_TYPES = ("excitatory", "inhibitory")
DEFAULT_NEURONS_PER_CORE = 256


def n_bits(n_values: int) -> int:
    """sPyNNaker's ``get_n_bits``: bits needed to index ``n_values`` values (1 for 1, 0 for 0)."""
    if n_values <= 1:
        return n_values
    return (n_values - 1).bit_length()


def to_s1615(value: float, field_name: str) -> int:
    """``value`` as s16.15 bits; raises if it is not exactly representable (nothing is rounded here)."""
    bits = value * S1615_ONE
    if not np.isfinite(bits) or bits != round(bits) or not INT32_RANGE[0] <= bits <= INT32_RANGE[1]:
        raise ValidationError(
            field_name, f"{value!r} is not an exact s16.15 value", "multiples of 2^-15 in [-65536, 65536)"
        )
    return int(round(bits))


@dataclass(frozen=True, eq=False)
class IfCurrExpParameters:
    """Parameter words of ``size`` IF_curr_exp neurons (s16.15 bits as int64 ``[size]``; see module doc).

    v_init_mv, v_rest_mv, v_reset_mv, v_thresh_mv: mV.  cm_nf: nF (> 0).  tau_m_ms, tau_refrac_ms,
    tau_syn_e_ms, tau_syn_i_ms: ms (> 0 except tau_refrac >= 0).  i_offset_na, isyn_exc_na,
    isyn_inh_na (initial synaptic currents): nA.  refract_timer_steps: initial refractory counter.
    timestep_ms: s16.15 bits of the machine timestep (every neuron gets the same word, as sPyNNaker
    writes it).  n_steps_per_timestep: neuron sub-steps per tick (sPyNNaker's default is 1).
    """

    size: int
    v_init_mv: np.ndarray
    v_rest_mv: np.ndarray
    cm_nf: np.ndarray
    tau_m_ms: np.ndarray
    i_offset_na: np.ndarray
    v_reset_mv: np.ndarray
    tau_refrac_ms: np.ndarray
    refract_timer_steps: np.ndarray
    v_thresh_mv: np.ndarray
    tau_syn_e_ms: np.ndarray
    isyn_exc_na: np.ndarray
    tau_syn_i_ms: np.ndarray
    isyn_inh_na: np.ndarray
    timestep_ms: int
    n_steps_per_timestep: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.size, (int, np.integer)) or self.size < 1:
            raise ValidationError("parameters.size", f"{self.size!r}", "an integer >= 1")
        positive = {"cm_nf", "tau_m_ms", "tau_syn_e_ms", "tau_syn_i_ms"}
        for item in fields(self):
            if item.name in ("size", "timestep_ms", "n_steps_per_timestep"):
                continue
            array = np.asarray(getattr(self, item.name))
            if array.dtype.kind not in "iu" and not (array.dtype.kind == "f" and np.all(array == np.round(array))):
                raise ValidationError(
                    f"parameters.{item.name}",
                    f"dtype {array.dtype} with non-integer values",
                    "integer s16.15 bits (use to_s1615 to convert exact values)",
                )
            array = np.broadcast_to(array.astype(np.int64), (self.size,)).copy()
            low = 1 if item.name in positive else (0 if item.name == "tau_refrac_ms" else INT32_RANGE[0])
            if array.min() < low or array.max() > INT32_RANGE[1]:
                raise ValidationError(
                    f"parameters.{item.name}", f"bits in [{array.min()}, {array.max()}]", f"int32 s16.15 bits >= {low}"
                )
            object.__setattr__(self, item.name, array)
        if not isinstance(self.timestep_ms, (int, np.integer)) or not 0 < self.timestep_ms <= INT32_RANGE[1]:
            raise ValidationError("parameters.timestep_ms", f"{self.timestep_ms!r}", "s16.15 bits > 0")
        if not isinstance(self.n_steps_per_timestep, (int, np.integer)) or not 1 <= self.n_steps_per_timestep <= 64:
            raise ValidationError(
                "parameters.n_steps_per_timestep", f"{self.n_steps_per_timestep!r}", "an integer in [1, 64]"
            )

    def select(self, neurons: slice) -> "IfCurrExpParameters":
        """The parameters of neurons ``neurons`` (one core's slice)."""
        values = {item.name: getattr(self, item.name) for item in fields(self)}
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                values[name] = value[neurons]
        values["size"] = len(range(*neurons.indices(self.size)))
        return IfCurrExpParameters(**values)


@dataclass(frozen=True, eq=False)
class CorePopulation:
    """IF_curr_exp neurons run on emulated cores, ``neurons_per_core`` per core (sPyNNaker's split).

    ring_buffer_shifts: left shift of the excitatory and inhibitory ring-buffer sums (sPyNNaker's
    ``get_ring_buffer_shifts()``), so one weight unit is 2^(shift - 15) nA.
    """

    name: str
    parameters: IfCurrExpParameters
    ring_buffer_shifts: tuple[int, int]
    neurons_per_core: int = DEFAULT_NEURONS_PER_CORE

    @property
    def size(self) -> int:
        return self.parameters.size

    def core_slices(self) -> list[slice]:
        """The neurons of each core, in order (the last core may hold fewer)."""
        return [
            slice(start, min(start + self.neurons_per_core, self.size))
            for start in range(0, self.size, self.neurons_per_core)
        ]

    def max_delay_slots(self) -> int:
        """Ring-buffer delay slots available on one of its cores: 2^(14 - neuron bits - 1)."""
        neuron_bits = n_bits(min(self.size, self.neurons_per_core))
        return 1 << (MAX_RING_BUFFER_BITS - neuron_bits - n_bits(len(SYNAPSE_TYPES)))


@dataclass(frozen=True, eq=False)
class SourcePopulation:
    """Spike sources (a SpikeSourceArray); their spikes are given at run time ``[batch, steps, size]``."""

    name: str
    size: int


@dataclass(frozen=True, eq=False)
class SynapticMatrix:
    """All synapses of one projection ``pre -> post`` as the chip holds them.

    weights: uint16 values ``[n_pre, n_post]`` (0..65535) in the target's ring-buffer units.
    delays_steps: int ``[n_pre, n_post]``, 1 <= d <= the target's delay slots (no delay extension).
    synapse_type: ``"excitatory"`` or ``"inhibitory"``.  mask: bool ``[n_pre, n_post]`` (None: all).
    """

    name: str
    pre: str
    post: str
    synapse_type: str
    weights: np.ndarray
    delays_steps: np.ndarray
    mask: np.ndarray | None = None

    def existing(self) -> np.ndarray:
        return np.ones(np.shape(self.weights), bool) if self.mask is None else np.asarray(self.mask, bool)


@dataclass(frozen=True, eq=False)
class EmulatedNetwork:
    """Sources, emulated populations and synaptic matrices, checked against what a core can hold."""

    name: str
    dt_ms: float
    sources: tuple[SourcePopulation, ...]
    populations: tuple[CorePopulation, ...]
    matrices: tuple[SynapticMatrix, ...] = ()
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        sizes: dict[str, int] = {}
        for kind, group in (("sources", self.sources), ("populations", self.populations)):
            for index, population in enumerate(group):
                if population.name in sizes:
                    raise ValidationError(
                        f"{kind}[{index}].name", f"duplicate name {population.name!r}", "unique population names"
                    )
                sizes[population.name] = population.size
        emulated = {p.name: p for p in self.populations}
        for index, population in enumerate(self.populations):
            for s, shift in enumerate(population.ring_buffer_shifts):
                if not 0 <= int(shift) <= 16:
                    raise ValidationError(f"populations[{index}].ring_buffer_shifts[{s}]", f"{shift}", "0..16")
            if not 1 <= population.neurons_per_core <= DEFAULT_NEURONS_PER_CORE:
                raise ValidationError(
                    f"populations[{index}].neurons_per_core",
                    f"{population.neurons_per_core}",
                    f"1..{DEFAULT_NEURONS_PER_CORE}",
                )
        for index, matrix in enumerate(self.matrices):
            where = f"matrices[{index}]"
            if matrix.pre not in sizes:
                raise ValidationError(f"{where}.pre", f"unknown population {matrix.pre!r}", ", ".join(sizes))
            if matrix.post not in emulated:
                raise ValidationError(
                    f"{where}.post", f"{matrix.post!r} is not an emulated population", ", ".join(emulated)
                )
            if matrix.synapse_type not in SYNAPSE_TYPES:
                raise ValidationError(f"{where}.synapse_type", f"{matrix.synapse_type!r}", " or ".join(SYNAPSE_TYPES))
            shape = (sizes[matrix.pre], sizes[matrix.post])
            for name in ("weights", "delays_steps", "mask"):
                value = getattr(matrix, name)
                if value is not None and np.shape(value) != shape:
                    raise ValidationError(f"{where}.{name}", f"shape {list(np.shape(value))}", f"{list(shape)}")
            existing = matrix.existing()
            weights = np.asarray(matrix.weights)
            delays = np.asarray(matrix.delays_steps)
            if weights.dtype.kind not in "iu" or delays.dtype.kind not in "iu":
                raise ValidationError(
                    f"{where}",
                    "weights/delays_steps are not integer arrays",
                    "uint16 weights and integer delays in steps",
                )
            if existing.any():
                if weights[existing].min() < 0 or weights[existing].max() > WEIGHT_MAX:
                    raise ValidationError(
                        f"{where}.weights",
                        f"values in [{weights[existing].min()}, {weights[existing].max()}]",
                        f"0..{WEIGHT_MAX}",
                    )
                slots = emulated[matrix.post].max_delay_slots()
                if delays[existing].min() < 1:
                    raise ValidationError(
                        f"{where}.delays_steps", f"minimum {delays[existing].min()}", f"1..{slots} steps"
                    )
                if delays[existing].max() > slots:
                    raise TargetLimitError(
                        f"{where}.delays_steps: {delays[existing].max()} steps exceeds the "
                        f"{slots} ring-buffer slots of a {matrix.post!r} core; longer delays need "
                        "a delay-extension core, which the emulated core does not model"
                    )

    def population(self, name: str) -> CorePopulation | SourcePopulation:
        for population in (*self.sources, *self.populations):
            if population.name == name:
                return population
        raise KeyError(name)


def uniform_parameters(
    size: int,
    *,
    dt_ms: float = 1.0,
    v_init_mv: float = -65.0,
    v_rest_mv: float = -65.0,
    cm_nf: float = 1.0,
    tau_m_ms: float = 20.0,
    i_offset_na: float = 0.0,
    v_reset_mv: float = -65.0,
    tau_refrac_ms: float = 0.0,
    v_thresh_mv: float = -50.0,
    tau_syn_e_ms: float = 5.0,
    tau_syn_i_ms: float = 5.0,
) -> IfCurrExpParameters:
    """Parameters shared by ``size`` neurons, from exact s16.15 values (defaults: sPyNNaker's, tau_refrac 0)."""
    values = dict(
        v_init_mv=v_init_mv,
        v_rest_mv=v_rest_mv,
        cm_nf=cm_nf,
        tau_m_ms=tau_m_ms,
        i_offset_na=i_offset_na,
        v_reset_mv=v_reset_mv,
        tau_refrac_ms=tau_refrac_ms,
        v_thresh_mv=v_thresh_mv,
        tau_syn_e_ms=tau_syn_e_ms,
        tau_syn_i_ms=tau_syn_i_ms,
    )
    bits = {name: np.full(size, to_s1615(value, name), np.int64) for name, value in values.items()}
    return IfCurrExpParameters(
        size=size,
        refract_timer_steps=np.zeros(size, np.int64),
        isyn_exc_na=np.zeros(size, np.int64),
        isyn_inh_na=np.zeros(size, np.int64),
        timestep_ms=to_s1615(dt_ms, "dt_ms"),
        **bits,
    )
