"""The experiment config: one YAML file that fixes a training run (data, network, optimiser, loss).

Read with the bounded YAML loader (plain data, no aliases); every section is a frozen dataclass below whose fields are
the allowed keys (unknown keys are errors) and whose ``check`` method states the allowed ranges.
Top-level layout::

    name, seed, device (cpu | cuda | auto), dtype (float32 | float64), epochs, batch_size,
    eval_batch_size, data {task, <task parameters>}, network {...}, optimiser {...},
    loss {name, options}, regularizer {target_spikes_per_neuron, strength} | null,
    early_stopping {metric, patience, min_delta, restore_best} | null,
    silent_neuron_bump {amount, period} | null,
    weight_averaging {epochs} | null
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..bounded_yaml import read_yaml_file
from ..data import TASKS
from ..errors import ValidationError
from ..ir.validate import MAX_POPULATION_SIZE, MAX_REFRACTORY_STEPS, check_name
from .schema import build, plain

LOSS_NAMES = ("exp_weighted_ce", "sum_ce", "max_ce")
FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # the smallest normal positive float32
MAX_DT_PER_TAU = -math.log(FLOAT32_TINY)  # 87.3: exp(-dt / tau) is still a normal float32


@dataclass(frozen=True)
class InitSpec:
    """How to initialise a ``[n_pre, n_post]`` array of weights or of delays (in timesteps).

    kind: ``constant`` (uses ``value``), ``normal`` (``mean``, ``std``), ``uniform`` (``low``,
    ``high``: continuous uniform in [low, high)) or ``values`` (an explicit ``[n_pre][n_post]`` list).
    """

    kind: Literal["constant", "normal", "uniform", "values"]
    value: float | None = None
    mean: float | None = None
    std: float | None = None
    low: float | None = None
    high: float | None = None
    values: list[list[float]] | None = None

    REQUIRED = {"constant": ("value",), "normal": ("mean", "std"), "uniform": ("low", "high"), "values": ("values",)}

    def check(self, path: str) -> None:
        needed = self.REQUIRED[self.kind]
        for name in ("value", "mean", "std", "low", "high", "values"):
            given = getattr(self, name) is not None
            if given != (name in needed):
                raise ValidationError(
                    f"{path}.{name}",
                    "missing" if not given else f"not used by kind {self.kind!r}",
                    f"kind {self.kind!r} takes exactly: {', '.join(needed)}",
                )
        numbers = [
            getattr(self, name) for name in ("value", "mean", "std", "low", "high") if getattr(self, name) is not None
        ]
        numbers += [number for row in self.values or [] for number in row]
        if any(abs(number) > FLOAT32_MAX for number in numbers):  # the network holds float32 parameters
            raise ValidationError(
                path, f"a value of magnitude {max(map(abs, numbers)):.4g}", f"magnitudes <= {FLOAT32_MAX:.4g} (float32)"
            )
        if self.kind == "normal" and self.std < 0:
            raise ValidationError(f"{path}.std", f"got {self.std}", ">= 0")
        if self.kind == "uniform" and not self.low <= self.high:
            raise ValidationError(f"{path}.high", f"got low={self.low}, high={self.high}", "high >= low")
        if self.kind == "values" and len({len(row) for row in self.values}) > 1:
            raise ValidationError(f"{path}.values", "rows differ in length", "a rectangular [n_pre][n_post] list")

    def bounds(self) -> tuple[float, float] | None:
        """The smallest and largest value this spec can produce (None for ``normal``: unbounded)."""
        if self.kind == "constant":
            return self.value, self.value
        if self.kind == "uniform":
            return self.low, self.high
        if self.kind == "values":
            flat = [v for row in self.values for v in row]
            return (min(flat), max(flat)) if flat else (0.0, 0.0)
        return None

    def sample(self, rng: np.random.Generator, shape: tuple[int, int], path: str) -> np.ndarray:
        """float64 array of ``shape`` drawn from ``rng`` (draws nothing for constant / values)."""
        if self.kind == "constant":
            return np.full(shape, self.value)
        if self.kind == "normal":
            return rng.normal(self.mean, self.std, shape)
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high, shape)
        values = np.asarray(self.values, np.float64)
        if values.shape != shape:
            raise ValidationError(f"{path}.values", f"shape {list(values.shape)}", f"{list(shape)} ([n_pre][n_post])")
        return values


@dataclass(frozen=True)
class ProjectionSpec:
    """One projection's initial weights and delays (delays in timesteps), its delay bound, and
    which of its parameters are trained."""

    weights: InitSpec
    delays: InitSpec = field(default_factory=lambda: InitSpec("constant", value=0.0))
    max_delay_steps: int = 0
    learn_weights: bool = True
    learn_delays: bool = True

    def check(self, path: str) -> None:
        if not 0 <= self.max_delay_steps <= 65535:
            raise ValidationError(f"{path}.max_delay_steps", f"got {self.max_delay_steps}", "[0, 65535] timesteps")
        bounds = self.delays.bounds()
        if bounds is None:
            raise ValidationError(
                f"{path}.delays.kind",
                "'normal' can leave [0, max_delay_steps]",
                "constant, uniform or values (delays are never clipped silently)",
            )
        if bounds[0] < 0 or bounds[1] > self.max_delay_steps:
            raise ValidationError(
                f"{path}.delays",
                f"initial delays span [{bounds[0]}, {bounds[1]}] steps",
                f"within [0, max_delay_steps = {self.max_delay_steps}]",
            )
        if self.learn_delays and self.max_delay_steps == 0:
            raise ValidationError(
                f"{path}.learn_delays", "true, but max_delay_steps is 0", "false, or max_delay_steps >= 1"
            )


@dataclass(frozen=True)
class HiddenLayerSpec:
    """A population of LIF neurons fed by the previous population (``input``) and optionally by
    itself (``recurrent``). Times in ms; threshold in the network's voltage unit."""

    name: str
    size: int
    input: ProjectionSpec
    recurrent: ProjectionSpec | None = None
    tau_m_ms: float = 20.0
    tau_syn_ms: float = 5.0
    threshold: float = 1.0
    refractory_steps: int = 0

    def check(self, path: str) -> None:
        _check_population(self, path)
        if self.threshold <= 0:
            raise ValidationError(f"{path}.threshold", f"got {self.threshold}", "> 0 (reset is 0)")
        if not 0 <= self.refractory_steps <= MAX_REFRACTORY_STEPS:
            raise ValidationError(
                f"{path}.refractory_steps", f"got {self.refractory_steps}", f"[0, {MAX_REFRACTORY_STEPS}] timesteps"
            )


