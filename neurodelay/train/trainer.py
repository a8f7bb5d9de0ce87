"""The training loop behind ``neurodelay train``: data, network, two Adam optimisers, per-epoch
evaluation, metrics, atomic checkpoints, resume, and data-parallel ranks.

Run directory (written by rank 0 only):

    checkpoint.pt   after every epoch (model, both optimisers, epoch, every RNG state, metrics)
    metrics.json    one record per epoch: epoch, train_loss, train_accuracy, [validation_accuracy],
                    test_accuracy (fractions), seconds, weight_lr, delay_lr, hidden spikes,
                    [spikes the training-set augmentation dropped]
    metrics.png     the same as a plot
    network.ndnet   the trained network, provenance: config, versions, final metrics

A global batch of ``batch_size`` samples is split into contiguous shards, one per rank; each rank
weights its shard's mean loss by ``shard / batch`` and the gradients are summed over ranks, so
every rank takes the step one process would take on the whole batch. The regulariser, a function
of the whole batch's spike counts, is evaluated on the gathered counts (see
:meth:`Distributed.global_rows`).
"""

from __future__ import annotations

import importlib
import platform
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from .. import __version__ as neurodelay_version
from .. import console, ir
from ..data import BatchSampler, Dataset, DataSplits, load_task
from ..data.augment import augmenter_for
from ..data.dataset import shard
from ..errors import NeurodelayError, ValidationError
from .builder import INPUT_NAME, build_network, projection_name
from .checkpoint import CHECKPOINT_NAME, load_checkpoint, random_states, restore_random_states, save_checkpoint
from .config import ExperimentConfig
from .distributed import Distributed, from_environment
from .divergence import DivergenceMonitor
from .averaging import ParameterAverage
from .early_stopping import BestEpochTracker
from .metrics import plot_metrics, write_metrics
from .schedule import learning_rates
from .silent_bump import SilentNeuronBump

NETWORK_NAME = "network.ndnet"


