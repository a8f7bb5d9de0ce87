"""Save/load round trips are bit-identical for every kind of network (property tests)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from neurodelay import ir
from strategies import networks


def assert_same_value(a, b, where: str) -> None:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b), where
        assert a.tobytes() == b.tobytes(), where
    else:
        assert type(a) is type(b) and a == b, (where, a, b)


def assert_same_network(a: ir.Network, b: ir.Network) -> None:
    assert (a.name, a.dt_ms, a.provenance) == (b.name, b.dt_ms, b.provenance)
    assert len(a.populations) == len(b.populations) and len(a.projections) == len(b.projections)
    for pa, pb in zip(a.populations, b.populations):
        assert type(pa) is type(pb)
        for field in pa.__dataclass_fields__:
            assert_same_value(getattr(pa, field), getattr(pb, field), f"{pa.name}.{field}")
    for qa, qb in zip(a.projections, b.projections):
        for field in (
            "name",
            "pre",
            "post",
            "max_delay_steps",
            "weights",
            "delays_steps",
            "mask",
            "integer_weights",
            "metadata",
        ):
            va, vb = getattr(qa, field), getattr(qb, field)
            if va is None or vb is None:
                assert va is None and vb is None, f"{qa.name}.{field}"
            else:
                assert_same_value(va, vb, f"{qa.name}.{field}")
        if qa.weight_format is None:
            assert qb.weight_format is None
        else:
            assert vars(qa.weight_format) == vars(qb.weight_format)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(network=networks())
def test_save_load_is_bit_identical(network, tmp_path_factory):
    path = tmp_path_factory.mktemp("rt") / "net.ndnet"
    ir.save(network, path)
    loaded = ir.load(path)
    assert_same_network(network, loaded)
    again = tmp_path_factory.mktemp("rt2") / "net.ndnet"
    ir.save(loaded, again)
    assert_same_network(loaded, ir.load(again))


def test_examples_load_and_are_what_the_builder_makes(tmp_path):
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "examples"
    spec = importlib.util.spec_from_file_location("build_examples", root / "build_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert_same_network(module.feedforward(), ir.load(root / "feedforward.ndnet"))
    assert_same_network(module.recurrent(), ir.load(root / "recurrent.ndnet"))
    assert ir.load(root / "recurrent.ndnet").recurrent_loops() == [["hidden"]]
    assert ir.load(root / "feedforward.ndnet").recurrent_loops() == []


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path, monkeypatch):
    network = ir.load(__import__("pathlib").Path(__file__).resolve().parents[1] / "examples" / "feedforward.ndnet")
    path = tmp_path / "net.ndnet"
    ir.save(network, path)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", explode)
    try:
        ir.save(network, path)
    except OSError:
        pass
    assert path.read_bytes() == before, "a failed save must leave the previous file intact"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.ndnet"]
