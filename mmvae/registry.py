"""A small name → component registry, filled by a decorator.

Configs name components (networks, objectives, datasets, metrics) by string; the registry turns
the name into the object and lists the valid choices for the CLI and for error messages.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def closest(name: str, choices: list[str]) -> str:
    """A hint naming the choice closest to ``name``, or '' when none is close."""
    match = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" Did you mean '{match[0]}'?" if match else ""


class Registry(Generic[T]):
    """Maps names to components; ``@registry.register('name')`` adds one."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._info: dict[str, dict[str, Any]] = {}

    def register(self, name: str, **info: Any) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            self._info[name] = info
            return obj

        return deco

    def unregister(self, name: str) -> None:
        """Removes ``name`` (for components a user may register again, such as their datasets)."""
        self._items.pop(name, None)
        self._info.pop(name, None)

    def get(self, name: str) -> T:
        if name not in self._items:
            raise ConfigError(
                f"Unknown {self.kind} '{name}'.{closest(name, self.names())} "
                f"Valid choices: {', '.join(self.names())}."
            )
        return self._items[name]

    def info(self, name: str) -> dict[str, Any]:
        self.get(name)
        return self._info[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
