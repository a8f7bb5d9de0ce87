"""``neurodelay import FILE.nir --out NET [--dt-ms DT]``: read a NIR graph into an IR network file."""
from __future__ import annotations

import argparse

from .. import ir


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("import", help="read a NIR graph (.nir) into a network file",
                                   description="Import a NIR graph (Input, Linear/Affine, Delay, CubaLIF, CubaLI "
                                   "nodes) as a neurodelay network. Every approximation is reported.")
    parser.add_argument("file", help="NIR file (HDF5, as written by nir.write)")
    parser.add_argument("--out", required=True, help=f"network file to write ({ir.SUFFIX})")
    parser.add_argument("--dt-ms", type=float, default=None,
                        help="timestep in ms, needed when the graph's metadata states none")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..interchange.nir import read

    network, report = read(args.file, dt_ms=args.dt_ms)
    for line in report:
        print(f"note: {line}")
    ir.save(network, args.out)
    print(f"{args.file}: imported {len(network.populations)} populations and {len(network.projections)} "
          f"projections (dt {network.dt_ms} ms) to {args.out}")
    return 0
