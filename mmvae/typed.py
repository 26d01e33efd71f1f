"""Typed dataclasses from plain data (YAML, JSON, flags): build, coerce and set by dotted path.

Unknown keys, wrong types and values outside a ``Literal``'s choices raise a ConfigError naming
the key and, where one is close, the intended name.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

from .errors import ConfigError
from .registry import closest


def get_path(d: dict, path: str):
    for p in path.split("."):
        d = d[p]
    return d


def pop_path(d: dict, path: str) -> None:
    *parents, key = path.split(".")
    for p in parents:
        d = d.get(p, {})
    d.pop(key, None)


def build(cls, d: Any, where: str):
    if not isinstance(d, dict):
        raise ConfigError(f"'{where or 'config'}' must be a mapping, got {type(d).__name__}.")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in d.items():
        if key not in names:
            full = f"{where}.{key}" if where else key
            raise ConfigError(f"Unknown config key '{full}'.{closest(key, names)} Valid keys here: {', '.join(names)}.")
        kwargs[key] = coerce(hints[key], value, f"{where}.{key}" if where else key)
    return cls(**kwargs)


def coerce(tp, value, where: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is Literal:
        if value not in args:
            choices = [str(a) for a in args]
            raise ConfigError(f"'{where}' must be one of {', '.join(choices)}, got {value!r}."
                              f"{closest(str(value), choices)}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(inner[0], value, where)
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        return build(tp, value, where)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            value = [value]
        return [coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"'{where}' must be a mapping, got {value!r}.")
        return {str(k): coerce(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"'{where}' must be true or false, got {value!r}.")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or (
            isinstance(value, str) and not value.lstrip("-").isdigit()
        ):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"'{where}' must be an integer, got {value!r}.")
        return int(value)
    if tp is float:
        try:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"'{where}' must be a number, got {value!r}.") from None
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"'{where}' must be a string, got {value!r}.")
        return str(value)
    return value


def set_path(cfg, path: str, value: Any) -> None:
    """Sets a dotted config path (``train.batch_size``) with type coercion."""
    obj, tp = cfg, type(cfg)
    parts = path.split(".")
    for p in parts[:-1]:
        if isinstance(obj, dict):  # a new key of a dict of sections (model.nets.<modality>) gets one
            value_tp = (typing.get_args(tp) or (None, None))[1]
            obj, tp = obj.setdefault(p, value_tp() if dataclasses.is_dataclass(value_tp) else {}), value_tp
        else:
            tp, obj = typing.get_type_hints(type(obj)).get(p), getattr(obj, p)
    key = parts[-1]
    if isinstance(obj, dict):
        obj[key] = value
        return
    hints = typing.get_type_hints(type(obj))
    if key not in hints:
        raise ConfigError(f"Unknown config key '{path}'.{closest(key, list(hints))}")
    setattr(obj, key, coerce(hints[key], value, path))
