"""Running a sweep's trials with Optuna: its study, stored in ``OUT/study.db`` (SQLite), is the
only scheduler state, so several processes (``--jobs``), or several machines sharing the file,
draw trials from it, and a killed sweep resumes from it.

Each trial trains the base config with the trial's values applied (``OUT/trials/trial_NNNN/``,
a normal run folder) and returns the space's metric. Resuming after a kill:

* finished trials (COMPLETE, or FAIL with an ``error``: a config the trainer rejected) are never
  run again;
* a trial left RUNNING by a process of this machine that no longer exists, or stopped by Ctrl-C
  (FAIL without an error), is re-queued with the same parameters by Optuna's
  ``RetryHeartbeatStaleTrialCallback``; the retry continues in the same run folder from its last
  epoch checkpoint;
* a trial of another machine that stops sending heartbeats (every 60 s, stale after 180 s) is
  re-queued the same way by Optuna itself.

New trials are drawn under a lock file, so the processes of one machine never start more trials
than the space asks for (processes on other machines may add one each at the very end).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import NeurodelayError
from ..train.config import ExperimentConfig
from ..train.repeats import best_record
from ..worker_lifetime import exit_with_parent
from .space import METRICS, SearchSpace, configured

STUDY_NAME = "neurodelay-sweep"
STUDY_FILE = "study.db"
TRIALS_DIR = "trials"
LOCK_FILE = ".draw.lock"
HEARTBEAT_SECONDS = 60


def _quiet_experimental_warnings() -> None:
    """Optuna marks heartbeats and the retry callback experimental; we pin its major version."""
    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def storage(out: Path):
    import optuna
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    _quiet_experimental_warnings()
    return optuna.storages.RDBStorage(
        f"sqlite:///{Path(out).resolve() / STUDY_FILE}",
        engine_kwargs={"connect_args": {"timeout": 120}},
        heartbeat_interval=HEARTBEAT_SECONDS,
        grace_period=3 * HEARTBEAT_SECONDS,
        heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(),
    )


def sampler(space: SearchSpace, worker: int):
    """The space's Optuna sampler. Worker ``w`` of a random or TPE sweep seeds its own with
    ``seed + w`` (parallel workers must not draw the same points); grid workers share ``seed``,
    which orders the grid (a trial's grid index must mean the same point in every process)."""
    import optuna

    if space.sampler == "grid":
        return optuna.samplers.GridSampler(
            {name: spec.values for name, spec in space.parameters.items()}, seed=space.seed
        )
    seed = space.seed + worker
    if space.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def open_study(out: Path, base: ExperimentConfig, space: SearchSpace, document: dict[str, Any], worker: int = 0):
    """Create the study in ``out`` or load it; a study made for another config or space is refused."""
    import optuna

    # ERROR: a failed trial is recorded with its error (results.md) and counted by the command,
    # not logged with its traceback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(
        storage=storage(out),
        study_name=STUDY_NAME,
        direction=space.direction,
        sampler=sampler(space, worker),
        load_if_exists=True,
    )
    fingerprint = {"config": base.to_dict(), "space": document}
    stored = study.user_attrs.get("fingerprint")
    if stored is None:
        study.set_user_attr("fingerprint", json.loads(json.dumps(fingerprint)))
    elif stored != json.loads(json.dumps(fingerprint)):
        raise NeurodelayError(
            f"{out / STUDY_FILE}: this folder holds a sweep of another config or space (choose another --out)"
        )
    return study


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def requeue_orphans(study, out: Path) -> list[int]:
    """Re-queue, with the same parameters, the trials that were interrupted: RUNNING ones whose
    process on this machine has died, or that have no owner yet (marked FAIL first), and FAIL ones
    without a recorded error (stopped by Ctrl-C) that have no retry yet. Returns their numbers.

    Runs under the draw lock of ``out``: a worker creates a trial and records its owner while it
    holds that lock, so a RUNNING trial without an owner seen here was left by a killed process."""
    from optuna.trial import TrialState

    _quiet_experimental_warnings()
    host = socket.gethostname()
    housekeeping = _without_sampler_hooks(study)
    with draw_lock(out):
        for trial in housekeeping.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            owner = trial.user_attrs.get("owner")
            if owner is None or (owner["host"] == host and not _process_exists(owner["pid"])):
                housekeeping.tell(trial.number, state=TrialState.FAIL)
        return _retry_failed(housekeeping)


def _without_sampler_hooks(study):
    """The same stored study under a sampler whose ``after_trial`` does nothing.

    ``study.tell`` runs the sampler's ``after_trial``; a grid sampler there calls ``study.stop()``
    when the told trial held the last unvisited grid point, which Optuna refuses outside
    ``optimize`` (a sweep killed while its last grid point ran could not be resumed)."""
    import optuna

    return optuna.load_study(
        study_name=study.study_name, storage=study._storage, sampler=optuna.samplers.RandomSampler()
    )


def _retry_failed(study) -> list[int]:
    """Re-queue every FAIL trial without a recorded error that has no retry yet; their numbers."""
    from optuna.storages import RetryHeartbeatStaleTrialCallback
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {number for trial in trials for number in trial.system_attrs.get("retry_history", [])}
    retry, requeued = RetryHeartbeatStaleTrialCallback(), []
    for trial in trials:
        if trial.state == TrialState.FAIL and "error" not in trial.user_attrs and trial.number not in retried:
            retry(study, trial)
            requeued.append(trial.number)
    return requeued


