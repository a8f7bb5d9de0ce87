"""``neurodelay parity``: is the deployed model the model I trained?

    neurodelay parity NET_OR_RUN --target T [--executor E] [--inputs FILE] [--json PATH] [--plot PNG]
    neurodelay parity --target T --random N --seed S --json PATH
    neurodelay parity --campaign N --target T [--executor E] --workers K --out DIR [--seed S] [--resume]

Runs the target's bit-accurate reference-simulator mode and the target's executor on the same
inputs and compares spikes and every state step by step. ``--campaign`` runs N networks of the
campaign distribution (docs/parity_campaigns.md) in K worker processes, appends each network's
result to DIR/results.jsonl and writes DIR/summary.json and DIR/summary.md; a campaign that was
stopped resumes where it stopped when started again on the same DIR. A float network is first quantized for
the target (its report is printed). NET_OR_RUN is a network file or a training run directory
(its network.ndnet). --inputs is an .npz of ``{source: [batch, steps, n]}`` 0/1 arrays; without
it, Poisson inputs are drawn from --seed, --steps and --rate. Exit status 1 when anything differs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .. import ir
from ..errors import TargetLimitError, ValidationError
from ..executor import read_spike_inputs
from ..outputs import check_output_file, check_output_folder
from .checks import check_at_least, check_count, check_seed, check_timeout, refuse_given
from ..parity import check_networks, random_cases
from ..parity.plot import plot_divergence
from ..targets import all_targets, get_target, target_names


DEFAULT_STEPS, DEFAULT_RATE, DEFAULT_BATCH, DEFAULT_WORKERS = 100, 0.1, 1, 2
MAX_RANDOM = 10_000
"""Networks of one --random check: every one is built and quantized before the first run."""
MAX_CAMPAIGN = 1_000_000
"""Networks of one --campaign: the seeds still to run are listed when it starts or resumes."""
MAX_WORKERS = 256
"""Executor processes at once (each imports the tool chain: hundreds of MB)."""
GENERATED = {"--steps": "steps", "--rate": "rate", "--batch": "batch"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("parity", help="compare a target's executor with the bit-accurate refsim")
    parser.add_argument("network", nargs="?", help=f"network file ({ir.SUFFIX}) or training run directory")
    parser.add_argument("--target", required=True, choices=target_names("parity"))
    parser.add_argument("--inputs", help="npz with one [batch, steps, n] 0/1 array per spike source")
    parser.add_argument(
        "--random", type=int, metavar="N", help=f"check N seeded random networks instead (N <= {MAX_RANDOM})"
    )
    parser.add_argument(
        "--campaign",
        type=int,
        metavar="N",
        help=f"run a resumable campaign of N networks (needs --out; N <= {MAX_CAMPAIGN})",
    )
    parser.add_argument("--out", help="campaign directory (created, or resumed when it holds this campaign)")
    parser.add_argument("--resume", action="store_true", help="require --out to hold this campaign already")
    parser.add_argument("--nets-per-run", type=int, help="campaign networks per executor run (default: the target's)")
    parser.add_argument("--seed", type=int, default=None, help="first random seed (nets and inputs; default 0)")
    parser.add_argument("--steps", type=int, default=None, help=f"steps of generated inputs (default {DEFAULT_STEPS})")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help=f"spike probability per step of generated inputs (default {DEFAULT_RATE})",
    )
    parser.add_argument("--batch", type=int, default=None, help=f"batch of generated inputs (default {DEFAULT_BATCH})")
    executors = "; ".join(
        f"{name}: {', '.join(target.executor_names())}"
        for name, target in all_targets().items()
        if target.can("parity")
    )
    parser.add_argument("--executor", help=f"one of the target's executors (default: its first; {executors})")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"executor processes running at once (default {DEFAULT_WORKERS}, at most {MAX_WORKERS})",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds before a run counts as hung (default: the executor's)"
    )
    parser.add_argument("--json", help="write the report as JSON here")
    parser.add_argument("--plot", help="PNG of the first mismatching net (default: next to --json)")
    parser.set_defaults(handler=run)


def network_file(path: str) -> Path:
    candidate = Path(path)
    if candidate.is_dir():
        candidate = candidate / "network.ndnet"
    if not candidate.exists():
        raise ValidationError(
            "NET_OR_RUN", f"{path} not found", f"a {ir.SUFFIX} file or a run directory with network.ndnet"
        )
    return candidate


def generated_inputs(network: ir.Network, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Poisson inputs ``{source: bool [batch, steps, n]}`` drawn from --seed, --steps, --rate, --batch."""
    rate = DEFAULT_RATE if args.rate is None else args.rate
    steps = DEFAULT_STEPS if args.steps is None else args.steps
    batch = DEFAULT_BATCH if args.batch is None else args.batch
    if not 0.0 <= rate <= 1.0:
        raise ValidationError("--rate", f"{rate} is out of range", "a spike probability in [0, 1]")
    check_at_least(steps, "--steps")
    check_at_least(batch, "--batch")
    rng = np.random.default_rng(args.seed or 0)
    return {s.name: rng.random((batch, steps, s.size)) < rate for s in network.sources()}


