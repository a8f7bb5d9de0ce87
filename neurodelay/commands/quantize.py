"""``neurodelay quantize NET --target T --out QNET``: quantize a float network for a chip, with a report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import ir
from ..atomic import write_json
from ..errors import NeurodelayError, TargetLimitError, ValidationError
from ..outputs import check_output_file
from .checks import check_at_least, refuse_given
from ..quant.choice import DEFAULT_FINE_TUNING, DEFAULT_THRESHOLD_PP, QAT_MODES, QatPolicy, quantize_choosing
from ..targets import target_names

DEFAULT_CHECK_SAMPLES = 1000
MAX_QAT_EPOCHS = 1000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "quantize",
        help="quantize a float network for a target chip and report every change",
        description="Quantize a float network for a target chip. Prints the per-projection "
        "report (scale, clipped / zeroed / rounded weights, weight errors, rounded / clipped delays, "
        "changed neuron parameters); the quantized network carries it in its provenance. "
        "When the network carries the record of its training data (networks trained with "
        "`neurodelay train`), the float and PTQ accuracies are measured on the validation split on the "
        "target's bit-accurate refsim, and where PTQ loses more than --qat-threshold points the network "
        "is fine-tuned with the quantizer in the loop (QAT) and the better of the two is written; "
        "every accuracy is printed.",
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
    parser.add_argument(
        "--qat",
        choices=QAT_MODES,
        default="auto",
        help="auto (default): QAT where PTQ loses more than --qat-threshold points on the validation "
        "split; on: always fine-tune; off: PTQ only, no accuracy measured",
    )
    parser.add_argument(
        "--qat-threshold",
        type=float,
        default=None,
        metavar="PP",
        help=f"accuracy loss of PTQ, in percentage points, above which --qat auto fine-tunes (default {DEFAULT_THRESHOLD_PP:g})",
    )
    parser.add_argument(
        "--qat-epochs",
        type=int,
        default=None,
        metavar="N",
        help=f"epochs of quantization-aware fine-tuning on the training split (default {DEFAULT_FINE_TUNING['epochs']})",
    )
    parser.add_argument(
        "--check-samples",
        type=int,
        default=None,
        metavar="N",
        help=f"validation samples the accuracies are measured on (default {DEFAULT_CHECK_SAMPLES})",
    )
    parser.add_argument("--report", default=None, metavar="PATH.json", help="also write the report as JSON")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..quant.calibration import ScaleSelection, load_calibration, quantize

    check_output_file(args.out, force=args.force)
    if args.report:
        check_output_file(args.report, option="--report", force=args.force)
        if Path(args.report).resolve() == Path(args.out).resolve():
            raise ValidationError("--report", f"{args.report} is the --out file too", "a path other than --out")
    policy = qat_policy(args)
    network = ir.load(args.network)
    selection = ScaleSelection.parse(args.scale)
    if selection.kind != "calibrated":
        refuse_given(args, {"--calibration": "calibration"}, f"with --scale {selection}", "--scale calibrated")
    calibration = load_calibration(args.calibration, network) if args.calibration else None
    options = dict(
        scale=selection,
        calibration=calibration,
        weight_bits=args.weight_bits,
        strict=args.strict,
        signs_split=args.split_signs,
    )
    data = None if args.qat == "off" else training_data(network, args)
    try:
        if data is None:
            quantized, summary = quantize(network, args.target, **options)
        else:
            train, validation, loss = data
            quantized, summary, choice = quantize_choosing(
                network, args.target, train=train, check=validation, loss=loss, policy=policy, **options
            )
    except TargetLimitError as error:
        raise TargetLimitError(f"{args.network}: {error}") from None
    print(summary.table())
    if data is not None:
        print("\n".join(choice.lines()))
    if args.report:
        report = summary.to_dict()
        if data is not None:
            report["choice"] = choice.to_dict()
        write_json(args.report, report)
    ir.save(quantized, args.out)
    print(f"{args.out}: quantized for {args.target}")
    return 0


def qat_policy(args: argparse.Namespace) -> QatPolicy:
    """The --qat options as one policy, checked before any work (QatPolicy checks the threshold)."""
    names = {"--qat-threshold": "qat_threshold", "--qat-epochs": "qat_epochs", "--check-samples": "check_samples"}
    if args.qat == "off":
        refuse_given(args, names, "with --qat off", "--qat auto or on")
    if args.qat == "on":
        refuse_given(args, {"--qat-threshold": "qat_threshold"}, "with --qat on", "--qat auto")
    if args.qat_epochs is not None and args.qat_epochs > MAX_QAT_EPOCHS:
        raise ValidationError("--qat-epochs", f"{args.qat_epochs}", f"1 to {MAX_QAT_EPOCHS}")
    check_at_least(args.qat_epochs, "--qat-epochs")
    check_at_least(args.check_samples, "--check-samples")
    fine_tuning = dict(DEFAULT_FINE_TUNING)
    if args.qat_epochs is not None:
        fine_tuning["epochs"] = args.qat_epochs
    threshold = DEFAULT_THRESHOLD_PP if args.qat_threshold is None else args.qat_threshold
    return QatPolicy(args.qat, threshold, fine_tuning)


def training_data(network: ir.Network, args: argparse.Namespace) -> tuple[Any, Any, str] | None:
    """(training split, validation split limited to --check-samples, loss name) from the record of
    the network's training; None (said on the console) under --qat auto when there is none."""
    from ..quant.evaluation import study_data

    try:
        training = network.training_config() or {}
    except ValidationError as error:
        raise error.in_file(args.network) from None
    if not training.get("data"):
        if args.qat == "on":
            raise ValidationError(
                f"{args.network}: provenance.training",
                "no record of the training data (not trained with `neurodelay train`)",
                "a network trained with `neurodelay train`, or --qat auto / off",
            )
        print(
            f"{args.network}: no record of its training data, so PTQ accuracy is not measured and QAT "
            "is not considered (--qat off says this is intended)"
        )
        return None
    limit = args.check_samples or DEFAULT_CHECK_SAMPLES
    try:
        train, validation = study_data({"split": "validation", "limit": limit}, network.dt_ms, training["data"])
    except NeurodelayError as error:
        if args.qat == "on":
            raise
        print(f"{args.network}: its training data cannot be loaded here ({error}); PTQ accuracy is not measured")
        return None
    loss = training.get("loss", {}).get("name") or "sum_ce"
    return train, validation, loss
