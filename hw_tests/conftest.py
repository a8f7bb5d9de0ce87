"""Hardware tests: the parity scenarios on a real Loihi 2 system, skipped with a reason without one.

Configure with ``NEURODELAY_LOIHI2=1`` (plus whatever Intel's lava-loihi needs on that host, e.g.
its partition variables); the tests then run ``Loihi2HwCfg`` through the Lava backend's
``hardware=True`` option.
"""

import os

import pytest

LOIHI2_VARIABLE = "NEURODELAY_LOIHI2"


def loihi2_skip_reason() -> str | None:
    if not os.environ.get(LOIHI2_VARIABLE):
        return f"no Loihi 2 system configured (set {LOIHI2_VARIABLE}=1 on a host with lava-loihi and a board)"
    try:
        from lava.magma.core.run_configs import Loihi2HwCfg  # noqa: F401
    except ImportError as error:
        return f"{LOIHI2_VARIABLE} is set but Loihi2HwCfg is unavailable ({error}); install Intel's lava-loihi"
    return None


@pytest.fixture
def loihi2_hardware():
    reason = loihi2_skip_reason()
    if reason:
        pytest.skip(reason)
