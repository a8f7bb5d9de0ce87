"""The parts of the device check (``benchmarks/gpu_check.sh``) that are not the delay benchmark.

    gpu_check.py environment --out FILE     what ran where: GPU, driver, torch, triton
    gpu_check.py equality --device cuda --nets 20 --out FILE
        the device path (Triton kernels on the GPU) against the torch engine on the CPU, both in
        float64, on random networks (feed-forward, self-recurrent, two-population loops; dense and
        sparse; delays up to 512 steps): spike trains must be identical and readout traces and
        weight/delay gradients equal to 1e-9 of their scale. The same networks in float32 on the
        GPU are compared with the float64 reference and their differences recorded (not judged:
        float32 rounding can move a threshold crossing).
    gpu_check.py epoch --device cuda --config examples/yin_yang.yaml --out FILE
        one training epoch through the trainer on the device (time per epoch), host synchronisations
        of training steps (CUDA's sync debug mode), and the checkpoint resumed for a second epoch on
        the CPU.

``--tiny`` shrinks every part so that the whole check runs on a CPU in about a minute (CI); the
device kernels then run through Triton's interpreter. Results are JSON files written atomically.
Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from neurodelay.atomic import write_json  # noqa: E402

TOPOLOGIES = ("feedforward", "self_recurrent", "loop")
TOLERANCE_FLOAT64 = 1e-9


def environment(args: argparse.Namespace) -> bool:
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cuda_available": torch.cuda.is_available(),
    }
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError as error:
        info["triton"] = f"not importable: {error}"
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
        if shutil.which("nvidia-smi"):
            info["nvidia_smi"] = subprocess.run(
                ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                capture_output=True,
                text=True,
            ).stdout.strip()
    write_json(args.out, info)
    print(json.dumps(info))
    return True


def _scale_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual - expected| / max |expected| (0 when both vanish)."""
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    error = float((actual - expected).abs().max()) if expected.numel() else 0.0
    return error / scale if scale > 0 else error


def _run_model(network, inputs: np.ndarray, kernels: str, device: str, dtype: torch.dtype):
    from neurodelay.engine import DelayNetwork

    model = DelayNetwork(network, kernels=kernels, device=device, dtype=dtype)
    output = model(torch.as_tensor(inputs, device=device))
    trace = output.readout["readout"]
    labels = torch.arange(trace.shape[0], device=device) % trace.shape[2]
    loss = torch.nn.functional.cross_entropy(trace.mean(1), labels) + 0.05 * sum(
        ((c - 2.0) ** 2).mean() for c in output.spike_counts.values()
    )
    loss.backward()
    grads = {f"{name}.weights": p.grad for name, p in model.weights.items()}
    grads.update({f"{name}.delays": p.grad for name, p in model.delays.items()})
    return (
        {k: v.detach().double().cpu() for k, v in output.spike_counts.items()},
        trace.detach().double().cpu(),
        {k: v.double().cpu() for k, v in grads.items()},
    )


