"""The project's own error types. Every user-facing failure is one of these, never a bare traceback.

A :class:`ValidationError` names the file (when there is one), the field as a path such as
``projections[2].delays_steps`` and the allowed range, so that the message alone says what to fix.
"""

from __future__ import annotations

from pathlib import Path


class NeurodelayError(Exception):
    """Base class of every error neurodelay raises on purpose; the CLI prints it as one line."""


class ValidationError(NeurodelayError):
    """A value, a shape or a reference that breaks the network's rules.

    Attributes:
        field: dotted/indexed path of the offending field, e.g. ``populations[1].tau_m_ms``.
        problem: what is wrong with it.
        allowed: the allowed range or form, in words.
        file: the file the value came from, if any.
    """

    def __init__(self, field: str, problem: str, allowed: str | None = None, *, file: str | Path | None = None) -> None:
        self.field = field
        self.problem = problem
        self.allowed = allowed
        self.file = None if file is None else str(file)
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"{self.file}: " if self.file else ""
        allowed = f" (allowed: {self.allowed})" if self.allowed else ""
        return f"{where}{self.field}: {self.problem}{allowed}"

    def in_file(self, file: str | Path) -> "ValidationError":
        """The same error, attributed to ``file``."""
        return ValidationError(self.field, self.problem, self.allowed, file=file)


class TargetLimitError(NeurodelayError):
    """A network needs something the chosen target cannot represent (weight, delay, size, ...)."""


class ExecutorError(NeurodelayError):
    """A simulator or board run failed, hung, or returned something unusable."""
