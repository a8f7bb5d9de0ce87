"""Which implementation runs a bit-accurate refsim mode: the compiled loop (numba) or the numpy oracle.

Both give bit-identical recordings (tests/test_refsim_compiled.py). ``compiled`` runs the whole time
loop in one numba function, so a single input costs no per-step Python; ``numpy`` is the vectorised
implementation the compiled one is tested against, and the one to read next to the docs.
"""

from __future__ import annotations

from ..errors import ValidationError

ENGINES = ("compiled", "numpy")
DEFAULT_ENGINE = "compiled"
"""The engine used when a caller names none (read at call time)."""


def resolve_engine(engine: str | None) -> str:
    """``engine``, or :data:`DEFAULT_ENGINE` for None; a clear error for anything else."""
    chosen = DEFAULT_ENGINE if engine is None else engine
    if chosen not in ENGINES:
        raise ValidationError("engine", f"unknown reference-simulator engine {chosen!r}", ", ".join(ENGINES))
    return chosen