@dataclass(frozen=True)
class ReadoutSpec:
    """The leaky-integrator readout (one neuron per class) fed by the last hidden layer (or the
    inputs when there is none)."""

    input: ProjectionSpec
    name: str = "readout"
    tau_m_ms: float = 20.0
    tau_syn_ms: float = 5.0

    def check(self, path: str) -> None:
        _check_population(self, path)


@dataclass(frozen=True)
class NetworkSpec:
    """Architecture: inputs (size from the data) -> hidden LIF layers in order -> readout."""

    dt_ms: float
    readout: ReadoutSpec
    hidden: list[HiddenLayerSpec] = field(default_factory=list)
    name: str = "network"

    def check(self, path: str) -> None:
        if self.dt_ms <= 0:
            raise ValidationError(f"{path}.dt_ms", f"got {self.dt_ms}", "> 0 ms")
        # the decays exp(-dt / tau) must stay normal float32 numbers (0 made the gradients NaN)
        layers = [(f"{path}.hidden[{index}]", layer) for index, layer in enumerate(self.hidden)]
        for where, layer in layers + [(f"{path}.readout", self.readout)]:
            for name in ("tau_m_ms", "tau_syn_ms"):
                tau = getattr(layer, name)
                if not self.dt_ms / tau <= MAX_DT_PER_TAU:
                    raise ValidationError(
                        f"{where}.{name}",
                        f"dt_ms / {name} = {self.dt_ms} / {tau} = {self.dt_ms / tau:.4g}: exp(-dt/tau) underflows float32",
                        f">= dt_ms / {MAX_DT_PER_TAU:.4g} = {self.dt_ms / MAX_DT_PER_TAU:.4g} ms, or a smaller dt_ms",
                    )
        check_name(self.name, f"{path}.name")
        for index, layer in enumerate(self.hidden):
            check_name(layer.name, f"{path}.hidden[{index}].name")
        check_name(self.readout.name, f"{path}.readout.name")
        names = ["input"] + [layer.name for layer in self.hidden] + [self.readout.name]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise ValidationError(
                    f"{path}", f"population name {name!r} is used twice", "unique names ('input' is the spike source)"
                )


