"""``neurodelay export NET --target T --out DIR [--clip]``: lower a quantized network to a target's
deployable artefact (for loihi2: a directory with manifest.json + parameters.npz for Lava)."""
from __future__ import annotations

import argparse

from .. import ir
from ..errors import TargetLimitError, ValidationError
from ..outputs import check_output_file, check_output_folder, staged_folder
from ..targets import TARGETS, load_exporter


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="lower a quantized network to a target's model")
    parser.add_argument("network", help=f"quantized network file ({ir.SUFFIX})")
    parser.add_argument("--target", required=True, choices=sorted(TARGETS))
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--clip", action="store_true",
                        help="clip values the target cannot hold (each one reported) instead of failing")
    nir_options = parser.add_argument_group("NIR options (--target nir; see docs/nir.md)")
    nir_options.add_argument("--input-convention", choices=("impulse", "per-step"), default="impulse",
                             help="impulse: neurodelay's exact reading (default); per-step: the forward-Euler "
                             "reading snnTorch and Norse run")
    nir_options.add_argument("--fold-uniform-delays", action="store_true",
                             help="no Delay node for a projection whose synapses share one delay (kept in metadata)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file, or write into a non-empty folder")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.target == "nir":
        check_output_file(args.out, force=args.force)
    else:
        check_output_folder(args.out, force=args.force)
    network = ir.load(args.network)
    options = {"clip": True} if args.clip else {}
    if args.target == "nir":
        options.update(convention=args.input_convention, fold_uniform_delays=args.fold_uniform_delays)
    try:
        if args.target == "nir":
            exported = load_exporter(args.target).export(network, args.out, **options)
        else:
            with staged_folder(args.out) as folder:      # a failed export leaves no half-written folder
                exported = load_exporter(args.target).export(network, folder, **options)
    except ValidationError as error:
        raise error.in_file(args.network) from None
    except TargetLimitError as error:
        raise TargetLimitError(f"{args.network}: {error}") from None
    for line in getattr(exported, "report", []) or []:
        print(line)
    print(f"{args.network}: exported for {args.target} to {args.out}")
    return 0
