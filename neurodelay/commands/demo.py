"""``neurodelay demo``: the end-to-end job behind the README's first command.

Today it runs what exists: load the example networks, validate them, print their summaries and
simulate one of them in the reference simulator's float mode. It grows with each capability
(train -> quantize -> export to both targets -> parity report).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .. import ir
from ..ir.summary import summary_text
from ..refsim import simulate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="run the end-to-end demo")
    parser.add_argument("--examples", type=Path, default=EXAMPLES, help="folder with the example networks")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for name in ("feedforward.ndnet", "recurrent.ndnet"):
        network = ir.load(args.examples / name)
        print(summary_text(network))
        inputs = np.random.default_rng(0).random((4, 200, network.sources()[0].size)) < 0.05
        recording = simulate(network, inputs, mode="float")
        rates = {p.name: recording.spikes(p.name).mean() * 1000.0 / network.dt_ms
                 for p in network.populations if p.kind != "leaky_integrator"}
        print("float simulation, 4 x 200 steps: mean rate "
              + ", ".join(f"{name} {rate:.1f} Hz" for name, rate in rates.items()) + "\n")
    return 0
