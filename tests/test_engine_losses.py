"""Losses on readout traces and the spike-count regulariser, checked against hand-written formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurodelay.engine.losses import READOUTS, make_loss, spike_count_regularizer
from neurodelay.errors import ValidationError


def hand_cross_entropy(readout: np.ndarray, labels: np.ndarray) -> float:
    total = 0.0
    for row, label in zip(readout, labels):
        total += math.log(sum(math.exp(v) for v in row)) - row[label]
    return total / len(labels)


@pytest.fixture
def trace_and_labels():
    rng = np.random.default_rng(0)
    return rng.normal(size=(3, 7, 4)), np.array([0, 3, 1])


def test_exp_weighted_cross_entropy_is_the_mlgenn_readout(trace_and_labels):
    trace, labels = trace_and_labels
    steps = trace.shape[1]
    readout = np.array(
        [[sum(math.exp(-n / steps) * trace[b, n, i] for n in range(steps)) / steps for i in range(4)] for b in range(3)]
    )
    value = make_loss("exp_weighted_ce")(torch.as_tensor(trace), torch.as_tensor(labels))
    assert value.item() == pytest.approx(hand_cross_entropy(readout, labels), rel=1e-12)


def test_sum_and_max_cross_entropy(trace_and_labels):
    trace, labels = trace_and_labels
    assert make_loss("sum_ce")(torch.as_tensor(trace), torch.as_tensor(labels)).item() == pytest.approx(
        hand_cross_entropy(trace.sum(1), labels), rel=1e-12
    )
    assert make_loss("max_ce", temperature=2.0)(
        torch.as_tensor(trace), torch.as_tensor(labels)
    ).item() == pytest.approx(hand_cross_entropy(trace.max(1) / 2.0, labels), rel=1e-12)


def test_max_loss_sends_its_gradient_to_the_argmax_step_only(trace_and_labels):
    trace, labels = trace_and_labels
    tensor = torch.as_tensor(trace).requires_grad_(True)
    make_loss("max_ce")(tensor, torch.as_tensor(labels)).backward()
    nonzero = tensor.grad.abs() > 0
    assert torch.equal(nonzero.sum(1), torch.ones(3, 4, dtype=torch.long))
    assert torch.equal(nonzero.float().argmax(1), torch.as_tensor(trace).argmax(1))


def test_every_name_is_a_readout():
    assert set(READOUTS) == {"exp_weighted_ce", "sum_ce", "max_ce"}


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda: make_loss("mse"), "loss"),
        (lambda: make_loss("sum_ce", temperature=0.0), "temperature"),
        (lambda: make_loss("sum_ce", smoothing=0.1), "loss options"),
        (lambda: make_loss("sum_ce")(torch.zeros(2, 5, 3), torch.tensor([0, 3])), "labels"),
        (lambda: make_loss("sum_ce")(torch.zeros(2, 5, 3), torch.tensor([0])), "labels"),
    ],
)
def test_bad_arguments_name_the_field(call, field):
    with pytest.raises(ValidationError, match=field):
        call()


def test_spike_count_regulariser_value_and_gradient():
    counts = torch.tensor([[3.0, 0.0], [5.0, 1.0]], requires_grad=True)  # batch 2, 2 neurons
    value = spike_count_regularizer(counts, target_per_neuron=2.0, strength=0.5)
    # batch sums 8 and 1, targets 2 * 2 = 4: 0.5 / (2 * 4) * (16 + 9)
    assert value.item() == pytest.approx(0.5 / 8 * 25)
    value.backward()
    # per trial: strength / B^2 * (C_j - target * B)
    assert torch.allclose(counts.grad, torch.tensor([[0.5, -0.375], [0.5, -0.375]]))
    both = spike_count_regularizer({"a": counts.detach(), "b": counts.detach()}, 2.0, 0.5)
    assert both.item() == pytest.approx(2 * 0.5 / 8 * 25)
