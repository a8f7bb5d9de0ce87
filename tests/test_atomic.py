"""Atomic writes: all or nothing, no temporary files left, the usual file mode."""

from __future__ import annotations

import os
import stat

import pytest

from neurodelay.atomic import atomic_path, write_bytes, write_json


def test_failed_write_keeps_previous_file_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "report.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_result_has_the_mode_of_a_plain_open(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    atomic = write_bytes(tmp_path / "deep" / "atomic", b"x")
    assert stat.S_IMODE(os.stat(atomic).st_mode) == stat.S_IMODE(os.stat(plain).st_mode)
    assert atomic.read_bytes() == b"x"
