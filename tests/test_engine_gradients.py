"""EventProp gradients against finite differences of the reference simulator (an independent forward).

Exact cases: gradients of the readout projection (the loss is smooth in them, so a central
difference of the refsim converges to the engine's value). Hidden-layer cases: a small network at a
fine dt, where moving a hidden spike by one step is a small time shift (the wide random check is
``neurodelay gradcheck``, tested in test_engine_gradcheck.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from neurodelay.engine import DelayNetwork, loss_and_gradients
from neurodelay.engine.adjoint import adjoint
from neurodelay.engine.forward import simulate as engine_simulate
from neurodelay.engine.layout import compile_network, source_tensors
from neurodelay.engine.losses import spike_count_regularizer
from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from neurodelay.ir.random_nets import random_network
from neurodelay.refsim import simulate as refsim_simulate

torch.set_num_threads(2)


def cross_entropy(trace: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of (1/N) sum_n exp(-n/N) V[n], numpy (independent of engine.losses)."""
    steps = trace.shape[1]
    readout = np.einsum("btn,t->bn", trace, np.exp(-np.arange(steps) / steps) / steps)
    shifted = readout - readout.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(shifted).sum(1)) - shifted[np.arange(len(labels)), labels]))


def refsim_run(network, inputs, labels):
    recording = refsim_simulate(network, inputs, mode="float")
    return cross_entropy(recording.populations["readout"].states["v"], labels), recording.populations["hidden"].spikes


def with_value(network: Network, projection: str, field: str, index, value) -> Network:
    projections = []
    for p in network.projections:
        if p.name == projection:
            values = getattr(p, field).copy()
            values[index] = value
            p = dataclasses.replace(p, **{field: values})
        projections.append(p)
    return network.with_projections(projections)


