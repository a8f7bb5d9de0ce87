"""YAML reading with hard bounds, for every YAML text neurodelay reads (configs, network files,
study specs, NIR metadata).

``yaml.safe_load`` builds only plain data but is not bounded: aliases let a few hundred bytes
expand into billions of nodes (an "alias bomb"), deep nesting ends in RecursionError, and a
5000-digit integer in a ValueError. :func:`load_yaml` refuses instead, with a one-line
:class:`ValidationError` naming the file, the place (line) and the rule:

- aliases (``*name``, which ``yaml.safe_dump`` writes for objects shared in a document) only while
  the document, with every alias expanded, has at most :data:`MAX_EXPANDED_NODES` values: an
  alias bomb of a few hundred bytes would otherwise stand for billions of them;
- at most :data:`MAX_DEPTH` nested collections (aliases expanded);
- integers of at most :data:`MAX_INTEGER_DIGITS` digits;
- texts of at most ``max_bytes`` bytes, UTF-8.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.events import MappingStartEvent, SequenceStartEvent

from .errors import ValidationError

MAX_DEPTH = 50
"""Deepest nesting of mappings and lists accepted."""
MAX_EXPANDED_NODES = 1_000_000
"""Most values a document may stand for with its aliases expanded."""
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
    """``yaml.SafeLoader`` that refuses deep nesting (as written) and huge integers; the alias
    expansion is checked by :func:`check_expansion` on the composed document."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = event.start_mark.line + 1
        nested = isinstance(event, (MappingStartEvent, SequenceStartEvent))
        if nested:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _Refused(
                    f"nested more than {MAX_DEPTH} levels deep at line {line}", f"at most {MAX_DEPTH} levels", line
                )
        try:
            return Composer.compose_node(self, parent, index)
        finally:
            if nested:
                self.depth -= 1

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(character.isalnum() for character in node.value)
        if digits > MAX_INTEGER_DIGITS:
            raise _Refused(
                f"an integer of {digits} digits at line {node.start_mark.line + 1}",
                f"at most {MAX_INTEGER_DIGITS} digits",
                node.start_mark.line + 1,
            )
        return super().construct_yaml_int(node)


BoundedLoader.add_constructor("tag:yaml.org,2002:int", BoundedLoader.construct_yaml_int)


def check_expansion(root: yaml.Node) -> None:
    """Refuse a composed document whose aliases expand it beyond the node or depth bounds (sizes
    and depths are computed once per distinct node, so this is linear in the text)."""
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    open_nodes: set[int] = set()  # entered, children not yet all sized: a path from the root
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # post-order: a node after all its children
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        below = children(node)
        if not children_done:
            if id(node) in open_nodes:  # reached again below itself: an alias inside its own anchor
                line = node.start_mark.line + 1
                raise _Refused(
                    f"the value at line {line} contains itself (an alias inside its own anchor)",
                    "aliases only to values defined before them and outside them",
                    line,
                )
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in below if id(child) not in sizes)
            continue
        open_nodes.discard(id(node))
        sizes[id(node)] = 1 + sum(sizes[id(child)] for child in below)
        depths[id(node)] = int(isinstance(node, yaml.CollectionNode)) + max(
            (depths[id(child)] for child in below), default=0
        )
        line = node.start_mark.line + 1
        if sizes[id(node)] > MAX_EXPANDED_NODES:
            raise _Refused(
                f"with its aliases expanded, the value at line {line} holds more than {MAX_EXPANDED_NODES} values",
                f"at most {MAX_EXPANDED_NODES} (write fewer aliases)",
                line,
            )
        if depths[id(node)] > MAX_DEPTH:
            raise _Refused(
                f"with its aliases expanded, the value at line {line} is nested more than {MAX_DEPTH} levels deep",
                f"at most {MAX_DEPTH} levels",
                line,
            )


def children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(
    text: str | bytes, *, file: str | Path | None = None, field: str = "(file)", max_bytes: int = MAX_YAML_BYTES
) -> Any:
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
            raise ValidationError(
                field,
                f"not UTF-8 text (byte {error.start} is 0x{text[error.start]:02x})",
                "a UTF-8 YAML file",
                file=file,
            ) from None
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_expansion(node)
        return loader.construct_document(node)
    except _Refused as refused:
        raise ValidationError(field, refused.problem, refused.allowed, file=file) from None
    except yaml.YAMLError as error:
        summary = " ".join(str(error).split())[:200]
        raise ValidationError(field, f"not valid YAML ({summary})", "plain YAML data", file=file) from None
    except (RecursionError, ValueError, OverflowError) as error:
        raise ValidationError(field, f"not valid YAML ({type(error).__name__})", "plain YAML data", file=file) from None
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
        raise ValidationError(
            "(file)", f"cannot be read ({error.strerror})", "a readable YAML file", file=path
        ) from None
    return load_yaml(data, file=path, max_bytes=max_bytes)