def cases_from_file(args: argparse.Namespace):
    path = network_file(args.network)
    network = ir.load(path)
    if not network.is_quantized or any(p.weight_format.target != args.target for p in network.projections):
        try:
            network = get_target(args.target, "parity").prepare_for_parity(network, None)
        except TargetLimitError as error:
            raise TargetLimitError(f"{path}: {error}") from None
        for line in network.provenance.get("quantization", {}).get("changes", []):
            print(f"quantized for {args.target}: {line['field']}: {line['kind']} {line['count']}/{line['total']}")
    if args.inputs:
        refuse_given(
            args,
            {**GENERATED, "--seed": "seed"},
            "with --inputs",
            "leave it out; it only shapes the inputs drawn without --inputs",
        )
        inputs = read_spike_inputs(args.inputs, network, field="--inputs")
    else:
        inputs = generated_inputs(network, args)
    return [(network, inputs, None)]


def run_campaign(args: argparse.Namespace) -> int:
    from ..parity.campaign.driver import Campaign, CampaignConfig

    if args.network is not None or args.random is not None or not args.out:
        raise ValidationError("--campaign", "needs --out DIR and no network or --random", "--campaign N --out DIR")
    check_output_folder(args.out, force=True)  # a campaign resumes in its folder: only its kind and place
    check_at_least(args.nets_per_run, "--nets-per-run")
    refuse_given(
        args,
        {"--inputs": "inputs", **GENERATED, "--json": "json", "--plot": "plot"},
        "with --campaign",
        "leave it out; a campaign draws each network's inputs and writes DIR/summary.json",
    )
    config = CampaignConfig(
        args.target,
        args.executor,
        args.campaign,
        args.seed or 0,
        Path(args.out),
        DEFAULT_WORKERS if args.workers is None else args.workers,
        args.nets_per_run,
        args.timeout,
    )
    summary = Campaign(config, resume=args.resume).run()
    statuses = ", ".join(f"{count} {status}" for status, count in summary["statuses"].items())
    print(
        f"campaign {summary['completed']}/{summary['requested']}: {statuses}; summary in {Path(args.out) / 'summary.md'}"
    )
    if summary["uncovered"]:
        print(f"corners not exercised: {', '.join(summary['uncovered'])}")
    return 1 if summary["statuses"]["mismatch"] or summary["failures"] else 0


def run(args: argparse.Namespace) -> int:
    check_count(args.campaign, "--campaign", MAX_CAMPAIGN, "the seeds to run are listed at the start")
    check_count(args.random, "--random", MAX_RANDOM, "all are built first; a --campaign takes more")
    check_count(args.workers, "--workers", MAX_WORKERS, "each a process of its own")
    check_timeout(args.timeout)
    if args.seed is not None:
        check_seed(args.seed, count=args.campaign or args.random or 1)
    if args.campaign is not None:
        return run_campaign(args)
    refuse_given(args, {"--nets-per-run": "nets_per_run"}, "without --campaign", "--campaign N --nets-per-run M")
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path:  # reports are rewritten on every run: only the kind and place of the path are checked
            check_output_file(path, option=option, force=True)
    if args.out or args.resume:
        raise ValidationError("--out/--resume", "given without --campaign", "--campaign N --out DIR [--resume]")
    if (args.random is None) == (args.network is None):
        raise ValidationError(
            "NET_OR_RUN/--random",
            "give exactly one of a network and --random N",
            "a network file or run directory, or --random N",
        )
    if args.random is not None:
        refuse_given(
            args,
            {"--inputs": "inputs", **GENERATED},
            "with --random",
            "leave it out; each random network draws its own inputs",
        )
        cases = random_cases(args.target, args.random, args.seed or 0)
    else:
        cases = cases_from_file(args)
    spec = get_target(args.target, "parity")
    timeout = {} if args.timeout is None else {"timeout_s": args.timeout}
    workers = DEFAULT_WORKERS if args.workers is None else args.workers
    if not args.executor:
        chosen = spec.executor(workers=workers, **timeout)
    elif args.workers is None:
        chosen = spec.executor(args.executor, **timeout)
    else:
        try:
            chosen = spec.executor(args.executor, workers=workers, **timeout)
        except TypeError as error:  # the executor's constructor has no workers option
            if "'workers'" not in str(error):  # any other TypeError is a bug, not a bad option
                raise
            raise ValidationError(
                "--workers", f"the executor {args.executor!r} runs no worker processes", "leave --workers out"
            ) from None
    with chosen as executor:
        if spec.build_check and not getattr(executor, "records", True):
            report, recordings = spec.resolve("build_check")(cases, executor), []
        else:
            report, recordings = check_networks(args.target, cases, executor)
    for line in report.lines():
        print(line)
    if args.json:
        print(f"report written to {report.write_json(args.json)}")
    plot_path = args.plot or (str(Path(args.json).with_suffix(".png")) if args.json else None)
    for result, (reference, candidate) in zip(report.results, recordings):
        if not result.matched and plot_path:
            print(
                f"divergence plot of {result.name} written to "
                f"{plot_divergence(reference, candidate, result.divergences, plot_path, result.name)}"
            )
            break
    return 1 if report.mismatches else 0
