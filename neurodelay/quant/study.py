"""Quantization studies: how much accuracy a trained network loses on each target, per weight bit
width, delay resolution (timestep multiple) and PTQ / QAT, measured on the reference simulator's
bit-accurate target modes.

Config (YAML; paths relative to the config file)::

    network: run/network.ndnet        # trained float network
    loss: sum_ce                      # readout the class scores use (default: the training config's)
    data: {split: test, limit: 1000, train_limit: 1000}   # task and its parameters: the training
                                      # config's (network provenance) unless given here
    targets: [T1, T2]                 # registered target names (default: every one with a quantizer and a refsim mode)
    weight_bits: [3, 4, 6, 8, 17]     # widths above a target's native one are skipped
    delay_resolutions: [1, 2]         # timestep multiples (option (b) of delay_range)
    modes: [ptq, qat]
    signs_split: [false, true]        # also split mixed-sign projections (one more bit on some chips)
    scale: calibrated                 # max-abs, percentile:P or calibrated (on calibration_samples
    calibration_samples: 200          #   of the training split; QAT keeps the calibrated target scale)
    qat: {epochs: 1, batch_size: 32, weight_lr: 0.001,   # also delay_lr, delay_bound, seed,
          lr_schedule: cosine, final_lr_factor: 0.01}    #   lr_schedule constant (default) or cosine
    parity: {enabled: false, samples: 4,   # target executor vs refsim target mode (slow for some tool chains);
             executors: {T2: E}}        # executor name per target; default: the target's first
    delay_range: {bound: 5}          # optional: cost of the delay-range options at this bound;
                                      # clamp fine-tuning: epochs 3, weight_lr 0.001, delay_lr 0.05
    out: study                        # results.csv, results.md, accuracy_vs_bits.png, study.json

Each row: target, delay resolution, dt, bits, mode; float accuracy (fine grid and this
resolution), quantized accuracy, the drop in percentage points, hidden spikes per neuron and
sample (float vs quantized, relative change per layer), clipped / rounded weights, parity.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import console
from ..atomic import write_bytes
from ..bounded_yaml import read_yaml_file
from ..data import Dataset
from ..data.tasks import TASKS
from ..errors import NeurodelayError, ValidationError
from ..ir import Network, load
from ..refsim import simulate
from .calibration import ScaleSelection, quantize
from .delay_range import clamp_delays, coarse_delay_steps, coarsen_inputs, coarsen_timestep, relay_chains
from .evaluation import evaluate, study_data
from .qat import FineTuneConfig, fine_tune
from ..targets import get_target, target_names
from ..train.config import FLOAT32_MAX, LOSS_NAMES
from ..train.schema import build
from .report import as_json

MODES = ("ptq", "qat")


# ----- configuration ---------------------------------------------------------------------------
@dataclass
class StudyConfig:
    """A parsed study config (see the module docstring); paths are resolved."""

    network: Path
    data: dict[str, Any]
    out: Path
    loss: str | None = None
    targets: list[str] = field(default_factory=lambda: target_names("study"))
    weight_bits: list[int] = field(default_factory=lambda: [8])
    delay_resolutions: list[int] = field(default_factory=lambda: [1])
    modes: list[str] = field(default_factory=lambda: ["ptq"])
    signs_split: list[bool] = field(default_factory=lambda: [False])
    scale: str = "max-abs"
    calibration_samples: int = 200
    qat: dict[str, Any] = field(default_factory=dict)
    parity: dict[str, Any] = field(default_factory=dict)
    delay_range: dict[str, Any] | None = None


@dataclass(frozen=True)
class StudyDataSection:
    """The study's own keys of ``data`` (the task's parameters are checked when the task loads)."""

    task: str | None = None
    split: Literal["train", "validation", "test"] | None = None
    limit: int | None = None
    train_limit: int | None = None

    def check(self, path: str) -> None:
        if self.task is not None and self.task not in TASKS:
            raise ValidationError(f"{path}.task", f"{self.task!r}", ", ".join(TASKS))
        for name in ("limit", "train_limit"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValidationError(f"{path}.{name}", f"got {getattr(self, name)}", ">= 1 sample, or null (all)")


@dataclass(frozen=True)
class QatSection:
    """Keys of ``qat`` (passed to :class:`~neurodelay.quant.qat.FineTuneConfig`; left out: its defaults)."""

    epochs: int | None = None
    batch_size: int | None = None
    weight_lr: float | None = None
    delay_lr: float | None = None
    delay_bound: int | None = None
    seed: int | None = None
    lr_schedule: Literal["constant", "cosine"] | None = None
    final_lr_factor: float | None = None

    def check(self, path: str) -> None:
        _check_fine_tuning(self, path)
        if self.final_lr_factor is not None and not 0.0 < self.final_lr_factor <= 1.0:
            raise ValidationError(f"{path}.final_lr_factor", f"got {self.final_lr_factor}", "(0, 1]")
        if self.delay_bound is not None and self.delay_bound < 0:
            raise ValidationError(f"{path}.delay_bound", f"got {self.delay_bound}", ">= 0 steps")
        if self.seed is not None and not 0 <= self.seed < 2**32:
            raise ValidationError(f"{path}.seed", f"got {self.seed}", "[0, 2**32 - 1]")


@dataclass(frozen=True)
class ParitySection:
    """Keys of ``parity``: ``enabled``, ``samples`` per row, ``executors`` {target: executor name}."""

    enabled: bool | None = None
    samples: int | None = None
    executors: dict[str, str] | None = None

    def check(self, path: str) -> None:
        if self.samples is not None and self.samples < 1:
            raise ValidationError(f"{path}.samples", f"got {self.samples}", ">= 1")


@dataclass(frozen=True)
class DelayRangeSection:
    """Keys of ``delay_range``: the ``bound`` in steps, the ``target`` whose cores are counted and
    the clamp fine-tuning's ``epochs``, ``weight_lr``, ``delay_lr``."""

    bound: int
    target: str | None = None
    epochs: int | None = None
    weight_lr: float | None = None
    delay_lr: float | None = None

    def check(self, path: str) -> None:
        if self.bound < 0:
            raise ValidationError(f"{path}.bound", f"got {self.bound}", ">= 0 steps")
        _check_fine_tuning(self, path)


