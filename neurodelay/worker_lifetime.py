"""Worker processes that end with the process that started them.

A campaign or sweep runs its work in spawned worker processes. When the parent is killed (SIGKILL,
an out-of-memory kill, a closed session), Python does not stop those workers: a campaign worker
goes on computing the chunks already queued to it and then waits forever on a queue nobody feeds,
and a sweep worker goes on training trials that the resumed sweep will queue again. Each worker
therefore watches its parent and exits as soon as the parent is gone.
"""

from __future__ import annotations

import os
import threading
import time

POLL_PERIOD_S = 0.5
"""How often (s) a worker checks that its parent is still there."""


def exit_with_parent(parent_pid: int, period_s: float = POLL_PERIOD_S) -> None:
    """Start a daemon thread that ends this process (exit code 1) once its parent is no longer
    ``parent_pid`` (the orphan is re-parented, so ``os.getppid()`` changes). Call it first in a
    worker: as a ``ProcessPoolExecutor`` initializer, or at the top of a ``Process`` target."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(period_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