@dataclass
class RunOptions:
    """Where and how to run: ``limit`` caps the samples of every split (None: all); ``progress``
    allows a progress bar per epoch, drawn only on a terminal (:func:`neurodelay.console.progress_bars`);
    otherwise the run reports one line per epoch (and, with ``--verbose``, per tenth of an epoch)."""

    run_dir: Path
    resume: bool = False
    limit: int | None = None
    progress: bool = True


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` (an error without a GPU) or ``auto`` (CUDA when available)."""
    if name == "cuda" and not torch.cuda.is_available():
        raise ValidationError("device", "cuda requested but torch sees no CUDA device", "cpu or auto")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def software_versions() -> dict[str, str]:
    return {
        "neurodelay": neurodelay_version,
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
    }


class Trainer:
    """One training run of an :class:`ExperimentConfig` (see the module docstring)."""

    def __init__(
        self,
        config: ExperimentConfig,
        options: RunOptions,
        *,
        distributed: Distributed | None = None,
        splits: DataSplits | None = None,
    ) -> None:
        self.config = config
        self.options = options
        self.run_dir = Path(options.run_dir)
        device = resolve_device(config.device)
        self.distributed = distributed or from_environment(device)
        if device.type == "cuda" and self.distributed.active:
            device = torch.device("cuda", self.distributed.local_rank % torch.cuda.device_count())
        self.device = device
        self.dtype = getattr(torch, config.dtype)
        self._prepare_run_dir()
        # a missing, damaged or refused checkpoint fails before data and model are built
        saved = load_checkpoint(self.run_dir / CHECKPOINT_NAME) if options.resume else None

        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)
        network_seed, sampler_seed = np.random.SeedSequence(config.seed).spawn(2)

        if splits is None:  # given: data from Python (neurodelay.train.train_on)
            splits = load_task(config.data.task, config.data.parameters, config.network.dt_ms)
        self.splits = splits.limited(options.limit)
        train = self.splits.train
        self.augmenter = augmenter_for(config.data.parameters, train, config.seed)  # None: no augmentation
        self.batch_position = (0, 0)  # (epoch, batch index) of the batch being trained
        initial = build_network(config.network, n_inputs=train.n_inputs, n_classes=train.n_classes, seed=network_seed)
        engine = importlib.import_module("neurodelay.engine")
        losses = importlib.import_module("neurodelay.engine.losses")
        self.model = engine.DelayNetwork(initial, device=self.device, dtype=self.dtype)
        self.distributed.broadcast_parameters_(self.model)
        self.loss_function = losses.make_loss(config.loss.name, **config.loss.options)
        self.class_scores = losses.READOUTS[config.loss.name]  # the readout the loss is built on
        self.regularizer = losses.spike_count_regularizer if config.regularizer is not None else None
        self.readout_name = config.network.readout.name
        self.hidden_names = [layer.name for layer in config.network.hidden]
        self.hidden_sizes = [layer.size for layer in config.network.hidden]

        self.weight_parameters, self.delay_parameters = self._trained_parameters(initial)
        self.divergence = DivergenceMonitor(self._trained_parameter_names(initial), self.device)
        self.gradient_mass = torch.zeros((), dtype=torch.float64, device=self.device)
        """Sum of |gradient| over the epoch's batches, on the device (0: nothing can learn)."""
        betas = tuple(config.optimiser.betas)
        # on CUDA the fused Adam keeps its step counters on the device (no host read per step)
        fused = {"fused": True} if self.device.type == "cuda" else {}
        self.weight_optimiser = (
            torch.optim.Adam(
                self.weight_parameters, lr=config.optimiser.weight_lr, betas=betas, eps=config.optimiser.eps, **fused
            )
            if self.weight_parameters
            else None
        )
        self.delay_optimiser = (
            torch.optim.Adam(
                self.delay_parameters, lr=config.optimiser.delay_lr, betas=betas, eps=config.optimiser.eps, **fused
            )
            if self.delay_parameters
            else None
        )
        epoch_size = len(train) if self.augmenter is None else self.augmenter.epoch_size
        self.sampler = BatchSampler(epoch_size, config.batch_size, seed=sampler_seed)
        self.bump = self._silent_neuron_bump()
        self.best = self._best_epoch_tracker()
        self.average = (
            ParameterAverage(config.weight_averaging, config.epochs) if config.weight_averaging is not None else None
        )
        self.records: list[dict[str, Any]] = []
        self.start_epoch = 0
        if saved is not None:
            self._restore(saved)

    # ----- set-up -------------------------------------------------------------------------
    def _prepare_run_dir(self) -> None:
        existing = [name for name in (CHECKPOINT_NAME, NETWORK_NAME, "metrics.json") if (self.run_dir / name).exists()]
        if existing and not self.options.resume:
            raise NeurodelayError(
                f"{self.run_dir} already holds a run ({', '.join(existing)}): "
                "pass --resume to continue it, or choose another --out"
            )
        if self.distributed.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self.distributed.barrier()

    def _silent_neuron_bump(self) -> SilentNeuronBump | None:
        """The bump of config ``silent_neuron_bump`` on each hidden layer's trained feed-forward input."""
        spec = self.config.silent_neuron_bump
        if spec is None:
            return None
        layers, previous = {}, INPUT_NAME
        for layer in self.config.network.hidden:
            if layer.input.learn_weights:
                layers[layer.name] = projection_name(previous, layer.name)
            previous = layer.name
        return SilentNeuronBump(spec, layers, dict(zip(self.hidden_names, self.hidden_sizes)), self.model.weights)

    def _best_epoch_tracker(self) -> BestEpochTracker | None:
        spec = self.config.early_stopping
        if spec is None:
            return None
        if spec.metric == "validation_accuracy" and self.splits.validation is None:
            raise ValidationError(
                "early_stopping.metric",
                f"validation_accuracy, but task {self.config.data.task!r} as configured has no validation split",
                "train_accuracy or train_loss, or a data section with a validation split",
            )
        return BestEpochTracker(spec)

    def _trained_parameters(self, network: ir.Network) -> tuple[list, list]:
        """Weights and delays to optimise, in projection order; the others stop taking gradients."""
        weights, delays = [], []
        for projection in network.projections:
            for table, flag, chosen in (
                (self.model.weights, "learn_weights", weights),
                (self.model.delays, "learn_delays", delays),
            ):
                parameter = table[projection.name]
                if projection.metadata[flag]:
                    chosen.append(parameter)
                else:
                    parameter.requires_grad_(False)
        return weights, delays

    def _trained_parameter_names(self, network: ir.Network) -> dict[str, torch.Tensor]:
        """``{"<projection>.weights" | "<projection>.delays": parameter}`` of every trained parameter."""
        named = {}
        for projection in network.projections:
            for table, flag, kind in (
                (self.model.weights, "learn_weights", "weights"),
                (self.model.delays, "learn_delays", "delays"),
            ):
                if projection.metadata[flag]:
                    named[f"{projection.name}.{kind}"] = table[projection.name]
        return named

    def _state(self, completed_epochs: int) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "limit": self.options.limit,
            "world_size": self.distributed.world_size,
            "completed_epochs": completed_epochs,
            "model": self.model.state_dict(),
            "weight_optimiser": None if self.weight_optimiser is None else self.weight_optimiser.state_dict(),
            "delay_optimiser": None if self.delay_optimiser is None else self.delay_optimiser.state_dict(),
            "sampler": self.sampler.state_dict(),
            "random_states": random_states(),
            "records": self.records,
            "best": None if self.best is None else self.best.state_dict(),
            "average": None if self.average is None else self.average.state_dict(),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        # a run may go on for longer, and on another device
        where = config_difference(
            state["config"], state.get("limit"), self.config, self.options.limit, ("epochs", "device"), "checkpoint"
        )
        if where is not None:
            raise NeurodelayError(
                f"{self.run_dir / CHECKPOINT_NAME}: the checkpoint was made with a different "
                f"config or --limit ({where}; only 'epochs' and 'device' may change when resuming)"
            )
        try:
            self.model.load_state_dict(state["model"])
            for optimiser, key in (
                (self.weight_optimiser, "weight_optimiser"),
                (self.delay_optimiser, "delay_optimiser"),
            ):
                if optimiser is not None:
                    optimiser.load_state_dict(state[key])
            self.sampler.load_state_dict(state["sampler"])
            restore_random_states(state["random_states"])
            if self.best is not None:
                self.best.load_state_dict(state["best"], self.device)
            if self.average is not None:
                self.average.load_state_dict(state["average"], int(state["completed_epochs"]), self.device)
        except NeurodelayError as error:  # a checkpoint that does not fit this run's config
            raise NeurodelayError(f"{self.run_dir / CHECKPOINT_NAME}: {error}") from None
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as error:
            # an intact file (checksum verified) whose contents do not fit this run: crafted or foreign
            raise NeurodelayError(
                f"{self.run_dir / CHECKPOINT_NAME}: its contents do not fit this run's "
                f"model, optimisers or generators ({type(error).__name__}: "
                f"{' '.join(str(error).split())[:160]})"
            ) from None
        self.records = list(state["records"])
        self.start_epoch = int(state["completed_epochs"])

    # ----- one batch ----------------------------------------------------------------------
    def _to_device(self, array: np.ndarray) -> torch.Tensor:
        """A host array on the run's device: spikes travel as bool (1 byte per value) from pinned
        memory without blocking the host, and are converted to the compute dtype by the engine."""
        tensor = torch.from_numpy(np.ascontiguousarray(array))
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor

    def _tensor(self, dataset: Dataset, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return self._to_device(dataset.inputs[indices]), self._to_device(dataset.labels[indices])

    def _training_tensor(self, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """A training batch, augmented when the task asks for it (indices then span the
        augmenter's epoch, blended samples included)."""
        if self.augmenter is None:
            return self._tensor(self.splits.train, indices)
        inputs, labels = self.augmenter.batch(indices, *self.batch_position, stream=self.distributed.rank)
        return self._to_device(inputs.astype(bool, copy=False)), self._to_device(labels)

    def _train_batch(
        self, global_indices: np.ndarray, weight_lr: float, delay_lr: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step on a global batch; returns (global batch loss, correct on this rank) as
        0-d tensors on the device, so that the host never waits for the batch to finish."""
        world, rank = self.distributed.world_size, self.distributed.rank
        shard_sizes = [len(shard(global_indices, r, world)) for r in range(world)]
        local = shard(global_indices, rank, world)
        batch = len(global_indices)
        for optimiser in (self.weight_optimiser, self.delay_optimiser):
            if optimiser is not None:
                optimiser.zero_grad(set_to_none=True)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        objective = torch.zeros((), device=self.device, dtype=self.dtype)
        counts: dict[str, torch.Tensor] = {
            name: torch.zeros(0, size, device=self.device, dtype=self.dtype)
            for name, size in zip(self.hidden_names, self.hidden_sizes)
        }
        if len(local):
            inputs, labels = self._training_tensor(local)
            result = self.model(inputs)
            trace = result.readout[self.readout_name]
            objective = self.loss_function(trace, labels) * (len(local) / batch)
            correct = (self.class_scores(trace.detach()).argmax(1) == labels).sum()
            counts = {name: result.spike_counts[name] for name in self.hidden_names}
            if self.bump is not None:
                self.bump.observe(counts)
        loss_value = self.distributed.sum_(objective.detach().clone())
        if self.regularizer is not None:
            spec = self.config.regularizer
            for name in self.hidden_names:
                whole_batch = self.distributed.global_rows(counts[name], shard_sizes)
                penalty = self.regularizer(whole_batch, spec.target_spikes_per_neuron, spec.strength)
                objective = objective + penalty
                loss_value = loss_value + penalty.detach()
        if objective.requires_grad:
            objective.backward()
        for optimiser, parameters, lr in (
            (self.weight_optimiser, self.weight_parameters, weight_lr),
            (self.delay_optimiser, self.delay_parameters, delay_lr),
        ):
            if optimiser is not None:
                self.distributed.sum_gradients_(parameters)
                for parameter in parameters:  # on the device: read once per epoch
                    if parameter.grad is not None:
                        self.gradient_mass += parameter.grad.detach().abs().sum(dtype=torch.float64)
                for group in optimiser.param_groups:
                    group["lr"] = lr
                optimiser.step()
        self.model.clamp_delays_()
        return loss_value, correct

    # ----- evaluation ---------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, dataset: Dataset) -> tuple[float, dict[str, float]]:
        """(accuracy as a fraction, mean spikes per neuron and sample of each hidden layer); each
        rank evaluates a contiguous share of the split."""
        world, rank = self.distributed.world_size, self.distributed.rank
        mine = shard(np.arange(len(dataset)), rank, world)
        totals = torch.zeros(1 + len(self.hidden_names), dtype=torch.float64, device=self.device)
        for start in range(0, len(mine), self.config.eval_batch_size):
            indices = mine[start : start + self.config.eval_batch_size]
            inputs, labels = self._tensor(dataset, indices)
            result = self.model(inputs)
            scores = self.class_scores(result.readout[self.readout_name])
            totals[0] += (scores.argmax(1) == labels).sum()
            for position, name in enumerate(self.hidden_names):
                totals[1 + position] += result.spike_counts[name].sum().double()
        self.distributed.sum_(totals)
        spikes = {
            name: float(totals[1 + position]) / (len(dataset) * size)
            for position, (name, size) in enumerate(zip(self.hidden_names, self.hidden_sizes))
        }
        return float(totals[0]) / len(dataset), spikes

    # ----- the run ------------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        """Train the remaining epochs, then write the network; returns the metric records."""
        config, main = self.config, self.distributed.is_main
        batches_per_epoch = len(self.sampler)
        if main and self.records:  # resumed: the metrics may lag the checkpoint by the epoch of a kill
            write_metrics(self.run_dir, self.records)
            plot_metrics(self.run_dir, self.records)
        for epoch in range(self.start_epoch, config.epochs):
            if self.best is not None and self.best.should_stop(epoch):
                break
            started = time.perf_counter()
            batches = self.sampler.epoch_batches()
            # running sums stay on the device: read once per epoch, not once per batch
            loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
            correct = torch.zeros((), dtype=torch.float64, device=self.device)
            bumped = {name: 0 for name in self.bump.layers} if self.bump is not None else {}
            dropped_before = self.augmenter.dropped_spikes if self.augmenter is not None else 0
            self.divergence.start_epoch(epoch)
            self.gradient_mass = torch.zeros((), dtype=torch.float64, device=self.device)
            bar = tqdm(
                batches,
                desc=f"epoch {epoch + 1}/{config.epochs}",
                unit="batch",
                leave=False,
                disable=not (main and self.options.progress and console.progress_bars()),
            )
            for batch_index, indices in enumerate(bar):
                weight_lr, delay_lr = learning_rates(
                    config.optimiser, epoch, epoch * batches_per_epoch + batch_index, config.epochs
                )
                self.batch_position = (epoch, batch_index)
                batch_loss, batch_correct = self._train_batch(indices, weight_lr, delay_lr)
                self.divergence.observe(batch_index, batch_loss)  # on CUDA: no host read here
                if self.bump is not None and self.bump.spec.period == "batch":
                    bumped = self._bump_silent_neurons(bumped)
                loss_sum += batch_loss.double() * len(indices)
                correct += batch_correct
                if self.device.type == "cpu":  # reading the loss would make a GPU wait every batch
                    bar.set_postfix(loss=f"{float(batch_loss):.4f}")
                if main and bar.disable:
                    self._report_batch(epoch, batch_index, batches_per_epoch, batch_loss)
            bar.close()
            self.divergence.check_epoch()  # before this epoch is evaluated or saved
            correct_total = self.distributed.sum_(correct.reshape(1))
            record: dict[str, Any] = {
                "epoch": epoch + 1,
                "train_loss": float(loss_sum) / self.sampler.n_samples,
                "train_accuracy": float(correct_total[0]) / self.sampler.n_samples,
            }
            if self.splits.validation is not None:
                record["validation_accuracy"], _ = self.evaluate(self.splits.validation)
            record["test_accuracy"], spikes = self.evaluate(self.splits.test)
            record["seconds"] = time.perf_counter() - started
            record["weight_lr"], record["delay_lr"] = weight_lr, delay_lr
            record["test_spikes_per_neuron"] = spikes
            if self.augmenter is not None:  # spikes the augmentation dropped or merged (this rank's batches)
                record["augmentation_dropped_spikes"] = self.augmenter.dropped_spikes - dropped_before
            if self.best is not None:  # before the bump: the parameters that were evaluated
                record["best_so_far"] = self.best.update(record, self.model)
            if self.bump is not None:
                if self.bump.spec.period == "epoch":
                    bumped = self._bump_silent_neurons(bumped)
                record["bumped_silent_neurons"] = {name: int(count) for name, count in bumped.items()}
            if self.average is not None:  # after the bump: the parameters training goes on from
                self.average.observe(epoch + 1, self.model)
            self.records.append(record)
            if main:
                self._report(record)
                self._note_if_stuck(epoch + 1, batches_per_epoch)
                # the checkpoint first: a run killed in between then holds a checkpoint to resume
                # (whose records rewrite the metrics), never metrics without one
                save_checkpoint(self.run_dir / CHECKPOINT_NAME, self._state(epoch + 1))
                write_metrics(self.run_dir, self.records)
                plot_metrics(self.run_dir, self.records)
            self.distributed.barrier()
        if self.best is not None:
            self.best.restore_best(self.model)
        if self.average is not None and self.average.load_into(self.model):
            self.records[-1]["averaged"] = self._evaluate_average()
            if main:
                write_metrics(self.run_dir, self.records)
        if main:
            ir.save(self.trained_network(), self.run_dir / NETWORK_NAME)
        self.distributed.barrier()
        return self.records

    def _evaluate_average(self) -> dict[str, Any]:
        """The averaged parameters (already in the model) on the validation and test splits."""
        epochs = self.average.averaged_epochs
        result: dict[str, Any] = {"first_epoch": epochs[0], "last_epoch": epochs[-1]}
        if self.splits.validation is not None:
            result["validation_accuracy"], _ = self.evaluate(self.splits.validation)
        result["test_accuracy"], result["test_spikes_per_neuron"] = self.evaluate(self.splits.test)
        if self.distributed.is_main:
            parts = [f"average of epochs {epochs[0]}-{epochs[-1]}:"]
            if "validation_accuracy" in result:
                parts.append(f"validation {100 * result['validation_accuracy']:.2f}%")
            parts.append(f"test {100 * result['test_accuracy']:.2f}%")
            console.info("  ".join(parts))
        return result

    def _bump_silent_neurons(self, bumped: dict[str, int]) -> dict[str, int]:
        """Apply the bump for the period that just ended; returns ``bumped`` plus its counts."""
        now = self.bump.apply(self.distributed.sum_)
        self.model.clamp_delays_()  # keeps absent synapses at zero weight
        return {name: bumped[name] + now[name] for name in bumped}

    def best_epoch(self) -> int | None:
        """The epoch (from 1) whose parameters the written network holds when early stopping keeps
        the best, else None (the last epoch's)."""
        if self.best is None or not self.best.spec.restore_best:
            return None
        return self.best.best_epoch

    def _report(self, record: dict[str, Any]) -> None:
        """One line per epoch (unless quiet); ``--verbose`` adds learning rates and spike rates."""
        parts = [
            f"epoch {record['epoch']}/{self.config.epochs}",
            f"loss {record['train_loss']:.4f}",
            f"train {100 * record['train_accuracy']:.2f}%",
        ]
        if "validation_accuracy" in record:
            parts.append(f"validation {100 * record['validation_accuracy']:.2f}%")
        parts += [f"test {100 * record['test_accuracy']:.2f}%", f"{record['seconds']:.1f} s"]
        if console.verbosity() >= console.VERBOSE:
            parts += [f"lr {record['weight_lr']:.3g}/{record['delay_lr']:.3g} (weights/delays)"]
            parts += [f"{name} {rate:.2f} spikes/neuron" for name, rate in record["test_spikes_per_neuron"].items()]
            if record.get("augmentation_dropped_spikes"):
                parts += [f"augmentation dropped {record['augmentation_dropped_spikes']} spikes"]
        console.info("  ".join(parts))

    def _note_if_stuck(self, epoch: int, batches: int) -> None:
        """A note when no weight or delay received a non-zero gradient in a whole epoch: the run
        cannot learn from there on (a learning rate that throws the weights far out, for one, trains
        on with finite values and a loss stuck at chance, which no divergence check sees)."""
        if float(self.gradient_mass) == 0.0:
            console.note(
                f"epoch {epoch}: every weight and delay gradient was exactly 0 in all {batches} batches, "
                "so training cannot go on from here (silent layers or saturated readouts pass no "
                "gradient); lower the learning rates or change the initial weights"
            )

    def _report_batch(self, epoch: int, batch_index: int, batches: int, loss: torch.Tensor) -> None:
        """With ``--verbose`` and no progress bar: a line at every tenth of the epoch's batches."""
        tenth = max(1, batches // 10)
        if (batch_index + 1) % tenth == 0 or batch_index + 1 == batches:
            console.detail(f"  epoch {epoch + 1}: batch {batch_index + 1}/{batches}  loss {float(loss):.4f}")

    def trained_network(self) -> ir.Network:
        """The model's current parameters as an IR network, with the run's provenance."""
        network = self.model.to_network()
        provenance = dict(network.provenance)
        provenance["training"] = {
            "config": self.config.to_dict(),
            "limit": self.options.limit,
            "world_size": self.distributed.world_size,
            "device": str(self.device),
            "software": software_versions(),
            "final_metrics": self.records[-1] if self.records else None,
            "best_epoch": self.best_epoch(),
            "best_metrics": self.records[self.best_epoch() - 1] if self.best_epoch() else None,
            "data": {
                split: dataset.metadata
                for split, dataset in (
                    ("train", self.splits.train),
                    ("validation", self.splits.validation),
                    ("test", self.splits.test),
                )
                if dataset is not None
            },
        }
        return replace(network, provenance=provenance)

    def close(self) -> None:
        self.distributed.close()


def config_difference(
    saved: dict[str, Any],
    saved_limit: int | None,
    config: ExperimentConfig,
    limit: int | None,
    free: tuple[str, ...],
    saved_label: str,
) -> str | None:
    """Where a recorded config and ``--limit`` differ from ``config`` and ``limit``, in words (see
    :func:`_first_difference`), ignoring the top-level fields ``free``; None when they agree."""
    recorded = {key: value for key, value in saved.items() if key not in free}
    current = {key: value for key, value in config.to_dict().items() if key not in free}
    if recorded == current and saved_limit == limit:
        return None
    return _first_difference({**recorded, "--limit": saved_limit}, {**current, "--limit": limit}, "", saved_label)


def _first_difference(saved: Any, current: Any, path: str, saved_label: str) -> str:
    """Where two plain config documents first differ, in words (field path, both values)."""
    if isinstance(saved, dict) and isinstance(current, dict):
        for key in list(saved) + [key for key in current if key not in saved]:
            if saved.get(key, "(absent)") != current.get(key, "(absent)"):
                name = f"{path}.{key}" if path else str(key)
                return _first_difference(saved.get(key, "(absent)"), current.get(key, "(absent)"), name, saved_label)
    if isinstance(saved, list) and isinstance(current, list) and len(saved) == len(current):
        for index, (old, new) in enumerate(zip(saved, current)):
            if old != new:
                return _first_difference(old, new, f"{path}[{index}]", saved_label)

    def shown(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    return f"{path}: {saved_label} {shown(saved)}, now {shown(current)}"


def train(config: ExperimentConfig, options: RunOptions, *, splits: DataSplits | None = None) -> list[dict[str, Any]]:
    """Run (or resume) a whole training run; returns the per-epoch metric records. ``splits``
    replaces the data the config's ``data`` section names (see :func:`neurodelay.train.train_on`)."""
    trainer = Trainer(config, options, splits=splits)
    try:
        return trainer.run()
    finally:
        trainer.close()
