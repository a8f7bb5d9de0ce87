"""Create and fill neurodelay's project-local virtual environment (``.venv``). Standard library only.

Steps, each idempotent:
1. a Python 3.11 virtual environment at ``.venv``;
2. torch: a CUDA build where ``nvidia-smi`` sees a GPU (it brings its own matching triton), else
   the CPU build ``torch==2.13.0`` and ``triton==3.9.0`` (the engine's device kernels, run on CPU
   through Triton's interpreter by the tests);
3. lava-nc 0.10.0, which declares ``python<3.11``: its dependencies are installed by a normal
   resolving install, then lava-nc itself with ``--no-deps --ignore-requires-python``, then the
   Python 3.11 dataclass fix is applied by ``neurodelay.backends.loihi2.py311_patch`` (checked, idempotent);
4. neurodelay itself, editable, with the ``test``, ``spinnaker``, ``interop``, ``tonic`` and ``bench``
   extras, torch pinned to the build of step 2 (norse's torchvision would otherwise pull a newer
   torch); ``bench`` is the DCLS baseline that ``benchmarks/gpu_check.sh`` compares against, a
   14 kB pure-Python wheel.

A stamp file ``.venv/.neurodelay-recipe`` holds a hash of the recipe (this file, pyproject.toml and
the lava patch); when it matches, nothing is installed again.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import venv
from pathlib import Path

LAVA_DEPENDENCIES = [
    "numpy>=1.24.4,<2",
    "scipy>=1.10.1,<1.15",
    "scikit-learn>=1.5,<1.7",
    "asteval>=0.9.31,<0.10",
    "networkx>=2.8,<=2.8.7",
]
LAVA_PACKAGE = "lava-nc==0.10.0"
CPU_TORCH = "torch==2.13.0"
CPU_TRITON = "triton==3.9.0"
CUDA_TORCH = "torch>=2.3"
RECIPE_FILES = ("pyproject.toml", "tools/install_env.py", "backends/loihi2/py311_patch.py")


def _find_python311() -> str:
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if found is None:
        raise SystemExit(
            "neurodelay needs Python 3.11 (torch and lava-nc are installed for it); python3.11 was not found on PATH"
        )
    return found


def _has_cuda_gpu() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.call(["nvidia-smi", "-L"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


def _recipe_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for name in RECIPE_FILES:
        digest.update(name.encode())
        digest.update((root / name).read_bytes())
    digest.update(b"cuda" if _has_cuda_gpu() else b"cpu")
    return digest.hexdigest()


def _run(cmd: list[str], cwd: Path) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.check_call(cmd, cwd=cwd)


def ensure_environment(root: Path) -> Path:
    """Create or update ``root/.venv``; return the path of its Python interpreter."""
    venv_dir = root / ".venv"
    python = venv_dir / "bin" / "python"
    stamp = venv_dir / ".neurodelay-recipe"
    wanted = _recipe_hash(root)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if not python.exists():
        base = _find_python311()
        if base == sys.executable:
            venv.EnvBuilder(with_pip=True).create(venv_dir)
        else:
            _run([base, "-m", "venv", str(venv_dir)], root)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    _run(pip + ([CUDA_TORCH] if _has_cuda_gpu() else [CPU_TORCH, CPU_TRITON]), root)
    _run(pip + LAVA_DEPENDENCIES, root)
    _run(pip + ["--no-deps", "--ignore-requires-python", LAVA_PACKAGE], root)
    torch_version = subprocess.check_output(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('torch'))"], text=True
    ).strip()
    _run(pip + ["-e", ".[test,spinnaker,interop,tonic,bench]", f"torch=={torch_version}"], root)
    _run([str(python), "-m", "neurodelay.backends.loihi2.py311_patch", "--apply"], root)
    stamp.write_text(wanted)
    return python
