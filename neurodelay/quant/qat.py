"""Quantization-aware fine-tuning: the engine trains through the target's own quantizer.

Forward passes use fake-quantised weights: before every batch the current float weights go through
:func:`neurodelay.quant.calibration.quantize` (the target's quantizer, scale selection and bit
width: one implementation of the rounding, so the fine-tuned network meets exactly the integers it
will be deployed with), and each projection's weight is replaced, through a torch parametrization,
by ``w + (q(w) - w).detach()``: the quantized value forward, the identity backward (straight-through
estimator). Delays are the engine's integer delays (``floor(d + 1/2)``) within the target's delay
bound, which becomes every projection's clamp. Neuron parameters are those the target holds (e.g.
time constants snapped to the chip's decay grid) from the first step on.

With ``target=None`` the same loop fine-tunes in float; with a delay bound it is option (a) of
:mod:`neurodelay.quant.delay_range` (train with the chip's bound as the delay clamp).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from ..data import BatchSampler, Dataset
from ..errors import ValidationError
from ..ir import Network
from .calibration import quantize
from .delay_range import clamp_delays
from ..targets import get_target


@dataclass
class FineTuneConfig:
    """Fine-tuning settings.

    target: quantize for this target in every forward pass (None: float fine-tuning).
    weight_bits / scale / signs_split / target_options: passed to the quantizer (None bits: native).
    delay_bound: clamp delays to this many steps (None: the target's bound, or no clamp in float).
    epochs, batch_size, weight_lr, delay_lr (Adam; 0 freezes), loss (an engine loss name), seed.
    lr_schedule: ``constant``, or ``cosine``: both rates follow a cosine over the run's batches from
    their value down to ``final_lr_factor`` times it at the last batch (:func:`lr_factor`).
    """

    target: str | None = None
    weight_bits: int | None = None
    scale: str = "max-abs"
    signs_split: bool = False
    target_options: dict[str, Any] = field(default_factory=dict)
    delay_bound: int | None = None
    epochs: int = 3
    batch_size: int = 32
    weight_lr: float = 1e-3
    delay_lr: float = 0.0
    loss: str = "sum_ce"
    seed: int = 0
    lr_schedule: str = "constant"
    final_lr_factor: float = 0.01


LR_SCHEDULES = ("constant", "cosine")


def lr_factor(config: FineTuneConfig, batch: int, batches: int) -> float:
    """The learning-rate factor of batch ``batch`` (from 0) of ``batches`` in the whole fine-tuning."""
    if config.lr_schedule == "constant" or batches <= 1:
        return 1.0
    progress = batch / (batches - 1)
    return config.final_lr_factor + (1.0 - config.final_lr_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


class StraightThrough(nn.Module):
    """Parametrization ``w -> w + (q - w).detach()`` with ``q`` set by :meth:`set_value` before a forward."""

    def __init__(self) -> None:
        super().__init__()
        self.value: torch.Tensor | None = None

    def set_value(self, value: torch.Tensor) -> None:
        self.value = value

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if self.value is None:  # registration evaluates once before any value is set
            return weight
        return weight + (self.value - weight).detach()


def starting_network(network: Network, config: FineTuneConfig) -> Network:
    """The float network fine-tuning starts from: the target's neuron parameters and delay bound."""
    bound = config.delay_bound
    if config.target is not None:
        target = get_target(config.target, "quantize")
        quantized, _ = quantize(
            network,
            config.target,
            weight_bits=config.weight_bits,
            scale=config.scale,
            signs_split=config.signs_split,
            **config.target_options,
        )
        populations = tuple(quantized.population(p.name) for p in network.populations)
        network = replace(network, populations=populations)
        if bound is None:
            bound = min(target.delay_bound(network, p.post) for p in network.projections)
    if bound is not None:
        network, _ = clamp_delays(network, bound)
    return network


def fine_tune(network: Network, train: Dataset, config: FineTuneConfig) -> tuple[Network, list[float]]:
    """Fine-tune ``network`` on ``train``; returns the float network (its quantization is what the
    forward passes saw) and the mean loss of each epoch."""
    from ..engine import DelayNetwork, losses

    if config.epochs < 0 or config.batch_size < 1:
        raise ValidationError(
            "fine-tuning", f"epochs {config.epochs}, batch_size {config.batch_size}", "epochs >= 0, batch_size >= 1"
        )
    if config.lr_schedule not in LR_SCHEDULES or not 0.0 < config.final_lr_factor <= 1.0:
        raise ValidationError(
            "fine-tuning",
            f"lr_schedule {config.lr_schedule!r}, final_lr_factor {config.final_lr_factor}",
            f"lr_schedule one of {', '.join(LR_SCHEDULES)}; final_lr_factor in (0, 1]",
        )
    torch.manual_seed(config.seed)
    start = starting_network(network, config)
    model = DelayNetwork(start, dtype=torch.float64)
    readout = start.neurons()[-1].name
    loss_function = losses.make_loss(config.loss)
    straight = {}
    if config.target is not None:
        for projection in start.projections:
            straight[projection.name] = StraightThrough()
            parametrize.register_parametrization(model.weights, projection.name, straight[projection.name])
    parameters = [
        {"params": [p for n, p in model.named_parameters() if "weights" in n], "lr": config.weight_lr},
        {"params": [p for n, p in model.named_parameters() if "delays" in n], "lr": config.delay_lr},
    ]
    optimiser = (
        torch.optim.Adam([g for g in parameters if g["lr"] > 0]) if any(g["lr"] > 0 for g in parameters) else None
    )
    base_rates = [group["lr"] for group in optimiser.param_groups] if optimiser is not None else []
    sampler = BatchSampler(len(train), config.batch_size, config.seed)
    history = []
    step, steps = 0, config.epochs * len(sampler)
    for _ in range(config.epochs):
        total = 0.0
        for indices in sampler.epoch_batches():
            if optimiser is not None:
                for group, base in zip(optimiser.param_groups, base_rates):
                    group["lr"] = base * lr_factor(config, step, steps)
            step += 1
            if straight:
                _set_fake_quantized(model, start, config, straight)
            inputs = torch.from_numpy(train.inputs[indices]).double()
            labels = torch.from_numpy(train.labels[indices])
            loss = loss_function(model(inputs).readout[readout], labels)
            total += float(loss.detach()) * len(indices)
            if optimiser is not None:
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
            model.clamp_delays_()
        history.append(total / len(train))
    for name in straight:
        parametrize.remove_parametrizations(model.weights, name, leave_parametrized=False)
    tuned = model.to_network()
    provenance = {
        **network.provenance,
        "fine_tuning": {
            "target": config.target,
            "weight_bits": config.weight_bits,
            "scale": config.scale,
            "signs_split": config.signs_split,
            "delay_bound": config.delay_bound,
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "weight_lr": config.weight_lr,
            "delay_lr": config.delay_lr,
            "loss": config.loss,
            "seed": config.seed,
            "lr_schedule": config.lr_schedule,
            "final_lr_factor": config.final_lr_factor,
            "epoch_losses": history,
        },
    }
    return replace(tuned, provenance=provenance), history


@torch.no_grad()
def _set_fake_quantized(model, start: Network, config: FineTuneConfig, straight: dict[str, StraightThrough]) -> None:
    """Quantize the model's current float weights with the target's quantizer; hand them to the parametrizations."""
    projections = []
    for projection in start.projections:
        weights = model.weights.parametrizations[projection.name].original.detach().cpu().numpy()
        delays = model.delays[projection.name].detach().cpu().numpy()
        projections.append(
            replace(projection, weights=np.array(weights, np.float64), delays_steps=np.array(delays, np.float64))
        )
    current = start.with_projections(projections)
    quantized, _ = quantize(
        current,
        config.target,
        weight_bits=config.weight_bits,
        scale=config.scale,
        signs_split=config.signs_split,
        **config.target_options,
    )
    values: dict[str, np.ndarray] = {}
    for projection in quantized.projections:  # split projections add up again (disjoint masks)
        name = projection.metadata.get("split_from", projection.name)
        values[name] = values.get(name, 0.0) + np.where(projection.existing(), projection.weights, 0.0)
    for name, value in values.items():
        original = model.weights.parametrizations[name].original
        straight[name].set_value(torch.as_tensor(value, dtype=original.dtype, device=original.device))