def _check_fine_tuning(section: Any, path: str) -> None:
    for name in ("epochs", "batch_size"):
        value = getattr(section, name, None)
        if value is not None and value < 1:
            raise ValidationError(f"{path}.{name}", f"got {value}", ">= 1")
    for name in ("weight_lr", "delay_lr"):
        value = getattr(section, name)
        if value is not None and not 0 <= value <= FLOAT32_MAX * 0.1:
            raise ValidationError(
                f"{path}.{name}",
                f"got {value}",
                f">= 0 and <= {FLOAT32_MAX * 0.1:.4g} (Adam's first step, lr / (1 - 0.9), in float32)",
            )


MAX_DELAY_RESOLUTION = 65535
"""Largest timestep multiple of a study (the longest delay any config allows, in steps)."""


def load_study_config(path: str | Path, *, out: str | Path | None = None) -> StudyConfig:
    """Read and check a study config; errors name the file and the field."""
    path = Path(path)
    document = read_yaml_file(path)
    if not isinstance(document, dict):
        raise ValidationError("config", "not a mapping", "a YAML mapping", file=path)
    known = {
        "name",
        "network",
        "loss",
        "data",
        "targets",
        "weight_bits",
        "delay_resolutions",
        "modes",
        "qat",
        "signs_split",
        "scale",
        "calibration_samples",
        "parity",
        "delay_range",
        "out",
    }
    unknown = sorted(set(document) - known)
    if unknown:
        raise ValidationError(unknown[0], "unknown key", ", ".join(sorted(known)), file=path)
    for key in ("network", "data"):
        if key not in document:
            raise ValidationError(key, "missing", "required", file=path)
    base = path.parent

    def integers(key: str, default: list[int], low: int, high: int | None = None) -> list[int]:
        values = document.get(key, default)
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= (high or v) for v in values)
        ):
            allowed = f"a non-empty list of integers >= {low}" + (f" and <= {high}" if high else "")
            raise ValidationError(key, f"{values!r}", allowed, file=path)
        if len(set(values)) != len(values):  # each row would be run and listed twice
            raise ValidationError(key, f"{values!r} repeats a value", "distinct values", file=path)
        return values

    def section(key: str, cls: type) -> None:
        """Check the mapping under ``key`` against ``cls`` (its fields are the allowed keys)."""
        if document.get(key) is not None:
            try:
                build(cls, document[key], key)
            except ValidationError as error:
                raise error.in_file(path) from None

    for key in ("network", "out", "name", "loss", "scale"):
        if key in document and not isinstance(document[key], str):
            raise ValidationError(key, f"{document[key]!r}", "a string", file=path)
    if document.get("loss") is not None and document["loss"] not in LOSS_NAMES:
        raise ValidationError("loss", f"{document['loss']!r}", ", ".join(LOSS_NAMES), file=path)

    known_targets = target_names("study")
    targets = document.get("targets", known_targets)
    if not isinstance(targets, list) or not targets or any(t not in known_targets for t in targets):
        raise ValidationError("targets", f"{targets!r}", f"a non-empty list of {', '.join(known_targets)}", file=path)
    modes = document.get("modes", ["ptq"])
    if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
        raise ValidationError("modes", f"{modes!r}", "a non-empty list of ptq, qat", file=path)
    signs_split = document.get("signs_split", [False])
    if not isinstance(signs_split, list) or not signs_split or any(not isinstance(v, bool) for v in signs_split):
        raise ValidationError("signs_split", f"{signs_split!r}", "a non-empty list of true/false", file=path)
    data = document["data"]
    if not isinstance(data, dict):
        raise ValidationError("data", f"{data!r}", "a mapping", file=path)
    own = {key: data[key] for key in ("task", "split", "limit", "train_limit") if key in data}
    try:
        build(StudyDataSection, own, "data")
    except ValidationError as error:
        raise error.in_file(path) from None
    for key in ("qat", "parity", "delay_range"):
        if document.get(key) is not None and not isinstance(document[key], dict):
            raise ValidationError(key, f"{document[key]!r}", "a mapping", file=path)
    section("qat", QatSection)
    section("parity", ParitySection)
    section("delay_range", DelayRangeSection)
    dr_target = (document.get("delay_range") or {}).get("target")
    if dr_target is not None and dr_target not in known_targets:
        raise ValidationError("delay_range.target", f"{dr_target!r}", ", ".join(known_targets), file=path)
    for target_name, executor in ((document.get("parity") or {}).get("executors") or {}).items():
        if target_name not in targets:  # it would be ignored
            raise ValidationError(
                "parity.executors", f"names {target_name!r}", f"targets of the study: {', '.join(targets)}", file=path
            )
        names = get_target(target_name).executor_names()
        if executor not in names:  # each row's parity would say so, after the work
            raise ValidationError(f"parity.executors.{target_name}", f"{executor!r}", ", ".join(names), file=path)
    widest = max(get_target(name).native_weight_bits for name in targets)
    too_wide = [bits for bits in document.get("weight_bits", []) if isinstance(bits, int) and bits > widest]
    if too_wide:  # a width above a target's native one is skipped for it; above all of them, never run
        raise ValidationError(
            "weight_bits",
            f"{too_wide} above every target's native width",
            f"at most {widest} bits for {', '.join(targets)}",
            file=path,
        )
    return StudyConfig(
        network=base / document["network"],
        data=data,
        out=Path(out) if out is not None else base / document.get("out", "study"),
        loss=document.get("loss"),
        targets=targets,
        weight_bits=integers("weight_bits", [8], 2),
        delay_resolutions=integers("delay_resolutions", [1], 1, MAX_DELAY_RESOLUTION),
        modes=modes,
        signs_split=signs_split,
        scale=_scale(document.get("scale", "max-abs"), path),
        calibration_samples=_positive(document.get("calibration_samples", 200), "calibration_samples", path),
        qat=dict(document.get("qat") or {}),
        parity=dict(document.get("parity") or {}),
        delay_range=document.get("delay_range"),
    )


