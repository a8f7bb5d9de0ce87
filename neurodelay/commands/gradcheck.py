"""``neurodelay gradcheck --random N``: EventProp gradients against finite differences of an
independent exact-time simulation.

Builds N random networks (feed-forward and recurrent, several spikes per hidden neuron, fine dt),
compares the engine's per-trial weight and delay gradients with central finite differences of the
loss computed by the exact-time simulator (:mod:`neurodelay.refsim.exact_time`), prints median and
max relative errors per kind and every left-out trial with its reason, and writes the full record
as JSON. A network with a comparison above the max target is checked again as the same
continuous-time problem at dt / 3, and the refined result counts (both are printed and recorded:
see :mod:`neurodelay.engine.gradcheck`). Exits 1 if the targets (median < 1 %, max < 5 %) are missed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..atomic import write_json
from ..outputs import check_output_file
from .checks import check_count, check_seed, refuse_given

MAX_NETWORKS = 10_000
"""Networks of one check (each takes seconds; every comparison is kept for the record)."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gradcheck", help="check EventProp gradients against finite differences")
    parser.add_argument(
        "--random", type=int, required=True, metavar="N", help=f"number of random networks (at most {MAX_NETWORKS})"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the first network (then seed+1, ...)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the full record here")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..engine.gradcheck import MAX_TARGET, MEDIAN_TARGET, gradcheck

    check_count(args.random, "--random", MAX_NETWORKS, "every network's comparisons are kept for the record")
    check_seed(args.seed, count=args.random)
    if args.json is not None:
        check_output_file(args.json, option="--json", force=args.force)
    else:
        refuse_given(args, {"--force": "force"}, "without --json", "--json PATH --force")
    torch.set_num_threads(1)  # the check's tensors are tiny: one thread avoids thread overhead
    record = gradcheck(args.random, args.seed)
    record["targets"] = {"median_rel_err": MEDIAN_TARGET, "max_rel_err": MAX_TARGET}
    print(
        f"{args.random} networks at dt {record['settings']['dt_ms']} ms, {record['settings']['batch']} trials each; "
        f"rel. error per parameter: sum over trials of |engine - finite difference| / sum of |finite difference|"
    )
    passed = True
    for kind in ("weights", "delays"):
        stats = record[kind]
        ok = stats["checked"] > 0 and stats["median_rel_err"] < MEDIAN_TARGET and stats["max_rel_err"] < MAX_TARGET
        passed &= ok
        if stats["checked"]:
            print(
                f"{kind}: {stats['checked']} checked, median rel. error {stats['median_rel_err']:.2e}, "
                f"max {stats['max_rel_err']:.2e} ({'ok' if ok else 'MISSED'}); of the gradients summed over "
                f"the trials: median {stats['batch_sum']['median_rel_err']:.2e}, "
                f"max {stats['batch_sum']['max_rel_err']:.2e}"
            )
        else:
            print(f"{kind}: nothing checked (MISSED)")
    for refined in record["refined"]:
        print(
            f"refined: network {refined['case']} missed {MAX_TARGET:.0%} at dt {record['settings']['dt_ms']} ms "
            f"(max {refined['unrefined_max_rel_err']:.2e}); the same problem at dt {refined['dt_ms']:.6g} ms: "
            f"max {refined['max_rel_err']:.2e}"
        )
    excluded = record["excluded"]
    print(f"excluded: {len(excluded)} of {record['trial_comparisons']['total']} (parameter, trial) pairs")
    for reason, meaning in record["exclusion_reasons"].items():
        pairs = [e for e in excluded if e["reason"] == reason]
        print(f"  {reason}: {len(pairs)} ({meaning})")
        for e in pairs:
            print(f"    case {e['case']} trial {e['trial']} {e['projection']}.{e['kind']}{e['index']}")
    record["passed"] = passed
    if args.json is not None:
        write_json(args.json, record)
    return 0 if passed else 1
