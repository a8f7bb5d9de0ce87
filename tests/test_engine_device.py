"""The device path (Triton kernels) against the torch engine, and its host synchronisations.

Without a GPU the kernels run through Triton's interpreter (``tests/conftest.py``); with one, on CUDA.
Both implementations compute the same sums in a different order (per-synapse atomics vs ring
buffers), so in float64 spikes must be identical and values equal to ~1e-12 of their scale; in
float32 the traces agree to ~1e-5 of their scale (a few ulps of float32, accumulated over the trial).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from device_nets import TOPOLOGIES, device_test_network
from neurodelay.engine import DelayNetwork
from neurodelay.engine.device_plan import device_plan
from neurodelay.engine.host_sync import HostSyncCounter
from neurodelay.engine.layout import compile_network
from neurodelay.errors import ValidationError

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
CASES = [
    (topology, sparse, max_delay)
    for topology in TOPOLOGIES
    for sparse, max_delay in ((False, 0), (True, 9), (False, 40), (True, 512))
]


def run(network, inputs, kernels: str, dtype=torch.float64, count_weight: float = 0.05):
    """Readout trace, spike counts and gradients of a loss on both outputs."""
    model = DelayNetwork(network, dtype=dtype, kernels=kernels, device=DEVICE)
    output = model(torch.as_tensor(inputs, device=DEVICE))
    trace = output.readout["readout"]
    counts = output.spike_counts
    labels = torch.arange(trace.shape[0], device=DEVICE) % trace.shape[2]
    loss = torch.nn.functional.cross_entropy(trace.mean(1), labels) + count_weight * sum(
        ((c - 2.0) ** 2).mean() for c in counts.values()
    )
    loss.backward()
    return (
        trace.detach().cpu(),
        {k: v.detach().cpu() for k, v in counts.items()},
        {k: p.grad.cpu() for k, p in model.weights.items()},
        {k: p.grad.cpu() for k, p in model.delays.items()},
    )


def inputs_for(network, seed: int, batch: int = 2, steps: int = 40) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, steps, network.sources()[0].size)) < 0.1


def assert_close(actual: torch.Tensor, expected: torch.Tensor, relative: float, what: str) -> None:
    scale = max(float(expected.abs().max()), 1e-30)
    error = float((actual - expected).abs().max())
    assert error <= relative * scale, f"{what}: max |difference| {error:.3g} > {relative:g} x {scale:.3g}"


@pytest.mark.parametrize("case", range(len(CASES)))
def test_device_path_equals_torch_engine_in_float64(case):
    topology, sparse, max_delay = CASES[case]
    network = device_test_network(case, topology, sparse=sparse, max_delay_steps=max_delay)
    inputs = inputs_for(network, case)
    trace, counts, weight_grads, delay_grads = run(network, inputs, "triton")
    ref_trace, ref_counts, ref_weight_grads, ref_delay_grads = run(network, inputs, "torch")
    assert max(float(c.max()) for c in ref_counts.values()) >= 2, "the case must have several spikes per neuron"
    for name in ref_counts:
        torch.testing.assert_close(counts[name], ref_counts[name], rtol=0, atol=0)
    assert_close(trace, ref_trace, 1e-12, "readout trace")
    assert sum(int((g != 0).sum()) for g in ref_delay_grads.values()) >= 5, "too few delay gradients to compare"
    for name in ref_weight_grads:
        assert_close(weight_grads[name], ref_weight_grads[name], 1e-10, f"{name} weight gradient")
        assert_close(delay_grads[name], ref_delay_grads[name], 1e-10, f"{name} delay gradient")


def test_float32_device_path_is_within_float32_rounding_of_the_torch_engine():
    network = device_test_network(7, "self_recurrent", sparse=False, max_delay_steps=12)
    inputs = inputs_for(network, 7)
    trace, counts, weight_grads, _ = run(network, inputs, "triton", dtype=torch.float32)
    ref_trace, ref_counts, ref_weight_grads, _ = run(network, inputs, "torch", dtype=torch.float32)
    for name in ref_counts:
        torch.testing.assert_close(counts[name], ref_counts[name], rtol=0, atol=0)
    assert_close(trace, ref_trace, 1e-5, "float32 readout trace")
    for name in ref_weight_grads:
        assert_close(weight_grads[name], ref_weight_grads[name], 1e-4, f"float32 {name} weight gradient")


def test_plan_groups_loops_into_one_block_and_orders_blocks_forward():
    plan = device_plan(compile_network(device_test_network(0, "loop", sparse=False, max_delay_steps=3)))
    assert [block.names for block in plan.blocks] == [("a", "b"), ("readout",)]
    assert [c.name for c in plan.blocks[0].internal] == ["a_b", "b_a"]
    assert [c.name for c in plan.incoming[0]] == ["input_a", "input_b"]
    plan = device_plan(compile_network(device_test_network(0, "feedforward", sparse=False, max_delay_steps=3)))
    assert [block.names for block in plan.blocks] == [("a",), ("b",), ("readout",)]


def test_two_projections_between_one_pair_inside_a_loop_are_refused_clearly():
    network = device_test_network(0, "self_recurrent", sparse=False, max_delay_steps=3)
    twin = next(p for p in network.projections if p.name == "a_a")
    import dataclasses

    network = dataclasses.replace(network, projections=network.projections + (dataclasses.replace(twin, name="a_a2"),))
    with pytest.raises(ValidationError, match="same pair"):
        device_plan(compile_network(network))


def training_step_syncs(steps: int) -> tuple[int, int]:
    """Host synchronisations of one training step: (the engine's forward + backward, the optimiser
    step and delay clamp)."""
    network = device_test_network(3, "self_recurrent", sparse=True, max_delay_steps=30, sizes=(4, 4, 3, 2))
    model = DelayNetwork(network, kernels="triton", device=DEVICE)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    inputs = torch.as_tensor(np.random.default_rng(0).random((2, steps, 4)) < 0.03, device=DEVICE)
    labels = torch.tensor([0, 1], device=DEVICE)
    with HostSyncCounter() as engine:
        output = model(inputs)
        loss = torch.nn.functional.cross_entropy(output.readout["readout"].mean(1), labels)
        loss.backward()
    with HostSyncCounter() as update:
        optimiser.step()
        model.clamp_delays_()
    return engine.total, update.total


def test_host_synchronisations_per_training_step_do_not_grow_with_the_trial_length():
    short, long = training_step_syncs(50), training_step_syncs(500)
    assert short[0] == long[0] == 0, f"the engine itself synchronised: {short[0]} / {long[0]}"
    # torch's CPU Adam reads its step counters with .item() (a fixed number per step; on CUDA the
    # trainer uses the fused Adam, whose counters stay on the device)
    assert short[1] == long[1], f"an optimiser step synchronised {short[1]} times at T=50, {long[1]} at T=500"


def test_the_counter_sees_host_reads():
    with HostSyncCounter() as counter:
        values = torch.arange(5)
        values.sum().item()
        torch.nonzero(values)
        bool(values.any())
    assert counter.calls == {"Tensor.item": 1, "torch.nonzero": 1, "Tensor.__bool__": 1}


def test_every_kernel_compiles_to_a_hopper_cubin():
    """Triton's real compiler (not the interpreter) accepts every kernel variant, down to sm_90 machine
    code, so a GPU session does not discover a compile error."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    script = Path(__file__).with_name("compile_device_kernels.py")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert done.stdout.count("ok ") == 20, done.stdout
