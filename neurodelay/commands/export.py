"""``neurodelay export NET --target T --out DIR [--clip]``: lower a quantized network to a target's
deployable artefact (the target's exporter, found in the registry :mod:`neurodelay.targets`)."""
from __future__ import annotations

import argparse

from .. import ir
from ..targets import all_targets, get_target, target_names


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="lower a quantized network to a target's model")
    parser.add_argument("network", help=f"quantized network file ({ir.SUFFIX})")
    parser.add_argument("--target", required=True, choices=target_names("export"))
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--clip", action="store_true",
                        help="clip values the target cannot hold (each one reported) instead of failing")
    for name, target in all_targets().items():
        if target.can("export") and target.export_options:
            group = parser.add_argument_group(f"{name} options (--target {name})")
            for flag, settings in target.export_options:
                group.add_argument(flag, **{**settings, "dest": f"{name}:{settings['dest']}"})
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    network = ir.load(args.network)
    options = {"clip": True} if args.clip else {}
    target = get_target(args.target, "export")
    options.update({settings["dest"]: getattr(args, f"{target.name}:{settings['dest']}")
                    for _, settings in target.export_options})
    exported = target.export(network, args.out, **options)
    for line in exported.report:
        print(line)
    print(f"{args.network}: exported for {args.target} to {args.out}")
    return 0
