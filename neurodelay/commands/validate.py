"""``neurodelay validate NET``: load a network file and report whether it is valid."""

from __future__ import annotations

import argparse

from .. import ir


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("validate", help="check a network file (shapes, ranges, references)")
    parser.add_argument("network", help=f"network file ({ir.SUFFIX})")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    network = ir.load(args.network)
    print(
        f"{args.network}: valid ({len(network.populations)} populations, "
        f"{len(network.projections)} projections, schema {ir.SCHEMA_VERSION})"
    )
    return 0