def equality(args: argparse.Namespace) -> bool:
    from device_nets import device_test_network

    sizes, batch, steps = ((4, 5, 4, 3), 2, 30) if args.tiny else ((40, 64, 48, 10), 8, 300)
    delays = (0, 9, 40, 200, 512)
    records, passed = [], True
    for index in range(args.nets):
        topology, max_delay = TOPOLOGIES[index % 3], delays[index % len(delays)]
        network = device_test_network(
            1000 + index, topology, sparse=index % 2 == 1, max_delay_steps=max_delay, sizes=sizes
        )
        inputs = np.random.default_rng(index).random((batch, steps, sizes[0])) < 0.05
        started = time.perf_counter()
        ref_counts, ref_trace, ref_grads = _run_model(network, inputs, "torch", "cpu", torch.float64)
        counts, trace, grads = _run_model(network, inputs, "triton", args.device, torch.float64)
        counts32, trace32, grads32 = _run_model(network, inputs, "triton", args.device, torch.float32)
        record = {
            "net": index,
            "topology": topology,
            "sparse": index % 2 == 1,
            "max_delay": max_delay,
            "spikes": {k: int(v.sum()) for k, v in ref_counts.items()},
            "float64_spike_count_mismatches": int(sum(int((counts[k] != ref_counts[k]).sum()) for k in ref_counts)),
            "float64_trace_error": _scale_error(trace, ref_trace),
            "float64_gradient_error": max(_scale_error(grads[k], ref_grads[k]) for k in ref_grads),
            "float32_spike_count_mismatches": int(sum(int((counts32[k] != ref_counts[k]).sum()) for k in ref_counts)),
            "float32_trace_error": _scale_error(trace32, ref_trace),
            "float32_gradient_error": max(_scale_error(grads32[k], ref_grads[k]) for k in ref_grads),
            "seconds": time.perf_counter() - started,
        }
        record["passed"] = (
            record["float64_spike_count_mismatches"] == 0
            and record["float64_trace_error"] <= TOLERANCE_FLOAT64
            and record["float64_gradient_error"] <= TOLERANCE_FLOAT64
        )
        passed &= record["passed"]
        records.append(record)
        print(json.dumps(record), flush=True)
    write_json(
        args.out,
        {
            "device": args.device,
            "tiny": args.tiny,
            "batch": batch,
            "steps": steps,
            "sizes": sizes,
            "tolerance_float64": TOLERANCE_FLOAT64,
            "passed": passed,
            "nets": records,
        },
    )
    return passed


def _train(config, run_dir: Path, limit: int | None, resume: bool):
    from neurodelay.train import RunOptions
    from neurodelay.train.trainer import Trainer

    trainer = Trainer(config, RunOptions(run_dir, resume=resume, limit=limit, progress=False))
    try:
        return trainer, trainer.run()
    finally:
        trainer.close()


def _step_syncs(trainer, device: str) -> int | None:
    """Host synchronisations of three more training steps, counted by CUDA's sync debug mode."""
    if device != "cuda":
        return None
    batches = trainer.sampler.epoch_batches()[:3]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for indices in batches:
                trainer._train_batch(indices, 1e-4, 1e-4)
            torch.cuda.synchronize()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def epoch(args: argparse.Namespace) -> bool:
    from neurodelay.train import load_config

    config = dataclasses.replace(load_config(args.config), epochs=1, device=args.device)
    limit = 64 if args.tiny else None
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder) / "run"
        started = time.perf_counter()
        trainer, records = _train(config, run_dir, limit, resume=False)
        first_epoch_wall = time.perf_counter() - started
        syncs = _step_syncs(trainer, args.device)
        resumed_config = dataclasses.replace(config, epochs=2, device="cpu")
        _, resumed = _train(resumed_config, run_dir, limit, resume=True)
    result = {
        "device": args.device,
        "config": args.config,
        "tiny": args.tiny,
        "limit": limit,
        "epoch_seconds": records[0]["seconds"],
        "first_epoch_wall_s_with_setup": first_epoch_wall,
        "test_accuracy_epoch1": records[0]["test_accuracy"],
        "host_syncs_in_3_training_steps": syncs,
        "resumed_on_cpu_epoch2_test_accuracy": resumed[-1]["test_accuracy"],
        "resumed_epochs": [r["epoch"] for r in resumed],
    }
    result["passed"] = result["resumed_epochs"] == [1, 2]
    write_json(args.out, result)
    print(json.dumps(result))
    return result["passed"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("environment", "equality", "epoch"))
    parser.add_argument("--device", default="cuda", choices=("cpu", "cuda"))
    parser.add_argument("--nets", type=int, default=20)
    parser.add_argument("--config", default="examples/yin_yang.yaml")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.device == "cpu":
        os.environ.setdefault("TRITON_INTERPRET", "1")
    return 0 if {"environment": environment, "equality": equality, "epoch": epoch}[args.part](args) else 1


if __name__ == "__main__":
    sys.exit(main())
