"""Readable logs: one line per epoch without a terminal, --quiet and --verbose."""

from __future__ import annotations

import pytest

from neurodelay import console
from neurodelay.cli import main

CONFIG = "examples/sequence_detection.yaml"


@pytest.fixture(autouse=True)
def normal_verbosity():
    yield
    console.set_verbosity(console.NORMAL)


def train(tmp_path, capsys, *flags: str) -> list[str]:
    assert main([*flags, "train", CONFIG, "--out", str(tmp_path / "run"), "--limit", "8"]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.out + captured.err  # no progress-bar redraws outside a terminal
    return captured.out.splitlines()


def test_default_log_is_one_line_per_epoch(tmp_path, capsys):
    lines = train(tmp_path, capsys)
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == [f"{k}/10" for k in range(1, 11)]
    assert len(lines) == 11 and lines[-1].startswith(f"{tmp_path / 'run'}: trained 10 epochs")


def test_quiet_prints_only_the_result(tmp_path, capsys):
    lines = train(tmp_path, capsys, "--quiet")
    assert lines == [f"{tmp_path / 'run'}: trained 10 epochs, test accuracy 100.00%"]


def test_verbose_adds_batches_and_rates_and_may_follow_the_command(tmp_path, capsys):
    assert main(["train", CONFIG, "--out", str(tmp_path / "run"), "--limit", "8", "--verbose"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.strip().startswith("epoch 1: batch") for line in lines)
    assert any(line.startswith("epoch 1/10") and "lr " in line for line in lines)


def test_quiet_and_verbose_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        main(["--quiet", "--verbose", "info", "examples/feedforward.ndnet"])
    assert "not allowed with" in capsys.readouterr().err


def test_progress_bars_only_on_a_terminal(monkeypatch):
    class Stream:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    monkeypatch.setattr("sys.stdout", Stream(True))
    monkeypatch.setattr("sys.stderr", Stream(True))
    assert console.progress_bars()
    console.set_verbosity(console.QUIET)
    assert not console.progress_bars()
    console.set_verbosity(console.NORMAL)
    monkeypatch.setattr("sys.stdout", Stream(False))  # `neurodelay train ... > log`
    assert not console.progress_bars()
    monkeypatch.setattr("sys.stdout", Stream(True))
    monkeypatch.setattr("sys.stderr", Stream(False))
    assert not console.progress_bars()
