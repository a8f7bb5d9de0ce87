"""``neurodelay info NET``: populations, synapse counts, delay histograms, memory, recurrent loops."""

from __future__ import annotations

import argparse

from .. import ir
from ..ir.summary import summary_text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("info", help="summarise a network file")
    parser.add_argument("network", help=f"network file ({ir.SUFFIX})")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(summary_text(ir.load(args.network)))
    return 0