@dataclass(frozen=True)
class EaseInSpec:
    """The paper's weight learning-rate ease-in: at global batch k the weight rate is
    ``weight_lr * min(1, start_factor * growth_per_batch ** (k (k + 1) / 2))`` (the rule
    ``lr <- lr * growth ** batch_index`` applied at every batch until it reaches ``weight_lr``)."""

    start_factor: float = 0.001
    growth_per_batch: float = 1.05

    def check(self, path: str) -> None:
        if not 0 < self.start_factor <= 1:
            raise ValidationError(f"{path}.start_factor", f"got {self.start_factor}", "(0, 1]")
        if self.growth_per_batch <= 1:
            raise ValidationError(f"{path}.growth_per_batch", f"got {self.growth_per_batch}", "> 1")


@dataclass(frozen=True)
class LrScheduleSpec:
    """The per-epoch factor applied to one learning rate (epoch e counted from 0, E = ``epochs``).

    kind ``exponential``: ``decay_per_epoch ** e``; ``cosine``: from 1 at the first epoch down to
    ``final_factor`` at the last, ``final_factor + (1 - final_factor) (1 + cos(pi e / (E - 1))) / 2``
    (E counts the config's ``epochs``, so raising ``epochs`` on resume stretches the curve);
    ``constant``: 1.
    """

    kind: Literal["exponential", "cosine", "constant"] = "exponential"
    decay_per_epoch: float | None = None
    final_factor: float | None = None

    REQUIRED = {"exponential": ("decay_per_epoch",), "cosine": ("final_factor",), "constant": ()}

    def check(self, path: str) -> None:
        needed = self.REQUIRED[self.kind]
        for name in ("decay_per_epoch", "final_factor"):
            given = getattr(self, name) is not None
            if given != (name in needed):
                raise ValidationError(
                    f"{path}.{name}",
                    "missing" if not given else f"not used by kind {self.kind!r}",
                    f"kind {self.kind!r} takes exactly: {', '.join(needed) or 'nothing'}",
                )
        if self.decay_per_epoch is not None and not 0 < self.decay_per_epoch <= 1:
            raise ValidationError(f"{path}.decay_per_epoch", f"got {self.decay_per_epoch}", "(0, 1]")
        if self.final_factor is not None and not 0 <= self.final_factor <= 1:
            raise ValidationError(f"{path}.final_factor", f"got {self.final_factor}", "[0, 1]")


@dataclass(frozen=True)
class OptimiserSpec:
    """Two Adam optimisers (weights, delays) with their own learning rates and their own schedules:
    ``weight_schedule`` / ``delay_schedule`` (:class:`LrScheduleSpec`); a rate without its own
    schedule is multiplied by ``lr_decay_per_epoch`` after every epoch. The weight rate may also
    ease in (:class:`EaseInSpec`). Delays are clamped to [0, max_delay_steps] after every step."""

    weight_lr: float
    delay_lr: float
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    weight_lr_ease_in: EaseInSpec | None = None
    lr_decay_per_epoch: float = 1.0
    weight_schedule: LrScheduleSpec | None = None
    delay_schedule: LrScheduleSpec | None = None

    def check(self, path: str) -> None:
        if len(self.betas) != 2 or not all(0 <= beta < 1 for beta in self.betas):
            raise ValidationError(f"{path}.betas", f"got {self.betas}", "two numbers in [0, 1)")
        # Adam's first step is lr / (1 - beta1): it must still be a float32 number
        largest = FLOAT32_MAX * (1 - self.betas[0])
        for name in ("weight_lr", "delay_lr"):
            if not 0 <= getattr(self, name) <= largest:
                raise ValidationError(
                    f"{path}.{name}",
                    f"got {getattr(self, name)}",
                    f">= 0 and <= {largest:.4g} (float32 max {FLOAT32_MAX:.4g} times 1 - betas[0])",
                )
        if not FLOAT32_TINY <= self.eps <= FLOAT32_MAX:
            raise ValidationError(
                f"{path}.eps",
                f"got {self.eps}",
                f"a normal positive float32 number, [{FLOAT32_TINY:.4g}, {FLOAT32_MAX:.4g}] (smaller ones round to 0)",
            )
        if not 0 < self.lr_decay_per_epoch <= 1:
            raise ValidationError(f"{path}.lr_decay_per_epoch", f"got {self.lr_decay_per_epoch}", "(0, 1]")


