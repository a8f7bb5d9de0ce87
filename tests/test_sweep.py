"""``neurodelay sweep``: search spaces over any config field, the results table and best config,
and a sweep killed by SIGKILL that a rerun completes without repeating finished trials."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

from neurodelay.cli import main
from neurodelay.errors import ValidationError
from neurodelay.sweep.space import configured, load_space, set_field
from neurodelay.train import load_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def tiny_config(tmp_path: Path, epochs: int = 2) -> Path:
    """Yin-Yang at 1 ms with 8 hidden neurons: a trial takes seconds with --limit 40."""
    document = yaml.safe_load((EXAMPLES / "yin_yang.yaml").read_text())
    document.update(epochs=epochs, batch_size=10, eval_batch_size=100, device="cpu")
    document["network"]["dt_ms"] = 1.0
    document["network"]["hidden"][0]["size"] = 8
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def space_file(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


GRID = {
    "sampler": "grid",
    "metric": "best_validation_accuracy",
    "parameters": {"optimiser.weight_lr": {"values": [0.01, 0.03]}, "seed": {"values": [0, 1]}},
}


def completed(out: Path) -> dict[tuple, optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name="neurodelay-sweep", storage=f"sqlite:///{out / 'study.db'}")
    return {
        (t.params["optimiser.weight_lr"], t.params["seed"]): t
        for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    }


def test_fields_are_set_by_path_creating_optional_sections():
    base = load_config(EXAMPLES / "yin_yang.yaml")
    config = configured(
        base,
        {
            "network.hidden[0].size": 17,
            "early_stopping.patience": 4,
            "optimiser.delay_schedule.kind": "constant",
            "seed": 5,
        },
    )
    assert config.network.hidden[0].size == 17 and config.seed == 5
    assert config.early_stopping.patience == 4 and config.optimiser.delay_schedule.kind == "constant"
    with pytest.raises(ValidationError, match=r"network\.hidden\[0\]\.sise"):
        configured(base, {"network.hidden[0].sise": 3})  # the config rejects unknown fields
    with pytest.raises(ValidationError, match=r"index \[3\]"):
        configured(base, {"network.hidden[3].size": 3})
    with pytest.raises(ValidationError, match="not a config field path"):
        set_field({}, "optimiser..weight_lr", 1)


@pytest.mark.parametrize(
    "document, field",
    [
        ({"sampler": "grid", "parameters": {"seed": {"low": 0, "high": 3}}}, "parameters.seed"),
        ({"sampler": "tpe", "parameters": {"seed": {"values": [1]}}}, "trials"),
        ({"sampler": "grid", "trials": 5, "parameters": {"seed": {"values": [1, 2]}}}, "trials"),
        (
            {"sampler": "random", "trials": 2, "parameters": {"x": {"low": 0.0, "high": 1.0, "log": True}}},
            "parameters.x.log",
        ),
        ({"sampler": "random", "trials": 2, "parameters": {"x": {"values": [[1, 2]]}}}, "parameters.x.values"),
        ({"sampler": "random", "trials": 2, "metric": "test", "parameters": {"seed": {"values": [1]}}}, "metric"),
        (
            {"sampler": "random", "trials": 2, "parameters": {"x": {"low": 4, "high": 12, "step": 5, "type": "int"}}},
            "parameters.x.step",
        ),
        (
            {"sampler": "tpe", "trials": 2, "parameters": {"x": {"low": 0.1, "high": 0.5, "step": 0.3}}},
            "parameters.x.step",
        ),
        (
            {"sampler": "random", "trials": 2, "parameters": {"x": {"low": 0.0, "high": 1e300, "step": 1e-300}}},
            "parameters.x.step",
        ),
        ({"sampler": "random", "trials": 2, "seed": -1, "parameters": {"seed": {"values": [1]}}}, "seed"),
        ({"sampler": "random", "trials": 2, "seed": 2**32, "parameters": {"seed": {"values": [1]}}}, "seed"),
        # a grid sampler lists every point first: 1000^4 points ran out of memory (killed)
        ({"sampler": "grid", "parameters": {f"p{k}": {"values": list(range(1000))} for k in range(4)}}, "parameters"),
        ({"sampler": "random", "trials": 10**23, "parameters": {"seed": {"values": [1]}}}, "trials"),
    ],
)
def test_bad_spaces_name_the_file_and_field(tmp_path, document, field):
    path = space_file(tmp_path, document)
    with pytest.raises(ValidationError, match=str(path)) as error:
        load_space(path)
    assert error.value.field == field


def test_a_sampled_sweep_writes_table_plot_and_best_config(tmp_path, capsys):
    space = {
        "sampler": "random",
        "trials": 2,
        "seed": 3,
        "metric": "final_train_loss",
        "parameters": {
            "optimiser.delay_lr": {"low": 0.05, "high": 0.5, "log": True},
            "network.hidden[0].size": {"low": 4, "high": 12, "step": 4, "type": "int"},
        },
    }
    out = tmp_path / "sweep"
    assert (
        main(
            ["sweep", str(tiny_config(tmp_path)), str(space_file(tmp_path, space)), "--out", str(out), "--limit", "40"]
        )
        == 0
    )
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [row["state"] for row in rows] == ["COMPLETE", "COMPLETE"]
    losses = [float(row["final_train_loss"]) for row in rows]
    best = rows[losses.index(min(losses))]  # minimised
    config = load_config(out / "best_config.yaml")
    assert config.network.hidden[0].size == int(best["network.hidden[0].size"])
    assert config.optimiser.delay_lr == pytest.approx(float(best["optimiser.delay_lr"]))
    assert (out / "results.png").stat().st_size > 1000 and "| trial |" in (out / "results.md").read_text()
    for row in rows:  # every trial is an ordinary run folder with its own metrics
        assert (out / row["run_dir"] / "network.ndnet").exists()
    assert "2 of 2 trials complete" in capsys.readouterr().out
    # another space in the same folder is refused
    other = dict(space, seed=4)
    assert (
        main(
            [
                "sweep",
                str(tmp_path / "config.yaml"),
                str(space_file(tmp_path, other)),
                "--out",
                str(out),
                "--limit",
                "40",
            ]
        )
        == 1
    )


def test_a_space_the_config_rejects_names_the_space_file(tmp_path, capsys):
    space = space_file(tmp_path, {"sampler": "random", "trials": 1, "parameters": {"network..x": {"values": [1]}}})
    assert main(["sweep", str(tiny_config(tmp_path)), str(space), "--out", str(tmp_path / "sweep")]) == 1
    assert capsys.readouterr().err.startswith(f"neurodelay sweep: error: {space}: parameters.network..x: ")
    assert main(["sweep", str(tiny_config(tmp_path)), str(space), "--out", str(tmp_path / "s"), "--jobs", "5000"]) == 1
    assert "--jobs: got 5000 (allowed: [1, 1024] processes)" in capsys.readouterr().err


def test_a_step_that_divides_the_range_is_accepted(tmp_path):
    space = {"sampler": "random", "trials": 2, "parameters": {"x": {"low": 0.1, "high": 0.7, "step": 0.2}}}
    assert load_space(space_file(tmp_path, space)).parameters["x"].step == 0.2


def test_failed_trials_make_the_sweep_fail_and_say_how_many(tmp_path, capsys):
    config = tiny_config(tmp_path, epochs=1)
    # dt_ms 1e-300 passes the config but not the data (10^301 steps): that trial fails when it trains
    space = {
        "sampler": "grid",
        "metric": "final_train_loss",
        "parameters": {"network.dt_ms": {"values": [1.0, 1e-300]}},
    }
    out = tmp_path / "sweep"
    assert main(["sweep", str(config), str(space_file(tmp_path, space)), "--out", str(out), "--limit", "20"]) == 1
    captured = capsys.readouterr()
    assert "1 of 2 trials complete" in captured.out
    error = captured.err.strip()
    assert error.startswith("neurodelay sweep: error: 1 of 2 trials failed (first: trial ")
    assert "data.duration_ms" in error and "\n" not in error and "Traceback" not in error


def test_a_sweep_without_a_completed_trial_ends_in_one_error_line(tmp_path, capsys):
    config = tiny_config(tmp_path, epochs=1)
    space = {"sampler": "grid", "metric": "final_train_loss", "parameters": {"data.duration_ms": {"values": [1e300]}}}
    out = tmp_path / "sweep"
    assert main(["sweep", str(config), str(space_file(tmp_path, space)), "--out", str(out), "--limit", "20"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    error = captured.err.strip()
    assert error.startswith("neurodelay sweep: error: no trial completed: 1 of 1 trials failed (first: trial 0: ")
    assert "\n" not in error and "Traceback" not in error


@pytest.mark.slow
def test_sigkill_mid_sweep_then_rerun_completes_without_repeating_trials(tmp_path):
    config, space = tiny_config(tmp_path, epochs=3), space_file(tmp_path, GRID)
    out = tmp_path / "sweep"
    command = [
        sys.executable,
        "-m",
        "neurodelay",
        "sweep",
        str(config),
        str(space),
        "--out",
        str(out),
        "--jobs",
        "2",
        "--threads-per-job",
        "1",
        "--limit",
        "40",
    ]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        # open the study only once a trial has written metrics: before that the sweep may still be
        # creating its tables, and a second process opening the file would race that creation
        if any(out.rglob("metrics.json")) and completed(out):
            break
    assert process.poll() is None, f"the sweep ended before it could be killed: {process.stderr.read()}"
    os.killpg(process.pid, signal.SIGKILL)  # the sweep and its trial processes
    process.wait()
    before = completed(out)
    assert 1 <= len(before) < 4
    stamps = {
        key: (out / trial.user_attrs["run_dir"] / "metrics.json").stat().st_mtime_ns for key, trial in before.items()
    }

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    after = completed(out)
    assert sorted(after) == sorted((lr, seed) for lr in (0.01, 0.03) for seed in (0, 1))  # each point once
    study = optuna.load_study(study_name="neurodelay-sweep", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 4
    for key, trial in before.items():  # finished trials were not run again
        assert after[key].number == trial.number and after[key].value == trial.value
        assert (out / trial.user_attrs["run_dir"] / "metrics.json").stat().st_mtime_ns == stamps[key]
    interrupted = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.FAIL]
    assert all("error" not in t.user_attrs for t in interrupted)
    if interrupted:
        assert "interrupted trial(s) re-run" in rerun.stdout
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert sum(row["state"] == "COMPLETE" for row in rows) == 4
    assert "4 of 4 trials complete" in rerun.stdout


def test_interrupted_trials_are_requeued_once_with_their_values(tmp_path):
    from neurodelay.sweep.runner import requeue_orphans

    finished_process = subprocess.Popen([sys.executable, "-c", "pass"])
    finished_process.wait()
    study = optuna.create_study()
    distribution = optuna.distributions.FloatDistribution(0.0, 1.0)
    killed = study.ask({"x": distribution})  # its process is gone
    killed.set_user_attr("owner", {"host": os.uname().nodename, "pid": finished_process.pid})
    alive = study.ask({"x": distribution})  # its process (this one) runs
    alive.set_user_attr("owner", {"host": os.uname().nodename, "pid": os.getpid()})
    unowned = study.ask({"x": distribution})  # killed before it recorded its owner
    stopped = study.ask({"x": distribution})
    study.tell(stopped, state=optuna.trial.TrialState.FAIL)  # Ctrl-C
    rejected = study.ask({"x": distribution})
    rejected.set_user_attr("error", "config rejected")
    study.tell(rejected, state=optuna.trial.TrialState.FAIL)
    assert sorted(requeue_orphans(study, tmp_path)) == [killed.number, unowned.number, stopped.number]
    waiting = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert sorted(t.params["x"] for t in waiting) == sorted(t.params["x"] for t in (killed, unowned, stopped))
    assert study.trials[alive.number].state == optuna.trial.TrialState.RUNNING
    assert requeue_orphans(study, tmp_path) == []  # never twice


def test_a_grid_sweep_killed_while_its_last_point_ran_is_requeued(tmp_path):
    """Failing the orphan of the last unvisited grid point must not ask the study to stop: the grid
    sampler does that in ``after_trial``, which Optuna refuses outside ``optimize`` (CI saw the
    rerun of a killed sweep end with that RuntimeError)."""
    from neurodelay.sweep.runner import requeue_orphans

    study = optuna.create_study(sampler=optuna.samplers.GridSampler({"x": [0.0, 1.0]}, seed=0))
    distribution = optuna.distributions.CategoricalDistribution([0.0, 1.0])
    first = study.ask({"x": distribution})
    study.tell(first, 0.5)
    last = study.ask({"x": distribution})  # the last grid point; its process was killed before it recorded an owner
    assert requeue_orphans(study, tmp_path) == [last.number]
    (waiting,) = study.get_trials(states=(optuna.trial.TrialState.WAITING,))
    assert waiting.params["x"] == last.params["x"] != first.params["x"]