def _scale(text: str, path: Path) -> str:
    try:
        return str(ScaleSelection.parse(text))
    except ValidationError as error:  # the parser names the command line's --scale
        raise ValidationError("scale", error.problem, error.allowed, file=path) from None


def _positive(value: Any, key: str, path: Path) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError(key, f"{value!r}", "an integer >= 1", file=path)
    return value


def _at_resolution(dataset: Dataset, factor: int) -> Dataset:
    if factor == 1:
        return dataset
    coarse, merged = coarsen_inputs({"inputs": dataset.inputs}, factor)
    return Dataset(
        dataset.name,
        coarse["inputs"],
        dataset.labels,
        dataset.dt_ms * factor,
        dataset.n_classes,
        {**dataset.metadata, "coarsened_by": factor, "spikes_merged": merged},
    )


# ----- the study -------------------------------------------------------------------------------
def run_study(config: StudyConfig, *, progress=console.info) -> dict[str, Any]:
    """Run every combination; write results.csv, results.md, accuracy_vs_bits.png and study.json."""
    network = load(config.network)
    training = network.training_config() or {}
    loss = config.loss or training.get("loss", {}).get("name") or "sum_ce"
    trained_with = training.get("data")
    train, test = study_data(config.data, network.dt_ms, trained_with)
    float_eval = evaluate(network, test, loss=loss)
    progress(f"float: {100 * float_eval.accuracy:.2f}% on {len(test)} samples")
    rows: list[dict[str, Any]] = []
    for factor in config.delay_resolutions:
        coarse, coarsening = coarsen_timestep(network, factor)
        coarse_test, coarse_train = _at_resolution(test, factor), _at_resolution(train, factor)
        coarse_eval = float_eval if factor == 1 else evaluate(coarse, coarse_test, loss=loss)
        calibration = {network.sources()[0].name: coarse_train.inputs[: config.calibration_samples]}
        for target_name in config.targets:
            target = get_target(target_name, "study")
            for bits, split, mode in itertools.product(config.weight_bits, config.signs_split, config.modes):
                if bits > target.native_weight_bits:
                    continue
                try:
                    quantized, summary = quantize(
                        coarse,
                        target_name,
                        weight_bits=bits,
                        signs_split=split,
                        scale=config.scale,
                        calibration=calibration,
                    )
                    if mode == "qat":  # fine-tune at the calibrated target scale, without clipping
                        chosen = summary.options["target_options"]
                        settings = FineTuneConfig(
                            target=target_name,
                            weight_bits=bits,
                            loss=loss,
                            signs_split=split,
                            target_options=chosen,
                            **{k: v for k, v in config.qat.items()},
                        )
                        tuned, _ = fine_tune(coarse, coarse_train, settings)
                        quantized, summary = quantize(tuned, target_name, weight_bits=bits, signs_split=split, **chosen)
                except NeurodelayError as error:
                    rows.append(
                        _failed_row(
                            target_name, factor, coarse.dt_ms, bits, split, mode, float_eval, coarse_eval, error
                        )
                    )
                    continue
                result = evaluate(quantized, coarse_test, mode=target_name, loss=loss)
                row = {
                    "target": target_name,
                    "delay_resolution": factor,
                    "dt_ms": coarse.dt_ms,
                    "weight_bits": bits,
                    "signs_split": split,
                    "mode": mode,
                    "scale": config.scale,
                    "target_options": json.dumps(as_json(summary.options["target_options"])),
                    "float_accuracy": float_eval.accuracy,
                    "float_accuracy_at_resolution": coarse_eval.accuracy,
                    "quantized_accuracy": result.accuracy,
                    "drop_pp": 100 * (float_eval.accuracy - result.accuracy),
                    "weights_clipped": sum(p.weights_clipped for p in summary.projections),
                    "delays_clipped": sum(p.delays_clipped for p in summary.projections),
                    "weights_zeroed": sum(p.weights_zeroed for p in summary.projections),
                    "latency_retimed_synapses": sum(coarsening.synapses_retimed.values()),
                    "parity": _parity(quantized, coarse_test, target_name, config.parity),
                    "error": "",
                }
                for name, value in result.spikes_per_neuron.items():
                    reference = coarse_eval.spikes_per_neuron.get(name, 0.0)
                    row[f"spikes_{name}_float"] = reference
                    row[f"spikes_{name}_quantized"] = value
                    row[f"spikes_{name}_change"] = (value - reference) / reference if reference else 0.0
                rows.append(row)
                progress(
                    f"{target_name} x{factor} {bits} bits{' split' if split else ''} {mode}: "
                    f"{100 * result.accuracy:.2f}% "
                    f"(drop {row['drop_pp']:+.2f} pp)"
                )
    delay_options = delay_option_costs(network, train, test, config, loss, progress) if config.delay_range else []
    document = {
        "network": str(config.network),
        "loss": loss,
        "samples": len(test),
        "scale": config.scale,
        "float_accuracy": float_eval.accuracy,
        "rows": rows,
        "delay_options": delay_options,
    }
    write_outputs(config.out, document)
    return document


