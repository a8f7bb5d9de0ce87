"""Runs many CLI cases in one process: ``python hostile_runner.py CASES.json RESULTS.json``.

The parent imports neurodelay (and torch) once, then forks one child per case, so each case
starts warm and its resources are its own: the child gets ``SIGALRM`` after the case's time limit,
and the parent reads the child's peak resident memory from ``wait4``. Each case is
``{"name", "argv", "limit_s"}``; each result adds ``code`` (exit status, negative for a signal),
``stderr``, ``stdout_tail``, ``seconds`` and ``peak_rss_bytes``.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import tempfile
import time


def run_case(case: dict, main) -> dict:
    with tempfile.TemporaryFile() as stderr, tempfile.TemporaryFile() as stdout:
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # child: one CLI call, then _exit
            os.dup2(stderr.fileno(), 2)
            os.dup2(stdout.fileno(), 1)
            signal.alarm(int(case["limit_s"]))
            try:
                code = main(case["argv"])
            except SystemExit as exit_:  # argparse errors
                code = exit_.code if isinstance(exit_.code, int) else 2
            except BaseException:  # noqa: BLE001 - reported as code 99
                import traceback

                traceback.print_exc()
                code = 99
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(int(code or 0))
        _, status, usage = os.wait4(pid, 0)
        seconds = time.monotonic() - started
        stderr.seek(0)
        stdout.seek(0)
        code = os.waitstatus_to_exitcode(status)
        return dict(
            case,
            code=code,
            stderr=stderr.read().decode("utf-8", "replace"),
            stdout_tail=stdout.read().decode("utf-8", "replace")[-2000:],
            seconds=seconds,
            peak_rss_bytes=usage.ru_maxrss * 1024,
        )


def main() -> None:
    cases_path, results_path = sys.argv[1:3]
    import torch

    from neurodelay.cli import main as cli_main

    for module in (
        "neurodelay.ir",
        "neurodelay.train",
        "neurodelay.train.trainer",
        "neurodelay.quant.calibration",
        "neurodelay.interchange.nir",
        "neurodelay.engine",
        "neurodelay.refsim",
        "matplotlib.pyplot",
    ):
        importlib.import_module(module)  # warm: each forked case starts from here
    torch.set_num_threads(1)
    with open(cases_path, encoding="utf-8") as stream:
        cases = json.load(stream)
    results = [run_case(case, cli_main) for case in cases]
    with open(results_path, "w", encoding="utf-8") as stream:
        json.dump(results, stream)


if __name__ == "__main__":
    main()
