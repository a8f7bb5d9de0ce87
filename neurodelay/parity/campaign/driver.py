"""Run a campaign: chunks of networks in worker processes, each chunk's records appended as it ends.

Resuming is reading the records back: the seeds recorded are skipped, the rest are chunked again.
A worker process that dies (not an executor failure, which the worker records itself) breaks the
pool; its chunks are then run again one network at a time, each in a pool of its own, and a network
that kills that worker too is recorded as ``crashed``.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ...targets import get_target
from ...worker_lifetime import exit_with_parent
from .distribution import DISTRIBUTION_VERSION
from .runner import campaign_plug, corners_of, failure, run_chunk
from .store import FORMAT, RESULTS, SESSIONS, append_lines, open_campaign, read_lines
from .summary import summarize, write_summary

SUMMARY_EVERY_S = 60.0


@dataclass(frozen=True)
class CampaignConfig:
    """count networks from seed ``seed`` on (seeds seed .. seed + count - 1) for ``target`` / ``executor``."""

    target: str
    executor: str | None
    count: int
    seed: int
    out: Path
    workers: int = 2
    nets_per_run: int | None = None
    timeout_s: float | None = None

    def manifest(self) -> dict[str, Any]:
        spec = get_target(self.target, "parity")
        return {
            "format": FORMAT,
            "target": self.target,
            "executor": self.executor or spec.executor_names()[0],
            "count": self.count,
            "seed": self.seed,
            "distribution": DISTRIBUTION_VERSION,
        }


class Campaign:
    def __init__(self, config: CampaignConfig, resume: bool = False, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.out = Path(config.out)
        self.manifest = config.manifest()
        self.spec = get_target(config.target, "parity")
        open_campaign(self.out, self.manifest, resume)
        self.log = log
        self.session = uuid.uuid4().hex[:12]
        self.started = time.monotonic()
        self.done_this_session = 0
        self.last_summary = self.started

    @property
    def results_path(self) -> Path:
        return self.out / RESULTS

    def pending(self) -> list[int]:
        done = {int(r["seed"]) for r in read_lines(self.results_path, repair=True)}
        return [seed for seed in range(self.config.seed, self.config.seed + self.config.count) if seed not in done]

    def chunks(self, seeds: list[int]) -> list[list[int]]:
        size = self.config.nets_per_run or campaign_plug(self.spec).nets_per_run.get(self.manifest["executor"], 8)
        return [seeds[i : i + size] for i in range(0, len(seeds), max(1, size))]

    def worker_config(self) -> dict[str, Any]:
        return {
            "target": self.config.target,
            "executor": self.manifest["executor"],
            "out": str(self.out),
            "timeout_s": self.config.timeout_s,
        }

    def record(self, records: list[dict[str, Any]]) -> None:
        append_lines(self.results_path, records)
        self.done_this_session += len(records)
        append_lines(
            self.out / SESSIONS,
            [
                {
                    "session": self.session,
                    "elapsed_s": round(time.monotonic() - self.started, 3),
                    "nets": self.done_this_session,
                }
            ],
        )
        if time.monotonic() - self.last_summary > SUMMARY_EVERY_S:
            self.write_summary()

    def write_summary(self) -> dict[str, Any]:
        self.last_summary = time.monotonic()
        summary = summarize(
            self.manifest,
            read_lines(self.results_path),
            read_lines(self.out / SESSIONS),
            corners_of(self.spec, self.manifest["executor"]),
        )
        write_summary(self.out, summary)
        return summary

    def run(self) -> dict[str, Any]:
        """Run every pending network; returns the summary (also written as summary.json / .md)."""
        pending = self.pending()
        self.log(
            f"campaign {self.manifest['target']}/{self.manifest['executor']}: {self.config.count - len(pending)} of {self.config.count} done, {len(pending)} to run with {self.config.workers} workers"
        )
        orphans = self.run_pool(self.chunks(pending), self.config.workers)
        for seeds in orphans:  # chunks whose worker died: one network per fresh single-worker pool
            for seed in seeds:
                if self.run_pool([[seed]], 1):
                    self.record([failure(seed, "crashed", "the worker process died running this network alone")])
        return self.write_summary()

    def run_pool(self, chunks: list[list[int]], workers: int) -> list[list[int]]:
        """Run ``chunks``; returns those lost to a dying worker process."""
        lost: list[list[int]] = []
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=exit_with_parent, initargs=(os.getpid(),)
        ) as pool:
            futures = {pool.submit(run_chunk, self.worker_config(), seeds): seeds for seeds in chunks}
            waiting = set(futures)
            while waiting:
                finished, waiting = wait(waiting, return_when=FIRST_COMPLETED)
                for future in finished:
                    try:
                        records = future.result()
                    except BrokenProcessPool:
                        lost.append(futures[future])
                        continue
                    self.record(records)
                    self.log(
                        f"  {self.done_this_session} done this session ({self.done_this_session / (time.monotonic() - self.started):.2f} nets/s)"
                    )
        return lost