def progress(study, n_trials: int) -> dict[str, int]:
    """Trials ``done`` (COMPLETE, or failed with a recorded error), ``running`` and ``waiting``."""
    from optuna.trial import TrialState

    counts = {"done": 0, "running": 0, "waiting": 0}
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.COMPLETE or (trial.state == TrialState.FAIL and "error" in trial.user_attrs):
            counts["done"] += 1
        elif trial.state == TrialState.RUNNING:
            counts["running"] += 1
        elif trial.state == TrialState.WAITING:
            counts["waiting"] += 1
    # waiting trials (re-queued ones) cover part of what is still needed; new draws make the rest
    counts["left"] = max(0, n_trials - counts["done"] - counts["running"] - counts["waiting"]) + counts["waiting"]
    return counts


@contextmanager
def draw_lock(out: Path) -> Iterator[Any]:
    """An exclusive lock on ``out/.draw.lock``; yields a function that releases it early."""
    with open(Path(out) / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        held = [True]

        def release() -> None:
            if held[0]:
                fcntl.flock(handle, fcntl.LOCK_UN)
                held[0] = False

        try:
            yield release
        finally:
            release()


def suggest(trial, space: SearchSpace) -> dict[str, Any]:
    values = {}
    for name, spec in space.parameters.items():
        if spec.values is not None:
            values[name] = trial.suggest_categorical(name, spec.values)
        elif spec.type == "int":
            values[name] = trial.suggest_int(
                name, int(spec.low), int(spec.high), step=int(spec.step or 1), log=spec.log
            )
        else:
            values[name] = trial.suggest_float(name, spec.low, spec.high, step=spec.step, log=spec.log)
    return values


def trial_metrics(records: list[dict[str, Any]]) -> dict[str, float]:
    """Every metric of :data:`METRICS` that the run's records hold (accuracies as fractions)."""
    best, last = best_record(records), records[-1]
    metrics = {
        "final_train_accuracy": last["train_accuracy"],
        "final_train_loss": last["train_loss"],
        "final_test_accuracy": last["test_accuracy"],
        "best_test_accuracy": best["test_accuracy"],
    }
    if "validation_accuracy" in last:
        metrics.update(
            final_validation_accuracy=last["validation_accuracy"], best_validation_accuracy=best["validation_accuracy"]
        )
    metrics.update(epochs=len(records), best_epoch=best["epoch"], seconds=sum(r["seconds"] for r in records))
    return {key: float(value) for key, value in metrics.items()}


def run_trial(trial, out: Path, base: ExperimentConfig, space: SearchSpace, limit: int | None, release_lock) -> float:
    """The Optuna objective: train the trial's config (resuming its run folder) and return the metric."""
    from ..train import RunOptions, train
    from ..train.checkpoint import CHECKPOINT_NAME
    from ..train.metrics import METRICS_NAME
    from ..train.trainer import NETWORK_NAME

    values = suggest(trial, space)
    run_dir = trial.user_attrs.get("run_dir") or f"{TRIALS_DIR}/trial_{trial.number:04d}"
    trial.set_user_attr("run_dir", run_dir)
    trial.set_user_attr("owner", {"host": socket.gethostname(), "pid": os.getpid()})
    release_lock()
    folder = Path(out) / run_dir
    try:
        config = configured(base, values)
        if (folder / NETWORK_NAME).exists():  # trained, but killed before the result was stored
            records = json.loads((folder / METRICS_NAME).read_text())
            records = records["records"] if isinstance(records, dict) else records
        else:
            records = train(
                config, RunOptions(folder, resume=(folder / CHECKPOINT_NAME).exists(), limit=limit, progress=False)
            )
        metrics = trial_metrics(records)
        if space.metric not in metrics:
            raise NeurodelayError(
                f"metric {space.metric}: the runs of this config have no validation split "
                f"(choose one of {', '.join(sorted(m for m in METRICS if m in metrics))})"
            )
    except NeurodelayError as error:
        trial.set_user_attr("error", str(error))
        raise
    trial.set_user_attr("metrics", metrics)
    return metrics[space.metric]


def run_worker(
    out: str,
    base_document: dict[str, Any],
    space_document: dict[str, Any],
    worker: int,
    limit: int | None,
    threads: int,
    parent_pid: int | None,
) -> None:
    """One sweep process: draw and run trials until the space is covered. ``parent_pid``: the sweep
    process that spawned this worker (it ends when that one is gone), or None when run in-process."""
    import torch

    from .. import console
    from ..train import config_from_dict
    from ..train.schema import build

    if parent_pid is not None:
        exit_with_parent(parent_pid)
    torch.set_num_threads(threads)
    console.set_verbosity(console.QUIET)
    out_path = Path(out)
    base, space = config_from_dict(base_document), build(SearchSpace, space_document, "")
    study = open_study(out_path, base, space, space_document, worker)
    while True:
        with draw_lock(out_path) as release:
            if progress(study, space.n_trials)["left"] == 0:
                break
            study.optimize(
                lambda trial: run_trial(trial, out_path, base, space, limit, release),
                n_trials=1,
                catch=(NeurodelayError,),
            )
