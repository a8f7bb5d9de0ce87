#!/usr/bin/env python3
"""neurodelay's two commands: set up a project-local environment and run the demo or the tests.

    python3 dev.py demo     # create .venv (if needed), install everything, run the end-to-end demo
    python3 dev.py test     # create .venv (if needed), install everything, run the whole test suite
    python3 dev.py lint     # create .venv (if needed), install everything, run ruff check and ruff format --check

Only Python 3.11 and pip are assumed. The environment lives in ``.venv`` next to this file and is
rebuilt only when the install recipe (pyproject.toml, tools/install_env.py) changes: a stamp file
records the recipe's hash, so running either command twice installs nothing the second time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))

import install_env  # noqa: E402  (tools/ is not a package; it has no dependencies beyond stdlib)


def main(argv: list[str]) -> int:
    if len(argv) < 1 or argv[0] not in {"demo", "test", "lint", "setup"}:
        print("usage: python3 dev.py demo|test|lint|setup [extra arguments]", file=sys.stderr)
        return 2
    command, extra = argv[0], argv[1:]
    venv_python = install_env.ensure_environment(ROOT)
    env = dict(os.environ)
    if command == "setup":
        return 0
    if command == "demo":
        cmd = [str(venv_python), "-m", "neurodelay", "demo", *extra]
    elif command == "lint":  # the linter, then the formatter's check (no file is changed)
        lint = [str(venv_python), "-m", "ruff", "check", ".", *extra]
        print("+", " ".join(lint), flush=True)
        if subprocess.call(lint, cwd=ROOT, env=env) != 0:
            return 1
        cmd = [str(venv_python), "-m", "ruff", "format", "--check", "."]
    else:
        cmd = [str(venv_python), "-m", "pytest", *extra]
    print("+", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
