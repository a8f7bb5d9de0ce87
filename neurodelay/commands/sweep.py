"""``neurodelay sweep CONFIG.yaml SPACE.yaml --out DIR [--jobs J] [--limit N]``: hyper-parameter search."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import NeurodelayError, ValidationError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="search hyper-parameters over any config field (grid, random or TPE; resumable)",
        description="Train the config once per trial with the trial's values (SPACE.yaml: sampler, trials, "
        "metric, parameters: {field.path: {values: [...]} | {low, high, log, step, type}}), in parallel "
        "processes, through an Optuna study in DIR/study.db; rerun the same command to resume a killed "
        "sweep. Writes DIR/results.csv, results.md, results.png and best_config.yaml.",
    )
    parser.add_argument("config", help="base experiment config (YAML)")
    parser.add_argument("space", help="search space (YAML)")
    parser.add_argument("--out", required=True, help="sweep folder (study.db, trials/, results)")
    parser.add_argument("--jobs", type=int, default=1, metavar="J", help="trials at once, one process each (default 1)")
    parser.add_argument(
        "--threads-per-job", type=int, default=None, metavar="T", help="torch threads per trial (default: cores / jobs)"
    )
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="at most N samples of every split")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..sweep import run_sweep
    from ..sweep.report import MARKDOWN_NAME

    if args.limit is not None and args.limit < 1:
        raise ValidationError("--limit", f"got {args.limit}", ">= 1 sample per split")
    summary = run_sweep(
        args.config, args.space, Path(args.out), jobs=args.jobs, limit=args.limit, threads_per_job=args.threads_per_job
    )
    best, failed = summary["best"], summary["failed"]
    if failed:
        number, error = failed[0]
        problem = (
            f"{len(failed)} of {summary['n_trials']} trials failed (first: trial {number}: {' '.join(error.split())[:300]}; "
            f"all errors in {Path(args.out) / MARKDOWN_NAME})"
        )
        if best is None:
            raise NeurodelayError(f"no trial completed: {problem}")
    line = f"{args.out}: {summary['complete']} of {summary['n_trials']} trials complete"
    if summary["requeued"]:
        line += f" ({len(summary['requeued'])} interrupted trial(s) re-run)"
    if best is not None:
        metric = summary["metric"]
        line += (
            f"; best trial {best['trial']}: {metric} {best[metric]:.4f} "
            f"(table {Path(args.out) / MARKDOWN_NAME}, config {Path(args.out) / 'best_config.yaml'})"
        )
    print(line)
    if failed:
        raise NeurodelayError(problem)
    return 0
