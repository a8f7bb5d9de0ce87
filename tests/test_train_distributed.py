"""Data-parallel training: two gloo processes on CPU take the same steps as one process that
sees the whole global batch (uneven shards, an empty shard and the batch-level regulariser
included)."""

import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
import yaml

from neurodelay import ir
from neurodelay.train import RunOptions, Trainer, config_from_dict

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
LIMIT = 15  # with batch_size 7: global batches of 7, 7 and 1 samples -> one rank gets none


def config_document() -> dict:
    document = yaml.safe_load((EXAMPLES / "yin_yang.yaml").read_text())
    document.update(
        epochs=2,
        batch_size=7,
        eval_batch_size=4,
        device="cpu",
        dtype="float64",
        regularizer={"target_spikes_per_neuron": 1.0, "strength": 0.01},
    )
    document["network"]["dt_ms"] = 1.0
    document["network"]["hidden"][0]["size"] = 12
    return document


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rank_main(rank: int, world_size: int, port: int, out: str) -> None:
    import os

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    trainer = Trainer(config_from_dict(config_document()), RunOptions(Path(out) / "run", limit=LIMIT, progress=False))
    try:
        trainer.run()
        torch.save(
            {name: p.detach().clone() for name, p in trainer.model.named_parameters()},
            Path(out) / f"parameters_rank{rank}.pt",
        )
    finally:
        trainer.close()


@pytest.mark.slow
def test_two_gloo_ranks_match_one_process_on_the_global_batch(tmp_path, monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    mp.spawn(rank_main, args=(2, free_port(), str(tmp_path / "parallel")), nprocs=2, join=True)

    single = Trainer(config_from_dict(config_document()), RunOptions(tmp_path / "single", limit=LIMIT, progress=False))
    try:
        assert single.distributed.world_size == 1
        single.run()
    finally:
        single.close()

    ranks = [torch.load(tmp_path / "parallel" / f"parameters_rank{r}.pt") for r in range(2)]
    for name in ranks[0]:
        assert torch.equal(ranks[0][name], ranks[1][name]), f"ranks disagree on {name}"

    parallel = dict(ir.load(tmp_path / "parallel" / "run" / "network.ndnet").iter_arrays())
    alone = dict(ir.load(tmp_path / "single" / "network.ndnet").iter_arrays())
    initial = single.model.network
    assert parallel.keys() == alone.keys()
    for key in alone:
        np.testing.assert_allclose(parallel[key], alone[key], rtol=1e-9, atol=1e-12, err_msg=key)
    # the steps moved the parameters (the comparison is not between two untouched copies)
    trained = single.model.to_network()
    for projection in initial.projections:
        assert not np.array_equal(projection.weights, trained.projection(projection.name).weights)
    assert not np.array_equal(
        initial.projection("input_hidden").delays_steps, trained.projection("input_hidden").delays_steps
    )

    records = [
        json.loads(p.read_text())
        for p in (tmp_path / "parallel" / "run" / "metrics.json", tmp_path / "single" / "metrics.json")
    ]
    for parallel_record, single_record in zip(*records):
        for key in ("train_accuracy", "validation_accuracy", "test_accuracy"):
            assert parallel_record[key] == single_record[key]
        assert parallel_record["train_loss"] == pytest.approx(single_record["train_loss"], rel=1e-9)
    assert not (tmp_path / "parallel" / "run" / "parameters_rank1.pt").exists()
