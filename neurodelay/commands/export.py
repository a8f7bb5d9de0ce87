"""``neurodelay export NET --target T --out DIR [--clip]``: lower a quantized network to a target's
deployable artefact (the target's exporter, found in the registry :mod:`neurodelay.targets`)."""

from __future__ import annotations

import argparse

from .. import ir
from ..errors import TargetLimitError, ValidationError
from ..outputs import check_output_file, check_output_folder, staged_folder
from ..targets import all_targets, get_target, target_names
from .checks import refuse_given


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="lower a quantized network to a target's model")
    parser.add_argument("network", help=f"quantized network file ({ir.SUFFIX})")
    parser.add_argument("--target", required=True, choices=target_names("export"))
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--clip", action="store_true", help="clip values the target cannot hold (each one reported) instead of failing"
    )
    for name, target in all_targets().items():
        if target.can("export") and target.export_options:
            group = parser.add_argument_group(f"{name} options (--target {name})")
            for flag, settings in target.export_options:
                # default None: an option given with another --target is refused, not ignored
                group.add_argument(flag, **{**settings, "dest": f"{name}:{settings['dest']}", "default": None})
    parser.add_argument(
        "--force", action="store_true", help="overwrite an existing output file, or write into a non-empty folder"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    target = get_target(args.target, "export")
    writes_a_file = target.quantizer is None  # a file format (NIR); a chip's artefact is a folder
    if writes_a_file:
        check_output_file(args.out, force=args.force)
    else:
        check_output_folder(args.out, force=args.force)
    for other in all_targets().values():
        if other.name != target.name and other.can("export"):
            refuse_given(
                args,
                {flag: f"{other.name}:{settings['dest']}" for flag, settings in other.export_options},
                f"with --target {target.name}",
                f"only with --target {other.name}",
            )
    if writes_a_file:
        refuse_given(
            args, {"--clip": "clip"}, f"with --target {target.name}", "leave it out; a NIR file holds every value"
        )
    network = ir.load(args.network)
    options = {"clip": True} if args.clip else {}
    for _, settings in target.export_options:
        given = getattr(args, f"{target.name}:{settings['dest']}")
        if given is not None:
            options[settings["dest"]] = given
    written_to = args.out
    try:
        if writes_a_file:
            exported = target.export(network, args.out, **options)
        else:
            with staged_folder(args.out) as folder:  # a failed export leaves no half-written folder
                exported = target.export(network, folder, **options)
                written_to = folder
    except ValidationError as error:
        raise error.in_file(args.network) from None
    except TargetLimitError as error:
        raise TargetLimitError(f"{args.network}: {error}") from None
    for line in exported.report:  # the report names the folder it was written to: the staging one
        print(line.replace(str(written_to), str(args.out)))
    print(f"{args.network}: exported for {args.target} to {args.out}")
    return 0
