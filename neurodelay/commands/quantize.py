"""``neurodelay quantize NET --target T --out QNET``: quantize a float network for a chip, with a report."""

from __future__ import annotations

import argparse

from .. import ir
from ..atomic import write_json
from ..errors import TargetLimitError
from ..outputs import check_output_file
from .checks import refuse_given
from ..targets import target_names


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "quantize",
        help="quantize a float network for a target chip and report every change",
        description="Quantize a float network for a target chip. Prints the per-projection "
        "report (scale, clipped / zeroed / rounded weights, weight errors, rounded / clipped delays, "
        "changed neuron parameters); the quantized network carries it in its provenance.",
    )
    parser.add_argument("network", help=f"float network file ({ir.SUFFIX})")
    parser.add_argument("--target", required=True, choices=target_names("quantize"))
    parser.add_argument("--out", required=True, help=f"quantized network file ({ir.SUFFIX})")
    parser.add_argument("--strict", action="store_true", help="fail, naming the projection, if any value is clipped")
    parser.add_argument(
        "--scale",
        default="max-abs",
        help="scale selection: max-abs (default), percentile:P, calibrated (needs --calibration)",
    )
    parser.add_argument(
        "--calibration",
        default=None,
        metavar="DATA",
        help=".npz of calibration spike inputs, one bool [batch, steps, n] array per source",
    )
    parser.add_argument(
        "--weight-bits",
        type=int,
        default=None,
        metavar="B",
        help="weight bits below the target's native width (default: native)",
    )
    parser.add_argument(
        "--split-signs",
        action="store_true",
        help="split mixed-sign projections into excitatory and inhibitory ones first "
        "(one more bit of weight resolution where mixed-sign connections lose one)",
    )
    parser.add_argument("--report", default=None, metavar="PATH.json", help="also write the report as JSON")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..quant.calibration import ScaleSelection, load_calibration, quantize

    check_output_file(args.out, force=args.force)
    if args.report:
        check_output_file(args.report, option="--report", force=args.force)
    network = ir.load(args.network)
    selection = ScaleSelection.parse(args.scale)
    if selection.kind != "calibrated":
        refuse_given(args, {"--calibration": "calibration"}, f"with --scale {selection}", "--scale calibrated")
    calibration = load_calibration(args.calibration, network) if args.calibration else None
    try:
        quantized, summary = quantize(
            network,
            args.target,
            scale=selection,
            calibration=calibration,
            weight_bits=args.weight_bits,
            strict=args.strict,
            signs_split=args.split_signs,
        )
    except TargetLimitError as error:
        raise TargetLimitError(f"{args.network}: {error}") from None
    print(summary.table())
    if args.report:
        write_json(args.report, summary.to_dict())
    ir.save(quantized, args.out)
    print(f"{args.out}: quantized for {args.target}")
    return 0
