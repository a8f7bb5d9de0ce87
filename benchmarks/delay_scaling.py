"""Time per training step and peak memory versus the maximum delay D, three ways to learn with delays.

Models (same sizes: inputs -> hidden -> hidden -> classes; each configuration in its own process):

- ``engine``: neurodelay's EventProp engine (per-synapse delays learned, adjoint backward pass,
  delays split into buckets so that every ring covers at most 32 steps); loss ``exp_weighted_ce``,
  Adam on weights and delays, delay clamp. Deliveries that would arrive after the trial's last step
  are never made, so the work per pass shrinks once D approaches T: recorded per point as
  ``deliveries_per_pass`` (synaptic deliveries arriving inside the trial).
- ``dcls``: learnable delays as dilated convolutions with learnable spacings (``dcls`` 0.1.1,
  ``DCLS.construct.modules.Dcls1d``), the DCLS-delays SNN: Dcls1d -> BatchNorm -> LIF -> dropout,
  twice, Dcls1d readout; LIF with an ATan surrogate gradient; BPTT; Adam.
- ``bptt``: a plain surrogate-gradient (ATan) LIF network trained by BPTT with fixed per-synapse
  integer delays realised by a spike-history buffer of D + 1 steps (one matmul per step over the
  whole buffer); Adam on weights.

Measured per configuration: median wall time of the forward pass and of backward + optimiser step
over ``--repeats`` training steps after ``--warmup`` steps, peak RSS (CPU) or peak CUDA memory
allocated, and the engine's hidden activity (spikes per neuron per step). A configuration that
does not finish within ``--timeout`` seconds is recorded as timed out, and larger D of that model
are then recorded as skipped.

    .venv/bin/python benchmarks/delay_scaling.py                    # scaled CPU configuration
    .venv/bin/python benchmarks/delay_scaling.py --device cuda --config paper
    .venv/bin/python benchmarks/delay_scaling.py --config tiny --models engine,dcls --out /tmp/tiny.json

On CUDA the engine runs its Triton device path (``neurodelay/engine/device_pass.py``) and Adam is
the fused one; on CPU the torch engine.

Writes ``benchmarks/results/delay_scaling_<device>.json`` and a PNG plot next to it (atomically).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neurodelay.atomic import atomic_path, write_json

RESULTS = Path(__file__).parent / "results"
CONFIGS = {
    # CPU-sized: the measured DCLS CPU baseline of docs/anchors.md §A2
    "scaled": dict(inputs=700, hidden=256, classes=20, batch=32, steps=300, input_rate=0.02),
    # steady state for the engine at D = 400: most spikes' delays end inside the trial
    "long": dict(inputs=700, hidden=256, classes=20, batch=16, steps=700, input_rate=0.02),
    # the paper's DCLS comparison (Meszaros et al. 2025; docs/anchors.md §A1): GPU
    "paper": dict(inputs=700, hidden=256, classes=20, batch=256, steps=1127, input_rate=0.02),
    # a smoke run of this script on CPU in seconds (benchmarks/gpu_check.sh --tiny, run by CI)
    "tiny": dict(inputs=40, hidden=32, classes=4, batch=4, steps=60, input_rate=0.05),
}
DELAYS = (25, 50, 100, 200, 400, 512)
MODELS = ("engine", "dcls", "bptt")


# ----------------------------------------------------------------------------------- models ---
class ATanSpike(torch.autograd.Function):
    """Heaviside spike with the ATan surrogate derivative ``1 / (1 + (pi/2 * 2 * x)^2)`` (alpha = 2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad / (1.0 + (math.pi * x) ** 2)


def lif_sequence(current: torch.Tensor, decay: float = 0.5, threshold: float = 1.0) -> torch.Tensor:
    """Multi-step LIF (tau = 2 steps, hard reset to 0, reset detached): ``[T, B, n]`` -> spikes."""
    v = torch.zeros_like(current[0])
    spikes = []
    for x in current:
        v = decay * v + (1.0 - decay) * x
        s = ATanSpike.apply(v - threshold)
        spikes.append(s)
        v = v * (1.0 - s.detach())
    return torch.stack(spikes)


class DclsNet(nn.Module):
    """DCLS-delays SNN: (Dcls1d -> BN -> LIF -> dropout) x 2, Dcls1d readout; input ``[T, B, C]``."""

    def __init__(self, inputs: int, hidden: int, classes: int, max_delay: int) -> None:
        super().__init__()
        from DCLS.construct.modules import Dcls1d

        self.kernel = max_delay + 1
        sizes = (inputs, hidden, hidden, classes)
        self.convs = nn.ModuleList(
            Dcls1d(a, b, kernel_count=1, groups=1, dilated_kernel_size=self.kernel, bias=False, version="gauss")
            for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(2))
        self.dropout = nn.Dropout(0.4)

    def _delayed(self, conv, x):  # x [T, B, C] -> [T, B, C_out], causal
        y = conv(F.pad(x.permute(1, 2, 0), (self.kernel - 1, 0)))
        return y.permute(2, 0, 1)

    def forward(self, x):
        for conv, norm in zip(self.convs[:2], self.norms):
            y = self._delayed(conv, x)
            steps, batch, n = y.shape
            y = norm(y.reshape(steps * batch, n)).reshape(steps, batch, n)
            x = self.dropout(lif_sequence(y))
        return self._delayed(self.convs[2], x)  # readout current [T, B, classes]


class DelayBufferBPTT(nn.Module):
    """Surrogate-gradient LIF network, fixed integer per-synapse delays, spike-history buffer."""

    def __init__(self, inputs: int, hidden: int, classes: int, max_delay: int, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        sizes = (inputs, hidden, hidden, classes)
        self.slots = max_delay + 1
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(a, b, generator=generator) / math.sqrt(a)) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.register_buffer("onehots", torch.zeros(0))
        self.delay_onehots = [
            F.one_hot(torch.randint(0, self.slots, (a, b), generator=generator), self.slots).permute(2, 0, 1).float()
            for a, b in zip(sizes[:-1], sizes[1:])
        ]

    def forward(self, x):  # x [T, B, C]
        steps, batch, _ = x.shape
        out = x
        for layer, (weight, onehot) in enumerate(zip(self.weights, self.delay_onehots)):
            stacked = (weight[None] * onehot).reshape(-1, weight.shape[1])  # [(D+1) * n_pre, n_post]
            history = torch.zeros(batch, self.slots, weight.shape[0])
            v = torch.zeros(batch, weight.shape[1])
            i_syn = torch.zeros(batch, weight.shape[1])
            results = []
            for t in range(steps):
                i_syn = 0.8 * i_syn + history.reshape(batch, -1) @ stacked
                v = 0.95 * v + 0.05 * i_syn
                if layer < 2:
                    s = ATanSpike.apply(v - 1.0)
                    v = v * (1.0 - s.detach())
                    results.append(s)
                else:
                    results.append(v)
                history = torch.cat([out[t][:, None], history[:, :-1]], 1)  # newest first
            out = torch.stack(results)
        return out


def engine_model(inputs: int, hidden: int, classes: int, max_delay: int, device: str, seed: int = 0):
    from neurodelay.engine import DelayNetwork
    from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource

    rng = np.random.default_rng(seed)

    def projection(name, pre, post, n_pre, n_post, mean, std, max_d):
        return Projection(
            name, pre, post, rng.normal(mean, std, (n_pre, n_post)), rng.uniform(0, max_d, (n_pre, n_post)), max_d
        )

    network = Network(
        "delay_scaling",
        1.0,
        (
            SpikeSource("input", inputs),
            LIF("hidden1", hidden),
            LIF("hidden2", hidden),
            LeakyIntegrator("output", classes),
        ),
        (
            projection("input_hidden1", "input", "hidden1", inputs, hidden, 0.03, 0.05, max_delay),
            projection("hidden1_hidden2", "hidden1", "hidden2", hidden, hidden, 0.04, 0.06, max_delay),
            projection("hidden2_output", "hidden2", "output", hidden, classes, 0.0, 0.03, 0),
        ),
    )
    return DelayNetwork(network, device=device)


@torch.no_grad()
def calibrate_activity(model, spikes: torch.Tensor, target: float, iterations: int = 8) -> dict[str, float]:
    """Scale the engine's hidden-layer input weights (bisection on a log scale, layer by layer) so
    that each hidden layer fires ``target`` spikes per neuron per step on the first 8 trials: the
    work per step then does not depend on D (with delays up to D, fewer arrivals fall inside the
    trial at large D). Returns the activity reached per layer."""
    sample = spikes[:8]
    steps = spikes.shape[1]
    reached = {}
    for projection, layer in (("input_hidden1", "hidden1"), ("hidden1_hidden2", "hidden2")):
        weights = model.weights[projection]
        original = weights.clone()
        low, high = math.log(0.05), math.log(20.0)
        for _ in range(iterations):
            middle = 0.5 * (low + high)
            weights.copy_(original * math.exp(middle))
            activity = float(model(sample).spike_counts[layer].mean()) / steps
            low, high = (middle, high) if activity < target else (low, middle)
        weights.copy_(original * math.exp(0.5 * (low + high)))
        reached[layer] = float(model(sample).spike_counts[layer].mean()) / steps
    return reached


@torch.no_grad()
def deliveries_per_pass(model, spikes: torch.Tensor) -> int:
    """Synaptic deliveries of one forward pass that arrive inside the trial (step k + 1 + d < T),
    counted with a per-neuron cumulative delay histogram (small, so the peak memory stays the model's)."""
    from neurodelay.engine.forward import simulate
    from neurodelay.engine.layout import integer_delays, source_tensors

    compiled = model.compiled
    tape = simulate(compiled, source_tensors(compiled, spikes), dict(model.weights), dict(model.delays))
    steps, total = spikes.shape[1], 0
    for connection in compiled.connections:
        log = tape.spikes[connection.pre]
        delays = integer_delays(model.delays[connection.name], connection.max_delay_steps)
        bins = connection.max_delay_steps + 1
        histogram = torch.zeros(connection.n_pre, bins, dtype=torch.int64, device=delays.device)
        histogram.scatter_add_(1, delays, torch.ones_like(delays))
        at_most = torch.cat([torch.zeros_like(histogram[:, :1]), torch.cumsum(histogram, 1)], 1)  # [n_pre, bins + 1]
        for step in range(log.steps):
            largest = min(steps - 2 - step, bins - 1)  # largest delay that still arrives
            if largest >= 0 and log.count(step):
                total += int(at_most[log.at(step)[1], largest + 1].sum())
    return total


# ----------------------------------------------------------------------------------- worker ---
def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def peak_memory_mib(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = CONFIGS[args.config]
    device, D = args.device, args.max_delay
    rng = np.random.default_rng(1)
    spikes = torch.as_tensor(
        rng.random((config["batch"], config["steps"], config["inputs"])) < config["input_rate"],
        dtype=torch.float32,
        device=device,
    )
    labels = torch.as_tensor(rng.integers(0, config["classes"], config["batch"]), device=device)
    sizes = (config["inputs"], config["hidden"], config["classes"])
    extra: dict = {}
    if args.model == "engine":
        from neurodelay.engine.losses import make_loss, spike_count_regularizer

        model = engine_model(*sizes, D, device)
        extra["calibrated_activity"] = calibrate_activity(model, spikes, args.activity)
        extra["kernels"] = "triton" if model.uses_device_path() else "torch"
        # counted by replaying the torch engine step by step: minutes at the paper size on a GPU
        extra["deliveries_per_pass"] = deliveries_per_pass(model, spikes) if device == "cpu" else None
        fused = {"fused": True} if device == "cuda" else {}
        optimiser = torch.optim.Adam(
            [{"params": model.weights.parameters(), "lr": 1e-3}, {"params": model.delays.parameters(), "lr": 0.1}],
            **fused,
        )
        loss_fn = make_loss("exp_weighted_ce")
        last_counts = {}

        def forward():
            out = model(spikes)
            last_counts.update(out.spike_counts)  # read after the timed steps, not inside them
            return loss_fn(out.readout["output"], labels) + spike_count_regularizer(out.spike_counts, 14.0, 5e-11)

        def after_step():
            model.clamp_delays_()
    else:
        model = (DclsNet if args.model == "dcls" else DelayBufferBPTT)(*sizes, D).to(device)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
        sequence = spikes.permute(1, 0, 2).contiguous()

        def forward():
            return F.cross_entropy(model(sequence).mean(0), labels)

        def after_step():
            if args.model == "dcls":
                for conv in model.convs:
                    conv.clamp_parameters()

    forward_times, backward_times = [], []
    for repeat in range(args.warmup + args.repeats):
        optimiser.zero_grad()
        sync(device)
        start = time.perf_counter()
        loss = forward()
        sync(device)
        middle = time.perf_counter()
        loss.backward()
        optimiser.step()
        after_step()
        sync(device)
        end = time.perf_counter()
        if repeat >= args.warmup:
            forward_times.append(middle - start)
            backward_times.append(end - middle)
    if args.model == "engine":
        extra["activity"] = {k: float(v.detach().sum() / (v.numel() * config["steps"])) for k, v in last_counts.items()}
    forward_s, backward_s = statistics.median(forward_times), statistics.median(backward_times)
    return {
        "model": args.model,
        "max_delay": D,
        "status": "ok",
        "threads": args.threads,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "step_s": forward_s + backward_s,
        "forward_s": forward_s,
        "backward_opt_s": backward_s,
        "step_s_all": [f + b for f, b in zip(forward_times, backward_times)],
        "step_s_min": min(f + b for f, b in zip(forward_times, backward_times)),
        "peak_memory_mib": peak_memory_mib(device),
        **extra,
    }


# ----------------------------------------------------------------------------------- driver ---
def run_point(args: argparse.Namespace, model: str, max_delay: int) -> dict:
    repeats, warmup = (args.bptt_repeats, args.bptt_warmup) if model == "bptt" else (args.repeats, args.warmup)
    command = [
        sys.executable,
        __file__,
        "--worker",
        "--model",
        model,
        "--max-delay",
        str(max_delay),
        "--device",
        args.device,
        "--config",
        args.config,
        "--repeats",
        str(repeats),
        "--warmup",
        str(warmup),
        "--activity",
        str(args.activity),
        "--threads",
        str(args.engine_threads if model == "engine" else args.threads),
    ]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"model": model, "max_delay": max_delay, "status": "timed_out", "timeout_s": args.timeout}
    if done.returncode != 0:
        return {
            "model": model,
            "max_delay": max_delay,
            "status": "failed",
            "error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}",
        }
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    return result


def summary_rows(points: list[dict], delays: list[int]) -> list[dict]:
    by = {(p["model"], p["max_delay"]): p for p in points}
    rows = []
    for D in delays:
        row: dict = {"max_delay": D}
        for model in MODELS:
            point = by.get((model, D))
            ok = point is not None and point["status"] == "ok"
            row[f"{model}_step_s"] = point["step_s"] if ok else None
            row[f"{model}_step_s_min"] = point["step_s_min"] if ok else None
            row[f"{model}_status"] = point["status"] if point else "not run"
        for model in ("dcls", "bptt"):
            if row["engine_step_s"] and row[f"{model}_step_s"]:
                row[f"{model}_over_engine"] = row[f"{model}_step_s"] / row["engine_step_s"]
                row[f"{model}_over_engine_min"] = row[f"{model}_step_s_min"] / row["engine_step_s_min"]
        rows.append(row)
    return rows


def plot(result: dict, path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for model in MODELS:
        points = [p for p in result["points"] if p["model"] == model and p["status"] == "ok"]
        if points:
            time_axis.plot([p["max_delay"] for p in points], [p["step_s"] for p in points], "o-", label=model)
            memory_axis.plot(
                [p["max_delay"] for p in points], [p["peak_memory_mib"] for p in points], "o-", label=model
            )
        for p in result["points"]:
            if p["model"] == model and p["status"] == "timed_out":
                time_axis.annotate("timeout", (p["max_delay"], result["timeout_s"]), fontsize=7)
    delays = sorted({p["max_delay"] for p in result["points"]})
    for axis, label in ((time_axis, "training step [s]"), (memory_axis, "peak memory [MiB]")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xticks(delays, [str(d) for d in delays])
        axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.set_xlabel("max delay D [steps]")
        axis.set_ylabel(label)
        axis.legend()
    figure.suptitle(f"delay scaling, {result['config_name']} on {result['device']}")
    figure.tight_layout()
    with atomic_path(path, suffix=".png") as temporary:
        figure.savefig(temporary, dpi=120)


def write_result(
    args: argparse.Namespace,
    out: Path,
    points: list[dict],
    delays: list[int],
    load_at_start: tuple[float, float, float],
) -> dict:
    """Write the JSON record and the plot of the points measured so far (atomically)."""
    result = {
        "device": args.device,
        "config_name": args.config,
        "config": CONFIGS[args.config],
        "threads": {"engine": args.engine_threads, "dcls": args.threads, "bptt": args.threads},
        "target_engine_activity": args.activity,
        "timeout_s": args.timeout,
        "torch": torch.__version__,
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": load_at_start,
        "load_average_now": os.getloadavg(),
        "points": points,
        "summary": summary_rows(points, delays),
    }
    engine = {p["max_delay"]: p for p in points if p["model"] == "engine" and p["status"] == "ok"}
    for last in (400, 512):
        if 25 in engine and last in engine:
            result[f"engine_growth_25_to_{last}"] = engine[last]["step_s"] / engine[25]["step_s"]
            result[f"engine_growth_25_to_{last}_min"] = engine[last]["step_s_min"] / engine[25]["step_s_min"]
    dcls = {p["max_delay"]: p for p in points if p["model"] == "dcls" and p["status"] == "ok"}
    result["dcls_over_engine"] = {
        D: {
            "step_time": dcls[D]["step_s"] / engine[D]["step_s"],
            "peak_memory": dcls[D]["peak_memory_mib"] / engine[D]["peak_memory_mib"],
        }
        for D in sorted(set(engine) & set(dcls))
    }
    write_json(out, result)
    plot(result, out.with_suffix(".png"))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--config", default=None, choices=tuple(CONFIGS), help="default: scaled on cpu, paper on cuda")
    parser.add_argument("--delays", default=",".join(map(str, DELAYS)))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads for dcls and bptt")
    parser.add_argument(
        "--engine-threads",
        type=int,
        default=1,
        help="torch CPU threads for the engine (its per-step tensors are too small to gain from more)",
    )
    parser.add_argument("--bptt-delays", default="25", help="max delays for the (slow) BPTT baseline")
    parser.add_argument("--bptt-repeats", type=int, default=1, help="timed steps of the (slow) BPTT baseline")
    parser.add_argument("--bptt-warmup", type=int, default=0)
    parser.add_argument("--activity", type=float, default=0.05, help="engine hidden spikes per neuron per step")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per configuration")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--max-delay", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.config = args.config or ("paper" if args.device == "cuda" else "scaled")
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    load_at_start = os.getloadavg()
    delays = [int(d) for d in args.delays.split(",")]
    models = args.models.split(",")
    out = args.out or RESULTS / f"delay_scaling_{args.device}.json"
    points, timed_out_at = [], {}
    for D in delays:  # D-major, so that the models at one D run close in time
        for model in models:
            if model == "bptt" and D not in [int(d) for d in args.bptt_delays.split(",")]:
                points.append({"model": model, "max_delay": D, "status": "skipped", "reason": "not in --bptt-delays"})
                continue
            if model in timed_out_at:
                points.append(
                    {
                        "model": model,
                        "max_delay": D,
                        "status": "skipped",
                        "reason": f"timed out at max delay {timed_out_at[model]}",
                    }
                )
                continue
            point = run_point(args, model, D)
            print(json.dumps({k: v for k, v in point.items() if k != "step_s_all"}), flush=True)
            points.append(point)
            if point["status"] == "timed_out":
                timed_out_at[model] = D
            write_result(args, out, points, delays, load_at_start)  # after every point
    result = write_result(args, out, points, delays, load_at_start)
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
