"""Export and import of IR networks as NIR graphs (Neuromorphic Intermediate Representation, ``nir`` 1.0.8).

**Units.** NIR states its ODEs in SI units: times in **seconds**. Time constants are written as
``tau_ms / 1000`` and delays as ``delay_steps * dt_ms / 1000``. NIR graphs carry no timestep, so
the graph's metadata states it: ``dt`` (seconds), ``time_unit = "s"``, ``neurodelay_dt_ms``.

**Mapping** (populations keep their names as node names):

============================  =========================================================================
IR                            NIR
============================  =========================================================================
SpikeSource(size)             Input(shape [size])
LIF                           CubaLIF(tau_syn, tau_mem [s], r = 1, v_leak = rest + bias,
                              v_threshold = threshold, v_reset = reset, w_in = tau_syn [s])
LeakyIntegrator               CubaLI(tau_syn, tau_mem [s], r = 1, v_leak = rest + bias, w_in = tau_syn [s])
Projection                    one branch per distinct integer delay d of its synapses:
                              ``pre -> Linear(W_d^T) [-> Delay(d * dt)] -> post`` (no Delay for d = 0),
                              W_d holding the weights of the synapses whose delay is d, 0 elsewhere
populations without outputs   an Output node ``<name>.output``
============================  =========================================================================

NIR has no per-synapse delay (a Delay node delays each element of a signal), hence the branches.
Delays that are not whole steps (a float-trained network) are written as executed,
``floor(d + 0.5)``, each projection's roundings listed in the report and the metadata.

**Input conventions** (metadata ``input_convention``): the table above is ``impulse``, this module's
exact reading. ``per-step`` writes the same dynamics for simulators that step CubaLIF by forward
Euler with a spike as an input of 1 for one step (snnTorch, Norse): ``tau = dt / (1 - decay)``,
``r = tau_mem / dt``, ``w_in = tau_syn / dt`` and weights times ``(1 - alpha) i_scale`` of the
target. The importer also reads ``jump`` (Norse's LIFCell). docs/nir.md says which tool loads what.

**What is exact and what is approximate.** NIR's CubaLIF reads ``tau_syn dI/dt = -I + w_in S``
with S a train of Dirac impulses weighted by the Linear node, so ``w_in = tau_syn`` makes each
spike add its weight to I, exactly as the IR's ``I[n] = beta I[n-1] + sum(weights)``; between
spikes I decays by ``beta = exp(-dt / tau_syn)``, the exact solution, so I is exact at the steps.
``v_leak = rest + bias`` and ``r = 1`` give the IR's fixed point ``V = rest + bias + I``. The IR's
V update ``V[n] = rest + alpha (V[n-1] - rest) + (1 - alpha)(i_scale I[n] + bias)`` holds the
step's average current constant over the step (exponential Euler); the exact solution of the NIR
ODE differs by O(dt^2) per step: **approximate**. Also approximate: NIR fires on ``v > threshold``,
the IR on ``V >= threshold``; a spike at step t through delay d reaches I at step ``t + 1 + d`` in
the IR (and on the built-in chips): the extra step is the discrete simulation's transmission latency, which NIR
(continuous time) leaves to the simulator; the IR's ``refractory_steps`` have no NIR field.

**Round trip.** Everything NIR cannot hold (the network's name and provenance, population and
projection order, metadata, scalar-versus-array parameters, ``rest`` and ``bias`` separately, the
time constants in ms, refractory steps, each synapse's branch including zero-weight synapses and
the mask) travels in ``neurodelay_*`` metadata; the importer uses it only where it agrees with the
NIR fields (so a graph edited by another tool imports from its NIR fields). IR -> NIR -> IR is
exact array by array, except that quantization (integer weights and their format) is not kept:
the float weights they stand for are. Every lossy step is listed in the returned report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nir
import numpy as np
import yaml

from ..atomic import atomic_path
from ..bounded_yaml import load_yaml
from ..errors import ValidationError
from ..limits import check_memory, format_bytes
from ..ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from ..ir.fileformat import plain_yaml
from ..ir.nodes import NEURON_PARAMETERS
from ..ir.validate import MAX_DELAY_STEPS, NAME_PATTERN

FORMAT = "neurodelay-nir/1"
SUFFIX = ".nir"
DEFAULT_MAX_BRANCH_ELEMENTS = 2**27
MS_PER_S = 1000.0
LATENCY_NOTE = (
    "a spike at step t through a branch of delay d*dt reaches the target's current at step "
    "t + 1 + d of a simulation with timestep dt (one step of transmission latency)"
)
IMPULSE, PER_STEP, JUMP = "impulse", "per-step", "jump"
CONVENTIONS = (IMPULSE, PER_STEP)  # what the exporter writes
IMPORT_CONVENTIONS = (IMPULSE, PER_STEP, JUMP)  # what the importer reads
CONVENTION_NOTES = {
    IMPULSE: "a spike is a Dirac impulse: tau_syn dI/dt = -I + w_in * (W s), so I jumps by W * w_in / tau_syn "
    "(w_in = tau_syn: by W); integrate exactly over each step of dt",
    PER_STEP: "forward Euler with step dt, a spike an input of 1 for one step: I <- (1 - dt/tau_syn) I + "
    "(dt/tau_syn) w_in (W s), V <- V + (dt/tau_mem) (v_leak - V + r I); as snnTorch and Norse run "
    "CubaLIF (no transmission latency: add one step per layer to compare with neurodelay)",
    JUMP: "forward Euler with step dt, a spike adding w_in * W to I at once (no dt/tau_syn factor): "
    "I <- (1 - dt/tau_syn) I + w_in (W s), V <- V + (dt/tau_mem) (v_leak - V + r I); as Norse's LIFCell "
    "runs (no transmission latency, as per-step); import only",
}


@dataclass
class NIRExport:
    """What :func:`export` wrote: the file, the graph and the report of every lossy step."""

    path: Path | None
    graph: Any
    report: list[str] = field(default_factory=list)


# ----- export -------------------------------------------------------------------------------
def to_nir(
    network: Network,
    *,
    convention: str = IMPULSE,
    fold_uniform_delays: bool = False,
    max_branch_elements: int = DEFAULT_MAX_BRANCH_ELEMENTS,
) -> tuple[Any, list[str]]:
    """``(nir.NIRGraph, report)`` for ``network`` (see the module docstring).

    convention: how a spike enters a synapse, ``"impulse"`` (this module's own reading of NIR's
        ODEs; exact, the default) or ``"per-step"`` (the forward-Euler reading of snnTorch and
        Norse: time constants, ``r``, ``w_in`` and weights chosen so that their steps equal the IR's);
        the graph's metadata ``input_convention`` says which.
    fold_uniform_delays: write a projection whose synapses all share one delay ``d`` as a single
        Linear with no Delay node (``d`` kept in the node's metadata and in the report); simulators
        without a Delay node then run it ``d`` steps early.
    max_branch_elements: refuse a projection whose branches would hold more weight elements
        than this (each branch is a dense ``[n_post, n_pre]`` matrix).

    Delays that are not whole steps (a float-trained network) are written as executed,
    ``floor(d + 0.5)``; each projection's roundings are listed in the report and in the metadata
    ``neurodelay_rounded_delays``.
    """
    if convention not in CONVENTIONS:
        raise ValidationError("convention", f"got {convention!r}", " or ".join(CONVENTIONS))
    report: list[str] = []
    rounded: dict[str, Any] = {}
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    for population in network.populations:
        nodes[population.name] = _population_node(population, network.dt_ms, convention, report)
    for projection in network.projections:
        gain = _weight_gain(network.population(projection.post), network.dt_ms, convention)
        for name, node in _branches(
            projection, network, gain, fold_uniform_delays, max_branch_elements, report, rounded, edges
        ):
            if name in nodes:
                raise ValidationError(
                    f"projections.{projection.name}",
                    f"its branch node {name!r} clashes with another node name",
                    "population names that do not look like '<projection>.d<steps>'",
                )
            nodes[name] = node
    ends = [population for population in network.populations if not network.outgoing(population.name)]
    if not ends and network.populations:  # every population feeds one (a loop at the end): the last is read out
        ends = [network.populations[-1]]
        report.append(
            f"every population has outgoing projections: {ends[0].name!r}, the last, gets the graph's Output node"
        )
    for population in ends:
        output = f"{population.name}.output"
        if output in nodes:
            raise ValidationError(
                "populations",
                f"output node {output!r} clashes with another node",
                "names that do not end in '.output'",
            )
        nodes[output] = nir.Output(output_type={"output": np.array([population.size])})
        edges.append((population.name, output))
    info = {
        "name": network.name,
        "provenance": network.provenance,
        "populations": [population.name for population in network.populations],
        "population_metadata": {p.name: p.metadata for p in network.populations},
        "projections": [
            {
                "name": p.name,
                "pre": p.pre,
                "post": p.post,
                "max_delay_steps": p.max_delay_steps,
                "dense": p.mask is None,
                "delays_integer_dtype": p.delays_steps.dtype.kind in "iu",
                "metadata": p.metadata,
            }
            for p in network.projections
        ],
    }
    metadata = {
        "neurodelay_format": FORMAT,
        "dt": network.dt_ms / MS_PER_S,
        "time_unit": "s",
        "neurodelay_dt_ms": network.dt_ms,
        "input_convention": convention,
        "input_convention_note": CONVENTION_NOTES[convention],
        "neurodelay_latency": LATENCY_NOTE,
        # numpy numbers in a provenance made in memory (a quantizer's report) become plain ones
        "neurodelay_network_yaml": yaml.safe_dump(plain_yaml(info, "network", 1), sort_keys=False),
    }
    if rounded:
        metadata["neurodelay_rounded_delays"] = yaml.safe_dump(plain_yaml(rounded, "rounded", 1), sort_keys=False)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata), report


def _decays(population: Any, dt_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """``(1 - alpha, 1 - beta)`` per neuron: the fraction of V and of I that one step removes."""
    size = population.size
    tau_m = np.broadcast_to(np.asarray(population.tau_m_ms, np.float64), (size,))
    tau_syn = np.broadcast_to(np.asarray(population.tau_syn_ms, np.float64), (size,))
    return -np.expm1(-dt_ms / tau_m), -np.expm1(-dt_ms / tau_syn)


def _current_scale(population: Any, dt_ms: float) -> np.ndarray:
    """The IR's ``i_scale = (tau_syn / dt) (1 - beta)`` per neuron."""
    tau_syn = np.broadcast_to(np.asarray(population.tau_syn_ms, np.float64), (population.size,))
    return tau_syn / dt_ms * _decays(population, dt_ms)[1]


def _weight_gain(post: Any, dt_ms: float, convention: str) -> np.ndarray:
    """What multiplies the IR weights into ``post`` in the file: 1 (impulse), or
    ``(1 - alpha) i_scale`` (per-step: the Euler step adds the current to V with gain 1)."""
    if convention == IMPULSE:
        return np.ones(post.size)
    return _decays(post, dt_ms)[0] * _current_scale(post, dt_ms)


def _population_node(population: Any, dt_ms: float, convention: str, report: list[str]) -> Any:
    size = population.size
    if isinstance(population, SpikeSource):
        return nir.Input(input_type={"input": np.array([size])})

    def vector(name: str) -> np.ndarray:
        return np.array(np.broadcast_to(np.asarray(getattr(population, name), np.float64), (size,)))

    metadata = {
        "neurodelay_tau_m_ms": vector("tau_m_ms"),
        "neurodelay_tau_syn_ms": vector("tau_syn_ms"),
        "neurodelay_rest": vector("rest"),
        "neurodelay_bias": vector("bias"),
        "neurodelay_shared": " ".join(
            name for name in NEURON_PARAMETERS[population.kind] if not isinstance(getattr(population, name), np.ndarray)
        ),
    }
    if convention == IMPULSE:
        tau_syn_s, tau_mem_s = vector("tau_syn_ms") / MS_PER_S, vector("tau_m_ms") / MS_PER_S
        r, w_in = np.ones(size), tau_syn_s.copy()
    else:  # forward Euler with step dt: tau = dt / (1 - decay) gives the IR's decay per step
        dt_s = dt_ms / MS_PER_S
        membrane_decay, synapse_decay = _decays(population, dt_ms)
        tau_syn_s, tau_mem_s = dt_s / synapse_decay, dt_s / membrane_decay
        r, w_in = 1.0 / membrane_decay, 1.0 / synapse_decay
    common = dict(tau_syn=tau_syn_s, tau_mem=tau_mem_s, r=r, v_leak=vector("rest") + vector("bias"), w_in=w_in)
    if isinstance(population, LeakyIntegrator):
        return nir.CubaLI(**common, metadata=metadata)
    metadata["neurodelay_refractory_steps"] = int(population.refractory_steps)
    if population.refractory_steps:
        report.append(
            f"population {population.name}: refractory_steps = {population.refractory_steps} has no NIR "
            "field; kept in neurodelay metadata only (other NIR tools will not apply it)"
        )
    return nir.CubaLIF(**common, v_threshold=vector("threshold"), v_reset=vector("reset"), metadata=metadata)


def _integer_delays(projection: Projection, report: list[str], rounded: dict[str, Any]) -> np.ndarray:
    """The delays as every executor runs them: ``floor(d + 0.5)`` steps (a float-trained network's
    delays are rounded, each projection's roundings counted in ``report`` and ``rounded``)."""
    delays = projection.delays_steps
    if delays.dtype.kind in "iu":
        return delays.astype(np.int64)
    executed = np.floor(delays + 0.5)
    differs = (executed != delays) & projection.existing()
    if np.any(differs):
        change = np.abs(executed - delays)[differs]
        count, synapses = int(np.count_nonzero(differs)), int(np.count_nonzero(projection.existing()))
        rounded[projection.name] = {
            "rounded": count,
            "synapses": synapses,
            "largest_change_steps": float(change.max()),
            "mean_change_steps": float(change.mean()),
        }
        report.append(
            f"projection {projection.name}: {count} of {synapses} delays are not whole steps; written "
            f"as executed, floor(d + 0.5) steps (largest change {change.max():.3g}, mean "
            f"{change.mean():.3g} steps)"
        )
    return executed.astype(np.int64)


def _branches(
    projection: Projection,
    network: Network,
    gain: np.ndarray,
    fold_uniform_delays: bool,
    max_elements: int,
    report: list[str],
    rounded: dict[str, Any],
    edges: list[tuple[str, str]],
):
    """Yield ``(node name, node)`` of every branch of ``projection`` and append its edges."""
    dt_s = network.dt_ms / MS_PER_S
    existing = projection.existing()
    delays = _integer_delays(projection, report, rounded)
    values = np.unique(delays[existing]) if existing.any() else np.array([0], np.int64)
    n_pre, n_post = projection.weights.shape
    if values.size * n_pre * n_post > max_elements:
        raise ValidationError(
            f"projections.{projection.name}",
            f"{values.size} distinct delays need {values.size} "
            f"branches of [{n_post}, {n_pre}] weights ({values.size * n_pre * n_post} elements)",
            f"at most {max_elements} elements (NIR has no per-synapse delay)",
        )
    if projection.is_quantized:
        report.append(
            f"projection {projection.name}: integer weights and weight format "
            f"({projection.weight_format.target}) have no NIR field; exported the float weights they "
            "stand for"
        )
    folded = fold_uniform_delays and values.size == 1 and values[0] != 0
    if folded:
        report.append(
            f"projection {projection.name}: its one delay, {int(values[0])} steps, is written in the "
            "Linear node's metadata only (no Delay node); a simulator without Delay runs it "
            f"{int(values[0])} steps early"
        )
    for delay in values.tolist():
        members = existing & (delays == delay)
        linear = f"{projection.name}.d{delay}"
        metadata = {
            "neurodelay_projection": projection.name,
            "neurodelay_delay_steps": int(delay),
            "neurodelay_synapses": members.T.astype(np.uint8),
        }
        weights = np.where(members, projection.weights * gain[None, :], 0.0).T.copy()
        yield linear, nir.Linear(weight=weights, metadata=metadata)
        edges.append((projection.pre, linear))
        if delay and not folded:
            delay_node = f"{linear}.delay"
            yield delay_node, nir.Delay(delay=np.full(n_post, delay * dt_s))
            edges += [(linear, delay_node), (delay_node, projection.post)]
        else:
            edges.append((linear, projection.post))


def export(
    network: Network,
    out: str | Path,
    *,
    convention: str = IMPULSE,
    fold_uniform_delays: bool = False,
    clip: bool = False,
    max_branch_elements: int = DEFAULT_MAX_BRANCH_ELEMENTS,
) -> NIRExport:
    """Write ``network`` as a NIR file at ``out`` (atomically); options as :func:`to_nir`.

    clip: accepted like every target's exporter option and changes nothing here: NIR holds every
    float weight, and delays are always written as executed (each rounding reported).
    """
    graph, report = to_nir(
        network, convention=convention, fold_uniform_delays=fold_uniform_delays, max_branch_elements=max_branch_elements
    )
    path = Path(out)
    with atomic_path(path) as temporary:
        nir.write(str(temporary), graph)
    return NIRExport(path, graph, report)


# ----- import -------------------------------------------------------------------------------
def read(path: str | Path, *, dt_ms: float | None = None, convention: str | None = None) -> tuple[Network, list[str]]:
    """Import the NIR file at ``path`` (read with ``nir.read``); see :func:`from_nir`."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError("(file)", "not found", "a NIR file (HDF5)", file=path)
    try:
        prescan(path)
    except ValidationError as error:
        raise error.in_file(path) from None
    try:
        graph = nir.read(path)
    except Exception as error:  # the nir reader raises bare exceptions of many kinds on bad files
        raise ValidationError(
            "(file)",
            f"nir.read failed: {type(error).__name__}: {error}",
            "a NIR graph file written by nir.write",
            file=path,
        ) from None
    try:
        return from_nir(graph, dt_ms=dt_ms, convention=convention)
    except ValidationError as error:
        raise error.in_file(path) from None


def from_nir(graph: Any, *, dt_ms: float | None = None, convention: str | None = None) -> tuple[Network, list[str]]:
    """``(Network, report)`` from a NIR graph of Input, Output, Linear / Affine (zero bias), Delay,
    CubaLIF and CubaLI nodes.

    dt_ms: the timestep; required when the graph's metadata states none (``dt`` in seconds).
    convention: ``"impulse"`` or ``"per-step"`` (see :func:`to_nir`); required to agree with the
        metadata ``input_convention`` where the graph states one; ``"impulse"`` when neither does.
    Node names the IR does not allow (torch exporters name nodes ``"0"``, ``"1"``, ...) are renamed
    ``n0``, ``n1``, ... (reported). Between two populations a path is ``[Delay] -> Linear/Affine ->
    [Delay]``; delays must be whole multiples of dt; a path without Delay takes the delay its Linear's
    ``neurodelay_delay_steps`` metadata states (a folded uniform delay), else 0. Impulse: weights
    into a population are multiplied by ``r * w_in / tau_syn`` of the target (1 for graphs this
    module wrote); per-step: time constants become ``-dt / ln(1 - dt / tau)`` (the IR's decay per
    step equals the Euler one) and weights are multiplied by ``r w_in (dt / tau_syn) / i_scale``.
    """
    report: list[str] = []
    metadata = {key: _plain(value) for key, value in (getattr(graph, "metadata", None) or {}).items()}
    dt_ms = _timestep(metadata, dt_ms)
    convention = _convention(metadata, convention, report)
    graph = _with_valid_names(graph, report)
    info = (
        load_yaml(metadata["neurodelay_network_yaml"], field="metadata.neurodelay_network_yaml")
        if "neurodelay_network_yaml" in metadata
        else None
    )
    populations: dict[str, Any] = {}
    gains: dict[str, np.ndarray] = {}
    for name, node in graph.nodes.items():
        if isinstance(node, (nir.Input, nir.CubaLIF, nir.CubaLI)):
            populations[name] = _population(name, node, info, dt_ms, convention, report)
            if not isinstance(node, nir.Input):
                gains[name] = _input_gain(node, populations[name], dt_ms, convention)
        elif not isinstance(node, (nir.Output, nir.Linear, nir.Affine, nir.Delay)):
            raise ValidationError(
                f"nodes.{name}",
                f"type {type(node).__name__} has no IR counterpart",
                "Input, Output, Linear, Affine (zero bias), Delay, CubaLIF, CubaLI",
            )
    projections = _projections(graph, populations, gains, info, dt_ms, report)
    if info is not None:
        order = info["populations"]
        if sorted(order) != sorted(populations):
            raise ValidationError(
                "metadata.neurodelay_network_yaml",
                "names populations the graph lacks",
                "metadata matching the graph's nodes",
            )
        populations = {name: populations[name] for name in order}
        name, provenance = info["name"], dict(info["provenance"] or {})
    else:
        populations = _from_inputs(populations, projections)
        name, provenance = "imported_nir", {"imported_from": "NIR", "nir_metadata_keys": sorted(metadata)}
        report.append(
            "the graph carries no neurodelay metadata: network named 'imported_nir', populations "
            "ordered by distance from the inputs"
        )
    return Network(name, dt_ms, tuple(populations.values()), tuple(projections), provenance=provenance), report


def _from_inputs(populations: dict[str, Any], projections: list[Projection]) -> dict[str, Any]:
    """Populations in breadth-first order from the spike sources (unreachable ones last, in file order)."""
    order = [name for name, population in populations.items() if isinstance(population, SpikeSource)]
    for name in order:
        order += [p.post for p in projections if p.pre == name and p.post not in order]
    order += [name for name in populations if name not in order]
    return {name: populations[name] for name in order}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value


def _convention(metadata: dict[str, Any], given: str | None, report: list[str]) -> str:
    stated = metadata.get("input_convention")
    for value, where in ((stated, "metadata.input_convention"), (given, "--input-convention")):
        if value is not None and value not in IMPORT_CONVENTIONS:
            raise ValidationError(where, f"got {value!r}", ", ".join(IMPORT_CONVENTIONS))
    if stated is not None and given is not None and stated != given:
        raise ValidationError(
            "--input-convention",
            f"{given!r} disagrees with the graph's {stated!r}",
            "leave it out (the graph states its convention) or give the same value",
        )
    if stated is None and given is None:
        report.append(
            "the graph states no input convention: read as 'impulse' (pass --input-convention per-step "
            "for graphs written by snnTorch or Norse)"
        )
    return stated or given or IMPULSE


def _with_valid_names(graph: Any, report: list[str]) -> Any:
    """The graph with every node name the IR refuses replaced by ``n<name>`` (characters outside
    ``[A-Za-z0-9_.-]`` become ``_``); the graph itself when every name is valid."""
    taken = set(graph.nodes)
    renamed: dict[str, str] = {}
    for name in graph.nodes:
        if NAME_PATTERN.match(name):
            continue
        candidate = "n" + re.sub(r"[^A-Za-z0-9_.\-]", "_", name)[:120]
        while candidate in taken:
            candidate += "_"
        renamed[name] = candidate
        taken.add(candidate)
    if not renamed:
        return graph
    report.append(
        "renamed nodes the IR does not accept as names: "
        + ", ".join(f"{old!r} -> {new!r}" for old, new in list(renamed.items())[:10])
        + (f" and {len(renamed) - 10} more" if len(renamed) > 10 else "")
    )
    nodes = {renamed.get(name, name): node for name, node in graph.nodes.items()}
    edges = [(renamed.get(a, a), renamed.get(b, b)) for a, b in graph.edges]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(graph.metadata or {}), type_check=False)


REQUIRED_FIELDS = {
    "CubaLIF": ("tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
    "CubaLI": ("tau_mem", "tau_syn", "r", "v_leak", "w_in"),
    "Linear": ("weight",),
    "Affine": ("weight", "bias"),
    "Delay": ("delay",),
    "Input": ("shape",),
    "Output": ("shape",),
}
"""Numeric datasets each NIR node type must hold (nir.read fills some with defaults when absent)."""


def prescan(path: Path) -> None:
    """Check the HDF5 structure before ``nir.read`` loads it: every node of a known type holds its
    required fields, as numbers, and all arrays together fit the memory limit (their declared
    sizes, read from the headers only)."""
    import h5py

    declared = 0
    try:
        with h5py.File(path, "r") as handle:
            if not isinstance(handle.get("node"), h5py.Group):
                raise ValidationError("node", "missing or not a group", "a NIR graph (group 'node')")
            nodes = []
            handle["node"].visit(lambda name: nodes.append(name) if name.endswith("type") else None)
            for type_name in nodes:
                group = handle["node"][type_name].parent
                kind = handle["node"][type_name][()]
                kind = kind.decode("utf-8", "replace") if isinstance(kind, bytes) else str(kind)
                field = group.name.replace("/node/nodes/", "nodes.").replace("/", ".").lstrip(".")
                for key in REQUIRED_FIELDS.get(kind, ()):
                    value = group.get(key)
                    if not isinstance(value, h5py.Dataset):
                        raise ValidationError(
                            f"{field}.{key}",
                            f"missing from a {kind} node",
                            f"present: {', '.join(REQUIRED_FIELDS[kind])}",
                        )
                    if value.dtype.kind not in "iuf":
                        raise ValidationError(f"{field}.{key}", f"holds {value.dtype} data", "numbers")
            sizes = []
            handle.visititems(
                lambda name, item: (
                    sizes.append(item.size * item.dtype.itemsize) if isinstance(item, h5py.Dataset) else None
                )
            )
            declared = sum(sizes)
    except ValidationError:
        raise
    except Exception as error:  # h5py raises OSError, KeyError, ValueError, ... on damaged files
        raise ValidationError(
            "(file)",
            f"not a readable HDF5 NIR file ({type(error).__name__}: {' '.join(str(error).split())[:160]})",
            "a NIR graph file written by nir.write",
        ) from None
    check_memory("(file)", 3 * declared, f"the graph's arrays ({format_bytes(declared)}, read and converted)")


def _positive_number(value: Any, field: str, unit: str) -> float:
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not 0 < float(value) < float("inf")
    ):
        raise ValidationError(field, f"{value!r}", f"a finite number > 0 ({unit})")
    return float(value)


def _finite(value: Any, field: str) -> None:
    """ValidationError on ``field`` unless ``value`` (None: absent) holds finite numbers only."""
    if value is not None and not np.all(np.isfinite(np.asarray(value, np.float64))):
        raise ValidationError(field, "contains NaN or infinity", "finite numbers")


def _timestep(metadata: dict[str, Any], dt_ms: float | None) -> float:
    if "neurodelay_dt_ms" in metadata:
        stated = _positive_number(metadata["neurodelay_dt_ms"], "metadata.neurodelay_dt_ms", "ms")
    elif "dt" in metadata:
        stated = _positive_number(metadata["dt"], "metadata.dt", "s") * MS_PER_S
    else:
        stated = None
    if dt_ms is not None:
        dt_ms = _positive_number(dt_ms, "--dt-ms", "ms")
        if dt_ms / MS_PER_S < np.finfo(np.float64).tiny:
            raise ValidationError(
                "--dt-ms",
                f"{dt_ms!r} ms is too small: in seconds (the graph's unit) it is no normal float64",
                f"at least {MS_PER_S * np.finfo(np.float64).tiny:.3g} ms (a normal float64 in seconds)",
            )
    if stated is not None and dt_ms is not None and stated != dt_ms:
        raise ValidationError(
            "--dt-ms",
            f"{dt_ms} ms disagrees with the graph's dt of {stated} ms",
            "leave it out (the graph states dt) or give the same value",
        )
    chosen = stated if stated is not None else dt_ms
    if chosen is None:
        raise ValidationError(
            "metadata.dt",
            "the graph states no timestep (NIR graphs need not)",
            "pass --dt-ms (the simulation timestep in ms)",
        )
    return float(chosen)


def _population(name: str, node: Any, info: dict | None, dt_ms: float, convention: str, report: list[str]) -> Any:
    node_metadata = {key: _plain(value) for key, value in (node.metadata or {}).items()}
    extra = (info or {}).get("population_metadata", {}).get(name, {}) or {}
    if isinstance(node, nir.Input):
        shape = np.asarray(node.input_type["input"]).ravel()
        if shape.size != 1:
            raise ValidationError(f"nodes.{name}.shape", f"{shape.tolist()}", "a 1-D input (one number)")
        return SpikeSource(name, int(shape[0]), metadata=extra)
    size = int(np.asarray(node.tau_mem).size)
    for key in ("tau_mem", "tau_syn", "r", "v_leak", "w_in", "v_threshold", "v_reset"):
        _finite(getattr(node, key, None), f"nodes.{name}.{key}")
    shared = set(str(node_metadata.get("neurodelay_shared", "")).split())
    tau_m_ms = _milliseconds(
        node.tau_mem, node_metadata.get("neurodelay_tau_m_ms"), f"{name}.tau_mem", dt_ms, convention, report
    )
    tau_syn_ms = _milliseconds(
        node.tau_syn, node_metadata.get("neurodelay_tau_syn_ms"), f"{name}.tau_syn", dt_ms, convention, report
    )
    v_leak = np.asarray(node.v_leak, np.float64).ravel()
    rest, bias = node_metadata.get("neurodelay_rest"), node_metadata.get("neurodelay_bias")
    if rest is None or bias is None or not np.array_equal(np.asarray(rest) + np.asarray(bias), v_leak):
        rest, bias = v_leak, np.zeros(size)
    values = {
        "tau_m_ms": tau_m_ms,
        "tau_syn_ms": tau_syn_ms,
        "rest": np.asarray(rest, np.float64),
        "bias": np.asarray(bias, np.float64),
    }
    if isinstance(node, nir.CubaLIF):
        values["threshold"] = np.asarray(node.v_threshold, np.float64).ravel()
        values["reset"] = (
            np.zeros(size)
            if node.v_reset is None
            else np.broadcast_to(np.asarray(node.v_reset, np.float64).ravel(), (size,)).copy()
        )
    for key, array in values.items():
        if key in shared and array.size and np.all(array == array[0]):
            values[key] = float(array[0])
    if isinstance(node, nir.CubaLI):
        return LeakyIntegrator(name, size, metadata=extra, **values)
    refractory = node_metadata.get("neurodelay_refractory_steps", 0)
    if isinstance(refractory, bool) or not isinstance(refractory, (int, np.integer)) or refractory < 0:
        raise ValidationError(
            f"nodes.{name}.metadata.neurodelay_refractory_steps", f"{refractory!r}", "an integer >= 0 (timesteps)"
        )
    return LIF(name, size, refractory_steps=refractory, metadata=extra, **values)


def _milliseconds(
    seconds: Any, exact_ms: Any, where: str, dt_ms: float, convention: str, report: list[str]
) -> np.ndarray:
    """The IR time constant (ms) of a NIR one (s): the same time (impulse), or the one whose exact
    decay per step equals the Euler step's ``1 - dt / tau`` (per-step); the metadata's exact value
    where it agrees (to rounding for per-step)."""
    seconds = np.asarray(seconds, np.float64).ravel()
    with np.errstate(over="ignore"):
        if not np.all((seconds > 0) & np.isfinite(seconds * MS_PER_S)):
            raise ValidationError(
                f"nodes.{where}",
                f"values in [{seconds.min():.3g}, {seconds.max():.3g}] s",
                f"finite and > 0 s (at most {np.finfo(np.float64).max / MS_PER_S:.3g} s)",
            )
    if convention == IMPULSE:
        derived = seconds * MS_PER_S
    else:
        step_fraction = dt_ms / (seconds * MS_PER_S)
        if np.any(~np.isfinite(step_fraction)) or np.any(step_fraction <= 0) or np.any(step_fraction >= 1):
            raise ValidationError(
                f"nodes.{where}",
                f"dt / tau spans [{step_fraction.min():.3g}, {step_fraction.max():.3g}] with dt = {dt_ms} ms",
                "(0, 1): a forward-Euler step needs tau > dt",
            )
        derived = -dt_ms / np.log1p(-step_fraction)
    if exact_ms is not None:
        exact_ms = np.asarray(exact_ms, np.float64).ravel()
        exact = exact_ms.shape == seconds.shape and (
            np.array_equal(exact_ms / MS_PER_S, seconds)
            if convention == IMPULSE
            else np.allclose(exact_ms, derived, rtol=1e-9, atol=0)
        )
        if exact:
            return exact_ms
        report.append(f"{where}: neurodelay metadata disagrees with the NIR value; used the NIR value")
    return derived


def _delay_steps(node: Any, name: str, dt_ms: float) -> np.ndarray:
    seconds = np.asarray(node.delay, np.float64).ravel()
    with np.errstate(over="ignore", invalid="ignore"):
        steps = seconds * MS_PER_S / dt_ms
    if not np.all(np.isfinite(steps) & (steps >= 0) & (steps <= MAX_DELAY_STEPS + 0.5)):
        raise ValidationError(
            f"nodes.{name}.delay",
            f"delays in [{seconds.min():.3g}, {seconds.max():.3g}] s with dt = {dt_ms} ms",
            f"finite, >= 0 and at most {MAX_DELAY_STEPS} steps ({MAX_DELAY_STEPS * dt_ms / MS_PER_S:.3g} s)",
        )
    whole = np.floor(steps + 0.5)
    if np.any(steps < 0) or np.any(np.abs(steps - whole) > 1e-6 * np.maximum(1.0, whole)):
        raise ValidationError(
            f"nodes.{name}.delay",
            f"delays {np.unique(steps * dt_ms).tolist()[:5]} ms are not whole multiples of dt = {dt_ms} ms",
            "non-negative multiples of the timestep",
        )
    vanishing = (seconds > 0) & (whole == 0)
    if np.any(vanishing):  # within the tolerance of 0 steps, yet not 0: a dt far above the delays
        raise ValidationError(
            f"nodes.{name}.delay",
            f"delays down to {seconds[vanishing].min():.3g} s are {steps[vanishing].max():.3g} timesteps "
            f"of dt = {dt_ms} ms and would become 0",
            "0 or whole timesteps: a timestep (the graph's dt or --dt-ms) no longer than the delays",
        )
    return whole.astype(np.int64)


def _projections(
    graph: Any,
    populations: dict[str, Any],
    gains: dict[str, np.ndarray],
    info: dict | None,
    dt_ms: float,
    report: list[str],
) -> list[Projection]:
    """Group every population-to-population path (one branch each) into IR projections."""
    successors: dict[str, list[str]] = {}
    predecessors: dict[str, list[str]] = {}
    for source, target in graph.edges:
        successors.setdefault(source, []).append(target)
        predecessors.setdefault(target, []).append(source)

    def single(table: dict[str, list[str]], name: str, direction: str) -> str:
        linked = table.get(name, [])
        if len(linked) != 1:
            raise ValidationError(
                f"nodes.{name}",
                f"{len(linked)} {direction} edges",
                f"exactly one {direction} edge (a branch is [Delay] -> Linear -> [Delay])",
            )
        return linked[0]

    groups: dict[str, dict[str, Any]] = {}
    for name, node in graph.nodes.items():
        if not isinstance(node, (nir.Linear, nir.Affine)):
            continue
        if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
            raise ValidationError(f"nodes.{name}.bias", "non-zero", "zero (the IR has no constant synaptic input)")
        weight = np.asarray(node.weight, np.float64)
        _finite(weight, f"nodes.{name}.weight")
        n_post, n_pre = weight.shape
        pre_delay = post_delay = 0
        pre, post = single(predecessors, name, "incoming"), single(successors, name, "outgoing")
        if isinstance(graph.nodes[pre], nir.Delay):
            pre_delay = _delay_steps(graph.nodes[pre], pre, dt_ms)[:, None]
            pre = single(predecessors, pre, "incoming")
        if isinstance(graph.nodes[post], nir.Delay):
            post_delay = _delay_steps(graph.nodes[post], post, dt_ms)[None, :]
            post = single(successors, post, "outgoing")
        for end, where in ((pre, "source"), (post, "target")):
            if end not in populations:
                raise ValidationError(
                    f"nodes.{name}",
                    f"its {where} {end!r} is not a population node",
                    "Input, CubaLIF or CubaLI at both ends of a branch",
                )
        metadata = {key: _plain(value) for key, value in (node.metadata or {}).items()}
        projection = str(metadata.get("neurodelay_projection", f"{pre}_{post}"))
        group = groups.setdefault(projection, {"pre": pre, "post": post, "branches": []})
        if (group["pre"], group["post"]) != (pre, post):
            raise ValidationError(
                f"nodes.{name}",
                f"branch of {projection!r} joins {pre}->{post}",
                f"the projection's populations {group['pre']}->{group['post']}",
            )
        path_delay = pre_delay + post_delay
        if np.all(np.asarray(path_delay) == 0) and metadata.get("neurodelay_delay_steps") is not None:
            path_delay = int(metadata["neurodelay_delay_steps"])  # a folded uniform delay (0 when not folded)
        delays = np.broadcast_to(np.asarray(path_delay, np.int64), (n_pre, n_post))
        members = metadata.get("neurodelay_synapses")
        members = (
            np.asarray(members, bool).T
            if members is not None and np.shape(members) == (n_post, n_pre)
            else weight.T != 0
        )
        group["branches"].append((name, weight.T, delays, members))

    listed = {entry["name"]: entry for entry in (info or {}).get("projections", [])}
    order = [entry for entry in listed if entry in groups] + sorted(set(groups) - set(listed))
    return [_merge(name, groups[name], populations, gains, listed.get(name), report) for name in order]


def _merge(
    name: str,
    group: dict[str, Any],
    populations: dict[str, Any],
    gains: dict[str, np.ndarray],
    entry: dict | None,
    report: list[str],
) -> Projection:
    pre, post = populations[group["pre"]], populations[group["post"]]
    shape = (pre.size, post.size)
    weights, delays = np.zeros(shape), np.zeros(shape, np.int64)
    owner = np.zeros(shape, bool)
    for node, branch_weights, branch_delays, members in group["branches"]:
        if branch_weights.shape != shape:
            raise ValidationError(
                f"nodes.{node}.weight",
                f"shape {list(branch_weights.shape[::-1])}",
                f"[{shape[1]}, {shape[0]}] ([n_post, n_pre] of {pre.name}->{post.name})",
            )
        if np.any(owner & members):
            raise ValidationError(
                f"nodes.{node}",
                f"gives synapses of {name!r} a second delay",
                "one delay per synapse (the IR holds one synapse per pair of neurons)",
            )
        weights[members], delays[members] = branch_weights[members], branch_delays[members]
        owner |= members
    gain = gains[group["post"]]
    if not np.all(gain == 1.0):
        weights = weights * gain[None, :]
        report.append(
            f"projection {name}: weights multiplied by the input gain of {post.name} (not 1 in the file; see from_nir)"
        )
    if entry is not None:
        max_delay = int(entry["max_delay_steps"])
        mask = None if entry["dense"] else owner
        delays_out = delays if entry["delays_integer_dtype"] else delays.astype(np.float64)
        metadata = entry["metadata"] or {}
    else:
        max_delay, mask, delays_out, metadata = int(delays.max(initial=0)), None, delays, {}
    return Projection(name, group["pre"], group["post"], weights, delays_out, max_delay, mask=mask, metadata=metadata)


def _input_gain(node: Any, population: Any, dt_ms: float, convention: str) -> np.ndarray:
    """The IR current one unit of NIR input weight adds, per neuron. Impulse: ``r * w_in / tau_syn``
    (1 for graphs this module wrote, where ``r = 1`` and ``w_in = tau_syn``). Per-step: the Euler
    step adds ``(dt / tau_syn) w_in`` to I and ``(dt / tau_mem) r I`` to V, the IR adds
    ``(1 - alpha) i_scale I``, so the gain is ``r w_in (dt / tau_syn) / i_scale``."""
    size = population.size
    r, w_in, tau_syn_s = (
        np.broadcast_to(np.asarray(value, np.float64).ravel(), (size,)) for value in (node.r, node.w_in, node.tau_syn)
    )
    if convention == IMPULSE:
        return r * w_in / tau_syn_s
    if convention == JUMP:
        return r * w_in / _current_scale(population, dt_ms)
    return r * w_in * (dt_ms / (tau_syn_s * MS_PER_S)) / _current_scale(population, dt_ms)
