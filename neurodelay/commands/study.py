"""``neurodelay study CONFIG.yaml``: accuracy of a trained network per target, weight bits, delay
resolution and PTQ / QAT on the reference simulator's target modes (CSV, Markdown, plot)."""

from __future__ import annotations

import argparse

from ..outputs import check_output_folder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "study",
        help="quantization study: accuracy vs weight bits, delay resolution, target, PTQ/QAT",
        description="Sweep weight bits x delay resolution x target x PTQ/QAT for a trained network "
        "and write results.csv, results.md, accuracy_vs_bits.png and study.json.",
    )
    parser.add_argument("config", help="study config (YAML; see examples/study_yin_yang.yaml)")
    parser.add_argument("--out", default=None, help="output folder (default: the config's 'out')")
    parser.add_argument("--qat", action="store_true", help="add quantization-aware fine-tuning (mode qat) to the sweep")
    parser.add_argument(
        "--parity",
        action="store_true",
        help="also compare the target's executor with the refsim target mode (slow for some tool chains)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..quant.study import load_study_config, run_study

    config = load_study_config(args.config, out=args.out)
    # a study is rewritten on every run: only the kind and place of its folder are checked, first
    check_output_folder(config.out, option="--out" if args.out else f"{args.config}: out", force=True)
    if args.qat and "qat" not in config.modes:
        config.modes.append("qat")
    if args.parity:
        config.parity["enabled"] = True
    run_study(config)
    print(f"{config.out}: results.csv, results.md, accuracy_vs_bits.png, study.json")
    return 0
