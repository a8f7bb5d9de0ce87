"""``neurodelay export NET --target T --out DIR [--clip]``: lower a quantized network to a target's
deployable artefact (for loihi2: a directory with manifest.json + parameters.npz for Lava)."""
from __future__ import annotations

import argparse

from .. import ir
from ..targets import TARGETS, load_exporter


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="lower a quantized network to a target's model")
    parser.add_argument("network", help=f"quantized network file ({ir.SUFFIX})")
    parser.add_argument("--target", required=True, choices=sorted(TARGETS))
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--clip", action="store_true",
                        help="clip values the target cannot hold (each one reported) instead of failing")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    network = ir.load(args.network)
    options = {"clip": True} if args.clip else {}
    exported = load_exporter(args.target).export(network, args.out, **options)
    for line in getattr(exported, "report", []) or []:
        print(line)
    print(f"{args.network}: exported for {args.target} to {args.out}")
    return 0
