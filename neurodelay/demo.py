"""The end-to-end pipeline behind ``neurodelay demo``: train -> quantize -> export -> parity -> summary.

Steps (each result is a file under ``out_dir``; a second run reuses what is there):

1. **train** a small Yin-Yang network with learnable delays (``examples/demo_yin_yang.yaml``) with
   the EventProp engine; the run directory holds checkpoints, so an interrupted demo resumes.
2. **float accuracy** of the trained IR network on the test split in the reference simulator's
   float mode (the IR's own dynamics, float64).
3. for each target of the registry (:mod:`neurodelay.targets`) that can be deployed: **quantize**
   with scales calibrated on training samples (report with every lossy step in the quantized
   network's provenance); where this PTQ loses more than 1 point of validation accuracy, fine-tune
   with the quantizer in the loop (QAT) and keep it if it does better (:mod:`neurodelay.quant.choice`,
   every accuracy logged); measure the **quantized accuracy** on the test split in the target's
   bit-accurate refsim mode, **export**, and check **parity** with the target's executors in their order: an executor
   that records nothing (e.g. a virtual board) runs the target's build check (what the tool chain
   built against the quantizer); the first executor that records is compared with the refsim mode,
   spikes and the target's states at every step.
4. a **summary** table (printed and ``summary.json``) and a bar plot ``summary.png``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from . import console, ir, refsim
from .atomic import write_json
from .data import load_task
from .engine.losses import READOUTS
from .parity import check_networks
from .quant.choice import quantize_choosing
from .targets import all_targets, get_target
from .train.config import load_config
from .train.trainer import NETWORK_NAME, RunOptions, train

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "examples" / "demo_yin_yang.yaml"


@dataclass
class DemoOptions:
    """out_dir: where every artefact goes; limit: samples per data split (None: all);
    parity_samples: test samples run through the slow target simulators;
    calibration_samples: training samples used to choose each target's scales (never test data)."""

    out_dir: Path
    config: Path = DEFAULT_CONFIG
    limit: int | None = None
    parity_samples: int = 16
    calibration_samples: int = 256
    progress: bool = True
    log: Callable[[str], None] = console.info


@dataclass
class TargetResult:
    target: str
    accuracy: float
    spike_change: float
    quantization: dict[str, Any]
    export_dir: str
    choice: dict[str, Any]
    parity: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mismatches(self) -> int:
        return sum(check["mismatches"] for check in self.parity)


def accuracy(recording, readout: str, labels: np.ndarray, scores: Callable) -> float:
    """Fraction of samples whose largest readout score (the loss's own reduction) is the label."""
    trace = torch.from_numpy(recording.populations[readout].state_as_float("v"))
    return float((scores(trace).argmax(1).numpy() == labels).mean())


def hidden_spikes(recording, network: ir.Network) -> int:
    return int(sum(recording.spikes(p.name).sum() for p in network.neurons() if p.kind == "lif"))


def run_demo(options: DemoOptions) -> dict[str, Any]:
    started = time.monotonic()
    out, log = Path(options.out_dir), options.log
    out.mkdir(parents=True, exist_ok=True)
    config = load_config(options.config)

    log(f"[1/4] training {config.name} ({config.epochs} epochs, EventProp with learnable delays) in {out / 'train'}")
    run_dir = out / "train"
    resume = (run_dir / "checkpoint.pt").exists()
    train(config, RunOptions(run_dir=run_dir, resume=resume, limit=options.limit, progress=options.progress))
    network = ir.load(run_dir / NETWORK_NAME)
    trained = json.loads((run_dir / "metrics.json").read_text())[-1]

    splits = load_task(config.data.task, config.data.parameters, config.network.dt_ms).limited(options.limit)
    test = splits.test
    readout = config.network.readout.name
    scores = READOUTS[config.loss.name]
    float_recording = refsim.simulate(network, test.inputs, mode="float")
    float_accuracy = accuracy(float_recording, readout, test.labels, scores)
    float_spikes = hidden_spikes(float_recording, network)
    log(
        f"[2/4] float accuracy on {len(test)} test samples: {100 * float_accuracy:.2f}% "
        f"(engine during training: {100 * trained['test_accuracy']:.2f}%)"
    )

    results = []
    sample = test.inputs[: options.parity_samples]
    source = network.sources()[0].name
    calibration = {source: splits.train.inputs[: options.calibration_samples]}
    for target in [name for name, spec in all_targets().items() if spec.can("deploy")]:
        log(f"[3/4] {target}: quantize, simulate bit-accurately, export, parity")
        quantized, _, choice = quantize_choosing(
            network,
            target,
            train=splits.train,
            check=splits.validation,
            loss=config.loss.name,
            scale="calibrated",
            calibration=calibration,
            log=lambda line: log(f"      {line}"),
        )
        for line in choice.lines():
            log(f"      {line}")
        ir.save(quantized, out / f"{target}.ndnet")
        recording = refsim.simulate(quantized, test.inputs, mode=target)
        spikes = hidden_spikes(recording, quantized)
        export_dir = out / "export" / target
        get_target(target).export(quantized, export_dir)
        result = TargetResult(
            target,
            accuracy(recording, readout, test.labels, scores),
            (spikes - float_spikes) / max(float_spikes, 1),
            quantized.provenance.get("quantization", {}),
            str(export_dir),
            choice.to_dict(),
        )
        result.parity = parity_checks(target, quantized, sample, log)
        results.append(result)

    summary = {
        "network": network.name,
        "test_samples": len(test),
        "float_accuracy": float_accuracy,
        "engine_test_accuracy": trained["test_accuracy"],
        "targets": {
            r.target: {
                "accuracy": r.accuracy,
                "accuracy_drop_points": 100 * (float_accuracy - r.accuracy),
                "quantization_mode": r.choice["chosen"],
                "quantization_choice": r.choice,
                "hidden_spike_change": r.spike_change,
                "parity": r.parity,
                "mismatches": r.mismatches,
                "export": r.export_dir,
            }
            for r in results
        },
        "files": {
            "trained": str(run_dir / NETWORK_NAME),
            "metrics": str(run_dir / "metrics.json"),
            **{f"quantized_{r.target}": str(out / f"{r.target}.ndnet") for r in results},
        },
        "seconds": round(time.monotonic() - started, 1),
    }
    write_json(out / "summary.json", summary, default=str)
    plot_summary(summary, out / "summary.png")
    log("[4/4] summary")
    for line in summary_lines(summary):
        log(line)
    return summary


