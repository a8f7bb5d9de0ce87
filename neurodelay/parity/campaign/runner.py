"""One campaign chunk, run inside a worker process: draw, quantize, simulate the reference, run the
executor on all the chunk's networks at once, compare, measure the corners, save mismatch cases.

Every network of a chunk ends as exactly one record (``{"seed", "status", ...}``), status one of
:data:`STATUSES`. When the executor fails on a chunk of several networks, each network is run again
alone, so that one bad network cannot hide the others' results; a lone failure is recorded as
``hung`` (the executor's time limit stopped it), ``crashed`` (any other executor failure) or
``rejected`` (the target's exporter or quantizer refused the network with a clear error).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ... import ir, refsim
from ...atomic import write_json, write_with
from ...errors import ExecutorError, NeurodelayError
from ...ir import Network
from ...recording import Recording
from ...targets import Target, get_target
from ..compare import compare
from .coverage import COMMON_CORNERS, REFRACTORY_CORNERS, common_corners, refractory_corners
from .distribution import STREAM, Draw, draw_case
from .plug import CampaignPlug

STATUSES = ("matched", "mismatch", "rejected", "hung", "crashed")
CASES = "cases"
"""Folder of the campaign directory holding each mismatching network, its inputs and its plot."""


def campaign_plug(spec: Target) -> CampaignPlug:
    """The target's campaign settings (defaults from its parity entries when it names none)."""
    if spec.parity_campaign is None:
        return CampaignPlug(max_delay_steps=spec.parity_max_delay_steps)
    return spec.resolve("parity_campaign")


def corners_of(spec: Target, executor: str) -> tuple[str, ...]:
    """Every corner a campaign on ``spec`` / ``executor`` measures, in report order."""
    plug = campaign_plug(spec)
    left_out = plug.unsupported_corners.get(executor, ())
    every = COMMON_CORNERS + (REFRACTORY_CORNERS if plug.refractory else ()) + plug.corners
    return tuple(corner for corner in every if corner not in left_out)


def top_delays(spec: Target, plug: CampaignPlug, network: Network) -> dict[str, int]:
    """Per neuron population, the campaign's top delay into it: ``min(plug, the target's bound)``."""
    bound = spec.resolve("delay_bound") if spec.delay_bound is not None else None
    return {
        p.name: max(0, min(plug.max_delay_steps, int(bound(network, p.name)) if bound else plug.max_delay_steps))
        for p in network.neurons()
    }


@dataclass
class Case:
    seed: int
    network: Network
    inputs: dict[str, np.ndarray]
    draw: Draw
    top_delay: dict[str, int]
    reference: Recording | None = None


def failure(seed: int, status: str, error: BaseException | str, draw: Draw | None = None) -> dict[str, Any]:
    text = str(error) if not isinstance(error, str) else error
    return {
        "seed": seed,
        "name": f"campaign_{seed}",
        "status": status,
        "draw": draw.to_dict() if draw else None,
        "error": text[-2000:],
    }


def status_of_error(error: BaseException) -> str:
    if isinstance(error, ExecutorError):
        text = str(error)
        return "hung" if ("did not finish" in text or "timed out" in text) else "crashed"
    if isinstance(error, NeurodelayError):
        return "rejected"
    return "crashed"


def prepare(spec: Target, plug: CampaignPlug, seed: int, executor: str) -> Case | dict[str, Any]:
    """The quantized case of ``seed`` with its reference run, or a failure record."""
    delay_bound = (
        spec.resolve("delay_bound") if spec.delay_bound is not None else (lambda network, name: plug.max_delay_steps)
    )
    network, inputs, draw = draw_case(seed, plug, delay_bound)
    try:
        rng = np.random.default_rng([STREAM, seed, 1])
        quantized = plug.prepare(network, rng, executor) if plug.prepare else spec.prepare_for_parity(network, rng)
    except NeurodelayError as error:
        return failure(seed, "rejected", f"quantizer: {error}", draw)
    case = Case(seed, quantized, inputs, draw, top_delays(spec, plug, network))
    try:
        case.reference = refsim.simulate(quantized, inputs, mode=spec.name)
    except NeurodelayError as error:
        return failure(seed, "rejected", f"refsim: {error}", draw)
    return case


def corners(spec: Target, plug: CampaignPlug, case: Case, executor: str) -> list[str]:
    found = common_corners(case.network, case.inputs, case.reference, case.top_delay, spec.resolve("integer_range"))
    if plug.refractory:
        found |= refractory_corners(case.network, case.reference)
    if plug.coverage is not None:
        found |= plug.coverage(case.network, case.inputs, case.reference)
    return [corner for corner in corners_of(spec, executor) if corner in found]


