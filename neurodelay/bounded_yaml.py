"""YAML reading with hard bounds, for every YAML text neurodelay reads (configs, network files,
study specs, NIR metadata).

``yaml.safe_load`` builds only plain data but is not bounded: aliases let a few hundred bytes
expand into billions of nodes (an "alias bomb"), deep nesting ends in RecursionError, and a
5000-digit integer in a ValueError. :func:`load_yaml` refuses instead, with a one-line
:class:`ValidationError` naming the file, the place (line) and the rule:

- no aliases (``*name``): every node is written out, so the data is no larger than the text;
- at most :data:`MAX_DEPTH` nested collections;
- integers of at most :data:`MAX_INTEGER_DIGITS` digits;
- texts of at most ``max_bytes`` bytes, UTF-8.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent

from .errors import ValidationError

MAX_DEPTH = 50
"""Deepest nesting of mappings and lists accepted."""
MAX_INTEGER_DIGITS = 40
"""Longest integer accepted, in digits (2^128 has 39)."""
MAX_YAML_BYTES = 64 * 2**20
"""Default size limit of a YAML text (bytes)."""


class _Refused(Exception):
    """A bound was hit; carries the field-less message and the line."""

    def __init__(self, problem: str, allowed: str, line: int) -> None:
        super().__init__(problem)
        self.problem, self.allowed, self.line = problem, allowed, line


class BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases, deep nesting and huge integers."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, AliasEvent):
            raise _Refused(f"alias *{event.anchor} at line {line}", "no aliases: write every value out", line)
        nested = isinstance(event, (MappingStartEvent, SequenceStartEvent))
        if nested:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep at line {line}",
                               f"at most {MAX_DEPTH} levels", line)
        try:
            return Composer.compose_node(self, parent, index)
        finally:
            if nested:
                self.depth -= 1

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(character.isalnum() for character in node.value)
        if digits > MAX_INTEGER_DIGITS:
            raise _Refused(f"an integer of {digits} digits at line {node.start_mark.line + 1}",
                           f"at most {MAX_INTEGER_DIGITS} digits", node.start_mark.line + 1)
        return super().construct_yaml_int(node)


BoundedLoader.add_constructor("tag:yaml.org,2002:int", BoundedLoader.construct_yaml_int)


def load_yaml(text: str | bytes, *, file: str | Path | None = None, field: str = "(file)",
              max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Parse ``text`` (UTF-8 bytes or str) as plain YAML data within the bounds above.

    Errors are :class:`ValidationError` on ``field`` of ``file``.
    """
    size = len(text)
    if size > max_bytes:
        raise ValidationError(field, f"{size} bytes of YAML", f"at most {max_bytes} bytes", file=file)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValidationError(field, f"not UTF-8 text (byte {error.start} is 0x{text[error.start]:02x})",
                                  "a UTF-8 YAML file", file=file) from None
    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as refused:
        raise ValidationError(field, refused.problem, refused.allowed, file=file) from None
    except yaml.YAMLError as error:
        summary = " ".join(str(error).split())[:200]
        raise ValidationError(field, f"not valid YAML ({summary})", "plain YAML data", file=file) from None
    except (RecursionError, ValueError, OverflowError) as error:
        raise ValidationError(field, f"not valid YAML ({type(error).__name__})", "plain YAML data",
                              file=file) from None
    finally:
        loader.dispose()


def read_yaml_file(path: str | Path, *, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Read and parse the YAML file at ``path`` within the bounds (errors name the file)."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ValidationError("(file)", "is a directory", "a YAML file", file=path)
        with open(path, "rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as error:
        raise ValidationError("(file)", f"cannot be read ({error.strerror})", "a readable YAML file",
                              file=path) from None
    return load_yaml(data, file=path, max_bytes=max_bytes)
