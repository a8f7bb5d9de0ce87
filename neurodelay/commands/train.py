"""``neurodelay train CONFIG.yaml --out RUN_DIR [--resume] [--limit N] [--repeats N] [--device D]``: train
a network (or N seeded repeats of it, summarised as mean +- std)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from ..errors import ValidationError
from ..outputs import check_creatable


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a network from a YAML experiment config",
        description="Train a network with learnable delays. Launch under "
        "torchrun for data-parallel training (rank 0 writes the run folder).",
    )
    parser.add_argument("config", help="experiment config (YAML)")
    parser.add_argument(
        "--out", required=True, help="run folder: checkpoint.pt, metrics.json, metrics.png, network.ndnet"
    )
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="use at most N samples of every split (quick runs, tests)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default=None,
        help="override the config's device (cuda runs the engine's Triton kernels)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        metavar="N",
        help="train N runs with seeds seed, seed+1, ... in RUN_DIR/seed_<s>/ (finished runs are "
        "read back, interrupted ones resumed) and report mean +- std of the final and best "
        "test accuracy (RUN_DIR/repeats.md, repeats.json)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..train import RunOptions, load_config, train

    if args.limit is not None and args.limit < 1:
        raise ValidationError("--limit", f"got {args.limit}", ">= 1 sample per split")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValidationError("--out", f"{out} is a file", "a run folder path")
    check_creatable(out, "--out")
    config = load_config(args.config)
    if args.device is not None:
        config = dataclasses.replace(config, device=args.device)
    if args.repeats is not None:
        return run_repeated(args, config)
    try:
        records = train(
            config, RunOptions(Path(args.out), resume=args.resume, limit=args.limit, progress=not args.no_progress)
        )
    except ValidationError as error:  # a field of the config (data, network) that only training could check
        raise error if error.file else error.in_file(args.config) from None
    except MemoryError as error:
        raise ValidationError(
            "data / network",
            f"the sizes and durations it asks for do not fit in memory ({' '.join(str(error).split())[:160]})",
            "smaller sizes or durations",
            file=args.config,
        ) from None
    if records and int(os.environ.get("RANK", "0")) == 0:  # under torchrun, rank 0 reports
        last = records[-1]
        line = f"{args.out}: trained {last['epoch']} epochs, test accuracy {100 * last['test_accuracy']:.2f}%"
        if "averaged" in last:
            averaged = last["averaged"]
            line += (
                f"; network holds the average of epochs {averaged['first_epoch']}-{averaged['last_epoch']}: "
                f"test accuracy {100 * averaged['test_accuracy']:.2f}%"
            )
        if config.early_stopping is not None:
            kept = [record for record in records if record.get("best_so_far")][-1]
            stopped = " (stopped early)" if last["epoch"] < config.epochs else ""
            action = "network holds" if config.early_stopping.restore_best else "best was"
            line += (
                f"{stopped}; {action} epoch {kept['epoch']}: {config.early_stopping.metric} "
                f"{kept[config.early_stopping.metric]:.4f}, test accuracy {100 * kept['test_accuracy']:.2f}%"
            )
        print(line)
    return 0


def run_repeated(args: argparse.Namespace, config) -> int:
    from ..train.repeats import SUMMARY_MARKDOWN, run_repeats

    if args.resume:
        raise ValidationError("--resume", "given with --repeats", "no --resume: repeats resume by themselves")
    if "RANK" in os.environ:
        raise ValidationError("--repeats", "given under torchrun", "one process (repeats run one after another)")
    summary = run_repeats(config, Path(args.out), args.repeats, limit=args.limit, progress=not args.no_progress)
    final, best = summary["final_test"], summary["best_test"]
    print(
        f"{args.out}: {summary['n']} seeds, test accuracy final {100 * final['mean']:.2f} +- "
        f"{100 * final['std']:.2f} %, best {100 * best['mean']:.2f} +- {100 * best['std']:.2f} % "
        f"(table: {Path(args.out) / SUMMARY_MARKDOWN})"
    )
    return 0
