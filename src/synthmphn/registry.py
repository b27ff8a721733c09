"""One tiny generic registry shared by every pluggable family (caption backends, generators, losses, ...)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories so a part is discoverable by name (`@REG.register("name")`)."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers `obj` under `name`; a second registration of a name is an error."""

        def decorator(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.family} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        """Returns the part called `name`, or raises KeyError listing the known names."""
        if name not in self._items:
            known = ", ".join(sorted(self._items)) or "(none)"
            raise KeyError(f"unknown {self.family} {name!r}; known: {known}")
        return self._items[name]

    def names(self) -> list[str]:
        """Sorted names of every registered part."""
        return sorted(self._items)

    def describe(self) -> dict[str, str]:
        """name -> the first line of that part's docstring, sorted by name (what `synthmphn list` prints).

        A part registered as an instance (a procedural style) is described by its class's docstring.
        """
        return {name: first_doc_line(self._items[name]) for name in self.names()}

    def __contains__(self, name: object) -> bool:
        return name in self._items


def first_doc_line(obj: object) -> str:
    """The first line of `obj`'s docstring (inherited ones count), or "" when it has none."""
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
