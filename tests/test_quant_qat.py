"""Quantization-aware fine-tuning, measured: on a small Yin-Yang network at 4-bit Loihi 2 weights,
fine-tuning through the quantizer leaves a smaller float-vs-quantized gap (cross-entropy and
accuracy on held-out samples, quantized networks run on the Loihi 2 refsim mode) than
post-training quantization of the same float network; and the straight-through forward pass
really is the quantized network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurodelay.data import load_task
from neurodelay.data.yin_yang import YinYangParameters
from neurodelay.engine import DelayNetwork
from neurodelay.engine.losses import READOUTS, make_loss
from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from neurodelay.quant.calibration import quantize
from neurodelay.errors import ValidationError
from neurodelay.quant.qat import FineTuneConfig, StraightThrough, fine_tune, lr_factor, starting_network
from neurodelay.refsim import simulate

LOSS = "sum_ce"


@pytest.fixture(scope="module")
def task():
    splits = load_task(
        "yin_yang", YinYangParameters(train_size=400, validation_size=10, test_size=400, duration_ms=40.0), 1.0
    )
    rng = np.random.default_rng(0)
    initial = Network(
        "yy_small",
        1.0,
        (SpikeSource("input", 5), LIF("hidden", 30), LeakyIntegrator("readout", 3)),
        (
            Projection(
                "input_hidden", "input", "hidden", rng.normal(1.5, 1.0, (5, 30)), rng.uniform(0, 5, (5, 30)), 20
            ),
            Projection("hidden_readout", "hidden", "readout", rng.normal(0, 0.3, (30, 3)), np.zeros((30, 3)), 0),
        ),
    )
    trained, _ = fine_tune(
        initial, splits.train, FineTuneConfig(epochs=3, batch_size=32, weight_lr=5e-3, delay_lr=0.1, loss=LOSS)
    )
    return trained, splits.train, splits.test


def measured(network: Network, test, mode: str) -> tuple[float, float]:
    """(cross-entropy, accuracy) of ``network`` on ``test`` run by the reference simulator in ``mode``."""
    readout = simulate(network, {"input": test.inputs}, mode=mode).populations["readout"]
    trace = torch.from_numpy(readout.states["v"] * readout.state_scales["v"])
    labels = torch.from_numpy(test.labels)
    scores = READOUTS[LOSS](trace)
    return float(make_loss(LOSS)(trace, labels)), float((scores.argmax(1) == labels).double().mean())


def test_qat_narrows_the_gap_left_by_ptq(task):
    trained, train, test = task
    float_loss, float_accuracy = measured(trained, test, "float")
    assert float_accuracy > 0.7  # a trained network, not chance (1/3)
    ptq, _ = quantize(trained, "loihi2", weight_bits=4)
    ptq_loss, ptq_accuracy = measured(ptq, test, "loihi2")
    tuned, history = fine_tune(
        trained,
        train,
        FineTuneConfig(target="loihi2", weight_bits=4, epochs=3, batch_size=32, weight_lr=2e-3, loss=LOSS),
    )
    assert tuned.provenance["fine_tuning"]["target"] == "loihi2" and len(history) == 3
    qat, _ = quantize(tuned, "loihi2", weight_bits=4)
    qat_loss, qat_accuracy = measured(qat, test, "loihi2")
    print(
        f"float {float_accuracy:.4f} / {float_loss:.4f}; PTQ {ptq_accuracy:.4f} / {ptq_loss:.4f}; "
        f"QAT {qat_accuracy:.4f} / {qat_loss:.4f}"
    )
    assert ptq_loss - float_loss > 0.05  # 4 bits do cost something here
    assert qat_loss - float_loss < 0.7 * (ptq_loss - float_loss)
    assert float_accuracy - qat_accuracy < float_accuracy - ptq_accuracy


def test_fake_quantized_forward_is_the_quantized_network(task):
    """The forward pass QAT trains through equals the engine run on the quantized network's weights,
    and its gradient is the straight-through one (that of the quantized forward pass)."""
    trained, train, _ = task
    config = FineTuneConfig(target="spinnaker", weight_bits=5)
    start = starting_network(trained, config)
    quantized, _ = quantize(start, "spinnaker", weight_bits=5)
    inputs = torch.from_numpy(train.inputs[:16]).double()
    labels = torch.from_numpy(train.labels[:16])
    reference = DelayNetwork(quantized, dtype=torch.float64)
    reference_loss = make_loss(LOSS)(reference(inputs).readout["readout"], labels)
    reference_loss.backward()
    model = DelayNetwork(start, dtype=torch.float64)
    from torch.nn.utils import parametrize

    for projection in quantized.projections:
        straight = StraightThrough()
        parametrize.register_parametrization(model.weights, projection.name, straight)
        straight.set_value(torch.as_tensor(projection.weights))
    loss = make_loss(LOSS)(model(inputs).readout["readout"], labels)
    loss.backward()
    assert float(loss.detach()) == pytest.approx(float(reference_loss.detach()), rel=1e-12)
    for projection in quantized.projections:
        original = model.weights.parametrizations[projection.name].original
        assert not torch.equal(original.detach(), torch.as_tensor(projection.weights))  # float != quantized
        torch.testing.assert_close(original.grad, reference.weights[projection.name].grad)


def test_cosine_schedule_runs_from_the_rate_down_to_its_final_factor(task):
    cosine = FineTuneConfig(lr_schedule="cosine", final_lr_factor=0.01)
    factors = [lr_factor(cosine, batch, 11) for batch in range(11)]
    assert factors[0] == 1.0 and factors[-1] == pytest.approx(0.01) and factors[5] == pytest.approx(0.505)
    assert all(later < earlier for earlier, later in zip(factors, factors[1:]))
    assert {lr_factor(FineTuneConfig(), batch, 11) for batch in range(11)} == {1.0}
    # wired into the loop: the same fine-tuning with a cosine ends elsewhere than with a constant rate
    trained, train, _ = task
    settings = dict(epochs=1, batch_size=100, weight_lr=5e-2, loss=LOSS)
    constant, _ = fine_tune(trained, train, FineTuneConfig(**settings))
    decayed, _ = fine_tune(trained, train, FineTuneConfig(**settings, lr_schedule="cosine", final_lr_factor=1e-6))
    moved = lambda net: np.abs(net.projection("input_hidden").weights - trained.projection("input_hidden").weights)  # noqa: E731
    assert moved(decayed).sum() < moved(constant).sum()
    assert decayed.provenance["fine_tuning"]["lr_schedule"] == "cosine"
    for bad in (dict(lr_schedule="linear"), dict(lr_schedule="cosine", final_lr_factor=0.0)):
        with pytest.raises(ValidationError, match="lr_schedule"):
            fine_tune(trained, train, FineTuneConfig(**settings, **bad))
