"""``neurodelay import FILE.nir --out NET [--dt-ms DT] [--input-convention impulse|per-step]``: read a
NIR graph (neurodelay's own, or one written by snnTorch, Norse, ...) into an IR network file."""

from __future__ import annotations

import argparse

from .. import ir
from ..outputs import check_output_file


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="read a NIR graph (.nir) into a network file",
        description="Import a NIR graph (Input, Linear/Affine, Delay, CubaLIF, CubaLI "
        "nodes) as a neurodelay network. Every approximation is reported.",
    )
    parser.add_argument("file", help="NIR file (HDF5, as written by nir.write)")
    parser.add_argument("--out", required=True, help=f"network file to write ({ir.SUFFIX})")
    parser.add_argument(
        "--dt-ms", type=float, default=None, help="timestep in ms, needed when the graph's metadata states none"
    )
    parser.add_argument(
        "--input-convention",
        choices=("impulse", "per-step", "jump"),
        default=None,
        help="how the graph's CubaLIF nodes take a spike when its metadata does not say: "
        "impulse (default; neurodelay's export), per-step (snnTorch; Norse's from_nir: forward "
        "Euler, a spike an input of 1 for one step) or jump (Norse's LIFCell); see docs/nir.md",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..interchange.nir import read

    check_output_file(args.out, force=args.force)
    network, report = read(args.file, dt_ms=args.dt_ms, convention=args.input_convention)
    for line in report:
        print(f"note: {line}")
    ir.save(network, args.out)
    print(
        f"{args.file}: imported {len(network.populations)} populations and {len(network.projections)} "
        f"projections (dt {network.dt_ms} ms) to {args.out}"
    )
    return 0
