"""``neurodelay train CONFIG.yaml --out RUN_DIR [--resume] [--limit N] [--device cpu|cuda|auto]``: train a network."""
from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from ..errors import ValidationError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a network from a YAML experiment config",
                                   description="Train a network with learnable delays. Launch under "
                                   "torchrun for data-parallel training (rank 0 writes the run folder).")
    parser.add_argument("config", help="experiment config (YAML)")
    parser.add_argument("--out", required=True, help="run folder: checkpoint.pt, metrics.json, "
                        "metrics.png, network.ndnet")
    parser.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="use at most N samples of every split (quick runs, tests)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None,
                        help="override the config's device (cuda runs the engine's Triton kernels)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..train import RunOptions, load_config, train

    if args.limit is not None and args.limit < 1:
        raise ValidationError("--limit", f"got {args.limit}", ">= 1 sample per split")
    config = load_config(args.config)
    if args.device is not None:
        config = dataclasses.replace(config, device=args.device)
    records = train(config, RunOptions(Path(args.out), resume=args.resume, limit=args.limit,
                                       progress=not args.no_progress))
    if records and int(os.environ.get("RANK", "0")) == 0:  # under torchrun, rank 0 reports
        last = records[-1]
        print(f"{args.out}: trained {last['epoch']} epochs, test accuracy {100 * last['test_accuracy']:.2f}%")
    return 0
