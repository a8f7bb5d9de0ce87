"""Build frozen dataclasses from parsed YAML, rejecting unknown fields and wrong types.

A dataclass field's type hint is the schema: ``int``, ``float`` (ints accepted), ``bool``, ``str``,
``Literal[...]``, ``X | None``, ``list[X]``, ``dict[str, X]`` and nested dataclasses. After a
dataclass is built, its ``check(path)`` method (if any) checks ranges and raises
:class:`~neurodelay.errors.ValidationError` naming the field. Every error names the field path,
e.g. ``network.hidden[0].input.delays.high``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal, Union

from ..errors import ValidationError


def build(cls: type, value: Any, path: str) -> Any:
    """An instance of dataclass ``cls`` made from the mapping ``value`` found at ``path``."""
    if not isinstance(value, dict):
        raise ValidationError(
            path,
            f"expected a mapping, got {_describe(value)}",
            f"a mapping with fields {', '.join(f.name for f in dataclasses.fields(cls))}",
        )
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ValidationError(_join(path, str(unknown[0])), "unknown field", f"one of {', '.join(fields)}")
    arguments = {}
    for name, field in fields.items():
        field_path = _join(path, name)
        if name in value:
            arguments[name] = convert(hints[name], value[name], field_path)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ValidationError(field_path, "missing", "a value must be given")
    instance = cls(**arguments)
    check = getattr(instance, "check", None)
    if check is not None:
        check(path)
    return instance


def convert(hint: Any, value: Any, path: str) -> Any:
    """``value`` checked against the type hint ``hint`` (see the module docstring)."""
    origin = typing.get_origin(hint)
    arguments = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        options = [option for option in arguments if option is not type(None)]
        if value is None:
            if type(None) in arguments:
                return None
            raise ValidationError(path, "missing (null)", _hint_words(hint))
        errors = []
        for option in options:
            try:
                return convert(option, value, path)
            except ValidationError as error:
                errors.append(error)
        raise errors[0] if len(errors) == 1 else ValidationError(path, f"got {_describe(value)}", _hint_words(hint))
    if origin is Literal:
        if value not in arguments:
            raise ValidationError(path, f"got {value!r}", "one of " + ", ".join(repr(a) for a in arguments))
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ValidationError(path, f"expected a list, got {_describe(value)}", _hint_words(hint))
        return [convert(arguments[0], item, f"{path}[{index}]") for index, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValidationError(path, f"expected a mapping, got {_describe(value)}", _hint_words(hint))
        return {str(key): convert(arguments[1], item, _join(path, str(key))) for key, item in value.items()}
    if dataclasses.is_dataclass(hint):
        return build(hint, value, path)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValidationError(path, f"expected true or false, got {_describe(value)}", "true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(path, f"expected an integer, got {_describe(value)}", "an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValidationError(path, f"expected a finite number, got {_describe(value)}", "a finite number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValidationError(path, f"expected a string, got {_describe(value)}", "a string")
        return value
    if hint is Any:
        return value
    raise TypeError(f"schema: unsupported type hint {hint!r} at {path}")


def plain(instance: Any) -> Any:
    """A dataclass tree as plain YAML-serialisable dicts and lists (for provenance and checkpoints)."""
    if dataclasses.is_dataclass(instance):
        return {field.name: plain(getattr(instance, field.name)) for field in dataclasses.fields(instance)}
    if isinstance(instance, (list, tuple)):
        return [plain(item) for item in instance]
    if isinstance(instance, dict):
        return {key: plain(item) for key, item in instance.items()}
    return instance


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _hint_words(hint: Any) -> str:
    text = str(hint).replace("typing.", "")
    return text.replace("<class '", "").replace("'>", "")