def _failed_row(target, factor, dt_ms, bits, split, mode, float_eval, coarse_eval, error) -> dict[str, Any]:
    return {
        "target": target,
        "delay_resolution": factor,
        "dt_ms": dt_ms,
        "weight_bits": bits,
        "signs_split": split,
        "mode": mode,
        "float_accuracy": float_eval.accuracy,
        "float_accuracy_at_resolution": coarse_eval.accuracy,
        "quantized_accuracy": "",
        "drop_pp": "",
        "parity": "not run",
        "error": str(error),
    }


def _parity(quantized: Network, test: Dataset, target: str, settings: dict[str, Any]) -> str:
    """Spike/state mismatches of the target's executor against the refsim target mode, or why not run."""
    if not settings.get("enabled", False):
        return "not run"
    from ..parity.compare import compare

    samples = int(settings.get("samples", 4))
    inputs = {quantized.sources()[0].name: test.inputs[:samples]}
    try:
        reference = simulate(quantized, inputs, mode=target)
        with get_target(target).executor(settings.get("executors", {}).get(target)) as executor:
            candidate = executor.run(quantized, inputs)
    except NeurodelayError as error:
        return f"error: {error}"
    divergences = compare(reference, candidate, ("spikes",))
    missing = [f"{d.population}.{d.quantity}" for d in divergences if d.count < 0]
    if missing:
        return f"error: recordings differ in shape or content at {', '.join(missing)}"
    return f"{sum(d.count for d in divergences)} spike mismatches ({samples} samples)"


