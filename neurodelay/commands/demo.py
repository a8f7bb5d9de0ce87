"""``neurodelay demo``: train -> quantize -> export to every registered chip -> parity -> summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..demo import DEFAULT_CONFIG, DemoOptions, run_demo
from ..outputs import check_output_folder
from .checks import check_at_least


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the end-to-end demo (train, quantize, export, parity)")
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="folder for every artefact")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="training config")
    parser.add_argument("--limit", type=int, default=None, help="samples per data split (default: all)")
    parser.add_argument("--parity-samples", type=int, default=16, help="test samples run through target simulators")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    check_at_least(args.limit, "--limit")
    check_at_least(args.parity_samples, "--parity-samples")
    check_output_folder(args.out, force=True)  # a second run reuses what is there: only kind and place
    summary = run_demo(
        DemoOptions(args.out, args.config, args.limit, args.parity_samples, progress=not args.no_progress)
    )
    return 0 if all(result["mismatches"] == 0 for result in summary["targets"].values()) else 1