@dataclass(frozen=True)
class LossSpec:
    """The readout loss by name (``neurodelay.engine.losses.make_loss``) and its options."""

    name: Literal["exp_weighted_ce", "sum_ce", "max_ce"]
    options: dict[str, Any] = field(default_factory=dict)

    OPTIONS = ("temperature",)

    def check(self, path: str) -> None:
        for key, value in self.options.items():
            if key not in self.OPTIONS:
                raise ValidationError(f"{path}.options.{key}", "unknown option", ", ".join(self.OPTIONS))
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise ValidationError(f"{path}.options.{key}", f"got {value!r}", "a finite number > 0")


@dataclass(frozen=True)
class RegularizerSpec:
    """Spike-count regulariser on every hidden layer: pushes each neuron towards
    ``target_spikes_per_neuron`` spikes per sample with ``strength``."""

    target_spikes_per_neuron: float
    strength: float

    def check(self, path: str) -> None:
        if self.target_spikes_per_neuron < 0:
            raise ValidationError(f"{path}.target_spikes_per_neuron", f"got {self.target_spikes_per_neuron}", ">= 0")
        if self.strength < 0:
            raise ValidationError(f"{path}.strength", f"got {self.strength}", ">= 0")


@dataclass(frozen=True)
class EarlyStoppingSpec:
    """Keep the best epoch by ``metric`` and stop when it has not improved for ``patience`` epochs.

    An epoch improves on the best when its metric beats the best by more than ``min_delta``
    (accuracies are fractions, so 0.001 is 0.1 pp; ``train_loss`` improves by going down).
    ``patience`` null: run every epoch but still keep the best. With ``restore_best`` the network
    written at the end (``network.ndnet``) holds the best epoch's parameters, otherwise the last's.
    """

    metric: Literal["validation_accuracy", "train_accuracy", "train_loss"] = "validation_accuracy"
    patience: int | None = None
    min_delta: float = 0.0
    restore_best: bool = True

    def check(self, path: str) -> None:
        if self.patience is not None and self.patience < 1:
            raise ValidationError(f"{path}.patience", f"got {self.patience}", ">= 1 epoch, or null (never stop)")
        if self.min_delta < 0:
            raise ValidationError(f"{path}.min_delta", f"got {self.min_delta}", ">= 0")

    @property
    def maximise(self) -> bool:
        return self.metric != "train_loss"


@dataclass(frozen=True)
class SilentNeuronBumpSpec:
    """The weight bump of the paper's code: after every ``period`` (``epoch`` there; ``batch``
    bumps after every optimiser step), each hidden neuron that fired no spike during it, over
    all training samples of the period, gets ``amount`` (network current units per spike) added
    to every feed-forward input weight (recurrent weights untouched; projections whose weights
    are frozen are left alone; absent synapses stay absent). The paper's constant: 0.002."""

    amount: float = 0.002
    period: Literal["epoch", "batch"] = "epoch"

    def check(self, path: str) -> None:
        if not 0 < self.amount <= FLOAT32_MAX:
            raise ValidationError(f"{path}.amount", f"got {self.amount}", f"(0, {FLOAT32_MAX:.4g}] (a float32 number)")