def delay_option_costs(
    network: Network, train: Dataset, test: Dataset, config: StudyConfig, loss: str, progress=console.info
) -> list[dict[str, Any]]:
    """Accuracy (float refsim), neurons and cores of the delay-range options at ``delay_range.bound``:
    (a) clamp without and with fine-tuning, (b) the smallest timestep multiple that fits, (c) relays."""
    bound = int(config.delay_range["bound"])
    # Fine-tuning defaults that recover from a clamp: the old ones (1 epoch at the QAT weight rate,
    # delays at 0.1) made a few dozen Adam steps, whose effect stayed inside the evaluation noise
    # (README, "Measured figures").
    fine_tune_epochs = int(config.delay_range.get("epochs", 3))
    target = get_target(config.delay_range.get("target", config.targets[0]), "study")
    longest = max(
        int(np.floor(np.asarray(p.delays_steps)[p.existing()] + 0.5).max(initial=0)) for p in network.projections
    )
    neurons = lambda net: sum(p.size for p in net.neurons())  # noqa: E731

    def cores(net: Network) -> int | str:
        try:
            quantized, _ = quantize(net, target.name)
            return sum(target.cores(quantized).values())
        except NeurodelayError as error:
            return f"error: {error}"

    rows = []
    clamped, clamp_report = clamp_delays(network, bound)
    rows.append(
        {
            "option": "a: clamp (no retraining)",
            "accuracy": evaluate(clamped, test, loss=loss).accuracy,
            "neurons": neurons(clamped),
            "cores": cores(clamped),
            "detail": f"{sum(clamp_report.clipped.values())} delays clipped",
        }
    )
    tuned, _ = fine_tune(
        network,
        train,
        FineTuneConfig(
            delay_bound=bound,
            loss=loss,
            epochs=fine_tune_epochs,
            delay_lr=float(config.delay_range.get("delay_lr", 0.05)),
            weight_lr=float(config.delay_range.get("weight_lr", 1e-3)),
        ),
    )
    rows.append(
        {
            "option": f"a: clamp + {fine_tune_epochs} epoch(s) fine-tuning",
            "accuracy": evaluate(tuned, test, loss=loss).accuracy,
            "neurons": neurons(tuned),
            "cores": cores(tuned),
            "detail": "trained with the bound as the delay clamp",
        }
    )
    factor = 1
    while coarse_delay_steps(np.array([longest]), factor)[0] > bound:
        factor += 1
    coarse, coarsening = coarsen_timestep(network, factor)
    coarse_test = _at_resolution(test, factor)
    rows.append(
        {
            "option": f"b: timestep x{factor}",
            "accuracy": evaluate(coarse, coarse_test, loss=loss).accuracy,
            "neurons": neurons(coarse),
            "cores": cores(coarse),
            "detail": f"{sum(coarsening.synapses_retimed.values())} latencies moved, "
            f"max {max(coarsening.max_latency_error_ms.values()):g} ms; "
            f"{coarse_test.metadata.get('spikes_merged', 0)} input spikes merged",
        }
    )
    relayed, relay_report = relay_chains(network, bound)
    rows.append(
        {
            "option": "c: relay chains",
            "accuracy": evaluate(relayed, test, loss=loss).accuracy,
            "neurons": neurons(relayed),
            "cores": cores(relayed),
            "detail": f"{relay_report.extra_neurons} relay neurons, "
            f"{sum(relay_report.relay_synapses.values())} relay synapses",
        }
    )
    for row in rows:
        row["bound"] = bound
        row["target_for_cores"] = target.name
        progress(
            f"delay option {row['option']}: {100 * row['accuracy']:.2f}%, {row['neurons']} neurons, "
            f"{row['cores']} cores ({row['detail']})"
        )
    return rows