def no_refractory(network: Network) -> Network:
    return dataclasses.replace(
        network,
        populations=tuple(
            dataclasses.replace(p, refractory_steps=0) if isinstance(p, LIF) else p for p in network.populations
        ),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_readout_gradients_equal_finite_differences(seed):
    network = no_refractory(
        random_network(
            seed, recurrent=seed == 1, sparse=seed == 2, max_delay_steps=10, integer_delays=True, weight_scale=1.5
        )
    )
    rng = np.random.default_rng(seed)
    inputs = rng.random((4, 60, 5)) < 0.3
    labels = rng.integers(0, 3, 4)
    _, gradients = loss_and_gradients(network, inputs, labels)
    projection = network.projection("hidden_readout")
    spiking = refsim_run(network, inputs, labels)[1].sum((0, 1)) > 0
    checked = 0
    for i, j in np.argwhere(projection.existing() & spiking[:, None]):
        eps = 1e-5
        up = refsim_run(
            with_value(network, "hidden_readout", "weights", (i, j), projection.weights[i, j] + eps), inputs, labels
        )[0]
        down = refsim_run(
            with_value(network, "hidden_readout", "weights", (i, j), projection.weights[i, j] - eps), inputs, labels
        )[0]
        fd = (up - down) / (2 * eps)
        assert gradients["hidden_readout"]["weights"][i, j] == pytest.approx(fd, rel=1e-5, abs=1e-9)
        d = int(projection.delays_steps[i, j])
        if 1 <= d < projection.max_delay_steps:
            up = refsim_run(with_value(network, "hidden_readout", "delays_steps", (i, j), d + 1), inputs, labels)[0]
            down = refsim_run(with_value(network, "hidden_readout", "delays_steps", (i, j), d - 1), inputs, labels)[0]
            fd = (up - down) / 2
            # one step of delay is a finite shift of up to half a time constant here, so the
            # softmax's curvature enters the central difference; the exact check of the delay
            # term is test_readout_delay_gradient_is_the_exact_central_difference
            assert gradients["hidden_readout"]["delays"][i, j] == pytest.approx(fd, rel=2e-2, abs=1e-9)
        checked += 1
    assert checked >= 3
    absent = ~projection.existing()
    assert np.all(gradients["hidden_readout"]["weights"][absent] == 0)
    assert np.all(gradients["hidden_readout"]["delays"][absent] == 0)


@pytest.mark.parametrize("seed", [0, 1])
def test_readout_delay_gradient_is_the_exact_central_difference(seed):
    """For a loss linear in the readout trace, ``(L(d+1) - L(d-1)) / 2`` of the refsim is exactly
    the engine's delay gradient (its shift term is that central difference, written with values at
    the arrival step)."""
    network = no_refractory(random_network(seed, recurrent=seed == 1, max_delay_steps=10, integer_delays=True))
    inputs = np.random.default_rng(seed).random((2, 50, 5)) < 0.3
    coefficients = np.random.default_rng(seed + 10).normal(size=(2, 50, 3))
    module = DelayNetwork(network, dtype=torch.float64)
    (module(inputs).readout["readout"] * torch.as_tensor(coefficients)).sum().backward()
    projection = network.projection("hidden_readout")
    checked = 0
    for i, j in np.argwhere((projection.delays_steps >= 1) & (projection.delays_steps < 10)):
        values = []
        for offset in (1, -1):
            changed = with_value(
                network, "hidden_readout", "delays_steps", (i, j), projection.delays_steps[i, j] + offset
            )
            values.append(
                float((refsim_simulate(changed, inputs).populations["readout"].states["v"] * coefficients).sum())
            )
        fd = (values[0] - values[1]) / 2
        assert module.delays["hidden_readout"].grad[i, j].item() == pytest.approx(fd, rel=1e-9, abs=1e-12)
        checked += fd != 0
    assert checked >= 3


def small_network(dt: float, w_in: float = 2.5, d_in_ms: float = 1.0, w_rec: float = 0.6, d_rec_ms: float = 0.5):
    """Two inputs -> two recurrent LIF -> two readouts; times in ms, delays converted to steps of dt."""
    steps_per_ms = 1.0 / dt

    def steps(matrix):
        return np.round(np.asarray(matrix) * steps_per_ms).astype(np.int64)

    max_delay = int(3 * steps_per_ms)
    projections = (
        Projection(
            "input_hidden",
            "input",
            "hidden",
            np.array([[w_in, 0.0], [1.5, 2.0]]),
            steps([[d_in_ms, 1.0], [0.5, 0.2]]),
            max_delay,
        ),
        Projection(
            "hidden_hidden",
            "hidden",
            "hidden",
            np.array([[0.0, w_rec], [0.4, 0.0]]),
            steps([[0.1, d_rec_ms], [0.7, 0.1]]),
            max_delay,
        ),
        Projection(
            "hidden_readout",
            "hidden",
            "readout",
            np.array([[1.0, -1.0], [-0.5, 0.8]]),
            steps([[0.3, 1.2], [0.4, 0.1]]),
            max_delay,
        ),
    )
    return Network(
        "small",
        dt,
        (
            SpikeSource("input", 2),
            LIF("hidden", 2, tau_m_ms=5.0, tau_syn_ms=2.0),
            LeakyIntegrator("readout", 2, tau_m_ms=5.0, tau_syn_ms=2.0),
        ),
        projections,
    )


def small_inputs(dt: float) -> np.ndarray:
    inputs = np.zeros((1, int(round(10.0 / dt)), 2), bool)
    for t in (0.5, 1.0, 2.0, 4.5, 5.0):
        inputs[0, int(round(t / dt)), 0] = True
    for t in (1.5, 3.0, 6.0):
        inputs[0, int(round(t / dt)), 1] = True
    return inputs


def test_hidden_weight_and_delay_gradients_at_fine_dt():
    """Several spikes per hidden neuron, recurrent, feed-forward and delays, at dt = 0.002 ms.

    Perturbations move hidden spikes by tens of steps without adding or removing any; the
    finite differences then agree with the adjoint within a few per cent (the remaining
    difference is the one-step rounding of spike times in the finite difference itself).
    """
    dt = 0.002
    inputs, labels = small_inputs(dt), np.array([0])
    network = small_network(dt)
    _, gradients = loss_and_gradients(network, inputs, labels)
    base_spikes = refsim_run(network, inputs, labels)[1].sum(1)
    assert base_spikes.min() >= 2 and base_spikes.sum() >= 6
    cases = [  # (parameter, engine value, network at -h, network at +h, 2h)
        (gradients["input_hidden"]["weights"][0, 0], small_network(dt, w_in=2.48), small_network(dt, w_in=2.52), 0.04),
        (
            gradients["hidden_hidden"]["weights"][0, 1],
            small_network(dt, w_rec=0.55),
            small_network(dt, w_rec=0.65),
            0.1,
        ),
        (
            gradients["input_hidden"]["delays"][0, 0] / dt,
            small_network(dt, d_in_ms=0.95),
            small_network(dt, d_in_ms=1.05),
            0.1,
        ),
        (
            gradients["hidden_hidden"]["delays"][0, 1] / dt,
            small_network(dt, d_rec_ms=0.45),
            small_network(dt, d_rec_ms=0.55),
            0.1,
        ),
    ]
    for engine, down_net, up_net, width in cases:
        up, up_spikes = refsim_run(up_net, inputs, labels)
        down, down_spikes = refsim_run(down_net, inputs, labels)
        np.testing.assert_array_equal(up_spikes.sum(1), down_spikes.sum(1))
        assert engine == pytest.approx((up - down) / width, rel=0.04)


def test_any_torch_loss_on_the_trace_composes():
    """A mean-squared error on the readout trace, differentiated by the adjoint, against the refsim."""
    network = no_refractory(random_network(4, recurrent=True, max_delay_steps=6, integer_delays=True))
    inputs = np.random.default_rng(4).random((2, 40, 5)) < 0.3
    target = np.random.default_rng(5).normal(size=(2, 40, 3))
    module = DelayNetwork(network, dtype=torch.float64)
    trace = module(inputs).readout["readout"]
    ((trace - torch.as_tensor(target)) ** 2).mean().backward()
    projection = network.projection("hidden_readout")
    for i, j in [(0, 0), (2, 1), (5, 2)]:
        values = []
        for sign in (1, -1):
            changed = with_value(network, "hidden_readout", "weights", (i, j), projection.weights[i, j] + sign * 1e-5)
            v = refsim_simulate(changed, inputs).populations["readout"].states["v"]
            values.append(np.mean((v - target) ** 2))
        fd = (values[0] - values[1]) / 2e-5
        assert module.weights["hidden_readout"].grad[i, j].item() == pytest.approx(fd, rel=1e-5, abs=1e-10)


def test_per_trial_gradients_sum_to_the_batch_gradient_and_float32_matches_float64():
    network = no_refractory(random_network(6, recurrent=True, sparse=True, max_delay_steps=5))
    inputs = np.random.default_rng(6).random((3, 50, 5)) < 0.3
    labels = np.array([0, 2, 1])
    _, batch_gradients = loss_and_gradients(network, inputs, labels)
    compiled = compile_network(network, dtype=torch.float64)
    tape = engine_simulate(
        compiled,
        source_tensors(compiled, inputs),
        {p.name: torch.as_tensor(p.weights) for p in network.projections},
        {p.name: torch.as_tensor(p.delays_steps) for p in network.projections},
    )
    trace = tape.readout["readout"].requires_grad_(True)
    from neurodelay.engine.losses import make_loss

    (grad,) = torch.autograd.grad(make_loss("exp_weighted_ce")(trace, torch.as_tensor(labels)), trace)
    counts = {"hidden": torch.zeros(3, 6, dtype=torch.float64)}
    weights, delays = adjoint(compiled, tape, {"readout": grad}, counts, per_trial=True)
    for name in batch_gradients:
        np.testing.assert_allclose(weights[name].sum(0).numpy(), batch_gradients[name]["weights"], atol=1e-12)
        np.testing.assert_allclose(delays[name].sum(0).numpy(), batch_gradients[name]["delays"], atol=1e-12)
    single = DelayNetwork(network)  # float32
    loss = make_loss("exp_weighted_ce")(single(inputs.astype(np.float32)).readout["readout"], torch.as_tensor(labels))
    loss.backward()
    scale = max(np.abs(batch_gradients["input_hidden"]["weights"]).max(), 1e-12)
    np.testing.assert_allclose(
        single.weights["input_hidden"].grad.numpy(), batch_gradients["input_hidden"]["weights"], atol=1e-4 * scale
    )


def test_spike_count_regulariser_step_moves_counts_towards_the_target():
    """Counts far above the target: one gradient step on the regulariser alone lowers them; far
    below: raises them (the count gradient is injected at every spike of the neuron)."""
    network = no_refractory(random_network(8, max_delay_steps=4, weight_scale=1.0))
    inputs = np.random.default_rng(8).random((4, 60, 5)) < 0.4
    for target, direction in ((0.0, -1), (40.0, 1)):
        module = DelayNetwork(network, dtype=torch.float64)
        counts = module(inputs).spike_counts["hidden"]
        before = counts.sum().item()
        spike_count_regularizer(counts, target, 1.0).backward()
        with torch.no_grad():
            grad = module.weights["input_hidden"].grad
            module.weights["input_hidden"].sub_(0.2 * grad / grad.abs().max())
            after = module(inputs).spike_counts["hidden"].sum().item()
        assert 0 < before < 40 * 4 * 6
        assert direction * (after - before) > 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_delay_buckets_change_nothing_but_the_memory_layout(seed):
    """Delays up to 40 steps split into buckets of 1, 3 and 7 steps (many buckets, residuals at
    every bucket edge) give the same spikes, traces and per-trial gradients as one bucket of 41
    steps, in float64 to rounding (only the order of additions differs)."""
    network = no_refractory(
        random_network(
            21 + seed,
            recurrent=seed % 2 == 0,
            sparse=seed >= 2,
            max_delay_steps=40,
            integer_delays=True,
            weight_scale=1.5,
            dt_ms=0.5,
        )
    )
    rng = np.random.default_rng(seed)
    inputs = rng.random((3, 120, network.sources()[0].size)) < 0.4

    def run(bucket_steps):
        compiled = compile_network(network, dtype=torch.float64, bucket_steps=bucket_steps)
        tape = engine_simulate(
            compiled,
            source_tensors(compiled, inputs),
            {p.name: torch.as_tensor(p.weights) for p in network.projections},
            {p.name: torch.as_tensor(np.asarray(p.delays_steps, np.float64)) for p in network.projections},
        )
        sources = np.random.default_rng(seed)
        readout_grads = {"readout": torch.as_tensor(sources.normal(size=tape.readout["readout"].shape))}
        count_grads = {"hidden": torch.as_tensor(sources.normal(size=tape.spike_counts["hidden"].shape))}
        weights, delays = adjoint(compiled, tape, readout_grads, count_grads, per_trial=True)
        return tape, weights, delays

    tape, weights, delays = run(41)
    assert tape.spike_counts["hidden"].sum() >= 30
    for bucket_steps in (1, 3, 7):
        other, other_weights, other_delays = run(bucket_steps)
        np.testing.assert_array_equal(other.spike_counts["hidden"].numpy(), tape.spike_counts["hidden"].numpy())
        np.testing.assert_allclose(other.readout["readout"].numpy(), tape.readout["readout"].numpy(), atol=1e-12)
        for name in weights:
            scale = max(float(weights[name].abs().max()), float(delays[name].abs().max()), 1e-12)
            np.testing.assert_allclose(other_weights[name].numpy(), weights[name].numpy(), rtol=0, atol=1e-12 * scale)
            np.testing.assert_allclose(other_delays[name].numpy(), delays[name].numpy(), rtol=0, atol=1e-12 * scale)