def save_case(out: Path, case: Case) -> dict[str, str]:
    """Write the mismatching case (quantized network and inputs) under ``out/cases``; relative paths."""
    folder = out / CASES
    folder.mkdir(parents=True, exist_ok=True)
    name = case.network.name
    ir.save(case.network, folder / f"{name}{ir.SUFFIX}")
    write_with(
        folder / f"{name}.inputs.npz",
        lambda stream: np.savez(stream, **{k: v.astype(np.uint8) for k, v in case.inputs.items()}),
    )
    return {"network": f"{CASES}/{name}{ir.SUFFIX}", "inputs": f"{CASES}/{name}.inputs.npz"}


def record(
    case: Case,
    spec: Target,
    plug: CampaignPlug,
    executor: str,
    divergences: list[dict[str, Any]],
    files: dict[str, str],
) -> dict[str, Any]:
    neurons = [p for p in case.network.neurons()]
    return {
        "seed": case.seed,
        "name": case.network.name,
        "status": "mismatch" if divergences else "matched",
        "draw": case.draw.to_dict(),
        "corners": corners(spec, plug, case, executor),
        "steps": case.reference.steps,
        "neurons": sum(p.size for p in neurons),
        "synapses": int(sum(p.synapse_count for p in case.network.projections)),
        "spikes": int(sum(case.reference.populations[p.name].spikes.sum() for p in neurons)),
        "first_divergence": divergences[0] if divergences else None,
        "differences": len(divergences),
        "case": files,
    }


def execute(
    spec: Target, executor_name: str, plug: CampaignPlug, cases: list[Case], out: Path, timeout_s: float | None
) -> list[dict[str, Any]]:
    """Run ``cases`` through one executor run and compare; raises when the executor fails."""
    options = dict(plug.executor_options.get(executor_name, {}))
    if timeout_s is not None:
        options["timeout_s"] = timeout_s
    records = []
    with spec.executor(executor_name, **options) as executor:
        if spec.build_check is not None and not getattr(executor, "records", True):
            report = spec.resolve("build_check")([(c.network, c.inputs, c.seed) for c in cases], executor)
            found = {item["name"]: item for item in report.to_dict()["mismatched"]}
            for case in cases:
                item = found.get(case.network.name)
                divergences = list(item["divergences"]) if item else []
                files = {}
                if divergences:
                    files = save_case(out, case)
                    files["divergences"] = str(
                        write_json(
                            out / CASES / f"{case.network.name}.divergences.json", item, default=str
                        ).relative_to(out)
                    )
                records.append(record(case, spec, plug, executor_name, divergences, files))
            return records
        jobs = [(case.network, case.inputs) for case in cases]
        run_many = getattr(executor, "run_many", None)
        candidates = run_many(jobs) if run_many else [executor.run(*job) for job in jobs]
    states = ("spikes",) + tuple(spec.parity_states)
    for case, candidate in zip(cases, candidates):
        found = compare(case.reference, candidate, states)
        files = {}
        if found:
            from ..plot import plot_divergence  # matplotlib: imported only when there is something to plot

            files = save_case(out, case)
            plot = out / CASES / f"{case.network.name}.png"
            plot_divergence(case.reference, candidate, found, plot, f"{case.network.name} (seed {case.seed})")
            files["plot"] = f"{CASES}/{plot.name}"
        records.append(record(case, spec, plug, executor_name, [d.to_dict() for d in found], files))
    return records


def run_chunk(config: dict[str, Any], seeds: list[int]) -> list[dict[str, Any]]:
    """Records of ``seeds`` (one each, in order) for the campaign ``config`` (target, executor, out, timeout_s)."""
    spec = get_target(config["target"], "parity")
    plug = campaign_plug(spec)
    out = Path(config["out"])
    results: dict[int, dict[str, Any]] = {}
    cases = []
    for seed in seeds:
        try:
            prepared = prepare(spec, plug, seed, config["executor"])
        except Exception as error:  # a bug of ours must still leave a record, not a lost network
            prepared = failure(seed, "crashed", f"{type(error).__name__}: {error}\n{traceback.format_exc()}")
        if isinstance(prepared, dict):
            results[seed] = prepared
        else:
            cases.append(prepared)
    groups = [cases] if cases else []
    while groups:
        group = groups.pop()
        try:
            for item in execute(spec, config["executor"], plug, group, out, config.get("timeout_s")):
                results[item["seed"]] = item
        except Exception as error:
            if len(group) > 1:
                groups.extend([case] for case in group)  # isolate the network that failed
                continue
            status = status_of_error(error)
            detail = (
                str(error)
                if isinstance(error, NeurodelayError)
                else f"{type(error).__name__}: {error}\n{traceback.format_exc()}"
            )
            results[group[0].seed] = failure(group[0].seed, status, detail, group[0].draw)
    return [results[seed] for seed in seeds]