# ----- outputs --------------------------------------------------------------------------------
def _write_atomically(path: Path, text: str | bytes) -> None:
    write_bytes(path, text.encode() if isinstance(text, str) else text)


def csv_text(rows: list[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def markdown_text(document: dict[str, Any]) -> str:
    lines = [
        f"# Quantization study of `{document['network']}`",
        "",
        f"Float accuracy: {100 * document['float_accuracy']:.2f}% on {document['samples']} samples "
        f"(readout `{document['loss']}`); quantized accuracy on the reference simulator's target mode; "
        f"scales: {document['scale']}.",
        "",
        "| target | dt multiple | weight bits | signs | mode | float at dt (%) | quantized (%) | drop (pp) "
        "| weights clipped | delays clipped | parity |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in document["rows"]:
        if row.get("error"):
            lines.append(
                f"| {row['target']} | {row['delay_resolution']} | {row['weight_bits']} | "
                f"{'split' if row['signs_split'] else 'mixed'} | {row['mode']} | "
                f"{100 * row['float_accuracy_at_resolution']:.2f} | failed: {row['error']} | | | | |"
            )
            continue
        lines.append(
            f"| {row['target']} | {row['delay_resolution']} | {row['weight_bits']} | "
            f"{'split' if row['signs_split'] else 'mixed'} | {row['mode']} | "
            f"{100 * row['float_accuracy_at_resolution']:.2f} | {100 * row['quantized_accuracy']:.2f} | "
            f"{row['drop_pp']:+.2f} | {row['weights_clipped']} | {row['delays_clipped']} | {row['parity']} |"
        )
    if document["delay_options"]:
        lines += [
            "",
            f"## Delays beyond a bound of {document['delay_options'][0]['bound']} steps",
            "",
            "| option | float accuracy (%) | neurons | cores | detail |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['option']} | {100 * r['accuracy']:.2f} | {r['neurons']} | {r['cores']} | {r['detail']} |"
            for r in document["delay_options"]
        ]
    return "\n".join(lines) + "\n"


def plot_png(document: dict[str, Any]) -> bytes:
    """Accuracy vs weight bits, one line per (target, delay resolution, mode); the float accuracy dashed."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    groups: dict[tuple, list[tuple[int, float]]] = {}
    for row in document["rows"]:
        if not row.get("error"):
            groups.setdefault((row["target"], row["delay_resolution"], row["signs_split"], row["mode"]), []).append(
                (row["weight_bits"], 100 * row["quantized_accuracy"])
            )
    for (target, factor, split, mode), points in sorted(groups.items()):
        points.sort()
        axes.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker="o" if not split else "s",
            linestyle="-" if mode == "ptq" else "--",
            label=f"{target}, dt x{factor}, {'split' if split else 'mixed'}, {mode}",
        )
    axes.axhline(100 * document["float_accuracy"], color="black", linestyle=":", label="float")
    axes.set_xlabel("weight bits (sign included)")
    axes.set_ylabel("accuracy (%)")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def write_outputs(out: Path, document: dict[str, Any]) -> None:
    out = Path(out)
    _write_atomically(out / "results.csv", csv_text(document["rows"]))
    _write_atomically(out / "results.md", markdown_text(document))
    _write_atomically(out / "accuracy_vs_bits.png", plot_png(document))
    _write_atomically(out / "study.json", json.dumps(as_json(document), indent=2))