def parity_checks(target: str, quantized: ir.Network, inputs: np.ndarray, log: Callable) -> list[dict[str, Any]]:
    """The target's parity checks on ``inputs`` (``[batch, steps, n]``); one dict per check."""
    cases = [(quantized, inputs, None)]
    spec = get_target(target)
    checks = []
    for name in spec.executor_names():
        with spec.executor(name, timeout_s=600) as executor:
            if not getattr(executor, "records", True):
                if spec.build_check:
                    build = spec.resolve("build_check")(cases, executor)
                    checks.append(
                        {
                            "check": f"{build.reference} vs {build.executor} build",
                            "executor": build.executor,
                            "mismatches": build.mismatches,
                            "compared": dict(build.checked),
                        }
                    )
                continue
            report, _ = check_networks(target, cases, executor)
        result = report.results[0]
        checks.append(
            {
                "check": f"{report.reference} vs {report.executor}",
                "executor": report.executor,
                "mismatches": int(not result.matched),
                "steps": result.steps,
                "samples": len(inputs),
                "spikes": result.spikes,
                "first_divergence": None if result.matched else str(result.divergences[0]),
            }
        )
        break
    for check in checks:
        log(f"      parity: {check['check']}: {'MATCH' if check['mismatches'] == 0 else 'MISMATCH'}")
    return checks


def summary_lines(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"{'':<12}{'mode':>5}{'accuracy':>10}{'drop (pp)':>11}{'spikes':>9}{'parity':>10}  export",
        f"{'float':<12}{'':>5}{100 * summary['float_accuracy']:>9.2f}%{'':>11}{'':>9}{'':>10}  {summary['files']['trained']}",
    ]
    for name, result in summary["targets"].items():
        parity = "0 diff" if result["mismatches"] == 0 else f"{result['mismatches']} DIFF"
        lines.append(
            f"{name:<12}{result['quantization_mode']:>5}{100 * result['accuracy']:>9.2f}%"
            f"{result['accuracy_drop_points']:>11.2f}{100 * result['hidden_spike_change']:>+8.1f}%{parity:>10}"
            f"  {result['export']}"
        )
    lines.append(
        f"{summary['test_samples']} test samples; parity on the first samples through each target's "
        f"simulator; {summary['seconds']} s in all; details in summary.json"
    )
    return lines


def plot_summary(summary: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["float"] + list(summary["targets"])
    values = [100 * summary["float_accuracy"]] + [100 * r["accuracy"] for r in summary["targets"].values()]
    figure, axes = plt.subplots(figsize=(5, 3.2))
    palette = plt.get_cmap("tab10")
    bars = axes.bar(names, values, color=["#555555"] + [palette(i) for i in range(len(names) - 1)])
    axes.bar_label(bars, fmt="%.1f%%")
    axes.set_ylabel("test accuracy (%)")
    axes.set_ylim(0, 105)
    axes.set_title(f"{summary['network']}: trained vs deployed (bit-accurate)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
