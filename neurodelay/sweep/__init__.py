"""Hyper-parameter sweeps over any config field: ``neurodelay sweep CONFIG SPACE.yaml --out DIR``.

:mod:`.space` reads the search space and applies a trial's values to a config; :mod:`.runner`
runs trials through an Optuna study stored in ``DIR/study.db`` (parallel processes, resume after a
kill); :mod:`.report` writes the results table, plot and best config.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path
from typing import Any

from ..bounded_yaml import read_yaml_file
from ..errors import NeurodelayError, ValidationError
from ..outputs import check_output_folder
from ..train.config import load_config
from .report import write_report
from .runner import open_study, progress, requeue_orphans, run_worker
from .space import MAX_JOBS, SearchSpace, check_space_against, load_space

__all__ = ["run_sweep", "SearchSpace", "load_space"]

MAX_THREADS_PER_JOB = 1024
"""Torch threads of one trial process."""


def run_sweep(
    config_path: str | Path,
    space_path: str | Path,
    out: str | Path,
    *,
    jobs: int = 1,
    limit: int | None = None,
    threads_per_job: int | None = None,
) -> dict[str, Any]:
    """Run (or resume) the sweep; returns ``{"complete", "best" (row), "requeued", "n_trials", "metric", "left"}``.

    jobs: trial processes at once (1: trials run in this process); threads_per_job: torch threads
    of each (default: the machine's cores divided among the jobs).
    """
    if not 1 <= jobs <= MAX_JOBS:
        raise ValidationError("--jobs", f"got {jobs}", f"[1, {MAX_JOBS}] processes")
    if threads_per_job is not None and not 1 <= threads_per_job <= MAX_THREADS_PER_JOB:
        # torch starts them all: 100000 ran the machine out of memory
        raise ValidationError("--threads-per-job", f"got {threads_per_job}", f"[1, {MAX_THREADS_PER_JOB}] threads")
    check_output_folder(out, force=True)  # a sweep resumes in its folder: only its kind and place
    base = load_config(config_path)
    space = load_space(space_path)
    try:
        check_space_against(base, space)
    except ValidationError as error:  # a path or value of the space that the config does not accept
        raise error.in_file(space_path) from None
    space_document = read_yaml_file(space_path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    study = open_study(out, base, space, space_document)
    requeued = requeue_orphans(study, out)
    threads = threads_per_job or max(1, (os.cpu_count() or 1) // jobs)
    arguments = (str(out), base.to_dict(), space_document)
    if jobs == 1:
        run_worker(*arguments, 0, limit, threads, None)
    else:
        context = multiprocessing.get_context("spawn")
        workers = [
            context.Process(target=run_worker, args=(*arguments, index, limit, threads, os.getpid()))
            for index in range(jobs)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        failed = [index for index, worker in enumerate(workers) if worker.exitcode != 0]
        if failed:
            raise NeurodelayError(
                f"sweep worker(s) {failed} ended with an error (exit codes "
                f"{[workers[i].exitcode for i in failed]}); rerun the same command to resume"
            )
    summary = write_report(out, study, base, space)
    summary.update(
        requeued=requeued, n_trials=space.n_trials, metric=space.metric, left=progress(study, space.n_trials)["left"]
    )
    return summary