@dataclass(frozen=True)
class WeightAveragingSpec:
    """Stochastic weight averaging: the written network (``network.ndnet``) holds the mean of the
    weights and delays at the end of each of the run's last ``epochs`` epochs (all of them in a
    shorter run), evaluated once more after the last epoch (:mod:`neurodelay.train.averaging`)."""

    epochs: int = 10

    def check(self, path: str) -> None:
        if self.epochs < 1:
            raise ValidationError(f"{path}.epochs", f"got {self.epochs}", ">= 1 epoch")


@dataclass(frozen=True)
class DataSpec:
    """``task`` (a key of ``neurodelay.data.TASKS``) and the task's parameter dataclass."""

    task: str
    parameters: Any


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole training run. ``epochs`` and batch sizes in samples; ``seed`` fixes network
    initialisation, batch order and every random number of the run."""

    data: DataSpec
    network: NetworkSpec
    optimiser: OptimiserSpec
    loss: LossSpec
    epochs: int
    batch_size: int
    name: str = "experiment"
    seed: int = 0
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    dtype: Literal["float32", "float64"] = "float32"
    eval_batch_size: int = 256
    regularizer: RegularizerSpec | None = None
    early_stopping: EarlyStoppingSpec | None = None
    silent_neuron_bump: SilentNeuronBumpSpec | None = None
    weight_averaging: WeightAveragingSpec | None = None

    def check(self, path: str) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValidationError(name, f"got {getattr(self, name)}", ">= 1")
        if not 0 <= self.seed < 2**32:
            raise ValidationError("seed", f"got {self.seed}", "[0, 2**32 - 1]")
        if self.silent_neuron_bump is not None and not self.network.hidden:
            raise ValidationError(
                "silent_neuron_bump",
                "set, but the network has no hidden layer",
                "null for a network without hidden layers",
            )
        if self.weight_averaging is not None and self.early_stopping is not None:
            raise ValidationError(
                "weight_averaging",
                "set together with early_stopping (one network to write: the average or the best epoch)",
                "one of weight_averaging and early_stopping, the other null",
            )

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data (the data section flattened back to ``{task, ...}``)."""
        document = plain(self)
        document["data"] = {"task": self.data.task, **plain(self.data.parameters)}
        return document


def _check_population(spec: Any, path: str) -> None:
    if hasattr(spec, "size") and not 1 <= spec.size <= MAX_POPULATION_SIZE:
        raise ValidationError(f"{path}.size", f"got {spec.size}", f"[1, {MAX_POPULATION_SIZE}] neurons")
    for name in ("tau_m_ms", "tau_syn_ms"):
        if getattr(spec, name) <= 0:
            raise ValidationError(f"{path}.{name}", f"got {getattr(spec, name)}", "> 0 ms")
    if spec.tau_m_ms == spec.tau_syn_ms:
        raise ValidationError(
            f"{path}.tau_syn_ms",
            f"equals tau_m_ms = {spec.tau_m_ms}",
            "a value different from tau_m_ms (the adjoint divides by tau_m - tau_syn)",
        )


def config_from_dict(document: Any) -> ExperimentConfig:
    """Validate a parsed config document (the errors name the field path, not the file)."""
    if not isinstance(document, dict):
        raise ValidationError(
            "(top level)",
            f"expected a mapping, got {type(document).__name__}",
            "a YAML mapping with data, network, optimiser, loss, epochs, batch_size",
        )
    data = document.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("task"), str):
        raise ValidationError("data.task", "missing or not a string", "one of " + ", ".join(TASKS))
    if data["task"] not in TASKS:
        raise ValidationError("data.task", f"unknown task {data['task']!r}", "one of " + ", ".join(TASKS))
    parameters = build(TASKS[data["task"]].parameters, {k: v for k, v in data.items() if k != "task"}, "data")
    rest = dict(document, data={"task": data["task"], "parameters": {}})
    config = build(ExperimentConfig, rest, "")
    return replace(config, data=DataSpec(data["task"], parameters))


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate the YAML experiment config at ``path`` (errors name the file and field)."""
    path = Path(path)
    document = read_yaml_file(path)
    try:
        return config_from_dict(document)
    except ValidationError as error:
        raise error.in_file(path) from None
